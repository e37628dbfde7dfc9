"""Delivery to the engine: retries on 5xx with one idempotency key, no retry on 4xx."""

from __future__ import annotations

import httpx

from tests.conftest import definition, eventually
from tests.engine_standin import EngineStandIn
from tests.stack import Stack

MANUAL = {"id": "run", "subtype": "TRIGGER_MANUAL"}


async def _fire(api: httpx.AsyncClient, wf_id: str) -> str:
    await api.put(f"/api/v1/workflows/{wf_id}", json=definition(wf_id, MANUAL))
    assert (
        await api.post(f"/api/v1/deployment/workflows/{wf_id}/deploy")
    ).status_code == 200
    fired = await api.post(f"/api/v1/triggers/workflows/{wf_id}/manual")
    assert fired.status_code == 202
    return str(fired.json()["execution_id"])


async def _firings(api: httpx.AsyncClient, wf_id: str) -> dict:
    state = (await api.get(f"/api/v1/triggers/workflows/{wf_id}")).json()
    return state["triggers"][0]["firings"]["counts"]


async def test_engine_500_twice_then_200_is_one_accepted_request(
    stack: Stack, engine: EngineStandIn, wf_id: str
) -> None:
    engine.script(wf_id, 500, 503, 200)
    async with stack.client() as api:
        execution_id = await _fire(api, wf_id)
        counts = await eventually(lambda: _firings(api, wf_id))
    assert counts == {"accepted": 1}
    attempts = engine.requests_for(wf_id)
    assert len(attempts) == 3
    assert {a.headers["Idempotency-Key"] for a in attempts} == {execution_id}
    assert {a.body["execution_id"] for a in attempts} == {execution_id}


async def test_engine_400_is_recorded_as_refused_and_not_retried(
    stack: Stack, engine: EngineStandIn, wf_id: str
) -> None:
    engine.script(wf_id, 400)
    async with stack.client() as api:
        await _fire(api, wf_id)
        counts = await eventually(lambda: _firings(api, wf_id))
    assert counts == {"refused": 1}
    assert len(engine.requests_for(wf_id)) == 1


async def test_engine_429_is_retried(
    stack: Stack, engine: EngineStandIn, wf_id: str
) -> None:
    engine.script(wf_id, 429, 201)
    async with stack.client() as api:
        await _fire(api, wf_id)
        counts = await eventually(lambda: _firings(api, wf_id))
    assert counts == {"accepted": 1}
    assert len(engine.requests_for(wf_id)) == 2
