"""Issue 3.2 - end to end: webhook events until the engine stand-in has them.

Scheduler path: POST /webhook/... -> outbox row -> relay (signal-with-start)
-> DispatchExecution on the worker -> deliver activity -> engine stand-in,
every part its own process. Raw path, on the same Temporal server:
`start_workflow` of a one-activity workflow whose activity POSTs to the same
engine stand-in, run by a worker process of its own (default sandboxed runner).

Per run and path:
- burst: N events (or starts) at concurrency C as fast as they are taken;
  firings per second = N / (last engine arrival - first send);
- paced: a fixed rate below both capacities (half the scheduler's burst rate,
  1-20/s); latency = engine arrival - the 2xx (or the return of start_workflow).

    .venv/bin/python bench/e2e.py [--quick] [--runs N]
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from temporalio.client import Client

from bench import _harness as h
from bench._rawtemporal import ONE_ACTIVITY_WORKFLOW

WAIT_SECONDS = 180.0


class SchedulerPath:
    name = "scheduler"

    def __init__(self, stack: h.Stack, paths: list[str]) -> None:
        self.stack = stack
        self.paths = paths
        self.n = 0
        self.connections: list[h.HttpConnection] = []

    async def close(self) -> None:
        for conn in self.connections:
            await conn.close()
        self.connections.clear()

    def operations(self, count: int) -> tuple[list[h.Operation], dict[str, float]]:
        acks: dict[str, float] = {}
        ops = []
        for _ in range(count):
            conn = h.HttpConnection("127.0.0.1", self.stack.port)
            self.connections.append(conn)
            ops.append(self._post(conn, acks))
        return ops, acks

    def _post(self, conn: h.HttpConnection, acks: dict[str, float]) -> h.Operation:
        async def op() -> bool:
            self.n += 1
            body = json.dumps({"order": self.n}).encode()
            path = self.paths[self.n % len(self.paths)]
            status, raw = await conn.request(
                "POST", path, body, [("Content-Type", "application/json")]
            )
            if status != 202:
                return False
            acks[json.loads(raw)["execution_id"]] = time.time()
            return True

        return op


class RawPath:
    name = "raw"

    def __init__(self, client: Client, task_queue: str) -> None:
        self.client = client
        self.task_queue = task_queue

    async def close(self) -> None:
        pass

    def operations(self, count: int) -> tuple[list[h.Operation], dict[str, float]]:
        acks: dict[str, float] = {}

        async def op() -> bool:
            workflow_id = f"raw-{uuid.uuid4().hex}"
            await self.client.start_workflow(
                ONE_ACTIVITY_WORKFLOW,
                {"workflow_id": "raw-bench", "execution_id": workflow_id},
                id=workflow_id,
                task_queue=self.task_queue,
            )
            acks[workflow_id] = time.time()
            return True

        return [op] * count, acks


async def burst(
    path: SchedulerPath | RawPath,
    engine: h.Engine,
    events: int,
    concurrency: int,
    temporal_pid: int | None = None,
) -> dict[str, float]:
    """N events at concurrency C; rate until the engine had the last one.

    Also the Temporal server's CPU per firing, up to 1 s after the last
    arrival (so that the firings' last steps are counted).
    """
    cpu0 = h.cpu_seconds(temporal_pid)
    ops, acks = path.operations(concurrency)
    remaining = {"n": events}

    def bounded(op: h.Operation) -> h.Operation:
        async def run() -> bool:
            if remaining["n"] <= 0:
                return True
            remaining["n"] -= 1
            return await op()

        return run

    async def loop(op: h.Operation) -> None:
        while remaining["n"] > 0:
            if not await bounded(op)():
                raise RuntimeError(f"{path.name}: a request was refused")

    started = time.time()
    await asyncio.gather(*(loop(op) for op in ops))
    accepted = time.time()
    got = await engine.wait_for(acks, WAIT_SECONDS)
    if len(got) < len(acks):
        print(f"  {path.name}: only {len(got)} of {len(acks)} reached the engine")
    last = max((r["t"] for r in got.values()), default=float("nan"))
    latencies = [got[i]["t"] - acks[i] for i in got]
    await path.close()
    await asyncio.sleep(1.0)
    cpu = h.cpu_seconds(temporal_pid) - cpu0
    return {
        "temporal_cpu_ms_per_firing": 1000 * cpu / max(len(got), 1),
        "per_s": len(got) / (last - started),
        "accept_per_s": len(acks) / (accepted - started),
        "burst_p50_ms": h.percentile(latencies, 50) * 1000,
        "burst_p99_ms": h.percentile(latencies, 99) * 1000,
        "delivered": float(len(got)),
    }


async def paced(
    path: SchedulerPath | RawPath, engine: h.Engine, rate: float, seconds: float
) -> dict[str, float]:
    ops, acks = path.operations(8)
    await h.paced(ops, rate, seconds)
    got = await engine.wait_for(acks, WAIT_SECONDS)
    latencies = [got[i]["t"] - acks[i] for i in got]
    await path.close()
    return {
        "p50_ms": h.percentile(latencies, 50) * 1000,
        "p99_ms": h.percentile(latencies, 99) * 1000,
        "paced_delivered": float(len(got)),
        "paced_sent": float(len(acks)),
    }


async def main() -> None:
    parser = h.arg_parser(__doc__ or "")
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--paced-rate", type=float, default=None)
    parser.add_argument("--paced-seconds", type=float, default=None)
    parser.add_argument("--workflows", type=int, default=8)
    args = parser.parse_args()
    quick = args.quick
    runs = args.runs or (1 if quick else 3)
    events = args.events or (6 if quick else 200)
    paced_seconds = args.paced_seconds or (1.0 if quick else 12.0)
    n_workflows = 2 if quick else args.workflows

    async with h.infrastructure(args) as infra, h.running_stack(infra) as stack:
        assert stack.engine is not None
        engine = stack.engine
        raw_queue, raw_worker = h.raw_worker_process(infra, engine.url)
        raw_worker.start()
        try:
            async with stack.client() as api:
                ids = [f"e2e-{i}" for i in range(n_workflows)]
                await h.gather_limited(
                    4,
                    [
                        lambda i=i: stack.deploy(api, i, h.webhook_trigger())
                        for i in ids
                    ],
                )
            client = await Client.connect(infra.temporal_address)
            sched = SchedulerPath(stack, [f"/webhook/{i}" for i in ids])
            raw = RawPath(client, raw_queue)
            # Warm both paths (first workflow tasks, connections, caches).
            await burst(sched, engine, 4, 2)
            await burst(raw, engine, 4, 2)
            stack.start_profiles(args, "e2e", {"raw-worker": raw_worker})
            per_run: list[dict[str, float]] = []
            for run in range(runs):
                figures: dict[str, float] = {}
                # Alternate the order, so that neither path always goes first.
                order = (raw, sched) if run % 2 == 0 else (sched, raw)
                for path in order:
                    result = await burst(
                        path, engine, events, args.concurrency, infra.temporal_pid
                    )
                    figures.update({f"{path.name}_{k}": v for k, v in result.items()})
                rate = args.paced_rate or min(
                    20.0, max(1.0, 0.5 * figures["scheduler_per_s"])
                )
                figures["paced_rate"] = rate
                for path in order:
                    result = await paced(path, engine, rate, paced_seconds)
                    figures.update({f"{path.name}_{k}": v for k, v in result.items()})
                    await asyncio.sleep(1.0)
                figures["ratio"] = figures["scheduler_per_s"] / figures["raw_per_s"]
                print(
                    f"run {run + 1}: scheduler {figures['scheduler_per_s']:.1f}/s, "
                    f"raw {figures['raw_per_s']:.1f}/s; paced {rate:.1f}/s p99 "
                    f"scheduler {figures['scheduler_p99_ms']:.0f} ms, "
                    f"raw {figures['raw_p99_ms']:.0f} ms",
                    flush=True,
                )
                per_run.append(figures)
            stack.stop_profiles()
        finally:
            raw_worker.stop()
        med = h.medians(per_run)

    # Both paths are measured back to back in each run, so the median of the
    # per-run ratios is the figure; the ratio of the medians is shown too.
    ratio = med["ratio"]
    ratio_of_medians = med["scheduler_per_s"] / med["raw_per_s"]
    rows: list[dict[str, Any]] = []
    out: dict[str, Any] = {}
    for name in ("scheduler", "raw"):
        rows.append(
            {
                "path": name,
                "firings/s": med[f"{name}_per_s"],
                "accepted/s": med[f"{name}_accept_per_s"],
                "burst p50 ms": med[f"{name}_burst_p50_ms"],
                "burst p99 ms": med[f"{name}_burst_p99_ms"],
                "paced/s": med["paced_rate"],
                "paced p50 ms": med[f"{name}_p50_ms"],
                "paced p99 ms": med[f"{name}_p99_ms"],
                "temporal cpu ms/firing": med[f"{name}_temporal_cpu_ms_per_firing"],
            }
        )
        out[name] = {
            "firings_per_s": med[f"{name}_per_s"],
            "accepted_per_s": med[f"{name}_accept_per_s"],
            "burst_p50_ms": med[f"{name}_burst_p50_ms"],
            "burst_p99_ms": med[f"{name}_burst_p99_ms"],
            "p50_ms": med[f"{name}_p50_ms"],
            "p99_ms": med[f"{name}_p99_ms"],
            "temporal_cpu_ms_per_firing": med[f"{name}_temporal_cpu_ms_per_firing"],
        }
    h.print_table(
        f"end to end, {events} events at concurrency {args.concurrency} "
        f"(median of {runs} runs)",
        rows,
    )
    print(
        f"\nratio scheduler/raw: {ratio:.2f}x, median of per-run ratios "
        f"{[round(r['ratio'], 2) for r in per_run]} (target >= 0.8x); "
        f"ratio of medians {ratio_of_medians:.2f}x"
    )
    h.emit(
        h.clean(
            {
                "bench": "e2e",
                "quick": quick,
                "runs": runs,
                "events": events,
                "concurrency": args.concurrency,
                "paced_rate": med["paced_rate"],
                "paced_seconds": paced_seconds,
                "scheduler": out["scheduler"],
                "raw": out["raw"],
                "ratio": ratio,
                "ratio_per_run": [r["ratio"] for r in per_run],
                "ratio_of_medians": ratio_of_medians,
                "targets": {"ratio_at_least_0.8": ratio >= 0.8},
                "machine": h.machine(),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
