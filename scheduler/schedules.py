"""Temporal Schedules for cron triggers: build, create-or-replace, delete."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode

from scheduler import ids
from scheduler.executions import DispatchInput, RetrySettings
from scheduler.models import TriggerType
from scheduler.temporal import (
    DEPLOYMENT_VERSION,
    TARGET_WORKFLOW_ID,
    TRIGGER_NODE_ID,
    TRIGGER_TYPE,
)
from scheduler.triggers.cron import schedule_of

logger = logging.getLogger(__name__)

DISPATCH_WORKFLOW = "DispatchExecution"


def search_attributes(
    workflow_id: str, node_id: str, trigger_type: str, version: int
) -> TypedSearchAttributes:
    return TypedSearchAttributes(
        [
            SearchAttributePair(TRIGGER_TYPE, trigger_type),
            SearchAttributePair(TARGET_WORKFLOW_ID, workflow_id),
            SearchAttributePair(TRIGGER_NODE_ID, node_id),
            SearchAttributePair(DEPLOYMENT_VERSION, version),
        ]
    )


def build_schedule(
    workflow_id: str,
    node_id: str,
    version: int,
    config: dict[str, Any],
    *,
    task_queue: str,
    retry: RetrySettings,
) -> Schedule:
    """The Schedule of one cron trigger, from its `trigger_index` config."""
    cron = schedule_of(config)
    offset = int(config.get("jitter_offset_seconds", 0))
    request = DispatchInput(
        workflow_id=workflow_id,
        node_id=node_id,
        trigger_type=TriggerType.CRON.value,
        deployment_version=version,
        retry=retry,
        cron={
            "cron_expression": cron.expression,
            "timezone": config["timezone"],
            "jitter_offset_seconds": offset,
        },
    )
    summary = (
        f"cron {cron.expression} ({config['timezone']}) -> {workflow_id}/{node_id}"
    )
    return Schedule(
        action=ScheduleActionStartWorkflow(
            DISPATCH_WORKFLOW,
            request,
            id=ids.cron_dispatch_prefix(workflow_id, node_id),
            task_queue=task_queue,
            typed_search_attributes=search_attributes(
                workflow_id, node_id, TriggerType.CRON.value, version
            ),
            static_summary=summary,
        ),
        spec=ScheduleSpec(
            calendars=cron.calendars(second=offset),
            time_zone_name=str(config["timezone"]),
        ),
        # Every occurrence is its own firing: a slow engine must not make the
        # next occurrence be skipped.
        policy=SchedulePolicy(
            overlap=ScheduleOverlapPolicy.ALLOW_ALL,
            catchup_window=timedelta(
                seconds=int(config.get("catchup_window_seconds", 300))
            ),
        ),
        state=ScheduleState(
            paused=not config.get("enabled", True),
            note="disabled in the workflow definition"
            if not config.get("enabled", True)
            else f"deployed version {version}",
        ),
    )


async def upsert_schedule(
    client: Client,
    schedule_id: str,
    schedule: Schedule,
    attributes: TypedSearchAttributes,
) -> str:
    """Create the schedule, or replace every part of an existing one."""
    try:
        await client.create_schedule(
            schedule_id, schedule, search_attributes=attributes
        )
        return "created"
    except ScheduleAlreadyRunningError:
        pass

    def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
        # The whole schedule is replaced: updating only the spec would add the
        # new calendars to the old ones.
        return ScheduleUpdate(schedule=schedule, search_attributes=attributes)

    await client.get_schedule_handle(schedule_id).update(replace)
    return "updated"


async def delete_schedules(client: Client, schedule_ids: Iterable[str]) -> list[str]:
    """Delete each schedule that exists; returns the ids deleted."""
    deleted = []
    for schedule_id in sorted(set(schedule_ids)):
        try:
            await client.get_schedule_handle(schedule_id).delete()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                continue
            raise
        deleted.append(schedule_id)
    return deleted


async def listed_schedule_ids(client: Client, workflow_id: str) -> list[str]:
    """Schedules that visibility lists for a workflow (eventually consistent)."""
    query = f'{TARGET_WORKFLOW_ID.name} = "{workflow_id}"'
    found = []
    async for entry in await client.list_schedules(query=query):
        found.append(entry.id)
    return found


async def next_fire_times(
    client: Client, schedule_id: str, count: int = 5
) -> dict[str, Any]:
    """What Temporal itself says of a schedule: paused, next times, recent runs."""
    try:
        description = await client.get_schedule_handle(schedule_id).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return {"exists": False}
        raise
    info = description.info
    return {
        "exists": True,
        "paused": description.schedule.state.paused,
        "next_fire_times": [t.isoformat() for t in info.next_action_times[:count]],
        "recent_fire_times": [
            a.scheduled_at.isoformat() for a in info.recent_actions[-5:]
        ],
        "num_actions": info.num_actions,
    }
