"""Every Temporal id this service uses is built here, and only here."""

from __future__ import annotations

import hashlib
import uuid

_EXECUTION_NAMESPACE = uuid.UUID("6f1c2a52-0d7e-4b8e-9a51-7c3f4f0b9e21")
_MAX_KEY_LENGTH = 200


def deployment_workflow_id(workflow_id: str) -> str:
    """One deployment operation per workflow at a time: this id is the lock."""
    return f"deployment:{workflow_id}"


def schedule_id(workflow_id: str, node_id: str) -> str:
    return f"cron:{workflow_id}:{node_id}"


def cron_dispatch_prefix(workflow_id: str, node_id: str) -> str:
    """Action id of a cron schedule; Temporal appends `-<scheduled time>`."""
    return f"dispatch:{workflow_id}:{node_id}:cron"


def dispatch_workflow_id(workflow_id: str, node_id: str, event_key: str) -> str:
    """The id of the one firing an event key maps to.

    Keys longer than a Temporal id comfortably holds are replaced by their
    SHA-256, so an arbitrary client-chosen `Idempotency-Key` is still safe.
    """
    if len(event_key) > _MAX_KEY_LENGTH or not event_key.isprintable():
        event_key = "sha256-" + hashlib.sha256(event_key.encode()).hexdigest()
    return f"dispatch:{workflow_id}:{node_id}:{event_key}"


def execution_id(dispatch_id: str) -> str:
    """The engine's execution id, stable across every retry of one firing."""
    return str(uuid.uuid5(_EXECUTION_NAMESPACE, dispatch_id))
