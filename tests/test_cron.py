"""Cron triggers: one Temporal Schedule each, validated before anything is created."""

from __future__ import annotations

import pytest
from temporalio.client import Client
from temporalio.service import RPCError

from scheduler import ids
from tests.conftest import definition, eventually
from tests.engine_standin import EngineStandIn
from tests.stack import Stack


def cron(expr: str, tz: str = "UTC", node_id: str = "tick", **extra: object) -> dict:
    return {
        "id": node_id,
        "subtype": "TRIGGER_CRON",
        "parameters": {"cron_expression": expr, "timezone": tz, **extra},
    }


async def _client(stack: Stack) -> Client:
    return await Client.connect(stack.settings.TEMPORAL_ADDRESS)


async def test_cron_schedule_has_spec_and_fires_once_when_triggered(
    stack: Stack, engine: EngineStandIn, wf_id: str
) -> None:
    async with stack.client() as api:
        await api.put(
            f"/api/v1/workflows/{wf_id}",
            json=definition(wf_id, cron("0 9 * * MON-FRI", "America/New_York")),
        )
        deployed = await api.post(f"/api/v1/deployment/workflows/{wf_id}/deploy")
        assert deployed.status_code == 200, deployed.text

        client = await _client(stack)
        handle = client.get_schedule_handle(ids.schedule_id(wf_id, "tick"))
        described = await handle.describe()
        assert described.schedule.spec.time_zone_name == "America/New_York"
        assert not described.schedule.state.paused
        next_times = described.info.next_action_times
        assert next_times, "a live schedule has upcoming times"
        for t in next_times:
            local = t.astimezone(__import__("zoneinfo").ZoneInfo("America/New_York"))
            assert (local.hour, local.minute, local.second) == (9, 0, 0)
            assert local.weekday() < 5

        state = (await api.get(f"/api/v1/triggers/workflows/{wf_id}")).json()
        cron_state = state["triggers"][0]["schedule"]
        assert len(cron_state["next_fire_times"]) == 5

        await handle.trigger()
        received = await eventually(lambda: engine.requests_for(wf_id))
        assert len(received) == 1
        body = received[0].body
        assert body["trigger"]["type"] == "TRIGGER_CRON"
        assert body["trigger"]["data"]["cron_expression"] == "0 9 * * MON-FRI"
        assert received[0].headers["Idempotency-Key"] == body["execution_id"]


async def test_disabled_cron_trigger_is_paused(stack: Stack, wf_id: str) -> None:
    async with stack.client() as api:
        await api.put(
            f"/api/v1/workflows/{wf_id}",
            json=definition(wf_id, cron("*/5 * * * *", enabled=False)),
        )
        deployed = await api.post(f"/api/v1/deployment/workflows/{wf_id}/deploy")
        assert deployed.status_code == 200, deployed.text
    described = (
        await (await _client(stack))
        .get_schedule_handle(ids.schedule_id(wf_id, "tick"))
        .describe()
    )
    assert described.schedule.state.paused


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("0 0 * * FRI#5", "#"),
        ("0 0 L * *", "L"),
        ("0 0 9 * * MON", "5 fields"),
    ],
)
async def test_unsupported_cron_fails_deployment_and_leaves_nothing(
    stack: Stack, wf_id: str, expression: str, fragment: str
) -> None:
    async with stack.client() as api:
        await api.put(
            f"/api/v1/workflows/{wf_id}", json=definition(wf_id, cron(expression))
        )
        response = await api.post(f"/api/v1/deployment/workflows/{wf_id}/deploy")
        assert response.status_code == 422, response.text
        errors = response.json()["errors"]
        assert errors[0]["node_id"] == "tick"
        assert errors[0]["field"] == "parameters.cron_expression"
        assert fragment in errors[0]["message"]

        status = (await api.get(f"/api/v1/deployment/workflows/{wf_id}/status")).json()
        assert status["deployment_status"] == "DEPLOYMENT_FAILED"
        history = (
            await api.get(f"/api/v1/deployment/workflows/{wf_id}/history")
        ).json()
        assert history["history"][-1]["to_status"] == "DEPLOYMENT_FAILED"
        assert fragment in history["history"][-1]["error_message"]
        state = (await api.get(f"/api/v1/triggers/workflows/{wf_id}")).json()
        assert state["triggers"] == []

    with pytest.raises(RPCError):
        await (
            (await _client(stack))
            .get_schedule_handle(ids.schedule_id(wf_id, "tick"))
            .describe()
        )


async def test_jitter_is_a_fixed_second_spread_by_workflow_id(
    stack: Stack, wf_id: str
) -> None:
    from scheduler.triggers.cron import jitter_offset

    offsets = {jitter_offset(f"wf-{n}", "tick", 59) for n in range(200)}
    assert len(offsets) > 40 and offsets <= set(range(60))
    assert jitter_offset(wf_id, "tick", 0) == 0

    async with stack.client() as api:
        await api.put(
            f"/api/v1/workflows/{wf_id}",
            json=definition(wf_id, cron("*/5 * * * *", jitter_seconds=59)),
        )
        assert (
            await api.post(f"/api/v1/deployment/workflows/{wf_id}/deploy")
        ).status_code == 200
    described = (
        await (await _client(stack))
        .get_schedule_handle(ids.schedule_id(wf_id, "tick"))
        .describe()
    )
    expected = jitter_offset(wf_id, "tick", 59)
    assert {t.second for t in described.info.next_action_times} == {expected}
