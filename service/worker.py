"""The Temporal worker: workflow definitions plus the activities bound to services."""

from __future__ import annotations

import asyncio
import logging

from temporalio.client import Client
from temporalio.worker import Worker

from activities.deployment import DeploymentActivities
from activities.dispatch import DispatchActivities
from scheduler.db import create_pool
from scheduler.engine import EngineClient
from scheduler.settings import DispatchMode, Settings
from scheduler.store import Store
from scheduler.temporal import connect
from temporal_workflows.deployment import DeploymentWorkflow
from temporal_workflows.dispatch import DispatchExecution

logger = logging.getLogger(__name__)


def build_worker(
    client: Client, store: Store, settings: Settings, engine: EngineClient | None
) -> Worker:
    deployment = DeploymentActivities(store, client, settings)
    dispatch = DispatchActivities(store, settings, engine)
    return Worker(
        client,
        task_queue=settings.TEMPORAL_TASK_QUEUE,
        workflows=[DeploymentWorkflow, DispatchExecution],
        activities=[*deployment.all(), *dispatch.all()],
        max_concurrent_activities=max(10, settings.SCHEDULER_MAX_WORKERS * 10),
    )


def engine_client(settings: Settings) -> EngineClient | None:
    if settings.dispatch_mode is DispatchMode.ENGINE:
        if not settings.WORKFLOW_ENGINE_URL:
            raise ValueError("DISPATCH_MODE=engine needs WORKFLOW_ENGINE_URL")
        return EngineClient(
            settings.WORKFLOW_ENGINE_URL, settings.DISPATCH_TIMEOUT_SECONDS
        )
    return None


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    """Run until `stop` is set, then finish in-flight tasks and return."""
    pool = await create_pool(settings.require_database_url())
    client = await connect(settings)
    engine = engine_client(settings)
    worker = build_worker(client, Store(pool), settings, engine)
    logger.info(
        "worker polling %s on %s (dispatch mode %s)",
        settings.TEMPORAL_TASK_QUEUE,
        settings.TEMPORAL_ADDRESS,
        settings.dispatch_mode.value,
    )
    try:
        async with worker:
            await stop.wait()
    finally:
        if engine is not None:
            await engine.aclose()
        await pool.close()
