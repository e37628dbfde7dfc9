"""Issue 3.5 - memory: resident size of the API and of the worker process.

`workflow-scheduler api` and `workflow-scheduler worker` run as two
processes. With N deployed workflows (webhook triggers, default 10,000):

1. D of them (default 200) are deployed through the REST API, so the worker
   runs D DeploymentWorkflows, and E webhook events are fired through the
   whole path (relay in the API, DispatchExecution in the worker);
2. the other N - D are written to PostgreSQL exactly as the deploy saga
   writes them (workflows row DEPLOYED, version, history, trigger_index row),
   because deploying 10,000 workflows one saga at a time takes far longer than
   a benchmark may on this machine (see bench/cron.py for deploy rates);
3. every one of the N webhook paths is requested once (PUT, answered 405
   after routing), which fills the API's routing cache with N keys (up to its
   bound), and the list of deployed workflows is read once (N rows).

Then RSS (and the peak, VmHWM) of both processes is read `runs` times, one
second apart; the figure is the median.

    .venv/bin/python bench/memory.py [--quick] [--runs N] [--workflows 10000]
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg

from bench import _harness as h
from scheduler.db import create_pool
from scheduler.models import WorkflowDefinition
from scheduler.validation import plan_triggers


def rss(stack: h.Stack) -> dict[str, float]:
    return {"api": stack.api.rss_mb(), "worker": stack.worker.rss_mb()}


async def bulk_deploy(database_url: str, workflow_ids: list[str]) -> None:
    """Write deployed workflows as the saga would (definition, index, version)."""
    pool: asyncpg.Pool = await create_pool(database_url, max_size=2)
    try:
        workflows, versions, history, index = [], [], [], []
        for workflow_id in workflow_ids:
            definition = WorkflowDefinition.model_validate(
                h.definition(workflow_id, h.webhook_trigger())
            )
            body = definition.model_dump(mode="json")
            workflows.append((workflow_id, definition.name, "bench", body))
            versions.append((workflow_id, body))
            history.append((workflow_id,))
            for plan in plan_triggers(definition):
                index.append(
                    (
                        workflow_id,
                        plan.node_id,
                        plan.trigger_type.value,
                        plan.config,
                        plan.index_key,
                    )
                )
        async with pool.acquire() as conn, conn.transaction():
            await conn.executemany(
                """INSERT INTO workflows (id, name, user_id, definition,
                       deployment_status, deployed_at, deployed_by)
                   VALUES ($1, $2, $3, $4, 'DEPLOYED', now(), 'bench')""",
                workflows,
            )
            await conn.executemany(
                """INSERT INTO workflow_versions
                       (workflow_id, version, definition, created_by)
                   VALUES ($1, 1, $2, 'bench')""",
                versions,
            )
            await conn.executemany(
                """INSERT INTO workflow_deployment_history
                       (workflow_id, deployment_action, from_status, to_status,
                        deployment_version, triggered_by, completed_at)
                   VALUES ($1, 'DEPLOY', 'DEPLOYING', 'DEPLOYED', 1, 'bench', now())""",
                history,
            )
            await conn.executemany(
                """INSERT INTO trigger_index (workflow_id, node_id, deployment_version,
                       trigger_type, trigger_config, index_key)
                   VALUES ($1, $2, 1, $3, $4, $5)""",
                index,
            )
    finally:
        await pool.close()


async def touch_all(stack: h.Stack, workflow_ids: list[str]) -> int:
    """PUT every webhook path once: routed (and cached), then refused with 405."""
    connections = [h.HttpConnection("127.0.0.1", stack.port) for _ in range(16)]
    routed = 0

    async def worker(conn: h.HttpConnection, chunk: list[str]) -> None:
        nonlocal routed
        for workflow_id in chunk:
            status, _ = await conn.request("PUT", f"/webhook/{workflow_id}", b"{}")
            routed += status == 405

    await asyncio.gather(
        *(
            worker(c, workflow_ids[i :: len(connections)])
            for i, c in enumerate(connections)
        )
    )
    for c in connections:
        await c.close()
    return routed


async def fire(stack: h.Stack, workflow_ids: list[str], events: int) -> int:
    assert stack.engine is not None
    conn = h.HttpConnection("127.0.0.1", stack.port)
    acks = []
    for i in range(events):
        status, raw = await conn.request(
            "POST",
            f"/webhook/{workflow_ids[i % len(workflow_ids)]}",
            b'{"n": 1}',
            [("Content-Type", "application/json")],
        )
        if status == 202:
            acks.append(json.loads(raw)["execution_id"])
    await conn.close()
    got = await stack.engine.wait_for(acks, 120)
    return len(got)


async def main() -> None:
    parser = h.arg_parser(__doc__ or "")
    parser.add_argument("--workflows", type=int, default=None)
    parser.add_argument("--via-api", type=int, default=None)
    parser.add_argument("--events", type=int, default=None)
    args = parser.parse_args()
    quick = args.quick
    runs = args.runs or 3
    total = args.workflows or (20 if quick else 10_000)
    via_api = min(total, args.via_api or (4 if quick else 200))
    events = args.events or (4 if quick else 200)
    ids = [f"mem-{i:05d}" for i in range(total)]

    async with h.infrastructure(args) as infra, h.running_stack(infra) as stack:
        await asyncio.sleep(1.0)
        idle = rss(stack)
        print(f"idle: api {idle['api']:.0f} MB, worker {idle['worker']:.0f} MB")
        started = time.perf_counter()
        async with stack.client() as api:
            await h.gather_limited(
                4,
                [
                    lambda w=w: stack.deploy(api, w, h.webhook_trigger())
                    for w in ids[:via_api]
                ],
            )
            api_seconds = time.perf_counter() - started
            delivered = await fire(stack, ids[:via_api], events)
            after_api = rss(stack)
            print(
                f"after {via_api} deploys via the API ({api_seconds:.0f} s) and "
                f"{delivered} firings: api {after_api['api']:.0f} MB, "
                f"worker {after_api['worker']:.0f} MB",
                flush=True,
            )
            await bulk_deploy(stack.database_url, ids[via_api:])
            routed = await touch_all(stack, ids)
            listed = await api.get("/api/v1/deployment/workflows")
            count = listed.json()["count"]
            del listed
            print(f"deployed: {count}; routed: {routed}", flush=True)
        samples = []
        for _ in range(runs):
            await asyncio.sleep(1.0)
            samples.append(rss(stack))
        final = {k: h.median(s[k] for s in samples) for k in ("api", "worker")}
        peak = {"api": stack.api.peak_rss_mb(), "worker": stack.worker.peak_rss_mb()}

    together = final["api"] + final["worker"]
    h.print_table(
        f"resident memory with {count} deployed workflows (MB, median of {runs})",
        [
            {
                "process": name,
                "idle": idle[name],
                f"after {via_api} API deploys": after_api[name],
                "final": final[name],
                "peak (VmHWM)": peak[name],
            }
            for name in ("api", "worker")
        ]
        + [
            {
                "process": "together",
                "idle": idle["api"] + idle["worker"],
                f"after {via_api} API deploys": after_api["api"] + after_api["worker"],
                "final": together,
                "peak (VmHWM)": peak["api"] + peak["worker"],
            }
        ],
    )
    result: dict[str, Any] = {
        "bench": "memory",
        "quick": quick,
        "runs": runs,
        "workflows": count,
        "deployed_via_api": via_api,
        "firings": delivered,
        "routed": routed,
        "idle_mb": idle,
        "after_api_deploys_mb": after_api,
        "rss_mb": final,
        "peak_mb": peak,
        "together_mb": together,
        "targets": {"together_at_most_250mb": together <= 250},
        "machine": h.machine(),
    }
    h.emit(h.clean(result))


if __name__ == "__main__":
    asyncio.run(main())
