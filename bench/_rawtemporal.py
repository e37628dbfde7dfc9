"""Raw Temporal baselines, with none of the scheduler's code in the path.

- `NOOP_WORKFLOW`: a workflow type that nothing polls; starting it measures
  `start_workflow` alone.
- `OneActivity`: start-and-complete of a workflow whose single activity POSTs
  to the engine stand-in, run by `python -m bench._harness raw-worker` in a
  process of its own, with the default (sandboxed) runner and the same
  activity concurrency as the scheduler's worker.
"""

from __future__ import annotations

import asyncio
import signal
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.common import SearchAttributeKey

with workflow.unsafe.imports_passed_through():
    import httpx

NOOP_WORKFLOW = "BenchNoop"
ONE_ACTIVITY_WORKFLOW = "BenchOneActivity"
DELIVER_ACTIVITY = "bench_deliver"


SCHEDULED_START = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")


@workflow.defn(name=ONE_ACTIVITY_WORKFLOW)
class OneActivity:
    @workflow.run
    async def run(self, request: dict[str, Any]) -> int:
        if request.get("cron"):
            # Started by a bare schedule: report its scheduled time, as the
            # scheduler's cron firings do, under an id of this very firing.
            info = workflow.info()
            scheduled = info.typed_search_attributes.get(SCHEDULED_START)
            when = scheduled or workflow.now()
            request = {
                "workflow_id": request["workflow_id"],
                "execution_id": info.workflow_id,
                "trigger": {
                    "type": "RAW_CRON",
                    "data": {
                        "scheduled_time": when.isoformat(),
                        "jitter_offset_seconds": request["jitter_offset_seconds"],
                    },
                },
            }
        result: int = await workflow.execute_activity(
            DELIVER_ACTIVITY, request, start_to_close_timeout=timedelta(seconds=30)
        )
        return result


class Deliver:
    def __init__(self, engine_url: str) -> None:
        self.client = httpx.AsyncClient(base_url=engine_url, timeout=30)

    @activity.defn(name=DELIVER_ACTIVITY)
    async def deliver(self, request: dict[str, Any]) -> int:
        response = await self.client.post(
            f"/v1/workflows/{request['workflow_id']}/execute",
            json=request,
            headers={"Idempotency-Key": request["execution_id"]},
        )
        response.raise_for_status()
        return response.status_code


async def run_worker(address: str, task_queue: str, engine_url: str) -> None:
    from temporalio.client import Client
    from temporalio.worker import Worker

    client = await Client.connect(address)
    deliver = Deliver(engine_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[OneActivity],
        activities=[deliver.deliver],
        max_concurrent_activities=100,
    ):
        print("worker polling", task_queue, flush=True)
        await stop.wait()
    await deliver.client.aclose()
