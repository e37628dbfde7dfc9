"""Deploy-time validation of a whole definition: every error at once."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from scheduler.errors import FieldError
from scheduler.models import WORKFLOW_ID_PATTERN, TriggerType, WorkflowDefinition
from scheduler.triggers import spec_for

# Each deploy creates every schedule in one activity; this keeps it well
# inside that activity's timeout and keeps one workflow from flooding the index.
MAX_TRIGGERS = 100


@dataclass(frozen=True)
class TriggerPlan:
    """A validated trigger node, as the index and the schedules will hold it."""

    node_id: str
    trigger_type: TriggerType
    index_key: str | None
    config: dict[str, Any]


def validate_definition(definition: WorkflowDefinition) -> list[FieldError]:
    """Every problem that stops this definition from deploying."""
    errors: list[FieldError] = []
    counts = Counter(node.id for node in definition.nodes)
    for node_id, count in sorted(counts.items()):
        if count > 1:
            errors.append(FieldError(f"node id used {count} times", node_id, "id"))

    triggers = definition.trigger_nodes()
    if len(triggers) > MAX_TRIGGERS:
        errors.append(
            FieldError(
                f"the workflow has {len(triggers)} trigger nodes; at most "
                f"{MAX_TRIGGERS} are allowed"
            )
        )
    if not triggers:
        errors.append(
            FieldError("the workflow has no trigger node (node_type TRIGGER_NODE)")
        )
    for node in triggers:
        if not WORKFLOW_ID_PATTERN.match(node.id):
            # Trigger node ids become part of Temporal ids and schedule ids.
            errors.append(
                FieldError(
                    "a trigger node id is 1-128 letters, digits, '.', '_' or '-', "
                    "starting with a letter or digit",
                    node.id,
                    "id",
                )
            )
            continue
        spec = spec_for(node.subtype)
        if spec is None:
            known = ", ".join(t.value for t in TriggerType)
            errors.append(
                FieldError(
                    f"unknown trigger subtype {node.subtype!r}; known: {known}",
                    node.id,
                    "subtype",
                )
            )
            continue
        errors.extend(spec.validate(node, definition.id))
    if errors:
        return errors

    plans = plan_triggers(definition)
    paths = Counter(
        plan.index_key for plan in plans if plan.trigger_type is TriggerType.WEBHOOK
    )
    for plan in plans:
        if plan.trigger_type is TriggerType.WEBHOOK and paths[plan.index_key] > 1:
            errors.append(
                FieldError(
                    f"webhook path {plan.index_key} is used by more than one "
                    "trigger of this workflow",
                    plan.node_id,
                    "parameters.webhook_path",
                )
            )
    return errors


def plan_triggers(definition: WorkflowDefinition) -> list[TriggerPlan]:
    """The index rows of a definition that passed `validate_definition`."""
    plans = []
    for node in definition.trigger_nodes():
        spec = spec_for(node.subtype)
        assert spec is not None
        key, config = spec.build(node, definition.id)
        plans.append(TriggerPlan(node.id, spec.trigger_type, key, config))
    return plans
