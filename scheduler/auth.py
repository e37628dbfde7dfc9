"""JWT bearer tokens (HS256 with a shared secret)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt

from scheduler.errors import UnauthorizedError
from scheduler.settings import Settings


@dataclass(frozen=True)
class Principal:
    """The acting user of a request."""

    user_id: str
    roles: frozenset[str]
    is_admin: bool

    @property
    def owner_filter(self) -> str | None:
        """The user id to restrict queries to, or None for an admin."""
        return None if self.is_admin else self.user_id


def decode_token(token: str, settings: Settings) -> Principal:
    if not settings.JWT_SECRET:
        raise UnauthorizedError("authentication is not configured (JWT_SECRET)")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            settings.JWT_SECRET,
            algorithms=[settings.JWT_ALGORITHM],
            audience=settings.JWT_AUDIENCE,
            options={
                "require": ["sub", "exp"],
                "verify_aud": settings.JWT_AUDIENCE is not None,
            },
        )
    except jwt.ExpiredSignatureError as exc:
        raise UnauthorizedError("the token has expired") from exc
    except jwt.InvalidTokenError as exc:
        raise UnauthorizedError(f"invalid token: {exc}") from exc
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or not subject.isprintable():
        raise UnauthorizedError("the token has no subject (sub)")
    raw_roles = claims.get("roles", [])
    roles = (
        frozenset(r for r in raw_roles if isinstance(r, str))
        if isinstance(raw_roles, list)
        else frozenset()
    )
    return Principal(subject, roles, settings.JWT_ADMIN_ROLE in roles)


def issue_token(
    settings: Settings,
    user_id: str,
    *,
    roles: list[str] | None = None,
    ttl_seconds: int = 30 * 24 * 3600,
) -> str:
    """A signed token for `user_id` (the dev stack prints one)."""
    if not settings.JWT_SECRET:
        raise ValueError("JWT_SECRET is not set")
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": user_id,
        "iat": now,
        "exp": now + ttl_seconds,
        "roles": roles or [],
    }
    if settings.JWT_AUDIENCE:
        claims["aud"] = settings.JWT_AUDIENCE
    return jwt.encode(claims, settings.JWT_SECRET, algorithm=settings.JWT_ALGORITHM)
