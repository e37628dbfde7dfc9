"""Webhook triggers end to end: deploy, POST, exactly one engine request."""

from __future__ import annotations

import uuid

from tests.conftest import definition, eventually
from tests.engine_standin import EngineStandIn
from tests.stack import Stack

WEBHOOK = {"id": "hook", "subtype": "TRIGGER_WEBHOOK", "parameters": {}}


async def deploy(stack: Stack, wf_id: str, *triggers: dict) -> dict:
    async with stack.client() as api:
        put = await api.put(
            f"/api/v1/workflows/{wf_id}", json=definition(wf_id, *triggers)
        )
        assert put.status_code == 201, put.text
        response = await api.post(f"/api/v1/deployment/workflows/{wf_id}/deploy")
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "DEPLOYED"
        return response.json()


async def test_webhook_post_delivers_one_request_with_contract_fields(
    stack: Stack, engine: EngineStandIn, wf_id: str
) -> None:
    await deploy(stack, wf_id, WEBHOOK)
    async with stack.client(user=None) as public:
        response = await public.post(
            f"/webhook/{wf_id}?source=test&tag=a&tag=b",
            json={"order": 42},
            headers={"Idempotency-Key": "order-42", "Authorization": "Bearer leak"},
        )
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["status"] == "accepted" and accepted["duplicate"] is False

    received = await eventually(lambda: engine.requests_for(wf_id))
    assert len(received) == 1
    request = received[0]
    body = request.body
    assert body["execution_id"] == accepted["execution_id"]
    assert request.headers["Idempotency-Key"] == accepted["execution_id"]
    assert body["workflow_id"] == wf_id
    assert body["deployment_version"] == 1
    assert body["trigger"]["type"] == "TRIGGER_WEBHOOK"
    assert body["trigger"]["node_id"] == "hook"
    data = body["trigger"]["data"]
    assert data["method"] == "POST"
    assert data["path"] == f"/webhook/{wf_id}"
    assert data["body"] == {"order": 42}
    assert data["query_params"] == {"source": "test", "tag": ["a", "b"]}
    assert "authorization" not in {k.lower() for k in data["headers"]}
    assert body["triggered_at"]

    async with stack.client(user=None) as public:
        again = await public.post(
            f"/webhook/{wf_id}",
            json={"order": 42},
            headers={"Idempotency-Key": "order-42"},
        )
    assert again.status_code == 202
    assert again.json()["event_id"] == accepted["event_id"]
    assert again.json()["duplicate"] is True
    await _settle(stack, wf_id)
    assert len(engine.requests_for(wf_id)) == 1


async def _settle(stack: Stack, wf_id: str) -> None:
    """Wait until every accepted event of the workflow has fired."""
    async with stack.client() as api:

        async def fired() -> int:
            state = (await api.get(f"/api/v1/triggers/workflows/{wf_id}")).json()
            return sum(sum(t["firings"]["counts"].values()) for t in state["triggers"])

        await eventually(fired)


async def test_unknown_webhook_is_404(stack: Stack) -> None:
    async with stack.client(user=None) as public:
        response = await public.post(f"/webhook/nope-{uuid.uuid4().hex}", json={})
    assert response.status_code == 404
    assert "no deployed webhook" in response.json()["message"]
