"""Issue 3.4 - cron: time to deploy N cron triggers, and fire lag.

Deploy: N cron triggers (default 1,500; daily, so none fires during the run), K per
workflow, deployed through the REST API, D deployments at a time; each is a
DeploymentWorkflow whose sync step creates one Temporal Schedule per trigger.
Measured in `runs` equal batches; the figure is the median time per 1,000
triggers and the total. In the same run, the raw Temporal rate of
`create_schedule` (the same Schedule objects, no scheduler code) shows what
the Temporal server alone allows. If N is below 10,000 the time for 10,000 is
extrapolated linearly from the measured rate, and the output says so.

Fire lag: W workflows (default 50) with `* * * * *` (our parser takes
5-field cron, so once a minute is the most frequent), half of them with
jitter_seconds=30 so that their firings spread over the minute, half without
(all at second 0). Over M minutes (default 2): lag = time the engine
stand-in received the request - scheduled time. The schedule's nominal time
already includes the deterministic jitter offset (the calendar fires at that
second), so "minus jitter" is built into `trigger.data.scheduled_time`; the
script checks that the second of the scheduled time equals
`jitter_offset_seconds`, and subtracts the offset itself if it ever does not.
Then, ours paused, the raw baseline for another M minutes: W bare Temporal
schedules with the same calendars whose action is the one-activity workflow
of bench/_rawtemporal.py on a worker process of its own (`--no-raw-lag`
skips it).

Quick mode fires with `ScheduleHandle.trigger()` instead of waiting for a
minute boundary (lag is then measured from the trigger time).

    .venv/bin/python bench/cron.py [--quick] [--runs N] [--triggers 10000]
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
)

from bench import _harness as h
from bench._rawtemporal import ONE_ACTIVITY_WORKFLOW
from scheduler import ids, schedules
from scheduler.executions import RetrySettings
from scheduler.triggers.cron import CronParameters, jitter_offset
from scheduler.triggers.cron_expr import parse_cron

DAILY = "17 3 * * *"


async def deploy_and_wait(
    stack: h.Stack, api: httpx.AsyncClient, workflow_id: str, triggers: list[Any]
) -> None:
    """Deploy; if the API stops waiting (30 s), poll the status until DEPLOYED."""
    put = await api.put(
        f"/api/v1/workflows/{workflow_id}", json=h.definition(workflow_id, *triggers)
    )
    put.raise_for_status()
    response = await api.post(f"/api/v1/deployment/workflows/{workflow_id}/deploy")
    if response.status_code != 200:
        raise RuntimeError(
            f"deploy {workflow_id}: {response.status_code} {response.text}"
        )
    status = response.json()["status"]
    deadline = time.monotonic() + 600
    while status != "DEPLOYED":
        if status == "DEPLOYMENT_FAILED" or time.monotonic() > deadline:
            raise RuntimeError(f"deploy {workflow_id}: {status}")
        await asyncio.sleep(0.5)
        state = await api.get(f"/api/v1/deployment/workflows/{workflow_id}/status")
        status = state.json()["deployment_status"]


async def deploy_batch(
    stack: h.Stack,
    api: httpx.AsyncClient,
    prefix: str,
    workflows: int,
    per_workflow: int,
    concurrency: int,
) -> float:
    def triggers() -> list[Any]:
        return [h.cron_trigger(DAILY, node_id=f"c{j}") for j in range(per_workflow)]

    started = time.perf_counter()
    await h.gather_limited(
        concurrency,
        [
            lambda i=i: deploy_and_wait(stack, api, f"{prefix}-{i}", triggers())
            for i in range(workflows)
        ],
    )
    return time.perf_counter() - started


async def raw_create(client: Client, count: int, concurrency: int) -> float:
    """Seconds to create `count` schedules straight through the Temporal client."""
    config = CronParameters(cron_expression=DAILY).model_dump(mode="json")
    config["jitter_offset_seconds"] = 0
    retry = RetrySettings()
    prefix = f"raw-{uuid.uuid4().hex[:6]}"

    async def one(i: int) -> None:
        workflow_id, node_id = f"{prefix}-{i}", "c0"
        await client.create_schedule(
            ids.schedule_id(workflow_id, node_id),
            schedules.build_schedule(
                workflow_id, node_id, 1, config, task_queue="bench-none", retry=retry
            ),
            search_attributes=schedules.search_attributes(
                workflow_id, node_id, "TRIGGER_CRON", 1
            ),
        )

    started = time.perf_counter()
    await h.gather_limited(concurrency, [lambda i=i: one(i) for i in range(count)])
    return time.perf_counter() - started


def lag_of(record: dict[str, Any], use_offset: bool) -> float:
    scheduled = datetime.fromisoformat(str(record["scheduled_time"]))
    offset = int(record.get("jitter_offset_seconds") or 0)
    if use_offset and scheduled.second != offset:
        scheduled += timedelta(seconds=offset)
    return float(record["t"]) - scheduled.timestamp()


async def fire_lag(
    stack: h.Stack,
    api: httpx.AsyncClient,
    client: Client,
    workflows: int,
    minutes: int,
    quick: bool,
    raw_queue: str | None,
) -> dict[str, Any]:
    """Our W cron triggers for M minutes; then, ours paused, the raw baseline:
    W bare Temporal schedules with the same calendars, whose action is the
    one-activity workflow (raw worker), for another M minutes."""
    prefix = f"lag-{uuid.uuid4().hex[:6]}"
    jittered = {f"{prefix}-{i}": i % 2 == 1 for i in range(workflows)}

    async def one(workflow_id: str) -> None:
        extra = {"jitter_seconds": 30} if jittered[workflow_id] and not quick else {}
        await deploy_and_wait(
            stack, api, workflow_id, [h.cron_trigger("* * * * *", **extra)]
        )

    await h.gather_limited(4, [lambda w=w: one(w) for w in jittered])
    ours = [client.get_schedule_handle(ids.schedule_id(w, "tick")) for w in jittered]
    raw_names = {f"raw{w}": j for w, j in jittered.items()}
    raw: list[Any] = []
    if raw_queue is not None:
        raw = await _raw_schedules(client, raw_queue, raw_names)
    if quick:
        result = await _window(stack, jittered, "TRIGGER_CRON", 0, trigger=ours)
    else:
        result = await _window(stack, jittered, "TRIGGER_CRON", minutes)
    if raw:
        await asyncio.gather(*(handle.pause() for handle in ours))
        await asyncio.gather(*(handle.unpause() for handle in raw))
        if quick:
            result["raw"] = await _window(stack, raw_names, "RAW_CRON", 0, trigger=raw)
        else:
            result["raw"] = await _window(stack, raw_names, "RAW_CRON", minutes)
        await asyncio.gather(*(handle.pause() for handle in raw))
    return result


async def _raw_schedules(
    client: Client, task_queue: str, names: dict[str, bool]
) -> list[Any]:
    """Paused bare schedules, the same calendars as ours (offset in [0, 30])."""
    handles = []
    for name, spread in names.items():
        offset = jitter_offset(name, "tick", 30) if spread else 0
        handles.append(
            await client.create_schedule(
                f"rawcron-{name}",
                Schedule(
                    action=ScheduleActionStartWorkflow(
                        ONE_ACTIVITY_WORKFLOW,
                        {
                            "workflow_id": name,
                            "cron": True,
                            "jitter_offset_seconds": offset,
                        },
                        id=f"rawcron-{name}",
                        task_queue=task_queue,
                    ),
                    spec=ScheduleSpec(
                        calendars=parse_cron("* * * * *").calendars(second=offset),
                        time_zone_name="UTC",
                    ),
                    policy=SchedulePolicy(
                        overlap=ScheduleOverlapPolicy.ALLOW_ALL,
                        catchup_window=timedelta(minutes=5),
                    ),
                    state=ScheduleState(paused=True),
                ),
            )
        )
    return handles


async def _window(
    stack: h.Stack,
    names: dict[str, bool],
    kind: str,
    minutes: int,
    trigger: list[Any] | None = None,
) -> dict[str, Any]:
    """Lag of the firings of `names` scheduled in the next `minutes` minutes
    (or, with `trigger`, of one `trigger()` of each schedule)."""
    assert stack.engine is not None
    engine = stack.engine
    engine.poll()
    cpu0 = (h.cpu_seconds(stack.infra.temporal_pid), stack.worker.cpu_seconds())
    if trigger is not None:
        known = set(engine.received)
        await asyncio.gather(*(handle.trigger() for handle in trigger))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            engine.poll()
            fresh = [
                r
                for i, r in engine.received.items()
                if i not in known and r["workflow_id"] in names
            ]
            if len(fresh) >= len(names):
                break
            await asyncio.sleep(0.1)
        records = [
            r
            for i, r in engine.received.items()
            if i not in known and r["workflow_id"] in names and r["type"] == kind
        ]
    else:
        # From the next minute boundary on, `minutes` full minutes, plus the
        # jitter window and a margin for the last firings to arrive.
        start = (int(time.time() // 60) + 1) * 60
        end = start + 60 * minutes
        await asyncio.sleep(max(0.0, end + 30 + 10 - time.time()))
        engine.poll()
        records = [
            r
            for r in list(engine.received.values())
            if r["workflow_id"] in names
            and r["type"] == kind
            and start
            <= datetime.fromisoformat(str(r["scheduled_time"])).timestamp()
            < end
        ]
    use_offset = trigger is None
    temporal_cpu = h.cpu_seconds(stack.infra.temporal_pid) - cpu0[0]
    worker_cpu = stack.worker.cpu_seconds() - cpu0[1]
    lags = [lag_of(r, use_offset) for r in records]
    plain = [lag_of(r, use_offset) for r in records if not names[r["workflow_id"]]]
    spread = [lag_of(r, use_offset) for r in records if names[r["workflow_id"]]]
    offsets_ok = all(
        datetime.fromisoformat(str(r["scheduled_time"])).second
        == int(r.get("jitter_offset_seconds") or 0)
        for r in records
    )
    return {
        "firings": len(records),
        "expected": len(names) * max(1, minutes),
        "p50_ms": h.percentile(lags, 50) * 1000,
        "p99_ms": h.percentile(lags, 99) * 1000,
        "max_ms": max(lags, default=float("nan")) * 1000,
        "no_jitter_p50_ms": h.percentile(plain, 50) * 1000,
        "no_jitter_p99_ms": h.percentile(plain, 99) * 1000,
        "jitter_p50_ms": h.percentile(spread, 50) * 1000,
        "jitter_p99_ms": h.percentile(spread, 99) * 1000,
        "scheduled_second_equals_offset": offsets_ok,
        # CPU over the whole window (idle schedules included), per firing;
        # the worker's is the scheduler's worker (0 for the raw path).
        "temporal_cpu_ms_per_firing": 1000 * temporal_cpu / max(len(records), 1),
        "worker_cpu_ms_per_firing": 1000 * worker_cpu / max(len(records), 1),
    }


@contextlib.asynccontextmanager
async def raw_worker(
    infra: h.Infra, stack: h.Stack, enabled: bool
) -> AsyncIterator[str | None]:
    """The raw baseline's worker process (one-activity workflow), if enabled."""
    if not enabled:
        yield None
        return
    assert stack.engine is not None
    queue, process = h.raw_worker_process(infra, stack.engine.url, "raw-cron-worker")
    process.start()
    try:
        yield queue
    finally:
        process.stop()


async def main() -> None:
    parser = h.arg_parser(__doc__ or "")
    parser.add_argument("--triggers", type=int, default=None, help="N (default 1500)")
    parser.add_argument("--per-workflow", type=int, default=None)
    parser.add_argument("--deploy-concurrency", type=int, default=4)
    parser.add_argument("--raw-schedules", type=int, default=None)
    parser.add_argument("--lag-workflows", type=int, default=None)
    parser.add_argument("--lag-minutes", type=int, default=2)
    parser.add_argument(
        "--no-raw-lag", action="store_true", help="skip the raw schedules' lag"
    )
    args = parser.parse_args()
    quick = args.quick
    runs = args.runs or (1 if quick else 3)
    total = args.triggers or (4 if quick else 1500)
    per_workflow = args.per_workflow or (2 if quick else 50)
    raw_count = args.raw_schedules or (4 if quick else 300)
    lag_workflows = args.lag_workflows or (2 if quick else 50)
    batch_workflows = max(1, total // per_workflow // runs)
    measured = batch_workflows * per_workflow * runs

    async with (
        h.infrastructure(args) as infra,
        h.running_stack(infra) as stack,
        raw_worker(infra, stack, not args.no_raw_lag) as raw_queue,
    ):
        client = await Client.connect(infra.temporal_address)
        async with stack.client() as api:
            await deploy_batch(stack, api, "warm", 1, 1, 1)
            stack.start_profiles(args, "cron")
            batch_seconds = []
            for run in range(runs):
                seconds = await deploy_batch(
                    stack,
                    api,
                    f"cron{run}",
                    batch_workflows,
                    per_workflow,
                    args.deploy_concurrency,
                )
                batch_seconds.append(seconds)
                n = batch_workflows * per_workflow
                print(
                    f"batch {run + 1}: {n} cron triggers in {seconds:.1f} s "
                    f"({1000 * seconds / n:.1f} s per 1000)",
                    flush=True,
                )
            raw_seconds = await raw_create(client, raw_count, args.deploy_concurrency)
            print(
                f"raw create_schedule: {raw_count} in {raw_seconds:.1f} s "
                f"({raw_count / raw_seconds:.1f}/s)",
                flush=True,
            )
            stack.stop_profiles()
            lag = await fire_lag(
                stack, api, client, lag_workflows, args.lag_minutes, quick, raw_queue
            )

    per_1000 = h.median(
        1000 * s / (batch_workflows * per_workflow) for s in batch_seconds
    )
    deploy_rate = 1000 / per_1000
    raw_rate = raw_count / raw_seconds
    ten_k = 10 * per_1000
    h.print_table(
        f"cron deploy ({measured} triggers, {per_workflow} per workflow, "
        f"{args.deploy_concurrency} deployments at a time)",
        [
            {
                "triggers": measured,
                "total s": sum(batch_seconds),
                "s per 1000 (median)": per_1000,
                "triggers/s": deploy_rate,
                "raw create_schedule/s": raw_rate,
                "ratio": deploy_rate / raw_rate,
                "10k s": ten_k,
                "10k": "measured" if measured >= 10_000 else "extrapolated",
            }
        ],
    )
    h.print_table(
        f"fire lag, {lag_workflows} schedules x "
        f"{'trigger()' if quick else f'{args.lag_minutes} min'} each path",
        [
            {
                "path": name,
                "firings": r["firings"],
                "expected": r["expected"],
                "p50 ms": r["p50_ms"],
                "p99 ms": r["p99_ms"],
                "max ms": r["max_ms"],
                "no-jitter p50 ms": r["no_jitter_p50_ms"],
                "no-jitter p99 ms": r["no_jitter_p99_ms"],
                "jitter p50 ms": r["jitter_p50_ms"],
                "jitter p99 ms": r["jitter_p99_ms"],
                "temporal cpu ms/firing": r["temporal_cpu_ms_per_firing"],
            }
            for name, r in (("scheduler", lag), ("raw", lag.get("raw")))
            if r is not None
        ],
    )
    h.emit(
        h.clean(
            {
                "bench": "cron",
                "quick": quick,
                "runs": runs,
                "deploy": {
                    "triggers": measured,
                    "per_workflow": per_workflow,
                    "concurrency": args.deploy_concurrency,
                    "total_s": sum(batch_seconds),
                    "s_per_1000": per_1000,
                    "triggers_per_s": deploy_rate,
                    "raw_create_schedule_per_s": raw_rate,
                    "ratio_to_raw": deploy_rate / raw_rate,
                    "s_for_10000": ten_k,
                    "s_for_10000_measured": measured >= 10_000,
                },
                "lag": {"mode": "trigger" if quick else "minutes", **lag},
                "targets": {"lag_p99_at_most_1s": lag["p99_ms"] <= 1000},
                "machine": h.machine(),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
