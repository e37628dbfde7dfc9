"""Deploy and undeploy as the API offers them: start a DeploymentWorkflow, await it."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio.client import Client, WorkflowFailureError
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

from scheduler import ids
from scheduler.errors import ConflictError, DefinitionError, FieldError, SchedulerError
from scheduler.executions import DeploymentInput, DeploymentResult
from scheduler.models import DEPLOYABLE_FROM, DeploymentAction, DeploymentStatus
from scheduler.store import Store
from scheduler.temporal import DEPLOYMENT_ACTION, TARGET_WORKFLOW_ID

DEPLOYMENT_WORKFLOW = "DeploymentWorkflow"
RESULT_WAIT = timedelta(seconds=30)


class DeploymentFailedError(SchedulerError):
    status_code = 422
    code = "deployment_failed"


class DeploymentService:
    def __init__(self, store: Store, client: Client, task_queue: str) -> None:
        self.store = store
        self.client = client
        self.task_queue = task_queue

    async def deploy(self, workflow_id: str, user_id: str) -> dict[str, Any]:
        row = await self.store.get_workflow(workflow_id)
        if row["deployment_status"] not in DEPLOYABLE_FROM:
            raise ConflictError(
                f"workflow {workflow_id!r} is {row['deployment_status']}; deploy is "
                "allowed from DRAFT, DEPLOYMENT_FAILED and UNDEPLOYED"
            )
        return await self._run(workflow_id, DeploymentAction.DEPLOY, user_id)

    async def undeploy(self, workflow_id: str, user_id: str) -> dict[str, Any]:
        row = await self.store.get_workflow(workflow_id)
        if row["deployment_status"] not in (
            DeploymentStatus.DEPLOYED,
            DeploymentStatus.DEPLOYMENT_FAILED,
        ):
            raise ConflictError(
                f"workflow {workflow_id!r} is {row['deployment_status']}; only a "
                "DEPLOYED (or DEPLOYMENT_FAILED) workflow can be undeployed"
            )
        return await self._run(workflow_id, DeploymentAction.UNDEPLOY, user_id)

    async def _run(
        self, workflow_id: str, action: DeploymentAction, user_id: str
    ) -> dict[str, Any]:
        try:
            handle = await self.client.start_workflow(
                DEPLOYMENT_WORKFLOW,
                DeploymentInput(workflow_id, action.value, user_id),
                id=ids.deployment_workflow_id(workflow_id),
                task_queue=self.task_queue,
                result_type=DeploymentResult,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(TARGET_WORKFLOW_ID, workflow_id),
                        SearchAttributePair(DEPLOYMENT_ACTION, action.value),
                    ]
                ),
                static_summary=f"{action.value} {workflow_id} by {user_id}",
            )
        except WorkflowAlreadyStartedError as exc:
            raise ConflictError(
                f"another deployment operation on workflow {workflow_id!r} is running; "
                "retry when it has finished"
            ) from exc
        try:
            result: DeploymentResult = await asyncio.wait_for(
                handle.result(), RESULT_WAIT.total_seconds()
            )
        except TimeoutError:
            row = await self.store.get_workflow(workflow_id)
            return {
                "workflow_id": workflow_id,
                "status": row["deployment_status"],
                "message": "still running; poll the status endpoint",
                "temporal_workflow_id": handle.id,
            }
        except WorkflowFailureError as exc:
            raise _failure(exc) from exc
        return {
            "workflow_id": workflow_id,
            "status": result.status,
            "deployment_version": result.deployment_version,
            "message": result.message,
            "temporal_workflow_id": handle.id,
        }


def _failure(exc: WorkflowFailureError) -> SchedulerError:
    cause: BaseException | None = exc.cause
    while cause is not None and not isinstance(cause, ApplicationError):
        cause = cause.__cause__ or getattr(cause, "cause", None)
    if cause is None:
        return DeploymentFailedError(f"the deployment failed: {exc.cause}")
    details = list(cause.details)
    if cause.type == "InvalidTransition":
        return ConflictError(cause.message)
    if details and isinstance(details[0], list):
        return DefinitionError([FieldError(**e) for e in details[0]])
    if details and isinstance(details[0], dict) and "message" in details[0]:
        return DefinitionError([FieldError(**e) for e in details])
    return DeploymentFailedError(cause.message)
