"""FastAPI dependencies: the shared services and the acting user."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.services import Services
from scheduler.auth import Principal, decode_token
from scheduler.errors import UnauthorizedError

_bearer = HTTPBearer(auto_error=False, description="JWT signed with JWT_SECRET (HS256)")


async def get_services(request: Request) -> Services:
    # async: FastAPI runs a plain `def` dependency in a worker thread, a hop
    # that cost the webhook path more than the rest of its routing.
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_principal(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise UnauthorizedError(
            "a bearer token is required (Authorization: Bearer <jwt>)"
        )
    return decode_token(credentials.credentials, services.settings)


CurrentUser = Annotated[Principal, Depends(get_principal)]
