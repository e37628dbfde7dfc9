"""Trigger state and the manual trigger."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, StrictBool

from api.deps import CurrentUser, ServicesDep
from scheduler import ids, schedules
from scheduler.models import TriggerType

router = APIRouter(prefix="/api/v1/triggers", tags=["triggers"])


class ManualTriggerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    confirmation: StrictBool = False
    node_id: str | None = None
    payload: dict[str, Any] | None = None


def _public_config(config: dict[str, Any]) -> dict[str, Any]:
    """The trigger config without anything derived from a secret."""
    auth = config.get("authentication")
    if isinstance(auth, dict):
        config = {
            **config,
            "authentication": {
                k: v for k, v in auth.items() if k in ("type", "header_name")
            },
        }
    return config


@router.get("/workflows/{workflow_id}")
async def trigger_state(
    workflow_id: str, services: ServicesDep, user: CurrentUser
) -> dict[str, Any]:
    """Each deployed trigger: config, firings so far, and for cron the next times."""
    row = await services.store.get_workflow(workflow_id, user.owner_filter)
    firings = await services.store.firing_summary(workflow_id)
    triggers = []
    for t in await services.store.index_rows(workflow_id):
        entry: dict[str, Any] = {
            "node_id": t["node_id"],
            "trigger_type": t["trigger_type"],
            "index_key": t["index_key"],
            "status": t["deployment_status"],
            "deployment_version": t["deployment_version"],
            "config": _public_config(t["trigger_config"]),
            "firings": firings.get(t["node_id"], {"counts": {}, "last_fired_at": None}),
        }
        if t["trigger_type"] == TriggerType.CRON:
            schedule_id = ids.schedule_id(workflow_id, t["node_id"])
            entry["schedule_id"] = schedule_id
            entry["schedule"] = await schedules.next_fire_times(
                services.temporal, schedule_id
            )
        if t["trigger_type"] == TriggerType.WEBHOOK:
            entry["url_path"] = t["index_key"]
            entry["methods"] = t["trigger_config"].get("methods", ["POST"])
        triggers.append(entry)
    return {
        "workflow_id": workflow_id,
        "deployment_status": row["deployment_status"],
        "triggers": triggers,
    }


@router.post("/workflows/{workflow_id}/manual")
async def manual_trigger(
    workflow_id: str,
    services: ServicesDep,
    user: CurrentUser,
    body: ManualTriggerRequest | None = Body(default=None),
    idempotency_key: str | None = Header(default=None, max_length=256),
) -> JSONResponse:
    """Fire the workflow's manual trigger (send `{"confirmation": true}` if it asks)."""
    await services.store.get_workflow(workflow_id, user.owner_filter)
    request = body or ManualTriggerRequest()
    outcome = await services.ingress.accept_manual(
        workflow_id,
        user.user_id,
        confirmation=request.confirmation,
        idempotency_key=idempotency_key,
        node_id=request.node_id,
        payload=request.payload,
    )
    if isinstance(outcome, dict):
        return JSONResponse(outcome, status_code=200)
    return JSONResponse(
        {**outcome.to_dict(), "workflow_id": workflow_id}, status_code=202
    )
