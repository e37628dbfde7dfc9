"""Liveness and dependency health."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> dict[str, str]:
    """The process is up."""
    return {"status": "healthy", "service": "workflow_scheduler"}


@router.get("/api/v1/triggers/health")
async def triggers_health(services: ServicesDep) -> JSONResponse:
    """PostgreSQL, Temporal and the outbox relay backlog."""
    checks: dict[str, Any] = {}
    try:
        await asyncio.wait_for(services.store.ping(), 3)
        checks["database"] = {"status": "up"}
        relay = await services.store.relay_backlog()
        checks["relay"] = {
            "status": "up" if not relay["failing"] else "failing",
            **relay,
        }
    except Exception as exc:
        checks["database"] = {"status": "down", "error": str(exc)}
    try:
        await asyncio.wait_for(services.temporal.service_client.check_health(), 3)
        checks["temporal"] = {"status": "up"}
    except Exception as exc:
        checks["temporal"] = {"status": "down", "error": str(exc) or type(exc).__name__}
    healthy = all(c["status"] == "up" for c in checks.values())
    return JSONResponse(
        {
            "status": "healthy" if healthy else "degraded",
            "checks": checks,
            "dispatch_mode": services.settings.dispatch_mode.value,
        },
        status_code=200 if healthy else 503,
    )
