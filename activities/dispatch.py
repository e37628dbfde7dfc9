"""Activities of DispatchExecution: deliver one request, record the outcome."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from scheduler.engine import EngineClient, execution_request
from scheduler.executions import (
    ENGINE_REFUSED_ERROR,
    ActivityName,
    DeliverInput,
    DeliverResult,
    FiringRecord,
)
from scheduler.settings import DispatchMode, Settings
from scheduler.store import Store

logger = logging.getLogger("scheduler.dispatch")


class DispatchActivities:
    def __init__(
        self, store: Store, settings: Settings, engine: EngineClient | None
    ) -> None:
        self.store = store
        self.settings = settings
        self.engine = engine

    @activity.defn(name=ActivityName.DELIVER_EXECUTION)
    async def deliver_execution(self, request: DeliverInput) -> DeliverResult:
        """Send the execution request; raising means Temporal retries it.

        The request carries `Idempotency-Key: {execution_id}` on every attempt,
        so an engine that saw an earlier attempt can answer it without running
        the workflow twice.
        """
        body = execution_request(
            execution_id=request.execution_id,
            workflow_id=request.workflow_id,
            deployment_version=request.deployment_version,
            trigger_type=request.trigger_type,
            node_id=request.node_id,
            data=request.data,
            triggered_at=request.triggered_at,
            user_id=request.user_id,
        )
        attempt = activity.info().attempt
        fields = {
            "trigger_type": request.trigger_type,
            "workflow_id": request.workflow_id,
            "execution_id": request.execution_id,
            "attempt": attempt,
        }
        mode = self.settings.dispatch_mode
        if mode is DispatchMode.LOG or self.engine is None:
            logger.info(
                "execution request (log mode, not sent)",
                extra={
                    **fields,
                    "event": "trigger_fired",
                    "status": "logged",
                    "request": body,
                },
            )
            return DeliverResult("logged", DispatchMode.LOG.value, None, attempt)

        started = time.monotonic()
        try:
            response = await self.engine.execute(body)
        except httpx.HTTPError as exc:
            logger.warning(
                "engine unreachable: %s", exc, extra={**fields, "status": "retrying"}
            )
            raise
        duration_ms = round((time.monotonic() - started) * 1000, 1)
        extra = {
            **fields,
            "event": "trigger_fired",
            "duration_ms": duration_ms,
            "http_status": response.status_code,
        }
        if response.accepted:
            logger.info(
                "engine accepted execution", extra={**extra, "status": "accepted"}
            )
            return DeliverResult("accepted", mode.value, response.status_code, attempt)
        if response.retryable:
            logger.warning(
                "engine answered %s, will retry",
                response.status_code,
                extra={**extra, "status": "retrying"},
            )
            raise ApplicationError(
                f"engine answered {response.status_code}: {response.body}"
            )
        logger.warning("engine refused execution", extra={**extra, "status": "refused"})
        raise ApplicationError(
            f"engine refused the execution with {response.status_code}: "
            f"{response.body}",
            {"http_status": response.status_code, "attempts": attempt},
            type=ENGINE_REFUSED_ERROR,
            non_retryable=True,
        )

    @activity.defn(name=ActivityName.RECORD_FIRING)
    async def record_firing(self, record: FiringRecord) -> None:
        await self.store.record_firing(
            {
                **record.__dict__,
                "execution_id": record.execution_id,
                "triggered_at": datetime.fromisoformat(record.triggered_at),
            }
        )

    def all(self) -> list[Callable[..., Any]]:
        return [self.deliver_execution, self.record_firing]
