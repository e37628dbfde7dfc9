"""The Temporal connection and the search attributes every execution carries."""

from __future__ import annotations

import logging

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.common import SearchAttributeKey

from scheduler.settings import Settings

logger = logging.getLogger(__name__)

TRIGGER_TYPE = SearchAttributeKey.for_keyword("TriggerType")
TARGET_WORKFLOW_ID = SearchAttributeKey.for_keyword("TargetWorkflowId")
DEPLOYMENT_VERSION = SearchAttributeKey.for_int("DeploymentVersion")
TRIGGER_NODE_ID = SearchAttributeKey.for_keyword("TriggerNodeId")
DEPLOYMENT_ACTION = SearchAttributeKey.for_keyword("DeploymentAction")

SEARCH_ATTRIBUTES: dict[str, str] = {
    TRIGGER_TYPE.name: "Keyword",
    TARGET_WORKFLOW_ID.name: "Keyword",
    DEPLOYMENT_VERSION.name: "Int",
    TRIGGER_NODE_ID.name: "Keyword",
    DEPLOYMENT_ACTION.name: "Keyword",
}


def dev_server_search_attribute_args() -> list[str]:
    """`--search-attribute Name=Type` flags for `temporal server start-dev`."""
    args: list[str] = []
    for name, kind in SEARCH_ATTRIBUTES.items():
        args += ["--search-attribute", f"{name}={kind}"]
    return args


async def connect(settings: Settings) -> Client:
    return await Client.connect(
        settings.TEMPORAL_ADDRESS, namespace=settings.TEMPORAL_NAMESPACE
    )


async def ensure_search_attributes(client: Client, namespace: str) -> list[str]:
    """Register the project's search attributes on a cluster that lacks them."""
    existing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    missing = {
        name: IndexedValueType.Value(f"INDEXED_VALUE_TYPE_{kind.upper()}")
        for name, kind in SEARCH_ATTRIBUTES.items()
        if name not in existing.custom_attributes
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(search_attributes=missing, namespace=namespace)
        )
        logger.info("registered search attributes %s", sorted(missing))
    return sorted(missing)
