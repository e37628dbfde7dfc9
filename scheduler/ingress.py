"""Accepting events: route to a trigger, check it, record it in the outbox.

Nothing here waits on Temporal. An event is accepted once its outbox row is
committed; the relay takes it from there.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scheduler import ids, payloads
from scheduler.errors import (
    BadRequestError,
    ConflictError,
    MethodNotAllowedError,
    NotFoundError,
    UnauthorizedError,
)
from scheduler.models import WORKFLOW_ID_PATTERN, DeploymentStatus, TriggerType
from scheduler.routing import TriggerRouter
from scheduler.store import Store
from scheduler.triggers import webhook

IDEMPOTENCY_HEADERS = ("idempotency-key", "webhook-id")
MAX_IDEMPOTENCY_KEY = 256
# Temporal refuses payloads over 2 MiB; an event stays well below that.
DEFAULT_MAX_EVENT_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Accepted:
    """The answer to an accepted event (the same for every duplicate)."""

    event_id: str
    execution_id: str
    dispatch_id: str
    duplicate: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": "accepted",
            "event_id": self.event_id,
            "execution_id": self.execution_id,
            "duplicate": self.duplicate,
        }


@dataclass(frozen=True)
class WebhookRequest:
    path: str
    method: str
    headers: Mapping[str, str]  # lower-case names
    query: Sequence[tuple[str, str]]
    content_type: str | None
    body: bytes
    repeated: frozenset[str] = frozenset()  # header names sent more than once


class Ingress:
    def __init__(
        self,
        store: Store,
        router: TriggerRouter | None = None,
        *,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    ) -> None:
        self.store = store
        self.router = router
        self.max_event_bytes = max_event_bytes

    async def _record(
        self,
        trigger: Mapping[str, Any],
        trigger_type: TriggerType,
        client_key: str | None,
        payload: dict[str, Any],
    ) -> Accepted:
        """Record one event; a client-given key makes a repeat get the first answer.

        Without a client key the event's own id is its key, so the firing's
        Temporal id names the event id that the client was given.
        """
        event_id = uuid.uuid4()
        event_key = f"key:{client_key}" if client_key else f"id:{event_id}"
        dispatch_id = ids.dispatch_workflow_id(
            trigger["workflow_id"], trigger["node_id"], event_key
        )
        row, is_new = await self.store.record_event(
            workflow_id=trigger["workflow_id"],
            node_id=trigger["node_id"],
            trigger_type=trigger_type.value,
            event_key=event_key,
            deployment_version=trigger["deployment_version"],
            dispatch_id=dispatch_id,
            payload=payload,
            event_id=event_id,
        )
        return Accepted(
            str(row["event_id"]),
            ids.execution_id(row["dispatch_id"]),
            row["dispatch_id"],
            duplicate=not is_new,
        )

    async def find_webhook(self, path: str) -> dict[str, Any]:
        try:
            key = webhook.normalize_path(path)
        except ValueError as exc:
            raise NotFoundError(f"no webhook at {path}") from exc
        find = self.router.lookup if self.router else self.store.find_trigger
        rows = await find(TriggerType.WEBHOOK.value, key)
        if not rows:
            raise NotFoundError(f"no deployed webhook trigger at {key}")
        return rows[0]

    async def find_webhook_of(self, workflow_id: str) -> dict[str, Any]:
        if not WORKFLOW_ID_PATTERN.match(workflow_id):
            raise NotFoundError("no such workflow")
        rows = [
            r
            for r in await self.store.index_rows(workflow_id)
            if r["trigger_type"] == TriggerType.WEBHOOK
            and r["deployment_status"] != "inactive"
        ]
        if not rows:
            raise NotFoundError(
                f"workflow {workflow_id!r} has no deployed webhook trigger"
            )
        return rows[0]

    async def accept_webhook(
        self, trigger: dict[str, Any], request: WebhookRequest
    ) -> Accepted:
        """Check method and authentication, then record the event."""
        config: dict[str, Any] = trigger["trigger_config"]
        allowed = list(config.get("methods", ["POST"]))
        if request.method not in allowed:
            raise MethodNotAllowedError(
                f"{request.method} is not allowed on this webhook; "
                f"use {', '.join(allowed)}",
                allowed,
            )
        if not webhook.check_auth(config, dict(request.headers), request.repeated):
            raise UnauthorizedError("missing or wrong webhook secret")
        body_kind, body = webhook.parse_body(request.content_type, request.body)
        data = {
            "method": request.method,
            "path": request.path,
            "query_params": _multi(request.query),
            "headers": webhook.event_headers(dict(request.headers), config),
            "body": body,
            "body_encoding": body_kind,
        }
        key = next(
            (request.headers[h] for h in IDEMPOTENCY_HEADERS if request.headers.get(h)),
            None,
        )
        payloads.storable_size(data, self.max_event_bytes, "the webhook event")
        return await self._record(
            trigger, TriggerType.WEBHOOK, _client_key(key), {"data": data}
        )

    async def accept_manual(
        self,
        workflow_id: str,
        user_id: str,
        *,
        confirmation: bool,
        idempotency_key: str | None,
        node_id: str | None = None,
        payload: dict[str, Any] | None = None,
    ) -> Accepted | dict[str, Any]:
        """Fire the workflow's manual trigger, or say that confirmation is needed."""
        workflow = await self.store.get_workflow(workflow_id)
        if workflow["deployment_status"] != DeploymentStatus.DEPLOYED:
            raise ConflictError(
                f"workflow {workflow_id!r} is {workflow['deployment_status']}; "
                "deploy it before triggering it"
            )
        triggers = [
            r
            for r in await self.store.index_rows(workflow_id)
            if r["trigger_type"] == TriggerType.MANUAL
            and (node_id is None or r["node_id"] == node_id)
        ]
        if not triggers:
            raise NotFoundError(
                f"workflow {workflow_id!r} has no manual trigger"
                + (f" with node id {node_id!r}" if node_id else "")
            )
        trigger = triggers[0]
        if trigger["trigger_config"].get("require_confirmation") and not confirmation:
            return {
                "status": "confirmation_required",
                "message": "this workflow asks for confirmation: send "
                '{"confirmation": true} to run it',
                "workflow_id": workflow_id,
                "node_id": trigger["node_id"],
            }
        # JSON keeps user id and key apart: ("a:b", "c") and ("a", "b:c") differ.
        key = (
            json.dumps([user_id, _client_key(idempotency_key)])
            if idempotency_key
            else None
        )
        data = {"user_id": user_id, "payload": payload or {}}
        payloads.storable_size(data, self.max_event_bytes, "the manual trigger payload")
        return await self._record(
            trigger, TriggerType.MANUAL, key, {"data": data, "user_id": user_id}
        )


def _client_key(key: str | None) -> str | None:
    if key is None:
        return None
    if len(key) > MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise BadRequestError(
            f"an idempotency key is at most {MAX_IDEMPOTENCY_KEY} printable characters"
        )
    return key


def _multi(pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    out: dict[str, list[str]] = {}
    for key, value in pairs:
        out.setdefault(key, []).append(value)
    return {k: v[0] if len(v) == 1 else v for k, v in out.items()}
