"""Operators find every firing in Temporal by search attributes, with the CLI lines
the README gives."""

from __future__ import annotations

import json
import subprocess

from temporalio.client import Client

from scheduler import ids
from scheduler.devstack import temporal_binary
from tests.conftest import definition, eventually
from tests.engine_standin import EngineStandIn
from tests.stack import Stack

HOOK = {"id": "hook", "subtype": "TRIGGER_WEBHOOK"}
CRON = {
    "id": "tick",
    "subtype": "TRIGGER_CRON",
    "parameters": {"cron_expression": "0 3 * * *", "timezone": "UTC"},
}


def temporal_cli(address: str, *args: str) -> list[dict]:
    out = subprocess.run(
        [temporal_binary(), *args, "--address", address, "--output", "json"],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    return (
        json.loads(out)
        if out.strip().startswith("[")
        else [json.loads(line) for line in out.splitlines() if line.strip()]
    )


async def test_firings_are_listed_by_trigger_type_and_target(
    stack: Stack, engine: EngineStandIn, wf_id: str
) -> None:
    async with stack.client() as api:
        await api.put(f"/api/v1/workflows/{wf_id}", json=definition(wf_id, HOOK, CRON))
        await api.post(f"/api/v1/deployment/workflows/{wf_id}/deploy")
        fired = await api.post(f"/webhook/{wf_id}", json={})
    execution_id = fired.json()["execution_id"]
    await eventually(lambda: engine.requests_for(wf_id))

    client = await Client.connect(stack.settings.TEMPORAL_ADDRESS)
    query = f'TriggerType="TRIGGER_WEBHOOK" AND TargetWorkflowId="{wf_id}"'

    async def listed() -> list:
        return [w async for w in client.list_workflows(query)]

    found = await eventually(listed)
    assert len(found) == 1
    assert found[0].workflow_type == "DispatchExecution"
    assert ids.execution_id(found[0].id) == execution_id
    attributes = found[0].typed_search_attributes
    assert {p.key.name: p.value for p in attributes}.items() >= {
        "TriggerType": "TRIGGER_WEBHOOK",
        "TargetWorkflowId": wf_id,
        "TriggerNodeId": "hook",
        "DeploymentVersion": 1,
    }.items()

    rows = temporal_cli(
        stack.settings.TEMPORAL_ADDRESS,
        "workflow",
        "list",
        "--query",
        f'TargetWorkflowId="{wf_id}"',
    )
    types = sorted(r["type"]["name"] for r in rows)
    assert types == ["DeploymentWorkflow", "DispatchExecution"]

    schedules = temporal_cli(stack.settings.TEMPORAL_ADDRESS, "schedule", "list")
    assert ids.schedule_id(wf_id, "tick") in {s["scheduleId"] for s in schedules}
    described = await client.get_workflow_handle(found[0].id).describe()
    summary = await described.static_summary()
    assert summary is not None and wf_id in summary
