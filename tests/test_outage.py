"""Events accepted while the Temporal server is down fire once each after it returns."""

from __future__ import annotations

from pathlib import Path

from scheduler.devstack import TemporalDevServer, free_port
from tests.conftest import definition, eventually
from tests.engine_standin import EngineStandIn
from tests.stack import make_settings, running

EVENTS = 5


async def test_events_accepted_during_temporal_outage_fire_once_after_restart(
    fresh_database_url: str, engine: EngineStandIn, wf_id: str, tmp_path: Path
) -> None:
    temporal = TemporalDevServer(
        port=free_port(),
        ui_port=None,
        db_file=tmp_path / "temporal.sqlite",
        log_file=tmp_path / "temporal.log",
    )
    temporal.start()
    settings = make_settings(
        DATABASE_URL=fresh_database_url,
        TEMPORAL_ADDRESS=temporal.address,
        WORKFLOW_ENGINE_URL=engine.url,
    )
    try:
        async with running(settings) as stack:
            hook = {"id": "hook", "subtype": "TRIGGER_WEBHOOK"}
            async with stack.client() as api:
                await api.put(
                    f"/api/v1/workflows/{wf_id}", json=definition(wf_id, hook)
                )
                deployed = await api.post(
                    f"/api/v1/deployment/workflows/{wf_id}/deploy"
                )
                assert deployed.status_code == 200, deployed.text

            temporal.stop()
            async with stack.client(user=None) as public:
                accepted = [
                    await public.post(f"/webhook/{wf_id}", json={"n": n})
                    for n in range(EVENTS)
                ]
                assert [a.status_code for a in accepted] == [202] * EVENTS
                health = await public.get("/api/v1/triggers/health")
                assert health.status_code == 503
                assert health.json()["checks"]["temporal"]["status"] == "down"
                assert health.json()["checks"]["relay"]["backlog"] >= EVENTS
            assert engine.requests_for(wf_id) == []

            temporal.start()
            received = await eventually(
                lambda: engine.requests_for(wf_id),
                lambda r: len(r) >= EVENTS,
                timeout=90,
            )
            async with stack.client(user=None) as public:
                await eventually(
                    lambda: public.get("/api/v1/triggers/health"),
                    lambda r: r.json()["checks"]["relay"]["backlog"] == 0,
                    timeout=30,
                )
            received = engine.requests_for(wf_id)
            assert len(received) == EVENTS
            assert sorted(
                r.body["trigger"]["data"]["body"]["n"] for r in received
            ) == list(range(EVENTS))
            assert len({r.body["execution_id"] for r in received}) == EVENTS
            assert {r.body["execution_id"] for r in received} == {
                a.json()["execution_id"] for a in accepted
            }
    finally:
        temporal.stop()
