"""What every trigger type module provides."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from scheduler.errors import FieldError
from scheduler.models import Node, TriggerType

P = TypeVar("P", bound=BaseModel)


class TriggerParameters(BaseModel):
    """Base of the parameter models: unknown parameters are kept, not refused."""

    model_config = ConfigDict(extra="allow")


class TriggerSpec(ABC, Generic[P]):
    """One trigger type: its parameters, validation, index key and config."""

    trigger_type: ClassVar[TriggerType]
    parameters_model: type[P]
    supported: ClassVar[bool] = True

    def parse(self, node: Node) -> tuple[P | None, list[FieldError]]:
        """The node's parameters as the model, or every error found in them."""
        try:
            params = self.parameters_model.model_validate(node.parameters)
        except ValidationError as exc:
            return None, [
                FieldError(
                    message=err["msg"],
                    node_id=node.id,
                    field="parameters." + ".".join(str(p) for p in err["loc"]),
                )
                for err in exc.errors()
            ]
        return params, []

    def validate(self, node: Node, workflow_id: str) -> list[FieldError]:
        """Every error in this trigger node; an empty list means it can deploy."""
        if not self.supported:
            return [
                FieldError(
                    f"{self.trigger_type.value} is not supported yet",
                    node.id,
                    "subtype",
                )
            ]
        params, errors = self.parse(node)
        if params is None:
            return errors
        return self.check(params, node, workflow_id)

    def check(self, params: P, node: Node, workflow_id: str) -> list[FieldError]:
        """Checks beyond the parameter model; override where needed."""
        return []

    @abstractmethod
    def index_key(self, params: P, node: Node, workflow_id: str) -> str | None:
        """The single coarse lookup key of `trigger_index`."""

    def index_config(self, params: P, node: Node, workflow_id: str) -> dict[str, Any]:
        """What `trigger_index.trigger_config` stores: the parameters, normalised."""
        return params.model_dump(mode="json")

    def build(self, node: Node, workflow_id: str) -> tuple[str | None, dict[str, Any]]:
        """Index key and config of a node that passed `validate`."""
        params, errors = self.parse(node)
        if params is None:
            raise ValueError(f"node {node.id} is invalid: {errors}")
        return (
            self.index_key(params, node, workflow_id),
            self.index_config(params, node, workflow_id),
        )
