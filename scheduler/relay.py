"""The outbox relay: moves accepted events from `trigger_events` to Temporal.

Any number of relays may run: each claims rows with FOR UPDATE SKIP LOCKED.
A row is marked relayed only after Temporal accepted its signal-with-start;
if a relay dies in between, the next one sends it again, and the firing's
workflow id plus the event id inside it make the repeat harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import Any

import asyncpg
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from scheduler.executions import (
    EVENT_SIGNAL,
    DispatchInput,
    RetrySettings,
    TriggerEvent,
)
from scheduler.schedules import DISPATCH_WORKFLOW, search_attributes
from scheduler.store import NOTIFY_CHANNEL

logger = logging.getLogger(__name__)

RPC_TIMEOUT = timedelta(seconds=5)
MAX_BACKOFF_SECONDS = 30.0
CONCURRENCY = 32


class OutboxRelay:
    """Relays pending outbox rows, woken by NOTIFY and by a poll interval."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        client: Client,
        *,
        task_queue: str,
        retry: RetrySettings,
        batch_size: int = 100,
        poll_seconds: float = 1.0,
    ) -> None:
        self.pool = pool
        self.client = client
        self.task_queue = task_queue
        self.retry = retry
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._limit = asyncio.Semaphore(CONCURRENCY)

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until `stop` is set; survives database and Temporal outages."""
        listener = asyncio.create_task(self._listen(stop))
        try:
            while not stop.is_set():
                try:
                    moved = await self.relay_once()
                except (OSError, asyncpg.PostgresError) as exc:
                    logger.warning("relay pass failed: %s", exc)
                    moved = 0
                if moved >= self.batch_size:
                    continue
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    async def _listen(self, stop: asyncio.Event) -> None:
        def wake(*_: Any) -> None:
            self._wake.set()

        while not stop.is_set():
            try:
                async with self.pool.acquire() as conn:
                    await conn.add_listener(NOTIFY_CHANNEL, wake)
                    try:
                        while not conn.is_closed():
                            with contextlib.suppress(TimeoutError):
                                await asyncio.wait_for(stop.wait(), self.poll_seconds)
                            if stop.is_set():
                                return
                    finally:
                        with contextlib.suppress(Exception):
                            await conn.remove_listener(NOTIFY_CHANNEL, wake)
            except (OSError, asyncpg.PostgresError) as exc:
                logger.warning("relay listener lost its connection: %s", exc)
                await asyncio.sleep(self.poll_seconds)

    async def relay_once(self) -> int:
        """Claim one batch and relay it; returns how many rows were handled."""
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                """SELECT id, event_id, workflow_id, node_id, trigger_type,
                          deployment_version, dispatch_id, payload, received_at,
                          relay_attempts
                     FROM trigger_events
                    WHERE relayed_at IS NULL AND next_attempt_at <= now()
                    ORDER BY id
                    LIMIT $1
                    FOR UPDATE SKIP LOCKED""",
                self.batch_size,
            )
            if not rows:
                return 0
            results = await asyncio.gather(*(self._send(r) for r in rows))
            done = [
                r["id"] for r, err in zip(rows, results, strict=True) if err is None
            ]
            failed = [(r, err) for r, err in zip(rows, results, strict=True) if err]
            if done:
                await conn.execute(
                    "UPDATE trigger_events SET relayed_at = now() "
                    "WHERE id = ANY($1::bigint[])",
                    done,
                )
            for row, error in failed:
                delay = min(MAX_BACKOFF_SECONDS, 0.5 * 2 ** row["relay_attempts"])
                await conn.execute(
                    """UPDATE trigger_events
                          SET relay_attempts = relay_attempts + 1, last_error = $2,
                              next_attempt_at = now() + make_interval(secs => $3)
                        WHERE id = $1""",
                    row["id"],
                    error,
                    delay,
                )
            if failed:
                logger.warning(
                    "relay: %d of %d events not relayed yet: %s",
                    len(failed),
                    len(rows),
                    failed[0][1],
                )
            return len(rows)

    async def _send(self, row: asyncpg.Record) -> str | None:
        payload: dict[str, Any] = row["payload"]
        request = DispatchInput(
            workflow_id=row["workflow_id"],
            node_id=row["node_id"],
            trigger_type=row["trigger_type"],
            deployment_version=row["deployment_version"],
            retry=self.retry,
            user_id=payload.get("user_id"),
        )
        event = TriggerEvent(
            event_id=str(row["event_id"]),
            received_at=row["received_at"].isoformat(),
            data=payload.get("data", {}),
        )
        async with self._limit:
            try:
                await self.client.start_workflow(
                    DISPATCH_WORKFLOW,
                    request,
                    id=row["dispatch_id"],
                    task_queue=self.task_queue,
                    start_signal=EVENT_SIGNAL,
                    start_signal_args=[event],
                    # A closed firing with this id means the event already fired.
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                    search_attributes=search_attributes(
                        row["workflow_id"],
                        row["node_id"],
                        row["trigger_type"],
                        row["deployment_version"],
                    ),
                    static_summary=f"{row['trigger_type']} -> {row['workflow_id']}/"
                    f"{row['node_id']} (event {row['event_id']})",
                    rpc_timeout=RPC_TIMEOUT,
                )
            except WorkflowAlreadyStartedError:
                return None
            except Exception as exc:  # any failure leaves the row for a later pass
                return f"{type(exc).__name__}: {exc}"[:1000]
        return None
