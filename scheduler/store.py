"""Every SQL statement of the service, behind one class per pool."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from scheduler.errors import ConflictError, NotFoundError
from scheduler.models import (
    WORKFLOW_ID_PATTERN,
    DeploymentAction,
    DeploymentStatus,
    IndexStatus,
)
from scheduler.routing import INDEX_CHANNEL, change_payload
from scheduler.validation import TriggerPlan

NOTIFY_CHANNEL = "trigger_events"
# An outbox row that failed this many relay attempts makes the relay unhealthy.
RELAY_FAILING_ATTEMPTS = 5
# What `pool.acquire()` yields, or a plain connection.
Connection = asyncpg.Connection | PoolConnectionProxy


class Store:
    """Queries on the scheduler's PostgreSQL database."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    # -- workflows -------------------------------------------------------

    async def put_workflow(
        self,
        workflow_id: str,
        name: str,
        definition: dict[str, Any],
        user_id: str,
        *,
        is_admin: bool = False,
    ) -> tuple[dict[str, Any], bool]:
        """Create or replace a definition; returns (row, created).

        A workflow stored by another user is reported as not found, so that
        its existence does not leak.
        """
        row = await self.pool.fetchrow(
            """INSERT INTO workflows (id, name, user_id, definition)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT (id) DO UPDATE
                 SET name = EXCLUDED.name, definition = EXCLUDED.definition,
                     updated_at = now()
                 WHERE workflows.user_id = $3 OR $5
               RETURNING *, (xmax = 0) AS created""",
            workflow_id,
            name,
            user_id,
            definition,
            is_admin,
        )
        if row is None:
            raise NotFoundError(f"workflow {workflow_id!r} not found")
        data = dict(row)
        return data, bool(data.pop("created"))

    async def get_workflow(
        self, workflow_id: str, user_id: str | None = None
    ) -> dict[str, Any]:
        """The workflow row; NotFoundError if absent or owned by another user."""
        if not WORKFLOW_ID_PATTERN.match(workflow_id) or not _is_text(user_id):
            raise NotFoundError(f"workflow {workflow_id[:140]!r} not found")
        row = await self.pool.fetchrow(
            "SELECT * FROM workflows "
            "WHERE id = $1 AND ($2::text IS NULL OR user_id = $2)",
            workflow_id,
            user_id,
        )
        if row is None:
            raise NotFoundError(f"workflow {workflow_id!r} not found")
        return dict(row)

    async def list_deployed(self, user_id: str | None = None) -> list[dict[str, Any]]:
        if not _is_text(user_id):
            return []
        rows = await self.pool.fetch(
            """SELECT w.id, w.name, w.user_id, w.deployment_status, w.deployed_at,
                      w.deployment_version, w.deployed_by,
                      count(t.id) FILTER (WHERE t.deployment_status = 'active')
                          AS active_triggers
                 FROM workflows w
                 LEFT JOIN trigger_index t ON t.workflow_id = w.id
                WHERE w.deployment_status = 'DEPLOYED'
                  AND ($1::text IS NULL OR w.user_id = $1)
                GROUP BY w.id
                ORDER BY w.deployed_at DESC NULLS LAST, w.id""",
            user_id,
        )
        return [dict(r) for r in rows]

    # -- deployment state ------------------------------------------------

    async def transition(
        self,
        workflow_id: str,
        from_statuses: Iterable[DeploymentStatus],
        to_status: DeploymentStatus,
        action: DeploymentAction,
        triggered_by: str | None,
        *,
        version: int | None = None,
        error: str | None = None,
        logs: Sequence[dict[str, Any]] = (),
        deployed: bool = False,
    ) -> DeploymentStatus | None:
        """Guarded status change plus its history row, in one transaction.

        Returns the status moved from, or None when the workflow was not in
        one of `from_statuses` (nothing is written then).
        """
        async with self.pool.acquire() as conn, conn.transaction():
            return await _move(
                conn,
                workflow_id,
                from_statuses,
                to_status,
                action,
                triggered_by,
                version=version,
                error=error,
                logs=logs,
                deployed=deployed,
            )

    async def begin_deploy(
        self,
        workflow_id: str,
        from_statuses: Iterable[DeploymentStatus],
        triggered_by: str | None,
    ) -> tuple[DeploymentStatus, int] | None:
        """Move to DEPLOYING and freeze the definition as the next version.

        Both happen in one transaction, so a workflow found DEPLOYING has its
        version pinned already: a retried step gets that one back. Returns
        (status moved from, version), or None if the workflow was not in one
        of `from_statuses` nor DEPLOYING.
        """
        async with self.pool.acquire() as conn, conn.transaction():
            current = await conn.fetchval(
                "SELECT deployment_status FROM workflows WHERE id = $1 FOR UPDATE",
                workflow_id,
            )
            latest = await conn.fetchval(
                "SELECT coalesce(max(version), 0) FROM workflow_versions "
                "WHERE workflow_id = $1",
                workflow_id,
            )
            if current == DeploymentStatus.DEPLOYING:
                return DeploymentStatus.DEPLOYING, int(latest)
            version = int(latest) + 1
            moved = await _move(
                conn,
                workflow_id,
                from_statuses,
                DeploymentStatus.DEPLOYING,
                DeploymentAction.DEPLOY,
                triggered_by,
                history_version=version,
            )
            if moved is None:
                return None
            await conn.execute(
                """INSERT INTO workflow_versions
                       (workflow_id, version, definition, deployment_config, created_by)
                   SELECT id, $2, definition, deployment_config, $3
                     FROM workflows WHERE id = $1""",
                workflow_id,
                version,
                triggered_by,
            )
            return moved, version

    async def history(self, workflow_id: str) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            """SELECT * FROM workflow_deployment_history
                WHERE workflow_id = $1 ORDER BY started_at, completed_at""",
            workflow_id,
        )
        return [dict(r) for r in rows]

    async def mark_version_deployed(self, workflow_id: str, version: int) -> None:
        await self.pool.execute(
            "UPDATE workflow_versions SET deployed = true "
            "WHERE workflow_id = $1 AND version = $2",
            workflow_id,
            version,
        )

    async def path_reservations(
        self, paths: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT path, user_id, workflow_id FROM webhook_paths "
            "WHERE path = ANY($1::text[])",
            list(paths),
        )
        return {r["path"]: dict(r) for r in rows}

    async def reserve_paths(
        self, user_id: str, workflow_id: str, paths: Sequence[str]
    ) -> None:
        """Reserve webhook paths to their owner; another user's reservation wins."""
        await self.pool.executemany(
            """INSERT INTO webhook_paths (path, user_id, workflow_id)
               VALUES ($1, $2, $3)
               ON CONFLICT (path) DO UPDATE SET workflow_id = EXCLUDED.workflow_id
               WHERE webhook_paths.user_id = EXCLUDED.user_id""",
            [(p, user_id, workflow_id) for p in paths],
        )

    async def get_version(
        self, workflow_id: str, version: int
    ) -> dict[str, Any] | None:
        row = await self.pool.fetchrow(
            "SELECT * FROM workflow_versions WHERE workflow_id = $1 AND version = $2",
            workflow_id,
            version,
        )
        return dict(row) if row is not None else None

    # -- trigger index ---------------------------------------------------

    async def webhook_path_owners(
        self, workflow_id: str, paths: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        """Which other workflows (and their owners) hold any of these paths."""
        rows = await self.pool.fetch(
            """SELECT t.index_key, t.workflow_id, w.user_id
                 FROM trigger_index t JOIN workflows w ON w.id = t.workflow_id
                WHERE t.trigger_type = 'TRIGGER_WEBHOOK'
                  AND t.deployment_status <> 'inactive'
                  AND t.index_key = ANY($1::text[]) AND t.workflow_id <> $2""",
            list(paths),
            workflow_id,
        )
        return {r["index_key"]: dict(r) for r in rows}

    async def replace_index(
        self,
        workflow_id: str,
        version: int,
        plans: Sequence[TriggerPlan],
        status: IndexStatus = IndexStatus.ACTIVE,
    ) -> None:
        """Make the workflow's index rows exactly `plans` (idempotent).

        Every router drops the old and the new keys (NOTIFY at commit).
        """
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                old = await conn.fetch(
                    "DELETE FROM trigger_index WHERE workflow_id = $1 "
                    "RETURNING trigger_type, index_key",
                    workflow_id,
                )
                await conn.executemany(
                    """INSERT INTO trigger_index
                           (workflow_id, node_id, deployment_version, trigger_type,
                            trigger_config, index_key, deployment_status)
                       VALUES ($1, $2, $3, $4, $5, $6, $7)""",
                    [
                        (
                            workflow_id,
                            p.node_id,
                            version,
                            p.trigger_type.value,
                            p.config,
                            p.index_key,
                            status.value,
                        )
                        for p in plans
                    ],
                )
                await _notify_index_changed(
                    conn,
                    workflow_id,
                    [(r["trigger_type"], r["index_key"]) for r in old]
                    + [(p.trigger_type.value, p.index_key) for p in plans],
                )
        except asyncpg.UniqueViolationError as exc:
            raise ConflictError(
                "a webhook path of this workflow is already used by another "
                f"deployed workflow ({exc.detail or exc})"
            ) from exc

    async def delete_index(self, workflow_id: str) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            old = await conn.fetch(
                "DELETE FROM trigger_index WHERE workflow_id = $1 "
                "RETURNING trigger_type, index_key",
                workflow_id,
            )
            if old:
                keys = [(r["trigger_type"], r["index_key"]) for r in old]
                await _notify_index_changed(conn, workflow_id, keys)
        return len(old)

    async def index_rows(self, workflow_id: str) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT * FROM trigger_index WHERE workflow_id = $1 ORDER BY node_id",
            workflow_id,
        )
        return [dict(r) for r in rows]

    async def find_trigger(
        self, trigger_type: str, index_key: str
    ) -> list[dict[str, Any]]:
        """Live index rows of one type and key: the candidates an event may match."""
        rows = await self.pool.fetch(
            """SELECT workflow_id, node_id, deployment_version, trigger_config,
                      deployment_status
                 FROM trigger_index
                WHERE trigger_type = $1 AND index_key = $2
                  AND deployment_status <> 'inactive'""",
            trigger_type,
            index_key,
        )
        return [dict(r) for r in rows]

    # -- ingress outbox --------------------------------------------------

    async def record_event(
        self,
        *,
        workflow_id: str,
        node_id: str,
        trigger_type: str,
        event_key: str,
        deployment_version: int,
        dispatch_id: str,
        payload: dict[str, Any],
        event_id: uuid.UUID,
    ) -> tuple[dict[str, Any], bool]:
        """Insert an accepted event unless its key was seen; returns (row, is_new).

        One statement, so one round trip: the NOTIFY is part of its
        transaction (sent only when a row was inserted), so the relay wakes
        only once the row is visible.
        """
        row = await self.pool.fetchrow(
            """WITH inserted AS (
                   INSERT INTO trigger_events
                       (workflow_id, node_id, trigger_type, event_key,
                        deployment_version, dispatch_id, payload, event_id)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                   ON CONFLICT (workflow_id, node_id, event_key) DO NOTHING
                   RETURNING event_id, dispatch_id, received_at)
               SELECT event_id, dispatch_id, received_at, pg_notify($9, '')
                 FROM inserted""",
            workflow_id,
            node_id,
            trigger_type,
            event_key,
            deployment_version,
            dispatch_id,
            payload,
            event_id,
            NOTIFY_CHANNEL,
        )
        if row is not None:
            return {k: row[k] for k in ("event_id", "dispatch_id", "received_at")}, True
        existing = await self.pool.fetchrow(
            """SELECT event_id, dispatch_id, received_at FROM trigger_events
                WHERE workflow_id = $1 AND node_id = $2 AND event_key = $3""",
            workflow_id,
            node_id,
            event_key,
        )
        assert existing is not None
        return dict(existing), False

    async def relay_backlog(self) -> dict[str, Any]:
        """Pending outbox rows, those failing repeatedly, and the oldest one's age."""
        row = await self.pool.fetchrow(
            """SELECT count(*) AS backlog,
                      count(*) FILTER (WHERE relay_attempts >= $1) AS failing,
                      extract(epoch FROM now() - min(received_at)) AS oldest_seconds
                 FROM trigger_events WHERE relayed_at IS NULL""",
            RELAY_FAILING_ATTEMPTS,
        )
        assert row is not None
        oldest = row["oldest_seconds"]
        return {
            "backlog": int(row["backlog"]),
            "failing": int(row["failing"]),
            "oldest_pending_seconds": round(float(oldest), 3)
            if oldest is not None
            else None,
        }

    # -- firings ---------------------------------------------------------

    async def record_firing(self, firing: dict[str, Any]) -> None:
        await self.pool.execute(
            """INSERT INTO trigger_firings
                   (execution_id, dispatch_id, workflow_id, node_id, trigger_type,
                    deployment_version, dispatch_mode, status, http_status, attempts,
                    event_count, error_message, triggered_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
               ON CONFLICT (execution_id) DO UPDATE
                 SET status = EXCLUDED.status, http_status = EXCLUDED.http_status,
                     attempts = EXCLUDED.attempts,
                     error_message = EXCLUDED.error_message,
                     completed_at = now()""",
            firing["execution_id"],
            firing["dispatch_id"],
            firing["workflow_id"],
            firing["node_id"],
            firing["trigger_type"],
            firing["deployment_version"],
            firing["dispatch_mode"],
            firing["status"],
            firing.get("http_status"),
            firing.get("attempts", 0),
            firing.get("event_count", 1),
            firing.get("error_message"),
            firing["triggered_at"],
        )

    async def firing_summary(self, workflow_id: str) -> dict[str, dict[str, Any]]:
        """Per trigger node: firings by status and the latest firing."""
        rows = await self.pool.fetch(
            """SELECT node_id, status, count(*) AS n, max(triggered_at) AS last
                 FROM trigger_firings WHERE workflow_id = $1
                GROUP BY node_id, status""",
            workflow_id,
        )
        summary: dict[str, dict[str, Any]] = {}
        for r in rows:
            entry = summary.setdefault(
                r["node_id"], {"counts": {}, "last_fired_at": None}
            )
            entry["counts"][r["status"]] = r["n"]
            last: datetime | None = entry["last_fired_at"]
            if last is None or r["last"] > last:
                entry["last_fired_at"] = r["last"]
        return summary

    async def ping(self) -> None:
        await self.pool.fetchval("SELECT 1")


async def _notify_index_changed(
    conn: Connection,
    workflow_id: str,
    keys: Sequence[tuple[str, str | None]],
) -> None:
    """Tell every TriggerRouter which keys changed; delivered at commit."""
    await conn.execute(
        "SELECT pg_notify($1, $2)", INDEX_CHANNEL, change_payload(workflow_id, keys)
    )


async def _move(
    conn: Connection,
    workflow_id: str,
    from_statuses: Iterable[DeploymentStatus],
    to_status: DeploymentStatus,
    action: DeploymentAction,
    triggered_by: str | None,
    *,
    version: int | None = None,
    history_version: int | None = None,
    error: str | None = None,
    logs: Sequence[dict[str, Any]] = (),
    deployed: bool = False,
) -> DeploymentStatus | None:
    """The guarded update and its history row, inside the caller's transaction.

    `version` is written to the workflow (a deploy that succeeded);
    `history_version` only to the history row (defaults to `version`).
    """
    allowed = [s.value for s in from_statuses]
    current = await conn.fetchval(
        "SELECT deployment_status FROM workflows WHERE id = $1 FOR UPDATE", workflow_id
    )
    if current is None or current not in allowed:
        return None
    await conn.execute(
        """UPDATE workflows
              SET deployment_status = $2, updated_at = now(),
                  deployment_version = coalesce($3, deployment_version),
                  deployed_at = CASE WHEN $4 THEN now() ELSE deployed_at END,
                  deployed_by = CASE WHEN $4 THEN $5 ELSE deployed_by END
            WHERE id = $1""",
        workflow_id,
        to_status.value,
        version,
        deployed,
        triggered_by,
    )
    await conn.execute(
        """INSERT INTO workflow_deployment_history
               (workflow_id, deployment_action, from_status, to_status,
                deployment_version, triggered_by, completed_at,
                error_message, deployment_logs)
           VALUES ($1, $2, $3, $4, $5, $6, now(), $7, $8)""",
        workflow_id,
        action.value,
        current,
        to_status.value,
        history_version if history_version is not None else version,
        triggered_by,
        error,
        list(logs),
    )
    return DeploymentStatus(current)


def _is_text(value: str | None) -> bool:
    """PostgreSQL text cannot hold NUL; such a value matches nothing stored."""
    return value is None or "\x00" not in value
