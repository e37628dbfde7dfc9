"""Session fixtures: a real PostgreSQL, a real Temporal dev server, a real
engine stand-in on loopback, and the real API and worker against them."""

from __future__ import annotations

import asyncio
import inspect
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar, cast
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from scheduler.db import migrate
from scheduler.devstack import EmbeddedPostgres, TemporalDevServer, free_port
from tests.engine_standin import EngineStandIn
from tests.factories import definition as definition  # the tests import it here
from tests.stack import Stack, make_settings, running

T = TypeVar("T")


@pytest.fixture(scope="session")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("state")


@pytest.fixture(scope="session")
async def database_url(state_dir: Path) -> AsyncIterator[str]:
    given = os.environ.get("TEST_DATABASE_URL")
    postgres = None
    if given:
        url = given
    else:
        postgres = EmbeddedPostgres(state_dir / "postgres", delete_on_stop=True)
        url = postgres.start()
    await migrate(url)
    yield url
    if postgres is not None:
        postgres.stop()


@pytest.fixture
async def fresh_database_url(database_url: str) -> AsyncIterator[str]:
    """A new, migrated database on the session's server, for a stack of its own.

    Two relays on one database would share its outbox; a test that runs a
    second stack against another Temporal server needs its own.
    """
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = _with_database(database_url, name)
    await migrate(url)
    yield url


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def temporal_server(state_dir: Path) -> Iterator[TemporalDevServer]:
    server = TemporalDevServer(
        port=free_port(),
        ui_port=None,
        db_file=state_dir / "temporal.sqlite",
        log_file=state_dir / "temporal.log",
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def engine() -> Iterator[EngineStandIn]:
    stand_in = EngineStandIn()
    stand_in.start()
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="session")
async def stack(
    database_url: str, temporal_server: TemporalDevServer, engine: EngineStandIn
) -> AsyncIterator[Stack]:
    settings = make_settings(
        DATABASE_URL=database_url,
        TEMPORAL_ADDRESS=temporal_server.address,
        WORKFLOW_ENGINE_URL=engine.url,
    )
    async with running(settings) as started:
        yield started


@pytest.fixture
def wf_id() -> str:
    return f"wf-{uuid.uuid4().hex[:12]}"


async def eventually(
    probe: Callable[[], Awaitable[T] | T],
    check: Callable[[T], bool] = bool,
    timeout: float = 20.0,
    interval: float = 0.1,
) -> T:
    """Poll `probe` (plain or async) until `check` holds; fail with the last value."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = probe()
        value = cast(T, await result if inspect.isawaitable(result) else result)
        if check(value):
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(
                f"condition not met within {timeout} s; last value: {value!r}"
            )
        await asyncio.sleep(interval)
