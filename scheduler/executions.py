"""Inputs and results of the Temporal workflows, signals and activities.

Plain dataclasses, one per operation, so a field can be added later without
breaking executions already running. Times travel as ISO 8601 strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEPLOYMENT_FAILED_ERROR = "DeploymentFailed"
ENGINE_REFUSED_ERROR = "EngineRefused"
INVALID_TRANSITION_ERROR = "InvalidTransition"
DEFINITION_ERROR = "DefinitionError"
EVENT_SIGNAL = "add_event"


@dataclass
class DeploymentInput:
    """What a `DeploymentWorkflow` is asked to do."""

    workflow_id: str
    action: str  # a DeploymentAction value
    triggered_by: str | None = None


@dataclass
class DeploymentResult:
    workflow_id: str
    status: str
    deployment_version: int | None = None
    message: str = ""


@dataclass
class BeginDeploymentResult:
    """The version a deploy works on; its definition is pinned in the database.

    The definition itself never travels through Temporal: it may hold
    secrets, and it may be larger than a payload may be.
    """

    deployment_version: int
    from_status: str
    cron_node_ids: list[str] = field(default_factory=list)


@dataclass
class DeploymentStep:
    """Argument of every deploy step after the first."""

    workflow_id: str
    deployment_version: int
    triggered_by: str | None = None


@dataclass
class FailDeploymentInput:
    workflow_id: str
    action: str
    deployment_version: int | None
    error: str
    triggered_by: str | None = None
    logs: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class WorkflowRef:
    workflow_id: str
    triggered_by: str | None = None
    # Cron node ids whose schedules a cleanup must remove even if the index
    # no longer lists them (a deploy that failed half-way).
    cron_node_ids: list[str] = field(default_factory=list)


@dataclass
class RetrySettings:
    """How long and how often one firing is retried against the engine."""

    initial_interval_seconds: float = 1.0
    maximum_interval_seconds: float = 300.0
    horizon_seconds: float = 24 * 3600.0


@dataclass
class TriggerEvent:
    """One event signalled into a firing."""

    event_id: str
    received_at: str
    data: dict[str, Any]


@dataclass
class DispatchInput:
    """A firing of one trigger node."""

    workflow_id: str
    node_id: str
    trigger_type: str
    deployment_version: int
    retry: RetrySettings = field(default_factory=RetrySettings)
    # Set for manual and ingress firings; a scheduled firing derives its data
    # from the schedule's search attributes instead.
    user_id: str | None = None
    cron: dict[str, Any] | None = None


@dataclass
class DeliverInput:
    execution_id: str
    dispatch_id: str
    workflow_id: str
    node_id: str
    trigger_type: str
    deployment_version: int
    triggered_at: str
    data: dict[str, Any]
    user_id: str | None = None


@dataclass
class DeliverResult:
    status: str  # accepted | logged
    dispatch_mode: str
    http_status: int | None = None
    attempts: int = 1


@dataclass
class FiringRecord:
    execution_id: str
    dispatch_id: str
    workflow_id: str
    node_id: str
    trigger_type: str
    deployment_version: int
    dispatch_mode: str
    status: str  # accepted | logged | refused | failed
    triggered_at: str
    http_status: int | None = None
    attempts: int = 0
    event_count: int = 1
    error_message: str | None = None


@dataclass
class DispatchResult:
    execution_id: str
    status: str
    http_status: int | None = None
    attempts: int = 0
    event_ids: list[str] = field(default_factory=list)


class ActivityName:
    """Activity names, shared by the workflow definitions and the worker."""

    BEGIN_DEPLOYMENT = "begin_deployment"
    VALIDATE_DEPLOYMENT = "validate_deployment"
    WRITE_TRIGGER_INDEX = "write_trigger_index"
    REMOVE_TRIGGER_INDEX = "remove_trigger_index"
    SYNC_SCHEDULES = "sync_schedules"
    DELETE_SCHEDULES = "delete_schedules"
    FINISH_DEPLOYMENT = "finish_deployment"
    FAIL_DEPLOYMENT = "fail_deployment"
    BEGIN_UNDEPLOYMENT = "begin_undeployment"
    FINISH_UNDEPLOYMENT = "finish_undeployment"
    DELIVER_EXECUTION = "deliver_execution"
    RECORD_FIRING = "record_firing"
