"""Manual triggers: JWT auth, confirmation, idempotency."""

from __future__ import annotations

import time

import httpx
import jwt

from tests.conftest import definition, eventually
from tests.engine_standin import EngineStandIn
from tests.stack import JWT_SECRET, Stack

CONFIRM = {
    "id": "run",
    "subtype": "TRIGGER_MANUAL",
    "parameters": {"require_confirmation": True},
}


async def _deploy(api: httpx.AsyncClient, wf_id: str, *triggers: dict) -> None:
    assert (
        await api.put(f"/api/v1/workflows/{wf_id}", json=definition(wf_id, *triggers))
    ).status_code == 201
    deployed = await api.post(f"/api/v1/deployment/workflows/{wf_id}/deploy")
    assert deployed.status_code == 200, deployed.text


async def test_manual_trigger_asks_for_confirmation_then_fires(
    stack: Stack, engine: EngineStandIn, wf_id: str
) -> None:
    async with stack.client(user="alice") as api:
        await _deploy(api, wf_id, CONFIRM)
        url = f"/api/v1/triggers/workflows/{wf_id}/manual"

        asked = await api.post(url, json={})
        assert asked.status_code == 200
        assert asked.json()["status"] == "confirmation_required"
        assert "confirmation" in asked.json()["message"]

        fired = await api.post(url, json={"confirmation": True})
        assert fired.status_code == 202, fired.text
        execution_id = fired.json()["execution_id"]

    received = await eventually(lambda: engine.requests_for(wf_id))
    assert len(received) == 1
    body = received[0].body
    assert body["execution_id"] == execution_id
    assert body["user_id"] == "alice"
    assert body["trigger"]["type"] == "TRIGGER_MANUAL"
    assert body["trigger"]["data"]["user_id"] == "alice"


async def test_manual_trigger_without_confirmation_setting_fires_directly(
    stack: Stack, engine: EngineStandIn, wf_id: str
) -> None:
    async with stack.client() as api:
        await _deploy(api, wf_id, {"id": "run", "subtype": "TRIGGER_MANUAL"})
        fired = await api.post(f"/api/v1/triggers/workflows/{wf_id}/manual")
        assert fired.status_code == 202, fired.text
    await eventually(lambda: engine.requests_for(wf_id))


async def test_repeated_idempotency_key_returns_first_answer(
    stack: Stack, engine: EngineStandIn, wf_id: str
) -> None:
    async with stack.client() as api:
        await _deploy(api, wf_id, {"id": "run", "subtype": "TRIGGER_MANUAL"})
        url = f"/api/v1/triggers/workflows/{wf_id}/manual"
        first = await api.post(url, headers={"Idempotency-Key": "k1"})
        second = await api.post(url, headers={"Idempotency-Key": "k1"})
        third = await api.post(url, headers={"Idempotency-Key": "k2"})
    assert first.json()["execution_id"] == second.json()["execution_id"]
    assert second.json()["duplicate"] is True
    assert third.json()["execution_id"] != first.json()["execution_id"]
    await eventually(lambda: engine.requests_for(wf_id), lambda r: len(r) >= 2)
    ids = sorted(r.body["execution_id"] for r in engine.requests_for(wf_id))
    assert ids == sorted([first.json()["execution_id"], third.json()["execution_id"]])


async def test_missing_invalid_or_expired_token_is_401(
    stack: Stack, wf_id: str
) -> None:
    url = f"/api/v1/triggers/workflows/{wf_id}/manual"
    expired = jwt.encode(
        {"sub": "alice", "exp": int(time.time()) - 10}, JWT_SECRET, algorithm="HS256"
    )
    forged = jwt.encode(
        {"sub": "alice", "exp": int(time.time()) + 60},
        "another-secret-of-at-least-32-bytes!!",
        algorithm="HS256",
    )
    async with httpx.AsyncClient(base_url=stack.base_url) as raw:
        for headers in (
            {},
            {"Authorization": "Bearer not-a-jwt"},
            {"Authorization": f"Bearer {forged}"},
            {"Authorization": f"Bearer {expired}"},
            {"Authorization": f"Basic {expired}"},
        ):
            response = await raw.post(url, json={"confirmation": True}, headers=headers)
            assert response.status_code == 401, (headers, response.text)
            assert response.json()["error"] == "unauthorized"
            assert response.headers["WWW-Authenticate"] == "Bearer"
        expired_answer = await raw.post(
            url, headers={"Authorization": f"Bearer {expired}"}
        )
    assert "expired" in expired_answer.json()["message"]


async def test_other_users_workflow_is_404_but_admin_sees_it(
    stack: Stack, wf_id: str
) -> None:
    async with stack.client(user="alice") as alice:
        await _deploy(alice, wf_id, {"id": "run", "subtype": "TRIGGER_MANUAL"})
    async with stack.client(user="mallory") as mallory:
        for response in (
            await mallory.get(f"/api/v1/workflows/{wf_id}"),
            await mallory.post(f"/api/v1/triggers/workflows/{wf_id}/manual"),
            await mallory.post(f"/api/v1/deployment/workflows/{wf_id}/undeploy"),
            await mallory.put(
                f"/api/v1/workflows/{wf_id}",
                json=definition(wf_id, {"subtype": "TRIGGER_MANUAL"}),
            ),
        ):
            assert response.status_code == 404, response.text
        listed = (await mallory.get("/api/v1/deployment/workflows")).json()
        assert wf_id not in {w["id"] for w in listed["workflows"]}
    async with stack.client(user="root", roles=["admin"]) as admin:
        assert (await admin.get(f"/api/v1/workflows/{wf_id}")).status_code == 200
