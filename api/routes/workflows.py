"""Storing and reading workflow definitions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Response
from pydantic import ValidationError

from api.deps import CurrentUser, ServicesDep
from scheduler import payloads
from scheduler.errors import DefinitionError, FieldError
from scheduler.models import WorkflowDefinition

router = APIRouter(prefix="/api/v1/workflows", tags=["workflows"])


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "user_id": row["user_id"],
        "definition": row["definition"],
        "deployment_status": row["deployment_status"],
        "deployment_version": row["deployment_version"],
        "deployed_at": row["deployed_at"],
        "deployed_by": row["deployed_by"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def parse_definition(workflow_id: str, body: Any) -> WorkflowDefinition:
    if not isinstance(body, dict):
        raise DefinitionError([FieldError("the body must be a JSON object")])
    body.setdefault("id", workflow_id)
    if body["id"] != workflow_id:
        raise DefinitionError(
            [
                FieldError(
                    f"id {body['id']!r} differs from the URL's {workflow_id!r}",
                    None,
                    "id",
                )
            ]
        )
    try:
        return WorkflowDefinition.model_validate(body)
    except ValidationError as exc:
        raise DefinitionError(
            [
                FieldError(
                    e["msg"], _node_of(body, e["loc"]), ".".join(map(str, e["loc"]))
                )
                for e in exc.errors()
            ]
        ) from exc


def _node_of(body: dict[str, Any], loc: tuple[Any, ...]) -> str | None:
    if len(loc) >= 2 and loc[0] == "nodes" and isinstance(loc[1], int):
        nodes = body.get("nodes")
        if (
            isinstance(nodes, list)
            and loc[1] < len(nodes)
            and isinstance(nodes[loc[1]], dict)
        ):
            node_id = nodes[loc[1]].get("id")
            return str(node_id) if node_id is not None else f"nodes[{loc[1]}]"
    return None


@router.put("/{workflow_id}")
async def put_workflow(
    workflow_id: str,
    services: ServicesDep,
    user: CurrentUser,
    response: Response,
    body: Any = Body(...),
) -> dict[str, Any]:
    """Create or replace a definition (a deployed one keeps its running version)."""
    definition = parse_definition(workflow_id, body)
    stored = definition.model_dump(mode="json")
    payloads.storable_size(
        stored, services.settings.WORKFLOW_MAX_DEFINITION_BYTES, "the definition"
    )
    row, created = await services.store.put_workflow(
        workflow_id,
        definition.name,
        stored,
        user.user_id,
        is_admin=user.is_admin,
    )
    response.status_code = 201 if created else 200
    return _public(row)


@router.get("/{workflow_id}")
async def get_workflow(
    workflow_id: str, services: ServicesDep, user: CurrentUser
) -> dict[str, Any]:
    """One workflow definition with its deployment fields."""
    return _public(await services.store.get_workflow(workflow_id, user.owner_filter))
