"""Production entry points: unsafe settings refused, concurrent `migrate` safe."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import asyncpg
import pytest
from pydantic import ValidationError

from scheduler.db import migrate, migration_files
from scheduler.devstack import TemporalDevServer
from scheduler.settings import DispatchMode, Settings

ROOT = Path(__file__).resolve().parent.parent


def test_service_refuses_to_start_without_secret_outside_dev_mode() -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET is required"):
        Settings(DEV_MODE=False, JWT_SECRET=None)
    with pytest.raises(ValidationError, match="at least 32"):
        Settings(DEV_MODE=False, JWT_SECRET="short")
    assert Settings(DEV_MODE=True).JWT_SECRET is None


def test_dispatch_mode_defaults_to_log_without_engine_url() -> None:
    assert Settings(DEV_MODE=True).dispatch_mode is DispatchMode.LOG
    with_engine = Settings(DEV_MODE=True, WORKFLOW_ENGINE_URL="http://engine:8002")
    assert with_engine.dispatch_mode is DispatchMode.ENGINE
    forced = Settings(
        DEV_MODE=True, WORKFLOW_ENGINE_URL="http://e", DISPATCH_MODE="log"
    )
    assert forced.dispatch_mode is DispatchMode.LOG


async def test_two_migrations_at_once_apply_each_file_once(
    fresh_database_url: str,
) -> None:
    conn = await asyncpg.connect(fresh_database_url)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()
    first, second = await asyncio.gather(
        migrate(fresh_database_url), migrate(fresh_database_url)
    )
    assert sorted(first + second) == [p.name for p in migration_files()]
    assert await migrate(fresh_database_url) == []


async def test_migrate_command_against_external_services(
    fresh_database_url: str, temporal_server: TemporalDevServer
) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": fresh_database_url,
        "TEMPORAL_ADDRESS": temporal_server.address,
        "JWT_SECRET": "x" * 40,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service.cli",
        "migrate",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, out.decode()
    assert "search attributes added: none (all present)" in out.decode()
