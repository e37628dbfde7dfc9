"""PostgreSQL access: the connection pool and the forward-only migrations."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import asyncpg

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "sql"
# Any constant works; every process that migrates takes the same lock.
_MIGRATION_LOCK_ID = 0x5C4ED01E


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def _release_without_reset_query(conn: asyncpg.Connection) -> None:
    """What a connection goes back to the pool with: nothing to undo.

    asyncpg has already rolled back an open transaction and dropped the
    connection's listeners by now. Its default reset query (`RESET ALL`,
    `UNLISTEN *`, `CLOSE ALL`, unlock advisory locks) would be one more round
    trip on every release, i.e. on every query, for session state this
    service never leaves behind on a pooled connection: it sets no session
    settings, opens no cursors, takes its advisory lock on a connection of
    its own (migrate), and whoever LISTENs (relay, router) unlistens itself.
    """


async def create_pool(
    dsn: str, *, min_size: int = 1, max_size: int = 10
) -> asyncpg.Pool:
    """A pool whose connections read and write json/jsonb as Python values."""
    return await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        reset=_release_without_reset_query,
    )


def migration_files(directory: Path = MIGRATIONS_DIR) -> list[Path]:
    """The migrations in order; none found is an error, never "up to date"."""
    files = sorted(directory.glob("*.sql"))
    if not files:
        raise FileNotFoundError(
            f"no migrations in {directory}: install the project from its source tree "
            "(pip install -e .) so that sql/ sits beside the packages"
        )
    return files


async def migrate(dsn: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply every migration not applied yet; returns the names applied now.

    Safe when several processes start at once: they serialise on an advisory
    lock, and each migration runs in its own transaction with its record.
    """
    conn: asyncpg.Connection = await asyncpg.connect(dsn)
    applied: list[str] = []
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK_ID)
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   name text PRIMARY KEY,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        done = {
            r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")
        }
        for path in migration_files(directory):
            if path.name in done:
                continue
            async with conn.transaction():
                await conn.execute(path.read_text())
                await conn.execute(
                    "INSERT INTO schema_migrations (name) VALUES ($1)", path.name
                )
            logger.info("applied migration %s", path.name)
            applied.append(path.name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK_ID)
        await conn.close()
    return applied


def record_to_dict(record: asyncpg.Record | None) -> dict[str, Any] | None:
    return dict(record) if record is not None else None
