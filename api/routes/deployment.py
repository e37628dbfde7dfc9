"""Deployment operations: deploy, undeploy, status, history, list."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from api.deps import CurrentUser, ServicesDep

router = APIRouter(prefix="/api/v1/deployment", tags=["deployment"])


def _answer(result: dict[str, Any]) -> JSONResponse:
    """200 once the operation finished; 202 while it is still running."""
    running = result.get("status") in ("DEPLOYING", "UNDEPLOYING")
    return JSONResponse(jsonable_encoder(result), status_code=202 if running else 200)


@router.post("/workflows/{workflow_id}/deploy")
async def deploy(
    workflow_id: str, services: ServicesDep, user: CurrentUser
) -> JSONResponse:
    """Deploy the stored definition; answers once its triggers are live."""
    await services.store.get_workflow(workflow_id, user.owner_filter)
    return _answer(await services.deployments.deploy(workflow_id, user.user_id))


@router.post("/workflows/{workflow_id}/undeploy")
async def undeploy(
    workflow_id: str, services: ServicesDep, user: CurrentUser
) -> JSONResponse:
    """Stop every trigger of the workflow."""
    await services.store.get_workflow(workflow_id, user.owner_filter)
    return _answer(await services.deployments.undeploy(workflow_id, user.user_id))


@router.get("/workflows/{workflow_id}/status")
async def status(
    workflow_id: str, services: ServicesDep, user: CurrentUser
) -> dict[str, Any]:
    """Deployment status, version, and the last history entry."""
    row = await services.store.get_workflow(workflow_id, user.owner_filter)
    history = await services.store.history(workflow_id)
    triggers = await services.store.index_rows(workflow_id)
    return {
        "workflow_id": workflow_id,
        "deployment_status": row["deployment_status"],
        "deployment_version": row["deployment_version"],
        "deployed_at": row["deployed_at"],
        "deployed_by": row["deployed_by"],
        "active_triggers": sum(
            1 for t in triggers if t["deployment_status"] == "active"
        ),
        "last_action": history[-1] if history else None,
    }


@router.get("/workflows/{workflow_id}/history")
async def history(
    workflow_id: str, services: ServicesDep, user: CurrentUser
) -> dict[str, Any]:
    """Every deployment transition of the workflow, oldest first."""
    await services.store.get_workflow(workflow_id, user.owner_filter)
    return {
        "workflow_id": workflow_id,
        "history": await services.store.history(workflow_id),
    }


@router.get("/workflows")
async def list_deployed(
    services: ServicesDep, user: CurrentUser, user_id: str | None = None
) -> dict[str, Any]:
    """Deployed workflows, newest first (an admin may filter by `user_id`)."""
    owner = user.user_id if not user.is_admin else user_id
    rows = await services.store.list_deployed(owner)
    return {"workflows": rows, "count": len(rows)}
