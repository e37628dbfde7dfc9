"""Routing an event to its trigger candidates, with a cache of hot keys in front.

`trigger_index` stays the source of truth (`Store.find_trigger`, one indexed
lookup). A `TriggerRouter` keeps a bounded LRU of
`(trigger_type, index_key) -> candidate rows` in front of it, negative answers
included (in an LRU of their own, so a flood of unknown keys cannot evict the
hot ones).

Invalidation across instances: every write of the index
(`Store.replace_index`, `Store.delete_index`) sends, in its own transaction, a
NOTIFY on `INDEX_CHANNEL` naming the keys it touched; PostgreSQL delivers it
at commit, to every router of every process. A router drops those keys.

A router serves from its cache only while its listener is connected: when the
listening connection is lost, notifications sent meanwhile are lost too, so it
falls back to the database, and starts again from an empty cache once it
listens again. A lookup that raced with an invalidation (the database read
began before the notification arrived) is answered but not cached.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import asyncpg

if TYPE_CHECKING:
    from scheduler.store import Store

logger = logging.getLogger(__name__)

INDEX_CHANNEL = "trigger_index_changed"
# PostgreSQL refuses NOTIFY payloads of 8000 bytes or more.
MAX_PAYLOAD_BYTES = 7900

Key = tuple[str, str]
Row = dict[str, Any]


def change_payload(workflow_id: str, keys: Iterable[tuple[str, str | None]]) -> str:
    """The NOTIFY payload for index rows of these (type, key) pairs having changed.

    Too many keys for one payload become a request to flush everything.
    """
    unique = sorted({(str(t), k) for t, k in keys if k is not None})
    payload = json.dumps(
        {"workflow_id": workflow_id, "keys": unique}, separators=(",", ":")
    )
    if len(payload.encode()) > MAX_PAYLOAD_BYTES:
        payload = json.dumps({"workflow_id": workflow_id, "all": True})
    return payload


def parse_payload(payload: str) -> list[Key] | None:
    """The keys a payload names, or None when everything must be dropped."""
    try:
        message = json.loads(payload)
        if message.get("all"):
            return None
        return [(str(t), str(k)) for t, k in message["keys"]]
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # unreadable: the safe answer is to drop everything


@dataclass
class RouterStats:
    hits: int = 0
    negative_hits: int = 0
    misses: int = 0
    invalidations: int = 0
    flushes: int = 0


class TriggerRouter:
    """Candidates of an event by (trigger type, index key), cached.

    Rows handed out are shallow copies; treat their `trigger_config` as
    read-only.
    """

    def __init__(
        self,
        store: Store,
        *,
        max_entries: int = 10_000,
        max_negative: int = 10_000,
        health_check_seconds: float = 10.0,
        reconnect_seconds: float = 1.0,
    ) -> None:
        self.store = store
        self.max_entries = max_entries
        self.max_negative = max_negative
        self.health_check_seconds = health_check_seconds
        self.reconnect_seconds = reconnect_seconds
        self.stats = RouterStats()
        self._entries: OrderedDict[Key, tuple[Row, ...]] = OrderedDict()
        self._negative: OrderedDict[Key, None] = OrderedDict()
        self._epoch = 0
        self._listening = False
        self._listening_event = asyncio.Event()
        # The PostgreSQL backend of the listening connection (diagnostics).
        self.listener_pid: int | None = None

    # -- lookups -----------------------------------------------------------

    @property
    def listening(self) -> bool:
        """Whether invalidations arrive, and so whether the cache is used."""
        return self._listening

    def __len__(self) -> int:
        return len(self._entries) + len(self._negative)

    async def lookup(self, trigger_type: str, index_key: str) -> list[Row]:
        """The live index rows of this type and key (an empty list: none)."""
        key = (trigger_type, index_key)
        if self._listening:
            cached = self._entries.get(key)
            if cached is not None:
                self._entries.move_to_end(key)
                self.stats.hits += 1
                return [dict(row) for row in cached]
            if key in self._negative:
                self._negative.move_to_end(key)
                self.stats.negative_hits += 1
                return []
        self.stats.misses += 1
        epoch = self._epoch
        rows = await self.store.find_trigger(trigger_type, index_key)
        if self._listening and epoch == self._epoch:
            self._remember(key, rows)
        return [dict(row) for row in rows]

    def _remember(self, key: Key, rows: list[Row]) -> None:
        if rows:
            self._entries[key] = tuple(rows)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        else:
            self._negative[key] = None
            self._negative.move_to_end(key)
            while len(self._negative) > self.max_negative:
                self._negative.popitem(last=False)

    # -- invalidation ------------------------------------------------------

    def invalidate(self, keys: Iterable[Key]) -> None:
        """Drop these keys (what a notification does)."""
        self._epoch += 1
        self.stats.invalidations += 1
        for key in keys:
            self._entries.pop(key, None)
            self._negative.pop(key, None)

    def clear(self) -> None:
        """Drop everything."""
        self._epoch += 1
        self.stats.flushes += 1
        self._entries.clear()
        self._negative.clear()

    def _on_notify(
        self, connection: Any, pid: int, channel: str, payload: object
    ) -> None:
        keys = parse_payload(str(payload))
        if keys is None:
            self.clear()
        else:
            self.invalidate(keys)

    # -- the listener ------------------------------------------------------

    async def wait_listening(self) -> None:
        """Return once the listener is connected (the cache is in use)."""
        await self._listening_event.wait()

    def _set_listening(self, value: bool) -> None:
        # Both ways the cache starts empty: while nobody listened, any
        # notification may have been missed.
        self.clear()
        self._listening = value
        if value:
            self._listening_event.set()
        else:
            self._listening_event.clear()

    async def run(self, stop: asyncio.Event) -> None:
        """Listen for index changes until `stop` is set; reconnects when lost."""
        while not stop.is_set():
            try:
                await self._listen_once(stop)
            except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
                logger.warning("trigger router lost its listener: %s", exc)
            except asyncpg.InterfaceError as exc:
                logger.warning("trigger router listener failed: %s", exc)
            if not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.reconnect_seconds)

    async def _listen_once(self, stop: asyncio.Event) -> None:
        lost = asyncio.Event()

        def on_lost(_: object) -> None:
            self._listening = False  # at once, before the loop below wakes
            lost.set()

        async with self.store.pool.acquire() as conn:
            conn.add_termination_listener(on_lost)
            await conn.add_listener(INDEX_CHANNEL, self._on_notify)
            self.listener_pid = conn.get_server_pid()
            self._set_listening(True)
            try:
                while not stop.is_set() and not lost.is_set():
                    stopped = asyncio.ensure_future(stop.wait())
                    gone = asyncio.ensure_future(lost.wait())
                    try:
                        await asyncio.wait(
                            {stopped, gone},
                            timeout=self.health_check_seconds,
                            return_when=asyncio.FIRST_COMPLETED,
                        )
                    finally:
                        stopped.cancel()
                        gone.cancel()
                    if stop.is_set() or lost.is_set() or conn.is_closed():
                        break
                    # A silent network loss shows only when something is sent.
                    await asyncio.wait_for(
                        conn.fetchval("SELECT 1"), self.health_check_seconds
                    )
            finally:
                self._set_listening(False)
                self.listener_pid = None
                conn.remove_termination_listener(on_lost)
                if not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await conn.remove_listener(INDEX_CHANNEL, self._on_notify)
