"""Activities of DeploymentWorkflow: thin adapters onto the store and schedules.

Every step is idempotent, because Temporal may run it more than once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from scheduler import ids, schedules
from scheduler.errors import ConflictError, FieldError
from scheduler.executions import (
    DEFINITION_ERROR,
    INVALID_TRANSITION_ERROR,
    ActivityName,
    BeginDeploymentResult,
    DeploymentStep,
    FailDeploymentInput,
    WorkflowRef,
)
from scheduler.models import (
    DEPLOYABLE_FROM,
    DeploymentAction,
    DeploymentStatus,
    TriggerType,
    WorkflowDefinition,
)
from scheduler.settings import Settings
from scheduler.store import Store
from scheduler.validation import TriggerPlan, plan_triggers, validate_definition

logger = logging.getLogger(__name__)

PATH_CONFLICT = "PathConflict"


def _definition_error(errors: list[FieldError]) -> ApplicationError:
    return ApplicationError(
        "the workflow definition is invalid: "
        + "; ".join(
            f"{e.node_id or 'workflow'}.{e.field or '-'}: {e.message}" for e in errors
        ),
        [e.to_dict() for e in errors],
        type=DEFINITION_ERROR,
        non_retryable=True,
    )


class DeploymentActivities:
    def __init__(self, store: Store, client: Client, settings: Settings) -> None:
        self.store = store
        self.client = client
        self.settings = settings

    async def _definition(self, step: DeploymentStep) -> WorkflowDefinition:
        """The definition pinned for this deploy's version."""
        row = await self.store.get_version(step.workflow_id, step.deployment_version)
        if row is None:
            raise ApplicationError(
                f"version {step.deployment_version} of {step.workflow_id!r} is missing",
                type=INVALID_TRANSITION_ERROR,
                non_retryable=True,
            )
        try:
            return WorkflowDefinition.model_validate(row["definition"])
        except ValidationError as exc:
            raise _definition_error(
                [
                    FieldError(e["msg"], None, ".".join(map(str, e["loc"])))
                    for e in exc.errors()
                ]
            ) from exc

    @activity.defn(name=ActivityName.BEGIN_DEPLOYMENT)
    async def begin_deployment(self, ref: WorkflowRef) -> BeginDeploymentResult:
        """Move to DEPLOYING and pin the definition as the next version."""
        begun = await self.store.begin_deploy(
            ref.workflow_id, DEPLOYABLE_FROM, ref.triggered_by
        )
        if begun is None:
            row = await self.store.get_workflow(ref.workflow_id)
            raise ApplicationError(
                f"workflow {ref.workflow_id!r} is {row['deployment_status']}; "
                "deploy is allowed from DRAFT, DEPLOYMENT_FAILED and UNDEPLOYED",
                type=INVALID_TRANSITION_ERROR,
                non_retryable=True,
            )
        from_status, version = begun
        step = DeploymentStep(ref.workflow_id, version, ref.triggered_by)
        try:
            definition = await self._definition(step)
            cron_nodes = [
                n.id
                for n in definition.trigger_nodes()
                if n.subtype == TriggerType.CRON
            ]
        except ApplicationError:
            cron_nodes = []  # validation reports it, with every other error
        return BeginDeploymentResult(version, from_status.value, cron_nodes)

    @activity.defn(name=ActivityName.VALIDATE_DEPLOYMENT)
    async def validate_deployment(self, step: DeploymentStep) -> None:
        """Every error of the definition, and webhook paths taken by others."""
        definition = await self._definition(step)
        errors = validate_definition(definition)
        if not errors:
            errors = await self._path_conflicts(
                step.workflow_id, plan_triggers(definition)
            )
        if errors:
            raise _definition_error(errors)

    async def _path_conflicts(
        self, workflow_id: str, plans: list[TriggerPlan]
    ) -> list[FieldError]:
        webhook = {
            p.index_key: p
            for p in plans
            if p.trigger_type is TriggerType.WEBHOOK and p.index_key is not None
        }
        owner = (await self.store.get_workflow(workflow_id))["user_id"]
        live = await self.store.webhook_path_owners(workflow_id, list(webhook))
        reserved = await self.store.path_reservations(list(webhook))
        errors = []
        for path, plan in sorted(webhook.items()):
            holder = reserved.get(path)
            if path in live and live[path]["user_id"] == owner:
                message = (
                    f"is used by your deployed workflow {live[path]['workflow_id']!r}"
                )
            elif path in live or (holder is not None and holder["user_id"] != owner):
                # Another user's path: say so without naming their workflow.
                message = "is reserved by another user's workflow"
            else:
                continue
            errors.append(
                FieldError(
                    f"webhook path {path} {message}",
                    plan.node_id,
                    "parameters.webhook_path",
                )
            )
        return errors

    @activity.defn(name=ActivityName.WRITE_TRIGGER_INDEX)
    async def write_trigger_index(self, step: DeploymentStep) -> int:
        plans = plan_triggers(await self._definition(step))
        owner = (await self.store.get_workflow(step.workflow_id))["user_id"]
        await self.store.reserve_paths(
            owner,
            step.workflow_id,
            [
                p.index_key
                for p in plans
                if p.trigger_type is TriggerType.WEBHOOK and p.index_key is not None
            ],
        )
        try:
            await self.store.replace_index(
                step.workflow_id, step.deployment_version, plans
            )
        except ConflictError as exc:
            raise ApplicationError(
                exc.message, type=PATH_CONFLICT, non_retryable=True
            ) from exc
        return len(plans)

    @activity.defn(name=ActivityName.REMOVE_TRIGGER_INDEX)
    async def remove_trigger_index(self, ref: WorkflowRef) -> int:
        return await self.store.delete_index(ref.workflow_id)

    @activity.defn(name=ActivityName.SYNC_SCHEDULES)
    async def sync_schedules(self, step: DeploymentStep) -> list[str]:
        """Create or replace one schedule per cron trigger; drop stale ones."""
        plans = plan_triggers(await self._definition(step))
        wanted: dict[str, TriggerPlan] = {
            ids.schedule_id(step.workflow_id, p.node_id): p
            for p in plans
            if p.trigger_type is TriggerType.CRON
        }
        retry = self.settings.dispatch_retry()
        for schedule_id, plan in wanted.items():
            schedule = schedules.build_schedule(
                step.workflow_id,
                plan.node_id,
                step.deployment_version,
                plan.config,
                task_queue=self.settings.TEMPORAL_TASK_QUEUE,
                retry=retry,
            )
            attributes = schedules.search_attributes(
                step.workflow_id,
                plan.node_id,
                plan.trigger_type.value,
                step.deployment_version,
            )
            outcome = await schedules.upsert_schedule(
                self.client, schedule_id, schedule, attributes
            )
            logger.info(
                "schedule %s %s",
                schedule_id,
                outcome,
                extra={"workflow_id": step.workflow_id, "event": "schedule_" + outcome},
            )
        stale = set(await schedules.listed_schedule_ids(self.client, step.workflow_id))
        await schedules.delete_schedules(self.client, stale - set(wanted))
        return sorted(wanted)

    @activity.defn(name=ActivityName.DELETE_SCHEDULES)
    async def delete_schedules(self, ref: WorkflowRef) -> list[str]:
        rows = await self.store.index_rows(ref.workflow_id)
        node_ids = set(ref.cron_node_ids) | {
            r["node_id"] for r in rows if r["trigger_type"] == TriggerType.CRON
        }
        targets = {ids.schedule_id(ref.workflow_id, n) for n in node_ids}
        targets |= set(
            await schedules.listed_schedule_ids(self.client, ref.workflow_id)
        )
        return await schedules.delete_schedules(self.client, targets)

    @activity.defn(name=ActivityName.FINISH_DEPLOYMENT)
    async def finish_deployment(self, step: DeploymentStep) -> None:
        await self.store.mark_version_deployed(
            step.workflow_id, step.deployment_version
        )
        moved = await self.store.transition(
            step.workflow_id,
            [DeploymentStatus.DEPLOYING],
            DeploymentStatus.DEPLOYED,
            DeploymentAction.DEPLOY,
            step.triggered_by,
            version=step.deployment_version,
            deployed=True,
        )
        if moved is None:
            row = await self.store.get_workflow(step.workflow_id)
            if row["deployment_status"] != DeploymentStatus.DEPLOYED:
                raise ApplicationError(
                    f"workflow left DEPLOYING unexpectedly: {row['deployment_status']}",
                    type=INVALID_TRANSITION_ERROR,
                    non_retryable=True,
                )

    @activity.defn(name=ActivityName.FAIL_DEPLOYMENT)
    async def fail_deployment(self, failure: FailDeploymentInput) -> None:
        await self.store.transition(
            failure.workflow_id,
            [DeploymentStatus.DEPLOYING, DeploymentStatus.UNDEPLOYING],
            DeploymentStatus.DEPLOYMENT_FAILED,
            DeploymentAction(failure.action),
            failure.triggered_by,
            version=failure.deployment_version,
            error=failure.error,
            logs=failure.logs,
        )

    @activity.defn(name=ActivityName.BEGIN_UNDEPLOYMENT)
    async def begin_undeployment(self, ref: WorkflowRef) -> None:
        moved = await self.store.transition(
            ref.workflow_id,
            [DeploymentStatus.DEPLOYED, DeploymentStatus.DEPLOYMENT_FAILED],
            DeploymentStatus.UNDEPLOYING,
            DeploymentAction.UNDEPLOY,
            ref.triggered_by,
        )
        if moved is None:
            row = await self.store.get_workflow(ref.workflow_id)
            if row["deployment_status"] != DeploymentStatus.UNDEPLOYING:
                raise ApplicationError(
                    f"workflow {ref.workflow_id!r} is {row['deployment_status']}; "
                    "only a DEPLOYED workflow can be undeployed",
                    type=INVALID_TRANSITION_ERROR,
                    non_retryable=True,
                )

    @activity.defn(name=ActivityName.FINISH_UNDEPLOYMENT)
    async def finish_undeployment(self, ref: WorkflowRef) -> None:
        await self.store.transition(
            ref.workflow_id,
            [DeploymentStatus.UNDEPLOYING],
            DeploymentStatus.UNDEPLOYED,
            DeploymentAction.UNDEPLOY,
            ref.triggered_by,
        )

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.begin_deployment,
            self.validate_deployment,
            self.write_trigger_index,
            self.remove_trigger_index,
            self.sync_schedules,
            self.delete_schedules,
            self.finish_deployment,
            self.fail_deployment,
            self.begin_undeployment,
            self.finish_undeployment,
        ]
