"""Issue 3.1 - ingress: webhook POSTs accepted per second, p50/p99 to the 2xx.

In the same run, against the same Temporal server and at the same
concurrency: raw `start_workflow` calls per second (a trivial workflow type
that nothing polls). Then a paced run at a fixed rate (default 200/s) for the
p99 at that rate.

The API runs with its outbox relay off and the worker idle, so that each side
is measured alone: the webhook side is API + PostgreSQL, the raw side is the
Temporal server. (With the relay on, the relay's signal-with-starts into
Temporal would compete for the same two cores; the end-to-end benchmark
measures that path.) The load generator is this process; on 2 cores it
competes with the server it measures, which it does on both sides alike.

    .venv/bin/python bench/ingress.py [--quick] [--runs N]
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from temporalio.client import Client

from bench import _harness as h
from bench._rawtemporal import NOOP_WORKFLOW


async def measure_ingress(
    stack: h.Stack, paths: list[str], concurrency: int, duration: float
) -> dict[str, float]:
    connections = [
        h.HttpConnection("127.0.0.1", stack.port) for _ in range(concurrency)
    ]
    operations = [_post_op(c, paths, i) for i, c in enumerate(connections)]
    cpu0 = stack.api.cpu_seconds()
    result = await h.closed_loop(operations, duration)
    cpu = stack.api.cpu_seconds() - cpu0
    for c in connections:
        await c.close()
    if result.errors:
        print(f"  ingress errors: {result.errors} ({result.first_error})")
    return {**result.summary(), "api_cpu_ms_per_req": 1000 * cpu / max(result.ok, 1)}


def _post_op(conn: h.HttpConnection, paths: list[str], index: int) -> h.Operation:
    state = {"n": index}
    headers = [("Content-Type", "application/json")]

    async def op() -> bool:
        state["n"] += 1
        path = paths[state["n"] % len(paths)]
        body = json.dumps({"order": state["n"], "source": "bench"}).encode()
        status, _ = await conn.request("POST", path, body, headers)
        return status == 202

    return op


async def measure_raw(
    client: Client, concurrency: int, duration: float, temporal_pid: int | None
) -> dict[str, float]:
    task_queue = f"bench-noop-{uuid.uuid4().hex[:8]}"

    def make_op(index: int) -> h.Operation:
        state = {"n": 0}

        async def op() -> bool:
            state["n"] += 1
            await client.start_workflow(
                NOOP_WORKFLOW,
                {"order": state["n"], "source": "bench"},
                id=f"noop-{index}-{uuid.uuid4().hex}",
                task_queue=task_queue,
            )
            return True

        return op

    cpu0 = h.cpu_seconds(temporal_pid)
    result = await h.closed_loop([make_op(i) for i in range(concurrency)], duration)
    cpu = h.cpu_seconds(temporal_pid) - cpu0
    if result.errors:
        print(f"  raw start errors: {result.errors} ({result.first_error})")
    return {
        **result.summary(),
        "temporal_cpu_ms_per_start": 1000 * cpu / max(result.ok, 1),
    }


async def measure_paced(
    stack: h.Stack, paths: list[str], rate: float, duration: float
) -> dict[str, float]:
    connections = [h.HttpConnection("127.0.0.1", stack.port) for _ in range(64)]
    operations = [_post_op(c, paths, i) for i, c in enumerate(connections)]
    result = await h.paced(operations, rate, duration)
    for c in connections:
        await c.close()
    if result.errors:
        print(f"  paced errors: {result.errors} ({result.first_error})")
    return result.summary()


async def main() -> None:
    parser = h.arg_parser(__doc__ or "")
    parser.add_argument("--duration", type=float, default=None)
    parser.add_argument("--concurrency", default=None, help="e.g. 1,16,64")
    parser.add_argument("--paced-rate", type=float, default=200.0)
    parser.add_argument("--paced-seconds", type=float, default=None)
    parser.add_argument("--workflows", type=int, default=None)
    args = parser.parse_args()
    quick = args.quick
    runs = args.runs or (1 if quick else 3)
    duration = args.duration or (0.5 if quick else 5.0)
    levels = [
        int(c) for c in (args.concurrency or ("1,4" if quick else "1,16,64")).split(",")
    ]
    paced_seconds = args.paced_seconds or (0.5 if quick else 10.0)
    paced_rate = args.paced_rate if not quick else min(args.paced_rate, 50.0)
    n_workflows = args.workflows or (2 if quick else 16)

    async with h.infrastructure(args) as infra:
        options = h.StackOptions(relay=False, engine=False)
        async with h.running_stack(infra, options) as stack:
            async with stack.client() as api:
                ids = [f"hook-{i}" for i in range(n_workflows)]
                await h.gather_limited(
                    4,
                    [
                        lambda i=i: stack.deploy(api, i, h.webhook_trigger())
                        for i in ids
                    ],
                )
            paths = [f"/webhook/{i}" for i in ids]
            client = await Client.connect(infra.temporal_address)
            stack.start_profiles(args, "ingress")
            per_run: list[dict[str, float]] = []
            for run in range(runs):
                figures: dict[str, float] = {}
                for c in levels:
                    raw = await measure_raw(client, c, duration, infra.temporal_pid)
                    web = await measure_ingress(stack, paths, c, duration)
                    for k, v in raw.items():
                        figures[f"raw_c{c}_{k}"] = v
                    for k, v in web.items():
                        figures[f"ingress_c{c}_{k}"] = v
                    figures[f"ratio_c{c}"] = web["per_s"] / raw["per_s"]
                    print(
                        f"run {run + 1} c={c}: ingress {web['per_s']:.0f}/s "
                        f"p99 {web['p99_ms']:.1f} ms; raw start "
                        f"{raw['per_s']:.0f}/s p99 {raw['p99_ms']:.1f} ms",
                        flush=True,
                    )
                pace = await measure_paced(stack, paths, paced_rate, paced_seconds)
                for k, v in pace.items():
                    figures[f"paced_{k}"] = v
                print(
                    f"run {run + 1} paced {paced_rate:.0f}/s: achieved "
                    f"{pace['per_s']:.0f}/s p50 {pace['p50_ms']:.1f} ms "
                    f"p99 {pace['p99_ms']:.1f} ms",
                    flush=True,
                )
                figures["peak_ratio"] = max(
                    figures[f"ingress_c{c}_per_s"] for c in levels
                ) / max(figures[f"raw_c{c}_per_s"] for c in levels)
                per_run.append(figures)
            stack.stop_profiles()
            med = h.medians(per_run)

    rows: list[dict[str, Any]] = []
    levels_out: dict[str, Any] = {}
    for c in levels:
        ing, rw = f"ingress_c{c}_", f"raw_c{c}_"
        ratio = med[f"ratio_c{c}"]  # median of the per-run ratios
        rows.append(
            {
                "concurrency": c,
                "ingress/s": med[ing + "per_s"],
                "ingress p50 ms": med[ing + "p50_ms"],
                "ingress p99 ms": med[ing + "p99_ms"],
                "api cpu ms/req": med[ing + "api_cpu_ms_per_req"],
                "raw start/s": med[rw + "per_s"],
                "raw p50 ms": med[rw + "p50_ms"],
                "raw p99 ms": med[rw + "p99_ms"],
                "temporal cpu ms/start": med[rw + "temporal_cpu_ms_per_start"],
                "ratio": ratio,
            }
        )
        levels_out[str(c)] = {
            "ingress_per_s": med[ing + "per_s"],
            "ingress_p50_ms": med[ing + "p50_ms"],
            "ingress_p99_ms": med[ing + "p99_ms"],
            "api_cpu_ms_per_request": med[ing + "api_cpu_ms_per_req"],
            "raw_start_per_s": med[rw + "per_s"],
            "raw_start_p50_ms": med[rw + "p50_ms"],
            "raw_start_p99_ms": med[rw + "p99_ms"],
            "temporal_cpu_ms_per_start": med[rw + "temporal_cpu_ms_per_start"],
            "ratio": ratio,
        }
    peak_ingress = max(med[f"ingress_c{c}_per_s"] for c in levels)
    peak_raw = max(med[f"raw_c{c}_per_s"] for c in levels)
    peak_ratio = med["peak_ratio"]  # median of the per-run peak ratios
    h.print_table(f"ingress vs raw start_workflow (median of {runs} runs)", rows)
    h.print_table(
        "paced",
        [
            {
                "target/s": paced_rate,
                "achieved/s": med["paced_per_s"],
                "p50 ms": med["paced_p50_ms"],
                "p99 ms": med["paced_p99_ms"],
                "errors": med["paced_errors"],
            }
        ],
    )
    print(
        f"\npeak ratio (median of per-run ratios of the best rates): "
        f"{peak_ratio:.1f}x {[round(r['peak_ratio'], 1) for r in per_run]} "
        "(target >= 10x)"
    )
    h.emit(
        h.clean(
            {
                "bench": "ingress",
                "quick": quick,
                "runs": runs,
                "duration_s": duration,
                "levels": levels_out,
                "peak_ingress_per_s": peak_ingress,
                "peak_raw_start_per_s": peak_raw,
                "peak_ratio": peak_ratio,
                "peak_ratio_per_run": [r["peak_ratio"] for r in per_run],
                "paced": {
                    "rate": paced_rate,
                    "seconds": paced_seconds,
                    "achieved_per_s": med["paced_per_s"],
                    "p50_ms": med["paced_p50_ms"],
                    "p99_ms": med["paced_p99_ms"],
                    "errors": med["paced_errors"],
                },
                "targets": {
                    "ratio_at_least_10x": peak_ratio >= 10,
                    "p99_at_most_50ms_at_paced_rate": med["paced_p99_ms"] <= 50,
                },
                "machine": h.machine(),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
