"""The FastAPI application: REST API and public ingress on one port."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.routes import deployment, health, triggers, webhook, workflows
from api.services import Services
from scheduler.errors import MethodNotAllowedError, SchedulerError
from scheduler.settings import Settings

logger = logging.getLogger(__name__)


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = await Services.start(settings)
        app.state.services = services
        try:
            yield
        finally:
            await services.close()

    app = FastAPI(
        title="workflow-scheduler",
        version="0.1.0",
        description="Trigger and scheduling core: deployments, triggers, ingress.",
        lifespan=lifespan,
        # A slash redirect would be built from the client's Host header.
        redirect_slashes=False,
    )
    _install_error_handlers(app)
    for module in (health, workflows, deployment, triggers, webhook):
        app.include_router(module.router)
    return app


def _request_error(error: Any) -> dict[str, str]:
    loc = list(error["loc"])
    if error.get("type") == "json_invalid":
        position = loc[1] if len(loc) > 1 else "?"
        reason = error.get("ctx", {}).get("error", "")
        return {
            "field": "body",
            "message": f"the body is not valid JSON (character {position}: {reason})",
        }
    return {
        "field": ".".join(str(p) for p in loc if p != "body"),
        "message": error["msg"],
    }


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SchedulerError)
    async def scheduler_error(request: Request, exc: SchedulerError) -> JSONResponse:
        headers = {}
        if isinstance(exc, MethodNotAllowedError):
            headers["Allow"] = ", ".join(exc.allowed)
        if exc.status_code == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return JSONResponse(exc.to_dict(), status_code=exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(
        request: Request, exc: RequestValidationError
    ) -> JSONResponse:
        errors = [_request_error(e) for e in exc.errors()]
        summary = "; ".join(f"{e['field'] or 'body'}: {e['message']}" for e in errors)
        return JSONResponse(
            {"error": "invalid_request", "message": summary, "errors": errors},
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"error": "http_error", "message": str(exc.detail)},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(asyncpg.DataError)
    async def data_error(request: Request, exc: asyncpg.DataError) -> JSONResponse:
        # A value PostgreSQL refuses to store is the client's to fix.
        return JSONResponse(
            {"error": "bad_request", "message": f"a value cannot be stored: {exc}"},
            status_code=400,
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            {
                "error": "internal_error",
                "message": "internal error; see the service log",
            },
            status_code=500,
        )
