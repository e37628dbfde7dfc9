"""Issue 3.3 - routing: time to find the candidate triggers of one event.

A dedicated database (not the dev one) is filled with 10k, then 100k, then
1M `trigger_index` rows by `generate_series` (one workflow per 10 triggers),
spread over three trigger types:

- webhook paths: one trigger per path (a third of the rows),
- GitHub repositories (`owner/repo`): 4 triggers per repository,
- Slack workspaces (`T...`): 20 triggers per workspace.

At each size, in this process, `TriggerRouter.lookup(type, key)` - the call
the ingress makes - is timed per call:

- warm: 1,000 hot keys already in the router's cache, looked up in random
  order (positive entries), and unknown keys answered from the negative cache;
- cold: the router's cache cleared before every lookup, so each one is the
  indexed `trigger_index` query (PostgreSQL's own buffers stay warm: "cold"
  means the router's cache, not the disk).

Figures are medians over `runs` repetitions of each measurement. (The match
functions that would filter the candidates of GitHub and Slack triggers do
not exist yet - those types are refused at deploy - so a lookup is the
candidate rows of the key.)

    .venv/bin/python bench/routing.py [--quick] [--runs N]
        [--sizes 10000,100000,1000000]
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg

from bench import _harness as h
from scheduler.db import create_pool
from scheduler.routing import TriggerRouter
from scheduler.store import Store

TYPES = ("TRIGGER_WEBHOOK", "TRIGGER_GITHUB", "TRIGGER_SLACK")

LOAD_WORKFLOWS = """
INSERT INTO workflows (id, name, user_id, definition, deployment_status,
                       deployed_at, deployed_by)
SELECT 'wf-' || w, 'bench', 'bench', '{}'::jsonb, 'DEPLOYED', now(), 'bench'
  FROM generate_series($1::bigint, $2::bigint - 1) AS w
"""

# Row i: type i % 3; webhook path per row, repository per 12 rows (4 of
# them GitHub), workspace per 60 rows (20 of them Slack).
LOAD_INDEX = """
INSERT INTO trigger_index (workflow_id, node_id, deployment_version,
                           trigger_type, trigger_config, index_key)
SELECT 'wf-' || (i / 10), 'n' || (i % 10), 1,
       CASE i % 3 WHEN 0 THEN 'TRIGGER_WEBHOOK' WHEN 1 THEN 'TRIGGER_GITHUB'
                  ELSE 'TRIGGER_SLACK' END,
       CASE i % 3
         WHEN 0 THEN jsonb_build_object('methods', jsonb_build_array('POST'),
                                        'webhook_path', NULL)
         WHEN 1 THEN jsonb_build_object(
                'repository', 'org' || (i / 12) || '/repo' || (i / 12),
                'events', jsonb_build_array('push', 'pull_request'),
                'branches', jsonb_build_array('main', 'release/**'))
         ELSE jsonb_build_object(
                'workspace_id', 'T' || lpad((i / 60)::text, 9, '0'),
                'event_types', jsonb_build_array('message', 'app_mention'),
                'channels', jsonb_build_array('C' || (i % 97)))
       END,
       CASE i % 3 WHEN 0 THEN '/webhook/p' || i
                  WHEN 1 THEN 'org' || (i / 12) || '/repo' || (i / 12)
                  ELSE 'T' || lpad((i / 60)::text, 9, '0') END
  FROM generate_series($1::bigint, $2::bigint - 1) AS i
"""


def key_of(i: int) -> tuple[str, str]:
    """The (type, index key) of row i, as LOAD_INDEX writes it."""
    kind = i % 3
    if kind == 0:
        return TYPES[0], f"/webhook/p{i}"
    if kind == 1:
        return TYPES[1], f"org{i // 12}/repo{i // 12}"
    return TYPES[2], f"T{i // 60:09d}"


async def grow(conn: asyncpg.Connection, start: int, end: int) -> float:
    began = time.perf_counter()
    chunk = 200_000
    for low in range(start, end, chunk):
        high = min(end, low + chunk)
        async with conn.transaction():
            await conn.execute(LOAD_WORKFLOWS, low // 10, high // 10)
            await conn.execute(LOAD_INDEX, low, high)
    await conn.execute("ANALYZE trigger_index")
    return time.perf_counter() - began


async def timed(
    router: TriggerRouter, keys: list[tuple[str, str]], clear: bool
) -> list[float]:
    out = []
    perf = time.perf_counter
    for trigger_type, key in keys:
        if clear:
            router.clear()
        t0 = perf()
        await router.lookup(trigger_type, key)
        out.append(perf() - t0)
    return out


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "p50_us": h.percentile(samples, 50) * 1e6,
        "p99_us": h.percentile(samples, 99) * 1e6,
    }


async def measure(
    router: TriggerRouter, size: int, rng: random.Random, lookups: int, cold: int
) -> dict[str, float]:
    figures: dict[str, float] = {}
    hot = [key_of(rng.randrange(size)) for _ in range(1000)]
    router.clear()
    for trigger_type, key in hot:
        await router.lookup(trigger_type, key)
    assert len(router) == len(set(hot)), "every hot key is cached"
    warm = await timed(router, [rng.choice(hot) for _ in range(lookups)], clear=False)
    figures.update({f"warm_{k}": v for k, v in summary(warm).items()})
    unknown = [("TRIGGER_WEBHOOK", f"/webhook/none-{i}") for i in range(200)]
    for trigger_type, key in unknown:
        await router.lookup(trigger_type, key)
    negative = await timed(
        router, [rng.choice(unknown) for _ in range(lookups)], clear=False
    )
    figures.update({f"warm_negative_{k}": v for k, v in summary(negative).items()})
    cold_keys = [key_of(rng.randrange(size)) for _ in range(cold)]
    cold_samples = await timed(router, cold_keys, clear=True)
    figures.update({f"cold_{k}": v for k, v in summary(cold_samples).items()})
    for trigger_type in TYPES:
        mine = [
            s
            for s, k in zip(cold_samples, cold_keys, strict=True)
            if k[0] == trigger_type
        ]
        short = trigger_type.removeprefix("TRIGGER_").lower()
        figures.update({f"cold_{short}_{k}": v for k, v in summary(mine).items()})
    return figures


async def main() -> None:
    parser = h.arg_parser(__doc__ or "")
    parser.add_argument("--sizes", default=None)
    parser.add_argument("--lookups", type=int, default=None)
    parser.add_argument("--cold", type=int, default=None)
    args = parser.parse_args()
    quick = args.quick
    runs = args.runs or (1 if quick else 5)
    sizes = [
        int(s)
        for s in (
            args.sizes or ("600,1200" if quick else "10000,100000,1000000")
        ).split(",")
    ]
    lookups = args.lookups or (500 if quick else 20_000)
    cold = args.cold or (100 if quick else 2_000)
    rng = random.Random(3)

    results: dict[int, dict[str, float]] = {}
    loads: dict[int, float] = {}
    async with h.infrastructure(args, temporal=False) as infra:
        url = await infra.new_database("routing")
        pool = await create_pool(url, max_size=4)
        router = TriggerRouter(Store(pool), max_entries=10_000)
        stop = asyncio.Event()
        listener = asyncio.create_task(router.run(stop))
        try:
            await asyncio.wait_for(router.wait_listening(), 10)
            loaded = 0
            async with pool.acquire() as conn:
                for size in sizes:
                    loads[size] = await grow(conn, loaded, size)
                    loaded = size
                    rows = await conn.fetchval("SELECT count(*) FROM trigger_index")
                    print(
                        f"{rows} index rows (+{loads[size]:.1f} s to load)", flush=True
                    )
                    per_run = [
                        await measure(router, size, rng, lookups, cold)
                        for _ in range(runs)
                    ]
                    results[size] = h.medians(per_run)
                    r = results[size]
                    print(
                        f"  warm p50 {r['warm_p50_us']:.1f} us "
                        f"p99 {r['warm_p99_us']:.1f} us; "
                        f"cold p50 {r['cold_p50_us']:.0f} us "
                        f"p99 {r['cold_p99_us']:.0f} us",
                        flush=True,
                    )
        finally:
            stop.set()
            await listener
            await pool.close()

    rows_out: list[dict[str, Any]] = []
    for size in sizes:
        r = results[size]
        rows_out.append(
            {
                "rows": size,
                "warm p50 us": r["warm_p50_us"],
                "warm p99 us": r["warm_p99_us"],
                "neg p99 us": r["warm_negative_p99_us"],
                "cold p50 us": r["cold_p50_us"],
                "cold p99 us": r["cold_p99_us"],
                "cold webhook p99": r["cold_webhook_p99_us"],
                "cold github p99": r["cold_github_p99_us"],
                "cold slack p99": r["cold_slack_p99_us"],
                "load s": loads[size],
            }
        )
    h.print_table(f"routing lookups (microseconds, median of {runs} runs)", rows_out)
    largest = results[sizes[-1]]
    h.emit(
        h.clean(
            {
                "bench": "routing",
                "quick": quick,
                "runs": runs,
                "lookups": lookups,
                "cold_lookups": cold,
                "sizes": {str(s): results[s] for s in sizes},
                "load_seconds": {str(s): loads[s] for s in sizes},
                "targets": {
                    "warm_p99_at_most_1ms_at_largest": largest["warm_p99_us"] <= 1000,
                    "largest": sizes[-1],
                },
                "machine": h.machine(),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
