"""Trigger types the model accepts but deployment refuses until they are built."""

from __future__ import annotations

from scheduler.models import Node, TriggerType
from scheduler.triggers.base import TriggerParameters, TriggerSpec


class _Unsupported(TriggerSpec[TriggerParameters]):
    parameters_model = TriggerParameters
    supported = False

    def index_key(
        self, params: TriggerParameters, node: Node, workflow_id: str
    ) -> str | None:
        return None


class SlackTrigger(_Unsupported):
    trigger_type = TriggerType.SLACK


class EmailTrigger(_Unsupported):
    trigger_type = TriggerType.EMAIL


class GithubTrigger(_Unsupported):
    trigger_type = TriggerType.GITHUB
