"""The deployment state machine: deploy, undeploy, history, conflicts, compensation."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.worker import Worker

from activities.deployment import DeploymentActivities
from scheduler import ids
from scheduler.db import create_pool
from scheduler.executions import ActivityName, DeploymentInput, DeploymentStep
from scheduler.store import Store
from temporal_workflows.deployment import DeploymentWorkflow
from tests.conftest import definition
from tests.stack import Stack

WEBHOOK = {"id": "hook", "subtype": "TRIGGER_WEBHOOK"}
CRON = {
    "id": "tick",
    "subtype": "TRIGGER_CRON",
    "parameters": {"cron_expression": "*/10 * * * *", "timezone": "UTC"},
}
MANUAL = {"id": "run", "subtype": "TRIGGER_MANUAL"}


async def test_deploy_then_undeploy_removes_schedule_index_and_webhook(
    stack: Stack, wf_id: str
) -> None:
    client = await Client.connect(stack.settings.TEMPORAL_ADDRESS)
    schedule = client.get_schedule_handle(ids.schedule_id(wf_id, "tick"))
    async with stack.client() as api:
        await api.put(
            f"/api/v1/workflows/{wf_id}", json=definition(wf_id, WEBHOOK, CRON, MANUAL)
        )
        deployed = await api.post(f"/api/v1/deployment/workflows/{wf_id}/deploy")
        assert deployed.json()["status"] == "DEPLOYED"
        assert deployed.json()["deployment_version"] == 1
        await schedule.describe()

        listed = (await api.get("/api/v1/deployment/workflows")).json()["workflows"]
        mine = next(w for w in listed if w["id"] == wf_id)
        assert mine["active_triggers"] == 3
        assert mine["deployed_by"] == "alice"

        again = await api.post(f"/api/v1/deployment/workflows/{wf_id}/deploy")
        assert again.status_code == 409

        undeployed = await api.post(f"/api/v1/deployment/workflows/{wf_id}/undeploy")
        assert undeployed.status_code == 200, undeployed.text
        assert undeployed.json()["status"] == "UNDEPLOYED"

        state = (await api.get(f"/api/v1/triggers/workflows/{wf_id}")).json()
        assert state["triggers"] == []
        assert (await api.post(f"/webhook/{wf_id}", json={})).status_code == 404
        history = (
            await api.get(f"/api/v1/deployment/workflows/{wf_id}/history")
        ).json()
        moves = [
            (h["deployment_action"], h["from_status"], h["to_status"])
            for h in history["history"]
        ]
        assert moves == [
            ("DEPLOY", "DRAFT", "DEPLOYING"),
            ("DEPLOY", "DEPLOYING", "DEPLOYED"),
            ("UNDEPLOY", "DEPLOYED", "UNDEPLOYING"),
            ("UNDEPLOY", "UNDEPLOYING", "UNDEPLOYED"),
        ]
        assert {h["triggered_by"] for h in history["history"]} == {"alice"}
    with pytest.raises(RPCError):
        await schedule.describe()

    async with stack.client() as api:
        redeployed = await api.post(f"/api/v1/deployment/workflows/{wf_id}/deploy")
        assert redeployed.json()["deployment_version"] == 2


async def test_concurrent_operations_on_one_workflow_answer_409(
    stack: Stack, wf_id: str
) -> None:
    async with stack.client() as api:
        await api.put(f"/api/v1/workflows/{wf_id}", json=definition(wf_id, CRON))
        url = f"/api/v1/deployment/workflows/{wf_id}/deploy"
        answers = await asyncio.gather(*(api.post(url) for _ in range(4)))
    codes = sorted(a.status_code for a in answers)
    assert codes.count(200) == 1, [a.text for a in answers]
    assert codes.count(409) == 3


async def test_invalid_definition_lists_every_error(stack: Stack, wf_id: str) -> None:
    bad = definition(
        wf_id,
        {
            "id": "c1",
            "subtype": "TRIGGER_CRON",
            "parameters": {"cron_expression": "61 * * * *", "timezone": "Mars/Olympus"},
        },
        {
            "id": "w1",
            "subtype": "TRIGGER_WEBHOOK",
            "parameters": {"webhook_path": "/a/../b", "methods": ["POST", "BREW"]},
        },
        {"id": "s1", "subtype": "TRIGGER_SLACK", "parameters": {}},
        {"id": "x1", "subtype": "TRIGGER_TELEPATHY"},
    )
    async with stack.client() as api:
        await api.put(f"/api/v1/workflows/{wf_id}", json=bad)
        response = await api.post(f"/api/v1/deployment/workflows/{wf_id}/deploy")
    assert response.status_code == 422, response.text
    located = {(e["node_id"], e["field"]) for e in response.json()["errors"]}
    assert ("c1", "parameters.timezone") in located
    assert ("w1", "parameters.methods") in located
    assert ("s1", "subtype") in located
    assert ("x1", "subtype") in located
    messages = " ".join(e["message"] for e in response.json()["errors"])
    assert "not supported yet" in messages


async def test_cron_errors_are_reported_with_webhook_errors(
    stack: Stack, wf_id: str
) -> None:
    bad = definition(
        wf_id,
        {
            "id": "c1",
            "subtype": "TRIGGER_CRON",
            "parameters": {"cron_expression": "61 * * * *"},
        },
        {
            "id": "w1",
            "subtype": "TRIGGER_WEBHOOK",
            "parameters": {"webhook_path": "/a/../b"},
        },
    )
    async with stack.client() as api:
        await api.put(f"/api/v1/workflows/{wf_id}", json=bad)
        response = await api.post(f"/api/v1/deployment/workflows/{wf_id}/deploy")
    located = {(e["node_id"], e["field"]) for e in response.json()["errors"]}
    assert located == {
        ("c1", "parameters.cron_expression"),
        ("w1", "parameters.webhook_path"),
    }


async def test_malformed_definition_is_422_at_put(stack: Stack, wf_id: str) -> None:
    async with stack.client() as api:
        no_name = await api.put(
            f"/api/v1/workflows/{wf_id}",
            json={"nodes": [{"node_type": "TRIGGER_NODE"}]},
        )
        assert no_name.status_code == 422
        fields = {e["field"] for e in no_name.json()["errors"]}
        assert {"name", "nodes.0.id"} <= fields
        mismatch = await api.put(
            f"/api/v1/workflows/{wf_id}", json=definition("other-id", MANUAL)
        )
        assert mismatch.status_code == 422
        not_object = await api.put(f"/api/v1/workflows/{wf_id}", json=[1, 2])
        assert not_object.status_code == 422
        broken = await api.put(
            f"/api/v1/workflows/{wf_id}",
            content=b"{nope",
            headers={"Content-Type": "application/json"},
        )
        assert broken.status_code == 422
        bad_id = await api.put("/api/v1/workflows/has%20space", json={"name": "x"})
        assert bad_id.status_code == 422


async def test_unknown_workflow_is_404(stack: Stack) -> None:
    missing = f"missing-{uuid.uuid4().hex}"
    async with stack.client() as api:
        for response in (
            await api.get(f"/api/v1/workflows/{missing}"),
            await api.post(f"/api/v1/deployment/workflows/{missing}/deploy"),
            await api.get(f"/api/v1/deployment/workflows/{missing}/status"),
            await api.post(f"/api/v1/triggers/workflows/{missing}/manual"),
        ):
            assert response.status_code == 404
            assert missing in response.json()["message"]


async def test_webhook_path_taken_by_another_workflow_is_refused(stack: Stack) -> None:
    path = f"/shared/{uuid.uuid4().hex[:8]}"
    first, second = f"wf-a-{uuid.uuid4().hex[:6]}", f"wf-b-{uuid.uuid4().hex[:6]}"
    hook = {
        "id": "hook",
        "subtype": "TRIGGER_WEBHOOK",
        "parameters": {"webhook_path": path},
    }
    async with stack.client() as api:
        for wf in (first, second):
            await api.put(f"/api/v1/workflows/{wf}", json=definition(wf, hook))
        assert (
            await api.post(f"/api/v1/deployment/workflows/{first}/deploy")
        ).status_code == 200
        refused = await api.post(f"/api/v1/deployment/workflows/{second}/deploy")
        assert refused.status_code == 422
        assert first in refused.json()["errors"][0]["message"]
        assert (await api.post(f"/webhook{path}", json={})).status_code == 202


async def test_failed_step_is_compensated(stack: Stack, wf_id: str) -> None:
    """A failure after the schedules exist removes them and the index rows."""
    settings = stack.settings
    client = await Client.connect(settings.TEMPORAL_ADDRESS)
    pool = await create_pool(settings.require_database_url())
    store = Store(pool)
    real = DeploymentActivities(store, client, settings)

    @activity.defn(name=ActivityName.FINISH_DEPLOYMENT)
    async def finish_fails(step: DeploymentStep) -> None:
        raise ApplicationError("disk on fire", non_retryable=True)

    activities = [a for a in real.all() if a != real.finish_deployment]
    task_queue = f"tq-{uuid.uuid4()}"
    try:
        async with stack.client() as api:
            await api.put(
                f"/api/v1/workflows/{wf_id}", json=definition(wf_id, WEBHOOK, CRON)
            )
        async with Worker(
            client,
            task_queue=task_queue,
            workflows=[DeploymentWorkflow],
            activities=[*activities, finish_fails],
        ):
            with pytest.raises(WorkflowFailureError):
                await client.execute_workflow(
                    DeploymentWorkflow.run,
                    DeploymentInput(wf_id, "DEPLOY", "alice"),
                    id=f"test-{uuid.uuid4()}",
                    task_queue=task_queue,
                )
        assert await store.index_rows(wf_id) == []
        with pytest.raises(RPCError):
            await client.get_schedule_handle(ids.schedule_id(wf_id, "tick")).describe()
        row = await store.get_workflow(wf_id)
        assert row["deployment_status"] == "DEPLOYMENT_FAILED"
        last = (await store.history(wf_id))[-1]
        assert last["error_message"] == "disk on fire"
        assert last["deployment_logs"] == [
            {
                "compensated": [
                    ActivityName.DELETE_SCHEDULES,
                    ActivityName.REMOVE_TRIGGER_INDEX,
                ]
            }
        ]
    finally:
        await pool.close()


async def test_too_many_triggers_fail_the_deploy(stack: Stack, wf_id: str) -> None:
    many = [{"id": f"m{i}", "subtype": "TRIGGER_MANUAL"} for i in range(101)]
    async with stack.client() as api:
        await api.put(f"/api/v1/workflows/{wf_id}", json=definition(wf_id, *many))
        response = await api.post(f"/api/v1/deployment/workflows/{wf_id}/deploy")
    assert response.status_code == 422
    assert "at most 100" in response.json()["errors"][0]["message"]
