"""TRIGGER_MANUAL: fired by an authenticated REST call."""

from __future__ import annotations

from scheduler.models import Node, TriggerType
from scheduler.triggers.base import TriggerParameters, TriggerSpec


class ManualParameters(TriggerParameters):
    require_confirmation: bool = False


class ManualTrigger(TriggerSpec[ManualParameters]):
    trigger_type = TriggerType.MANUAL
    parameters_model = ManualParameters

    def index_key(
        self, params: ManualParameters, node: Node, workflow_id: str
    ) -> str | None:
        return None
