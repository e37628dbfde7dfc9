"""The trigger types, one module each, and their registry."""

from __future__ import annotations

from typing import Any

from scheduler.models import TriggerType
from scheduler.triggers.base import TriggerSpec
from scheduler.triggers.cron import CronTrigger
from scheduler.triggers.manual import ManualTrigger
from scheduler.triggers.unsupported import EmailTrigger, GithubTrigger, SlackTrigger
from scheduler.triggers.webhook import WebhookTrigger

REGISTRY: dict[TriggerType, TriggerSpec[Any]] = {
    spec.trigger_type: spec
    for spec in (
        ManualTrigger(),
        CronTrigger(),
        WebhookTrigger(),
        SlackTrigger(),
        EmailTrigger(),
        GithubTrigger(),
    )
}


def spec_for(subtype: str | None) -> TriggerSpec[Any] | None:
    """The module of a trigger subtype, or None for an unknown one."""
    if subtype is None:
        return None
    try:
        return REGISTRY[TriggerType(subtype)]
    except ValueError:
        return None
