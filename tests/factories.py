"""Workflow definitions as the platform writes them, for tests and benchmarks."""

from __future__ import annotations

from typing import Any


def definition(
    workflow_id: str, *triggers: dict[str, Any], name: str = "test"
) -> dict[str, Any]:
    """A workflow definition with the given trigger nodes and one action node."""
    nodes = [
        {
            "id": t.get("id", f"trigger-{i}"),
            "node_type": "TRIGGER_NODE",
            "subtype": t["subtype"],
            "parameters": t.get("parameters", {}),
        }
        for i, t in enumerate(triggers)
    ]
    nodes.append(
        {
            "id": "act",
            "node_type": "ACTION_NODE",
            "subtype": "HTTP_REQUEST",
            "parameters": {"url": "https://example.invalid"},
        }
    )
    return {
        "id": workflow_id,
        "name": name,
        "nodes": nodes,
        "connections": {nodes[0]["id"]: ["act"]},
    }
