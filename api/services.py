"""The objects one API process shares between requests."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

import asyncpg
from temporalio.client import Client

from scheduler.db import create_pool
from scheduler.deployments import DeploymentService
from scheduler.ingress import Ingress
from scheduler.relay import OutboxRelay
from scheduler.routing import TriggerRouter
from scheduler.settings import Settings
from scheduler.store import Store
from scheduler.temporal import connect

logger = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    pool: asyncpg.Pool
    store: Store
    temporal: Client
    ingress: Ingress
    deployments: DeploymentService
    relay: OutboxRelay
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    async def start(cls, settings: Settings) -> Services:
        pool = await create_pool(settings.require_database_url(), max_size=20)
        store = Store(pool)
        temporal = await connect(settings)
        relay = OutboxRelay(
            pool,
            temporal,
            task_queue=settings.TEMPORAL_TASK_QUEUE,
            retry=settings.dispatch_retry(),
            batch_size=settings.RELAY_BATCH_SIZE,
            poll_seconds=settings.RELAY_POLL_SECONDS,
        )
        router = TriggerRouter(store)
        services = cls(
            settings,
            pool,
            store,
            temporal,
            Ingress(store, router, max_event_bytes=settings.EVENT_MAX_BYTES),
            DeploymentService(store, temporal, settings.TEMPORAL_TASK_QUEUE),
            relay,
        )
        services._tasks.append(asyncio.create_task(router.run(services._stop)))
        if settings.RELAY_ENABLED:
            services._tasks.append(asyncio.create_task(relay.run(services._stop)))
        return services

    async def close(self) -> None:
        self._stop.set()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.pool.close()
