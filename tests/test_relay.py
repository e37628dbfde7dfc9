"""The relay re-sending an event (a crash before it marked the row) fires once."""

from __future__ import annotations

import asyncpg

from tests.conftest import definition, eventually
from tests.engine_standin import EngineStandIn
from tests.stack import Stack


async def test_relaying_an_event_again_does_not_fire_twice(
    stack: Stack, engine: EngineStandIn, wf_id: str, database_url: str
) -> None:
    async with stack.client() as api:
        await api.put(
            f"/api/v1/workflows/{wf_id}",
            json=definition(wf_id, {"id": "hook", "subtype": "TRIGGER_WEBHOOK"}),
        )
        await api.post(f"/api/v1/deployment/workflows/{wf_id}/deploy")
        accepted = (await api.post(f"/webhook/{wf_id}", json={"once": True})).json()
    await eventually(lambda: engine.requests_for(wf_id))

    conn = await asyncpg.connect(database_url)
    try:
        # As if the relay had died after Temporal took the event but before the
        # row was marked: the next pass sends the same signal-with-start again.
        await conn.execute(
            "UPDATE trigger_events SET relayed_at = NULL WHERE event_id = $1::uuid",
            accepted["event_id"],
        )
        await conn.execute("SELECT pg_notify('trigger_events', '')")

        async def relayed() -> bool:
            return await conn.fetchval(
                "SELECT relayed_at IS NOT NULL FROM trigger_events "
                "WHERE event_id = $1::uuid",
                accepted["event_id"],
            )

        await eventually(relayed)
    finally:
        await conn.close()
    assert len(engine.requests_for(wf_id)) == 1
