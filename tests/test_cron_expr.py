"""Tests for scheduler.triggers.cron_expr.

The corpus vectors come from shared/corpus/cron/cron_vectors.json, transcribed from
the test suites of cronsim, croniter, robfig/cron, croner and cron-utils; origins,
commits and licences are listed in shared/corpus/SOURCES.md.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
import shutil
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from temporalio.client import (
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
)
from temporalio.testing import WorkflowEnvironment

from scheduler.triggers.cron_expr import CronError, CronSchedule, parse_cron
from tests.corpus import corpus_dir, corpus_file

CORPUS = (corpus_dir() or Path("missing-corpus")) / "cron/cron_vectors.json"
VECTORS: list[dict[str, Any]] = (
    json.loads(CORPUS.read_text()) if CORPUS.exists() else []
)
needs_corpus = pytest.mark.skipif(not VECTORS, reason=f"corpus not found at {CORPUS}")


def test_cron_corpus_is_present() -> None:
    """Under CI a missing corpus fails here instead of skipping every vector."""
    assert corpus_file("cron/cron_vectors.json") == CORPUS


# Expectations that follow another library's rules than Vixie cron / Temporal.
OTHER_SEMANTICS = {
    "cron-072": "robfig/cron does not count '*/10' as a star and ORs the day "
    "fields; Vixie ANDs them because day-of-month starts with '*'",
    "cron-135": "croniter ORs '*/2' with 'sat'; Vixie ANDs them because "
    "day-of-month starts with '*'",
    "cron-167": "croniter fires a nonexistent midnight at 01:00 after the DST gap; "
    "Temporal skips nonexistent times",
    "cron-169": "croniter moves 02:01 in the DST gap to 03:01; Temporal skips it",
}
DEBIAN_DST = (
    "Debian cron's DST rule for fixed-time jobs (run times in a gap right after "
    "it, run repeated times once); Temporal skips gaps and fires both repeats"
)
EXTENSION = re.compile(r"[LW#?]")
DAY_NAMES = re.compile(r"SUN|MON|TUE|WED|THU|FRI|SAT")


def classify(vector: dict[str, Any]) -> tuple[str, str]:
    """('reject' | 'check' | 'skip', reason) for one corpus vector."""
    fields = vector["expr"].upper().split()
    if len(fields) in (6, 7):
        return "reject", "seconds or year field"
    if len(fields) == 5 and (
        EXTENSION.search(fields[2])
        or "?" in fields[3]
        or EXTENSION.search(DAY_NAMES.sub("", fields[4]))
    ):
        return "reject", "L / W / # / ? extension"
    if vector.get("options"):
        return "skip", f"library option {vector['options']}, not Vixie semantics"
    if vector["id"] in OTHER_SEMANTICS:
        return "skip", OTHER_SEMANTICS[vector["id"]]
    fixed_time = not any(f.startswith(("*", "@")) for f in fields[:2])
    if vector["tz"] and vector["semantics"].startswith("cronsim") and fixed_time:
        return "skip", DEBIAN_DST
    if not any(
        vector.get(k) is not None
        for k in ("expected_next", "expected_next_is_not", "expected_next_wall_clock")
    ):
        return "skip", "only expected_prev (no reverse iteration)"
    return "check", ""


def start_of(vector: dict[str, Any]) -> datetime:
    start = datetime.fromisoformat(vector["start"])
    if vector["tz"] is None:
        return start
    zone = ZoneInfo(vector["tz"])
    return (
        start.replace(tzinfo=zone) if start.tzinfo is None else start.astimezone(zone)
    )


def instants(times: Iterable[datetime]) -> list[datetime]:
    # Aware datetimes in a repeated hour never compare equal across zones (PEP 495).
    return [t if t.tzinfo is None else t.astimezone(UTC) for t in times]


def vector_params(kind: str) -> list[Any]:
    """Vectors of one kind; 'check' also lists the skipped ones, with the reason."""
    return [
        pytest.param(
            v, id=v["id"], marks=[pytest.mark.skip(reason=why)] * (k == "skip")
        )
        for v in VECTORS
        for k, why in [classify(v)]
        if k == kind or (kind == "check" and k == "skip")
    ]


@needs_corpus
@pytest.mark.parametrize("vector", vector_params("check"))
def test_corpus_next_times(vector: dict[str, Any]) -> None:
    sched = parse_cron(vector["expr"])  # a CronError here fails: it should parse
    start = start_of(vector)
    if vector.get("expected_next") is not None:
        expected = [datetime.fromisoformat(s) for s in vector["expected_next"]]
        got = sched.next_times(start, len(expected) or 1)
        assert instants(got) == instants(expected)
    elif vector.get("expected_next_wall_clock") is not None:
        walls = [datetime.fromisoformat(s) for s in vector["expected_next_wall_clock"]]
        got = sched.next_times(start, len(walls))
        assert [t.replace(tzinfo=None) for t in got] == walls
    else:
        not_next = datetime.fromisoformat(vector["expected_next_is_not"])
        assert sched.next_times(start, 1) != [not_next]


@needs_corpus
@pytest.mark.parametrize("vector", vector_params("reject"))
def test_corpus_extensions_are_rejected(vector: dict[str, Any]) -> None:
    for text in filter(None, (vector["expr"], vector.get("raw_spec"))):
        with pytest.raises(CronError):
            parse_cron(text)


@needs_corpus
def test_corpus_coverage() -> None:
    kinds = [classify(v)[0] for v in VECTORS]
    naive_checked = sum(
        k == "check" and v["tz"] is None for k, v in zip(kinds, VECTORS, strict=True)
    )
    counts = {k: kinds.count(k) for k in ("check", "reject", "skip")}
    print(f"corpus: {counts}, naive checked: {naive_checked}")
    assert len(VECTORS) == 128
    assert naive_checked >= 20
    assert counts["check"] >= 45
    assert counts["reject"] >= 55


@pytest.mark.parametrize(
    ("expr", "needles"),
    [
        ("0 0 * * FRI#5", ["day-of-week field", "nth weekday", "comment"]),
        ("0 0 L * *", ["day-of-month field", "'L' (last day of month)"]),
        ("0 0 9 * * MON", ["6 fields", "seconds or year", "'0 9 * * MON'"]),
        ("0 0 12 * * ? 2030", ["7 fields", "seconds or year", "5 fields"]),
        ("0 0 15W * *", ["nearest weekday"]),
        ("0 0 LW * *", ["nearest weekday"]),
        ("0 0 * * 5L", ["last weekday of month"]),
        ("0 0 ? * MON", ["Quartz", "write '*'"]),
        ("H * * * *", ["Jenkins hash"]),
        ("@reboot", ["@reboot"]),
        ("@every 5m", ["@every", "*/5 * * * *"]),
        ("@fortnightly", ["unknown macro", "@daily"]),
        ("CRON_TZ=Europe/Berlin 0 9 * * *", ["CRON_TZ=", "`timezone` parameter"]),
        ("TZ=UTC 0 9 * * *", ["`timezone` parameter"]),
        ("60 * * * *", ["minute field", "out of range 0-59"]),
        ("0 24 * * *", ["hour field", "out of range 0-23", "0 for midnight"]),
        ("0 0 0 * *", ["day-of-month field", "out of range 1-31"]),
        ("0 0 * 13 *", ["month field", "out of range 1-12"]),
        ("0 0 * * 8", ["day-of-week field", "0 and 7 are Sunday"]),
        ("5-1 * * * *", ["reversed", "'1-5'"]),
        ("0 0 * * FRI-SUN", ["reversed", "5-7"]),
        ("*/0 * * * *", ["step 0"]),
        ("*/60 * * * *", ["step 60", "one value only"]),
        ("0 0 1-5/40 * *", ["step 40"]),
        ("1,,2 * * * *", ["empty list item"]),
        ("", ["0 fields", "5 fields"]),
        ("0 0 * *", ["4 fields", "5 fields"]),
        ("0 0 * * MONDAY", ["three-letter", "'MON'"]),
        ("0 0 1 JANUARY *", ["'JAN'"]),
        ("0 0 * MON *", ["month field", "'MON' is not a number"]),
        ("x * * * *", ["minute field", "not a number"]),
        ("*-5 * * * *", ["not valid"]),
        ("0 0 * * * # nightly", ["comments"]),
        ("0 0 31 2 *", ["never fires"]),
        ("0 0 30 2 *", ["never fires"]),
        ("0 0 31 4,6,9,11 *", ["never fires"]),
    ],
)
def test_rejects_with_actionable_message(expr: str, needles: list[str]) -> None:
    with pytest.raises(CronError) as info:
        parse_cron(expr)
    for needle in needles:
        assert needle in str(info.value)


def expand(ranges: Iterable[ScheduleRange]) -> set[int]:
    return {v for r in ranges for v in range(r.start, r.end + 1, r.step)}


def test_or_case_gives_two_calendars_and_fires_on_either() -> None:
    sched = parse_cron("0 9 1-7 * MON")
    assert sched.dom_restricted and sched.dow_restricted and sched.day_or
    dom_part, dow_part = sched.calendars()
    assert expand(dom_part.day_of_month) == set(range(1, 8))
    assert expand(dom_part.day_of_week) == set(range(7))
    assert expand(dow_part.day_of_month) == set(range(1, 32))
    assert expand(dow_part.day_of_week) == {1}
    times = sched.next_times(datetime(2026, 6, 1), 12)
    assert all(t.day <= 7 or t.weekday() == 0 for t in times)
    assert any(t.day <= 7 and t.weekday() != 0 for t in times)
    assert any(t.day > 7 and t.weekday() == 0 for t in times)
    assert times[:9] == [datetime(2026, 6, d, 9) for d in (1, 2, 3, 4, 5, 6, 7, 8, 15)]


def test_weekdays_give_one_calendar() -> None:
    (cal,) = parse_cron("0 9 * * MON-FRI").calendars()
    assert list(cal.day_of_week) == [ScheduleRange(1, 5)]
    assert list(cal.day_of_month) == [ScheduleRange(1, 31)]
    assert (list(cal.hour), list(cal.minute)) == (
        [ScheduleRange(9)],
        [ScheduleRange(0)],
    )


def test_star_prefix_makes_vixie_and_the_day_fields() -> None:
    first_monday = parse_cron("1 1 */100,1-7 * MON")
    assert not first_monday.day_or
    (cal,) = first_monday.calendars()
    assert expand(cal.day_of_month) == set(range(1, 8))
    assert expand(cal.day_of_week) == {1}
    assert parse_cron("1 1 1-7 * */7").days_of_week == {0}


def test_restricted_full_day_field_collapses_to_one_calendar() -> None:
    (cal,) = parse_cron("0 0 1 * 0-7").calendars()
    assert expand(cal.day_of_month) == set(range(1, 32))
    assert expand(cal.day_of_week) == set(range(7))


@pytest.mark.parametrize(
    "expr",
    [
        "*/15 * * * *",
        "1,2,3,5,8 */7 1-31/2 JAN-MAR,oct * ",
        "0 0 * * 5-7",
        "7/9 * * * *",
    ],
)
def test_calendars_are_compact_and_exact(expr: str) -> None:
    sched = parse_cron(expr)
    (cal,) = sched.calendars(second=17)
    assert list(cal.second) == [ScheduleRange(17)]
    assert expand(cal.minute) == sched.minutes
    assert expand(cal.hour) == sched.hours
    assert expand(cal.day_of_month) == sched.days_of_month
    assert expand(cal.month) == sched.months
    assert expand(cal.day_of_week) == sched.days_of_week
    assert len(cal.minute) <= 2


def test_calendars_reject_bad_second() -> None:
    with pytest.raises(ValueError):
        parse_cron("* * * * *").calendars(second=60)


def test_field_syntax() -> None:
    assert parse_cron("5/15 * * * *").minutes == {5, 20, 35, 50}
    assert parse_cron("0 0 * * 5-7") == dataclasses.replace(
        parse_cron("0 0 * * fri,Sat,SUN"), expression="0 0 * * 5-7"
    )
    assert parse_cron("0 0 * jan-mar mon-fri").months == {1, 2, 3}
    assert parse_cron("08 8 * * *").minutes == {8}
    assert parse_cron("  @Daily ").expression == "@Daily"
    for macro, equivalent in [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
    ]:
        assert (
            dataclasses.astuple(parse_cron(macro))[1:]
            == dataclasses.astuple(parse_cron(equivalent))[1:]
        )


def test_next_times_edge_cases() -> None:
    sched = parse_cron("0 0 29 2 *")
    assert sched.next_times(datetime(2026, 1, 1), 2) == [
        datetime(2028, 2, 29),
        datetime(2032, 2, 29),
    ]
    assert sched.next_times(datetime(2026, 1, 1), 0) == []
    assert parse_cron("* * * * *").next_times(datetime(2026, 1, 1, 0, 0, 30), 1) == [
        datetime(2026, 1, 1, 0, 1)
    ]
    never = dataclasses.replace(
        parse_cron("0 0 1 * *"), days_of_month=frozenset({30}), months=frozenset({2})
    )
    began = time.perf_counter()
    assert (
        never.next_times(datetime(2026, 1, 1, tzinfo=ZoneInfo("Europe/Berlin"))) == []
    )
    assert time.perf_counter() - began < 1


def test_next_times_dst_follows_temporal() -> None:
    ny = ZoneInfo("America/New_York")
    fall = parse_cron("30 1 * * *").next_times(datetime(2027, 11, 6, 12, tzinfo=ny), 3)
    assert instants(fall) == [
        datetime(2027, 11, 7, 5, 30, tzinfo=UTC),  # 01:30 EDT
        datetime(2027, 11, 7, 6, 30, tzinfo=UTC),  # 01:30 EST
        datetime(2027, 11, 8, 6, 30, tzinfo=UTC),
    ]
    assert [t.fold for t in fall] == [0, 1, 0]
    spring = parse_cron("30 2 * * *").next_times(
        datetime(2027, 3, 13, 12, tzinfo=ny), 2
    )
    assert [t.date().isoformat() for t in spring] == ["2027-03-15", "2027-03-16"]
    hourly = parse_cron("0 * * * *").next_times(
        datetime(2027, 11, 7, 0, 30, tzinfo=ny), 4
    )
    assert [t.astimezone(UTC).hour for t in hourly] == [5, 6, 7, 8]


def test_next_times_is_fast() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    began = time.perf_counter()
    for expr in ("* * * * *", "*/5 * * * *", "0 0 1 1 *", "0 0 29 2 1"):
        parse_cron(expr).next_times(datetime(2026, 3, 29, 1, 58, tzinfo=berlin), 200)
    assert time.perf_counter() - began < 1


def test_matches_cronsim_on_random_expressions() -> None:
    cronsim = pytest.importorskip("cronsim")
    rnd = random.Random(20261203)
    months, days = ["JAN", "FEB", "MAR", "OCT", "DEC"], ["SUN", "MON", "WED", "FRI"]
    names = {3: months, 4: days}
    bounds = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]

    def item(i: int) -> str:
        lo, hi = bounds[i]
        pick = rnd.random()
        if pick < 0.3:
            return rnd.choice(["*", f"*/{rnd.randint(1, hi - lo)}"])
        if pick < 0.55:
            a, b = sorted(rnd.sample(range(lo, hi + 1), 2))
            return f"{a}-{b}" + rnd.choice(["", f"/{rnd.randint(1, 4)}"])
        if pick < 0.65:
            return f"{rnd.randint(lo, hi)}/{rnd.randint(1, max(1, (hi - lo) // 2))}"
        if i in names and pick < 0.8:
            return rnd.choice(names[i])
        return str(rnd.randint(lo, hi))

    checked = 0
    for _ in range(400):
        expr = " ".join(
            ",".join(item(i) for _ in range(rnd.choice([1, 1, 2]))) for i in range(5)
        )
        start = datetime(2024, 1, 1) + timedelta(minutes=rnd.randrange(3 * 525_600))
        try:
            sched = parse_cron(expr)
        except CronError as exc:
            assert "never fires" in str(exc), expr
            continue
        expected = list(islice(cronsim.CronSim(expr, start), 6))
        assert sched.next_times(start, 6) == expected, expr
        checked += 1
    assert checked > 300


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    binary = shutil.which("temporal") or str(Path(sys.executable).parent / "temporal")
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary,
        port=None,
        ui=False,
        dev_server_startup_timeout=timedelta(seconds=30),
    )
    try:
        yield env
    finally:
        await env.shutdown()


async def temporal_next_times(
    env: WorkflowEnvironment, spec: ScheduleSpec
) -> tuple[datetime, list[datetime], datetime]:
    handle = await env.client.create_schedule(
        f"cron-expr-test-{uuid.uuid4()}",
        Schedule(
            action=ScheduleActionStartWorkflow(
                "CronExprProbe",
                id=f"probe-{uuid.uuid4()}",
                task_queue=str(uuid.uuid4()),
            ),
            spec=spec,
            state=ScheduleState(paused=True),
        ),
    )
    try:
        before = datetime.now(UTC)
        desc = await handle.describe()
        return before, list(desc.info.next_action_times), datetime.now(UTC)
    finally:
        await handle.delete()


@pytest.mark.parametrize(
    ("expr", "tz"),
    [
        ("0 9 1-7 * MON", "UTC"),
        ("0 9 * * MON-FRI", "UTC"),
        ("*/15 * * * *", "UTC"),
        ("30 2 1 * *", "UTC"),
        ("0 0 * * 0", "UTC"),
        ("1 1 */100,1-7 * MON", "UTC"),
        ("0 0 29 2 *", "Europe/Berlin"),
        ("0 9 * * MON-FRI", "America/New_York"),
        ("30 1 1-7 11 *", "America/New_York"),  # 01:30 twice on fall-back Sunday
        ("30 2 8-14 3 *", "America/New_York"),  # 02:30 missing on spring-forward day
    ],
)
async def test_calendars_match_temporal(
    temporal_env: WorkflowEnvironment, expr: str, tz: str
) -> None:
    sched = parse_cron(expr)
    spec = ScheduleSpec(calendars=sched.calendars(second=0), time_zone_name=tz)
    created = datetime.now(UTC)
    _, actual, done = await temporal_next_times(temporal_env, spec)
    assert len(actual) >= 5
    # The server computes from some instant between `created` and `done`.
    predicted = [
        instants(sched.next_times(now.astimezone(ZoneInfo(tz)), len(actual)))
        for now in (created, done)
    ]
    assert instants(actual) in predicted


async def test_temporal_misreads_the_raw_strings(
    temporal_env: WorkflowEnvironment,
) -> None:
    """Why expressions are never passed to Temporal as cron strings."""
    spec = ScheduleSpec(cron_expressions=["0 0 * * FRI#5"], time_zone_name="UTC")
    _, fridays, _ = await temporal_next_times(temporal_env, spec)
    assert all(t.weekday() == 4 for t in fridays)
    assert any(t.day <= 28 for t in fridays)  # not only 5th Fridays

    spec = ScheduleSpec(cron_expressions=["0 9 1-7 * MON"], time_zone_name="UTC")
    _, first_mondays, _ = await temporal_next_times(temporal_env, spec)
    assert all(t.weekday() == 0 and t.day <= 7 for t in first_mondays)
    ours = parse_cron("0 9 1-7 * MON").next_times(datetime.now(UTC), len(first_mondays))
    assert instants(ours) != instants(first_mondays)


def test_schedule_is_hashable_value() -> None:
    sched = parse_cron("0 9 * * 1")
    assert isinstance(sched, CronSchedule)
    assert sched == parse_cron("0 9 * * 1")
    assert hash(sched) == hash(parse_cron("0 9 * * 1"))
