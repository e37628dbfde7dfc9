"""TRIGGER_CRON: one Temporal Schedule per trigger node.

The user's expression is parsed here (see `cron_expr`), never handed to
Temporal as a string: Temporal reads a sixth field as a year and `#` as a
comment, and ANDs day-of-month with day-of-week where cron ORs them.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import Field, field_validator

from scheduler.errors import FieldError
from scheduler.models import Node, TriggerType
from scheduler.triggers.base import TriggerParameters, TriggerSpec
from scheduler.triggers.cron_expr import CronError, CronSchedule, parse_cron

MAX_JITTER_SECONDS = 59


class CronParameters(TriggerParameters):
    cron_expression: str = Field(min_length=1, max_length=256)
    timezone: str = "UTC"
    enabled: bool = True
    jitter_seconds: int = Field(default=0, ge=0, le=MAX_JITTER_SECONDS)
    catchup_window_seconds: int = Field(default=300, ge=10, le=7 * 24 * 3600)

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            if value not in _zone_names():
                raise ZoneInfoNotFoundError(value)
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {value!r}: use an IANA name such as "
                "'America/New_York' or 'UTC'"
            ) from exc
        return value


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    # The IANA names; the zoneinfo files that are no zone are not accepted.
    return frozenset(available_timezones()) - {"localtime", "posixrules", "Factory"}


def jitter_offset(workflow_id: str, node_id: str, jitter_seconds: int) -> int:
    """A fixed second-of-minute in [0, jitter_seconds] spread by a hash of the ids.

    Deterministic, so a redeploy keeps the same instant, and many workflows on
    one expression land on different seconds.
    """
    if jitter_seconds <= 0:
        return 0
    digest = hashlib.sha256(f"{workflow_id}:{node_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % (jitter_seconds + 1)


class CronTrigger(TriggerSpec[CronParameters]):
    trigger_type = TriggerType.CRON
    parameters_model = CronParameters

    def check(
        self, params: CronParameters, node: Node, workflow_id: str
    ) -> list[FieldError]:
        try:
            parse_cron(params.cron_expression)
        except CronError as exc:
            return [FieldError(str(exc), node.id, "parameters.cron_expression")]
        return []

    def index_key(
        self, params: CronParameters, node: Node, workflow_id: str
    ) -> str | None:
        return params.cron_expression.strip()

    def index_config(
        self, params: CronParameters, node: Node, workflow_id: str
    ) -> dict[str, Any]:
        config = params.model_dump(mode="json")
        config["jitter_offset_seconds"] = jitter_offset(
            workflow_id, node.id, params.jitter_seconds
        )
        return config


def schedule_of(config: dict[str, Any]) -> CronSchedule:
    return parse_cron(str(config["cron_expression"]))
