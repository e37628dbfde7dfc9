"""Domain errors. The API turns each into one HTTP status and a JSON body.

SchedulerError
 +-- NotFoundError          404
 +-- ConflictError          409
 +-- DefinitionError        422  (carries every FieldError)
 +-- BadRequestError        400
 +-- PayloadTooLargeError   413
 +-- UnsupportedMediaTypeError 415
 +-- MethodNotAllowedError  405
 +-- UnauthorizedError      401
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class FieldError:
    """One problem in a workflow definition, located by node and field."""

    message: str
    node_id: str | None = None
    field: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class SchedulerError(Exception):
    """Base of every error this service raises on purpose."""

    status_code = 500
    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message}


class NotFoundError(SchedulerError):
    status_code = 404
    code = "not_found"


class ConflictError(SchedulerError):
    status_code = 409
    code = "conflict"


class BadRequestError(SchedulerError):
    status_code = 400
    code = "bad_request"


class PayloadTooLargeError(SchedulerError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaTypeError(SchedulerError):
    status_code = 415
    code = "unsupported_media_type"


class UnauthorizedError(SchedulerError):
    status_code = 401
    code = "unauthorized"


class MethodNotAllowedError(SchedulerError):
    status_code = 405
    code = "method_not_allowed"

    def __init__(self, message: str, allowed: list[str]) -> None:
        super().__init__(message)
        self.allowed = allowed


class DefinitionError(SchedulerError):
    """A workflow definition failed validation; `errors` lists every problem."""

    status_code = 422
    code = "invalid_definition"

    def __init__(self, errors: list[FieldError]) -> None:
        summary = "; ".join(
            f"{e.node_id or 'workflow'}.{e.field or '-'}: {e.message}" for e in errors
        )
        super().__init__(f"the workflow definition is invalid: {summary}")
        self.errors = errors

    def to_dict(self) -> dict[str, Any]:
        body = super().to_dict()
        body["errors"] = [e.to_dict() for e in self.errors]
        return body
