"""The workflow definitions replay their own histories deterministically."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.worker import Replayer

from scheduler import ids
from temporal_workflows.deployment import DeploymentWorkflow
from temporal_workflows.dispatch import DispatchExecution
from tests.conftest import definition, eventually
from tests.engine_standin import EngineStandIn
from tests.stack import Stack


async def test_histories_replay_without_nondeterminism(
    stack: Stack, engine: EngineStandIn, wf_id: str
) -> None:
    engine.script(wf_id, 503)  # one retry in the dispatch history
    hook = {"id": "hook", "subtype": "TRIGGER_WEBHOOK"}
    cron = {
        "id": "tick",
        "subtype": "TRIGGER_CRON",
        "parameters": {"cron_expression": "0 4 * * *"},
    }
    async with stack.client() as api:
        await api.put(f"/api/v1/workflows/{wf_id}", json=definition(wf_id, hook, cron))
        await api.post(f"/api/v1/deployment/workflows/{wf_id}/deploy")
        accepted = (await api.post(f"/webhook/{wf_id}", json={"a": 1})).json()
    await eventually(lambda: engine.requests_for(wf_id), lambda r: len(r) == 2)

    client = await Client.connect(stack.settings.TEMPORAL_ADDRESS)
    dispatch_id = f"dispatch:{wf_id}:hook:id:{accepted['event_id']}"
    assert ids.execution_id(dispatch_id) == accepted["execution_id"]
    dispatch = client.get_workflow_handle(dispatch_id)
    await dispatch.result()
    replayer = Replayer(workflows=[DeploymentWorkflow, DispatchExecution])
    for handle in (
        client.get_workflow_handle(ids.deployment_workflow_id(wf_id)),
        dispatch,
    ):
        history = await handle.fetch_history()
        await replayer.replay_workflow(history)
