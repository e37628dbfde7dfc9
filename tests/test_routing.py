"""The routing cache: deploy and undeploy reach every router at once (NOTIFY),
a lost listener means no stale answers, and a racing read is not cached."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from scheduler.db import create_pool
from scheduler.models import TriggerType
from scheduler.routing import (
    MAX_PAYLOAD_BYTES,
    TriggerRouter,
    change_payload,
    parse_payload,
)
from scheduler.store import Store
from scheduler.validation import TriggerPlan
from tests.conftest import definition
from tests.stack import Stack

WEBHOOK = TriggerType.WEBHOOK.value


@contextlib.asynccontextmanager
async def router_on_own_pool(
    database_url: str, **options: Any
) -> AsyncIterator[TriggerRouter]:
    pool = await create_pool(database_url, max_size=3)
    router = TriggerRouter(Store(pool), **options)
    stop = asyncio.Event()
    task = asyncio.create_task(router.run(stop))
    try:
        await asyncio.wait_for(router.wait_listening(), 10)
        yield router
    finally:
        stop.set()
        await task
        await pool.close()


async def until(probe: Any, check: Any, timeout: float = 2.0) -> Any:
    """Poll a router: invalidations travel by NOTIFY, so "at once" is a few ms."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if check(value) or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.01)


async def test_deploy_and_undeploy_reach_every_router(
    stack: Stack, database_url: str, wf_id: str
) -> None:
    path = f"/webhook/{wf_id}"
    async with (
        router_on_own_pool(database_url) as first,
        router_on_own_pool(database_url) as second,
    ):
        # Unknown before the deploy: both cache the negative answer.
        for router in (first, second):
            assert await router.lookup(WEBHOOK, path) == []
            assert await router.lookup(WEBHOOK, path) == []
            assert router.stats.negative_hits == 1

        async with stack.client() as api:
            await api.put(
                f"/api/v1/workflows/{wf_id}",
                json=definition(wf_id, {"id": "hook", "subtype": "TRIGGER_WEBHOOK"}),
            )
            deployed = await api.post(f"/api/v1/deployment/workflows/{wf_id}/deploy")
            assert deployed.status_code == 200, deployed.text

            for router in (first, second):
                rows = await until(lambda r=router: r.lookup(WEBHOOK, path), bool)
                assert [(r["workflow_id"], r["node_id"]) for r in rows] == [
                    (wf_id, "hook")
                ]
                hits = router.stats.hits
                assert await router.lookup(WEBHOOK, path) == rows
                assert router.stats.hits == hits + 1  # served from the cache

            # The API's own router sends the event on.
            async with stack.client(user=None) as public:
                accepted = await public.post(path, json={"n": 1})
                assert accepted.status_code == 202, accepted.text

            undeployed = await api.post(
                f"/api/v1/deployment/workflows/{wf_id}/undeploy"
            )
            assert undeployed.status_code == 200, undeployed.text

        for router in (first, second):
            assert await until(lambda r=router: r.lookup(WEBHOOK, path), _empty) == []
        async with stack.client(user=None) as public:
            gone = await until(
                lambda: public.post(path, json={"n": 2}),
                lambda r: r.status_code == 404,
            )
            assert gone.status_code == 404, gone.text


def _empty(value: Any) -> bool:
    return value == []


async def _workflow(store: Store, workflow_id: str) -> None:
    await store.put_workflow(
        workflow_id, "routing", definition(workflow_id), "alice", is_admin=True
    )


def _plan(path: str) -> TriggerPlan:
    return TriggerPlan("hook", TriggerType.WEBHOOK, path, {"methods": ["POST"]})


async def test_a_changed_path_drops_the_old_and_the_new_key(
    database_url: str, wf_id: str
) -> None:
    old, new = f"/webhook/{wf_id}-old", f"/webhook/{wf_id}-new"
    pool = await create_pool(database_url, max_size=2)
    store = Store(pool)
    try:
        await _workflow(store, wf_id)
        await store.replace_index(wf_id, 1, [_plan(old)])
        async with router_on_own_pool(database_url) as router:
            assert len(await router.lookup(WEBHOOK, old)) == 1
            assert await router.lookup(WEBHOOK, new) == []
            await store.replace_index(wf_id, 2, [_plan(new)])
            assert await until(lambda: router.lookup(WEBHOOK, old), _empty) == []
            rows = await until(lambda: router.lookup(WEBHOOK, new), bool)
            assert rows[0]["deployment_version"] == 2
            assert await store.delete_index(wf_id) == 1
            assert await until(lambda: router.lookup(WEBHOOK, new), _empty) == []
    finally:
        await pool.close()


async def test_a_lost_listener_serves_nothing_stale(
    database_url: str, wf_id: str
) -> None:
    path = f"/webhook/{wf_id}"
    pool = await create_pool(database_url, max_size=2)
    store = Store(pool)
    try:
        await _workflow(store, wf_id)
        await store.replace_index(wf_id, 1, [_plan(path)])
        async with router_on_own_pool(database_url, reconnect_seconds=0.3) as router:
            assert len(await router.lookup(WEBHOOK, path)) == 1
            assert len(router) == 1
            pid = router.listener_pid
            assert pid is not None
            await pool.execute("SELECT pg_terminate_backend($1)", pid)
            await until(lambda: _value(not router.listening), bool)
            assert not router.listening
            # A change whose notification nobody could hear.
            await pool.execute(
                "DELETE FROM trigger_index WHERE workflow_id = $1", wf_id
            )
            assert await router.lookup(WEBHOOK, path) == []  # from the database
            await asyncio.wait_for(router.wait_listening(), 10)
            assert router.stats.flushes >= 2
            assert await router.lookup(WEBHOOK, path) == []
    finally:
        await pool.close()


async def _value(value: Any) -> Any:
    return value


async def test_a_read_that_raced_an_invalidation_is_not_cached(
    database_url: str,
) -> None:
    pool = await create_pool(database_url, max_size=2)
    try:
        router: TriggerRouter

        class RacingStore(Store):
            async def find_trigger(
                self, trigger_type: str, index_key: str
            ) -> list[dict[str, Any]]:
                rows = await super().find_trigger(trigger_type, index_key)
                # A NOTIFY for this very key lands while the query runs.
                router.invalidate([(trigger_type, index_key)])
                return rows

        router = TriggerRouter(RacingStore(pool))
        stop = asyncio.Event()
        task = asyncio.create_task(router.run(stop))
        await asyncio.wait_for(router.wait_listening(), 10)
        assert await router.lookup(WEBHOOK, "/webhook/racing") == []
        assert len(router) == 0
        stop.set()
        await task
    finally:
        await pool.close()


async def test_lru_bounds_and_payloads() -> None:
    keys = [(WEBHOOK, f"/webhook/{'x' * 300}-{i}") for i in range(40)]
    assert parse_payload(change_payload("wf", keys)) is None  # too long: flush all
    small = change_payload("wf", [(WEBHOOK, "/webhook/a"), ("TRIGGER_MANUAL", None)])
    assert len(small.encode()) <= MAX_PAYLOAD_BYTES
    assert parse_payload(small) == [(WEBHOOK, "/webhook/a")]
    assert parse_payload("not json") is None


async def test_cache_is_bounded(database_url: str) -> None:
    async with router_on_own_pool(
        database_url, max_entries=2, max_negative=3
    ) as router:
        for i in range(10):
            await router.lookup(WEBHOOK, f"/webhook/bounded-{i}")
        assert len(router) == 3
