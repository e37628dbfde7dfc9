"""DeploymentWorkflow: one deploy or undeploy of one workflow, as a saga."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from scheduler.executions import (
        DEPLOYMENT_FAILED_ERROR,
        INVALID_TRANSITION_ERROR,
        ActivityName,
        BeginDeploymentResult,
        DeploymentInput,
        DeploymentResult,
        DeploymentStep,
        FailDeploymentInput,
        WorkflowRef,
    )
    from scheduler.models import DeploymentAction, DeploymentStatus
    from scheduler.temporal import DEPLOYMENT_VERSION

STEP_TIMEOUT = timedelta(seconds=60)
# Infrastructure trouble (database, Temporal) is retried; a step that keeps
# failing for this long fails the deployment and is compensated.
STEP_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=10,
)


def _error_text(exc: BaseException) -> str:
    cause = exc.cause if isinstance(exc, ActivityError) else exc
    return str(getattr(cause, "message", None) or cause)


def _error_type(exc: ActivityError) -> str | None:
    cause = exc.cause
    return cause.type if isinstance(cause, ApplicationError) else None


def _error_details(exc: BaseException) -> list[Any]:
    cause = exc.cause if isinstance(exc, ActivityError) else exc
    return list(cause.details) if isinstance(cause, ApplicationError) else []


@workflow.defn
class DeploymentWorkflow:
    """Runs the deployment state machine of one workflow.

    Its id, `deployment:{workflow_id}`, is started with conflict policy FAIL,
    so that at most one operation per workflow runs at a time.
    """

    @workflow.run
    async def run(self, request: DeploymentInput) -> DeploymentResult:
        if request.action == DeploymentAction.UNDEPLOY:
            return await self._undeploy(request)
        return await self._deploy(request)

    async def _step(self, name: str, arg: Any, result_type: type | None = None) -> Any:
        return await workflow.execute_activity(
            name,
            arg,
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=STEP_RETRY,
            result_type=result_type,
        )

    async def _deploy(self, request: DeploymentInput) -> DeploymentResult:
        ref = WorkflowRef(request.workflow_id, request.triggered_by)
        try:
            begun: BeginDeploymentResult = await self._step(
                ActivityName.BEGIN_DEPLOYMENT, ref, BeginDeploymentResult
            )
        except ActivityError as exc:
            if _error_type(exc) != INVALID_TRANSITION_ERROR:
                # The move to DEPLOYING may have committed before the step
                # failed; never leave the workflow stuck there.
                await self._fail(request, None, exc, [])
            raise
        version = begun.deployment_version
        workflow.upsert_search_attributes([DEPLOYMENT_VERSION.value_set(version)])
        step = DeploymentStep(request.workflow_id, version, request.triggered_by)
        cleanup = WorkflowRef(
            request.workflow_id, request.triggered_by, begun.cron_node_ids
        )
        compensations: list[str] = []
        try:
            await self._step(ActivityName.VALIDATE_DEPLOYMENT, step)
            compensations.append(ActivityName.REMOVE_TRIGGER_INDEX)
            await self._step(ActivityName.WRITE_TRIGGER_INDEX, step)
            compensations.append(ActivityName.DELETE_SCHEDULES)
            await self._step(ActivityName.SYNC_SCHEDULES, step)
            await self._step(ActivityName.FINISH_DEPLOYMENT, step)
        except ActivityError as exc:
            await self._compensate(compensations, cleanup)
            await self._fail(request, version, exc, compensations)
            raise ApplicationError(
                _error_text(exc),
                *_error_details(exc),
                type=DEPLOYMENT_FAILED_ERROR,
                non_retryable=True,
            ) from exc
        return DeploymentResult(
            request.workflow_id, DeploymentStatus.DEPLOYED.value, version, "deployed"
        )

    async def _fail(
        self,
        request: DeploymentInput,
        version: int | None,
        exc: ActivityError,
        compensations: list[str],
    ) -> None:
        # Retried without limit, like the compensations: the failure must be
        # recorded, or the workflow would stay DEPLOYING for good.
        await workflow.execute_activity(
            ActivityName.FAIL_DEPLOYMENT,
            FailDeploymentInput(
                request.workflow_id,
                request.action,
                version,
                _error_text(exc),
                request.triggered_by,
                logs=[{"compensated": compensations[::-1]}],
            ),
            start_to_close_timeout=STEP_TIMEOUT,
        )

    async def _compensate(self, compensations: list[str], ref: WorkflowRef) -> None:
        # Compensations are idempotent; each is retried without limit because
        # leaving a schedule or an index row behind is worse than waiting.
        for name in reversed(compensations):
            await workflow.execute_activity(
                name, ref, start_to_close_timeout=STEP_TIMEOUT
            )

    async def _undeploy(self, request: DeploymentInput) -> DeploymentResult:
        ref = WorkflowRef(request.workflow_id, request.triggered_by)
        for name in (
            ActivityName.BEGIN_UNDEPLOYMENT,
            ActivityName.DELETE_SCHEDULES,
            ActivityName.REMOVE_TRIGGER_INDEX,
            ActivityName.FINISH_UNDEPLOYMENT,
        ):
            await workflow.execute_activity(
                name, ref, start_to_close_timeout=STEP_TIMEOUT
            )
        return DeploymentResult(
            request.workflow_id, DeploymentStatus.UNDEPLOYED.value, None, "undeployed"
        )
