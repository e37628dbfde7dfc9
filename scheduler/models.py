"""Workflow definitions and the fixed platform vocabulary (states, trigger types)."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

WORKFLOW_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class DeploymentStatus(StrEnum):
    DRAFT = "DRAFT"
    DEPLOYING = "DEPLOYING"
    DEPLOYED = "DEPLOYED"
    DEPLOYMENT_FAILED = "DEPLOYMENT_FAILED"
    UNDEPLOYING = "UNDEPLOYING"
    UNDEPLOYED = "UNDEPLOYED"
    DEPRECATED = "DEPRECATED"


DEPLOYABLE_FROM = frozenset(
    {
        DeploymentStatus.DRAFT,
        DeploymentStatus.DEPLOYMENT_FAILED,
        DeploymentStatus.UNDEPLOYED,
    }
)


class DeploymentAction(StrEnum):
    DEPLOY = "DEPLOY"
    UNDEPLOY = "UNDEPLOY"
    UPDATE = "UPDATE"
    ROLLBACK = "ROLLBACK"


class TriggerType(StrEnum):
    MANUAL = "TRIGGER_MANUAL"
    CRON = "TRIGGER_CRON"
    WEBHOOK = "TRIGGER_WEBHOOK"
    SLACK = "TRIGGER_SLACK"
    EMAIL = "TRIGGER_EMAIL"
    GITHUB = "TRIGGER_GITHUB"


class IndexStatus(StrEnum):
    """`trigger_index.deployment_status`."""

    ACTIVE = "active"
    TESTING = "testing"
    INACTIVE = "inactive"


TRIGGER_NODE = "TRIGGER_NODE"


class Node(BaseModel):
    """One node of a workflow; only trigger nodes are interpreted here."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1, max_length=128)
    node_type: str = Field(min_length=1)
    subtype: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)

    @property
    def is_trigger(self) -> bool:
        return self.node_type == TRIGGER_NODE


class WorkflowDefinition(BaseModel):
    """A workflow as the platform stores it; unknown keys are kept untouched."""

    model_config = ConfigDict(extra="allow")

    id: str
    name: str = Field(min_length=1, max_length=256)
    nodes: list[Node] = Field(default_factory=list)
    connections: Any = Field(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not WORKFLOW_ID_PATTERN.match(value):
            raise ValueError(
                "a workflow id is 1-128 characters of letters, digits, '.', '_' or "
                "'-', starting with a letter or digit"
            )
        return value

    def trigger_nodes(self) -> list[Node]:
        return [node for node in self.nodes if node.is_trigger]


def trigger_label(trigger_type: str) -> str:
    """`TRIGGER_WEBHOOK` -> `Webhook`, as the testing-mode message names it."""
    return trigger_type.removeprefix("TRIGGER_").replace("_", " ").title()
