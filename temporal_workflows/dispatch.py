"""DispatchExecution: one firing of one trigger, delivered once to the engine."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from scheduler.executions import (
        ENGINE_REFUSED_ERROR,
        EVENT_SIGNAL,
        ActivityName,
        DeliverInput,
        DeliverResult,
        DispatchInput,
        DispatchResult,
        FiringRecord,
        TriggerEvent,
    )
    from scheduler.ids import execution_id

SCHEDULED_START = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")
# A signal-with-start delivers its signal before the first workflow task, so
# the wait only matters for a plain start that forgot to send one.
EVENT_WAIT = timedelta(minutes=5)
RECORD_TIMEOUT = timedelta(seconds=30)
# Recording the outcome is a short, idempotent database write, run as a local
# activity inside the workflow task that follows the delivery: one activity
# task and one workflow task fewer per firing for the Temporal server, whose
# database is the ceiling of the end-to-end rate (bench/e2e.py).


@workflow.defn
class DispatchExecution:
    """Collects the event(s) of one firing and delivers one execution request.

    The workflow id is the firing's identity; the engine's execution id is
    derived from it, so every retry of the delivery carries the same one.
    """

    def __init__(self) -> None:
        self._events: dict[str, TriggerEvent] = {}

    @workflow.signal(name=EVENT_SIGNAL)
    def add_event(self, event: TriggerEvent) -> None:
        # Keyed by event id: a relay that re-sends after a crash adds nothing.
        self._events.setdefault(event.event_id, event)

    @workflow.run
    async def run(self, request: DispatchInput) -> DispatchResult:
        info = workflow.info()
        exec_id = execution_id(info.workflow_id)
        if request.cron is None:
            await workflow.wait_condition(
                lambda: bool(self._events), timeout=EVENT_WAIT
            )
        triggered_at = self._triggered_at()
        deliver = DeliverInput(
            execution_id=exec_id,
            dispatch_id=info.workflow_id,
            workflow_id=request.workflow_id,
            node_id=request.node_id,
            trigger_type=request.trigger_type,
            deployment_version=request.deployment_version,
            triggered_at=triggered_at,
            data=self._trigger_data(request, triggered_at),
            user_id=request.user_id,
        )
        record = FiringRecord(
            exec_id,
            info.workflow_id,
            request.workflow_id,
            request.node_id,
            request.trigger_type,
            request.deployment_version,
            "",
            "",
            triggered_at,
            event_count=max(1, len(self._events)),
        )
        try:
            result: DeliverResult = await workflow.execute_activity(
                ActivityName.DELIVER_EXECUTION,
                deliver,
                result_type=DeliverResult,
                start_to_close_timeout=timedelta(seconds=60),
                schedule_to_close_timeout=timedelta(
                    seconds=request.retry.horizon_seconds
                ),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(
                        seconds=request.retry.initial_interval_seconds
                    ),
                    maximum_interval=timedelta(
                        seconds=request.retry.maximum_interval_seconds
                    ),
                    non_retryable_error_types=[ENGINE_REFUSED_ERROR],
                ),
            )
            record.status, record.dispatch_mode = result.status, result.dispatch_mode
            record.http_status, record.attempts = result.http_status, result.attempts
        except ActivityError as exc:
            self._record_failure(record, exc)
        await workflow.execute_local_activity(
            ActivityName.RECORD_FIRING, record, start_to_close_timeout=RECORD_TIMEOUT
        )
        return DispatchResult(
            exec_id,
            record.status,
            record.http_status,
            record.attempts,
            sorted(self._events),
        )

    def _triggered_at(self) -> str:
        scheduled = workflow.info().typed_search_attributes.get(SCHEDULED_START)
        if scheduled is not None:
            return scheduled.isoformat()
        if self._events:
            return min(e.received_at for e in self._events.values())
        return workflow.now().isoformat()

    def _trigger_data(
        self, request: DispatchInput, triggered_at: str
    ) -> dict[str, object]:
        if request.cron is not None:
            return {**request.cron, "scheduled_time": triggered_at}
        events = sorted(self._events.values(), key=lambda e: e.received_at)
        if len(events) == 1:
            return {"event_id": events[0].event_id, **events[0].data}
        return {"events": [{"event_id": e.event_id, **e.data} for e in events]}

    def _record_failure(self, record: FiringRecord, exc: ActivityError) -> None:
        cause = exc.cause
        record.error_message = str(getattr(cause, "message", None) or cause)
        record.dispatch_mode = "engine"
        if isinstance(cause, ApplicationError) and cause.type == ENGINE_REFUSED_ERROR:
            record.status = "refused"
            details = list(cause.details)
            if details and isinstance(details[0], dict):
                record.http_status = details[0].get("http_status")
                record.attempts = int(details[0].get("attempts", 1))
        else:
            record.status = "failed"
        workflow.logger.warning(
            "firing %s %s: %s", record.dispatch_id, record.status, record.error_message
        )
