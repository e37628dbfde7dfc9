"""Standard (Vixie/Debian) cron expressions compiled to Temporal schedule calendars.

Temporal's own cron parser differs from Vixie cron: a 6th field is a year, ``#``
starts a comment, and a restricted day-of-month and day-of-week must both match.
User expressions are therefore never handed to Temporal as strings. They are
parsed here into value sets and turned into ``ScheduleCalendarSpec`` objects,
whose matching rules are exact; Vixie's day-of-month OR day-of-week rule becomes
two calendars (Temporal fires on the union of calendars).

Daylight-saving time follows what the Temporal server does with calendars
(checked against Server 1.32): a wall-clock time that does not exist is skipped,
one that occurs twice fires at both instants. Calendars cannot say "first
occurrence only", so ``CronSchedule.next_times`` predicts both fires too.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import NamedTuple

from temporalio.client import ScheduleCalendarSpec, ScheduleRange

__all__ = ["CronError", "CronSchedule", "parse_cron"]

_FORMAT = "5 fields: minute hour day-of-month month day-of-week, e.g. '0 9 * * MON-FRI'"
_SEARCH_YEARS = 400  # one Gregorian cycle: a schedule that never fires in it never will
_MONTH_NAMES = "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC"
_DAY_NAMES = "SUN MON TUE WED THU FRI SAT"
_MAX_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES.split(), 1)}
_DAYS = {d: i for i, d in enumerate(_DAY_NAMES.split())}
_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_ITEM = re.compile(r"(\*|[A-Z0-9]+)(?:-([A-Z0-9]+))?(?:/([0-9]+))?")
_NUMBER = re.compile(r"[0-9]+")


class CronError(ValueError):
    """An unusable cron expression; the message names the field and the fix."""


class _Field(NamedTuple):
    label: str
    lo: int
    hi: int
    names: dict[str, int]


_FIELDS = (
    _Field("minute", 0, 59, {}),
    _Field("hour", 0, 23, {}),
    _Field("day-of-month", 1, 31, {}),
    _Field("month", 1, 12, _MONTHS),
    _Field("day-of-week", 0, 7, _DAYS),
)
_DOM, _DOW = _FIELDS[2], _FIELDS[4]
_Set = frozenset[int]
_ALL_DOM, _ALL_DOW = frozenset(range(1, 32)), frozenset(range(7))


@dataclass(frozen=True)
class CronSchedule:
    """A parsed 5-field cron expression with Vixie cron semantics.

    Attributes:
        expression: The expression as given (stripped).
        minutes: Minutes 0-59 that fire.
        hours: Hours 0-23 that fire.
        days_of_month: Days 1-31 that fire.
        months: Months 1-12 that fire.
        days_of_week: Weekdays 0-6, Sunday = 0 (a 7 in the expression is folded to 0).
        dom_restricted: The day-of-month field does not start with ``*``.
        dow_restricted: The day-of-week field does not start with ``*``.
        day_or: Both are restricted, so a day fires when EITHER its day of month
            or its weekday matches (Vixie). Otherwise both sets must match; note
            that a field starting with ``*`` can still restrict (``*/2``).
    """

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]
    dom_restricted: bool
    dow_restricted: bool
    day_or: bool

    def calendars(self, second: int = 0) -> list[ScheduleCalendarSpec]:
        """Build Temporal calendars whose union fires exactly like the expression.

        Args:
            second: Fixed second-of-minute (0-59) to fire at (deterministic jitter).

        Returns:
            One calendar, or two (day-of-month part, day-of-week part) under
            Vixie's OR rule, with values compacted into (start, end, step) runs.

        Raises:
            ValueError: ``second`` is outside 0-59.
        """
        if not 0 <= second <= 59:
            raise ValueError(f"second must be 0-59, got {second}")

        def spec(dom: _Set, dow: _Set, part: str) -> ScheduleCalendarSpec:
            return ScheduleCalendarSpec(
                second=(ScheduleRange(second),),
                minute=_ranges(self.minutes),
                hour=_ranges(self.hours),
                day_of_month=_ranges(dom),
                month=_ranges(self.months),
                day_of_week=_ranges(dow),
                comment=f"cron {self.expression!r}{part}",
            )

        if not self.day_or:
            return [spec(self.days_of_month, self.days_of_week, "")]
        if self.days_of_month == _ALL_DOM or self.days_of_week == _ALL_DOW:
            return [spec(_ALL_DOM, _ALL_DOW, "")]
        return [
            spec(self.days_of_month, _ALL_DOW, " (day-of-month part)"),
            spec(_ALL_DOM, self.days_of_week, " (day-of-week part)"),
        ]

    def next_times(self, after: datetime, count: int = 5) -> list[datetime]:
        """Return the next fire times strictly after ``after``.

        A naive ``after`` iterates plain wall-clock time. An aware one iterates
        the wall clock of its tzinfo (zoneinfo or fixed offset, not pytz) the way
        Temporal does: nonexistent local times are skipped, ambiguous ones fire at
        both instants. Results carry ``after``'s tzinfo (``fold`` set), second 0.
        The search covers 400 years (a Gregorian cycle, so a schedule that never
        fires returns ``[]``); the Temporal server itself stops at year 2100.

        Args:
            after: Exclusive lower bound.
            count: How many times to return at most.

        Returns:
            Up to ``count`` datetimes in increasing order.
        """
        found: list[datetime] = []
        if count <= 0:
            return found
        zone = after.tzinfo if after.utcoffset() is not None else None
        hours, minutes = sorted(self.hours), sorted(self.minutes)
        first, floor = after.date(), _instant(after)
        for day in self._days(first, min(first.year + _SEARCH_YEARS, 9998)):
            for fire in _fires_on(day, hours, minutes, zone):
                if _instant(fire) > floor:
                    found.append(fire)
                    if len(found) == count:
                        return found
        return found

    def _days(self, first: date, last_year: int) -> Iterator[date]:
        year, month, start = first.year, first.month, first.day
        while year <= last_year:
            if month in self.months:
                weekday_of_first, length = calendar.monthrange(year, month)
                for day in range(start, length + 1):
                    dom_ok = day in self.days_of_month
                    dow_ok = (weekday_of_first + day) % 7 in self.days_of_week
                    if (dom_ok or dow_ok) if self.day_or else (dom_ok and dow_ok):
                        yield date(year, month, day)
            start = 1
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def _fires_on(
    day: date, hours: list[int], minutes: list[int], zone: tzinfo | None
) -> Iterator[datetime]:
    y, m, d = day.year, day.month, day.day
    midnight = datetime.combine(day, time(), zone)
    regular = midnight.utcoffset() == (midnight + timedelta(days=1)).utcoffset()
    pending: dict[datetime, datetime] = {}  # instant -> local, for transition hours
    for h in hours:
        if zone is not None and not regular and not _plain_hour(y, m, d, h, zone):
            for mi, fold in ((mi, fold) for mi in minutes for fold in (0, 1)):
                local = datetime(y, m, d, h, mi, tzinfo=zone, fold=fold)
                back = local.astimezone(UTC).astimezone(zone)
                if back.replace(tzinfo=None) == local.replace(tzinfo=None):
                    pending[back.astimezone(UTC)] = back  # skips nonexistent times
            continue
        yield from (pending.pop(k) for k in sorted(pending))
        for mi in minutes:
            yield datetime(y, m, d, h, mi, tzinfo=zone)
    yield from (pending.pop(k) for k in sorted(pending))


def _instant(t: datetime) -> datetime:
    # Same-tzinfo comparisons ignore fold, so compare aware times in UTC.
    return t if t.utcoffset() is None else t.astimezone(UTC)


def _plain_hour(y: int, m: int, d: int, h: int, zone: tzinfo) -> bool:
    """No offset change within this local hour (so no gap and no repeat)."""
    edges = (
        datetime(y, m, d, h, mi, tzinfo=zone, fold=f) for mi in (0, 59) for f in (0, 1)
    )
    return len({t.utcoffset() for t in edges}) == 1


def _ranges(values: frozenset[int]) -> tuple[ScheduleRange, ...]:
    """Cover ``values`` greedily with the longest arithmetic runs."""
    left = set(values)
    runs: list[ScheduleRange] = []
    while left:
        start = min(left)
        best_step, best_len = 1, 1
        for other in sorted(left - {start}):
            step, length = other - start, 2
            while start + length * step in left:
                length += 1
            if length > best_len:
                best_step, best_len = step, length
        end = start + (best_len - 1) * best_step
        left -= set(range(start, end + 1, best_step))
        runs.append(ScheduleRange(start, end, best_step))
    return tuple(runs)


class _Bad(Exception):
    """A problem; the callers up the stack prefix the field and the expression."""


def _unsupported(token: str, field: _Field) -> str | None:
    """Explain a non-Vixie extension inside one token, if it is one."""
    if "#" in token:
        return (
            f"{token!r} (nth weekday) is not supported (Temporal would read '#' as a "
            "comment and run every such weekday); for the first Monday write "
            "'*/100,1-7 * MON' (a field starting with '*' makes cron AND the day "
            "fields), otherwise run on the candidate days and check in the workflow"
        )
    if "?" in token:
        return "'?' (Quartz 'no specific value') is not supported; write '*' instead"
    if token.startswith("H") and (len(token) == 1 or token[1] in "(/"):
        return f"{token!r} (Jenkins hash) is not supported; pick a fixed value"
    for part in re.split(r"[-/]", token):
        if not part or _NUMBER.fullmatch(part) or part in field.names:
            continue
        if field is _DOM and part == "L":
            return (
                "'L' (last day of month) is not standard cron; run on days 28-31 and "
                "check in the workflow that tomorrow is the 1st, or use day 1"
            )
        if field is _DOM and re.fullmatch(r"L?[0-9]*W", part):
            return f"{part!r} (nearest weekday) is not standard cron; list the days"
        if field is _DOW and "L" in part:
            return (
                f"{part!r} (last weekday of month) is not standard cron; run on days "
                "22-31 with day-of-week '*' and check the weekday in the workflow"
            )
        if field.names and part.isalpha() and part[:3] in field.names:
            return f"{part!r} is not a valid name; use the three-letter {part[:3]!r}"
    return None


def _value(token: str, field: _Field) -> int:
    if token in field.names:
        return field.names[token]
    if not _NUMBER.fullmatch(token):
        names = f", or a name like {next(iter(field.names))}" if field.names else ""
        raise _Bad(f"{token!r} is not a number {field.lo}-{field.hi}{names}")
    value = int(token)
    if not field.lo <= value <= field.hi:
        hint = {"hour": "; use 0 for midnight", "day-of-week": " (0 and 7 are Sunday)"}
        why = f"{value} is out of range {field.lo}-{field.hi}"
        raise _Bad(why + hint.get(field.label, ""))
    return value


def _parse_item(item: str, field: _Field) -> range:
    why = _unsupported(item, field)
    if why:
        raise _Bad(why)
    match = _ITEM.fullmatch(item)
    if match is None or (match[1] == "*" and match[2] is not None):
        raise _Bad(
            f"{item!r} is not valid; use a value, a range a-b, a step */n, a-b/n or "
            "a/n, or a comma-separated list of those"
        )
    first, last, step_text = match.groups()
    if first == "*":
        lo, hi = field.lo, field.hi
    else:
        lo = _value(first, field)
        hi = _value(last, field) if last else field.hi if step_text else lo
        if lo > hi:
            fix = "'5-7' or 'FRI-SAT,SUN'" if field is _DOW else f"'{hi}-{lo}'"
            raise _Bad(f"range {item!r} is reversed; write {fix}")
    step = int(step_text) if step_text else 1
    if step == 0:
        raise _Bad(f"step 0 in {item!r}; a step must be at least 1")
    # '*/100' in a day field is a known idiom: it only makes the field start with '*'.
    if step > field.hi - field.lo and not (first == "*" and field in (_DOM, _DOW)):
        raise _Bad(
            f"step {step} in {item!r} is larger than the range {field.lo}-{field.hi}, "
            "so it selects one value only (steps do not carry over into the next "
            "hour or day); use a smaller step or list the values"
        )
    return range(lo, hi + 1, step)


def _parse_field(text: str, field: _Field) -> frozenset[int]:
    values: set[int] = set()
    try:
        for item in text.split(","):
            if not item:
                raise _Bad("empty list item; remove the extra comma")
            values.update(_parse_item(item.upper(), field))
    except _Bad as bad:
        raise _Bad(f"{field.label} field {text!r}: {bad}") from None
    if field is _DOW and 7 in values:
        values = (values - {7}) | {0}
    return frozenset(values)


def parse_cron(expression: str) -> CronSchedule:
    """Parse a standard 5-field Vixie/Debian cron expression.

    Accepts numbers, ranges, steps (``*/n``, ``a-b/n``, ``a/n`` = ``a-max/n``),
    lists, three-letter month and weekday names (case-insensitive), 7 for Sunday,
    and the macros @yearly @annually @monthly @weekly @daily @midnight @hourly.

    Args:
        expression: The cron expression.

    Returns:
        The parsed schedule.

    Raises:
        CronError: The expression is malformed, uses a non-standard extension
            (seconds/year fields, L, W, #, ?, H, @reboot, @every, CRON_TZ=), or
            can never fire. The message says what to write instead.
    """
    expr = expression.strip()
    try:
        return _parse(expr)
    except _Bad as bad:
        raise CronError(f"cron expression {expr!r}: {bad}") from None


def _parse(expr: str) -> CronSchedule:
    if expr.upper().startswith(("CRON_TZ=", "TZ=")):
        raise _Bad(
            "a CRON_TZ=/TZ= prefix is not supported; remove it and set the "
            "trigger's `timezone` parameter instead"
        )
    text = _MACROS.get(expr.lower(), expr)
    if text.startswith("@"):
        if text.lower() == "@reboot":
            raise _Bad("@reboot has no meaning for a scheduler; use e.g. @daily")
        if text.lower().startswith("@every"):
            raise _Bad("@every is not cron; write e.g. '*/5 * * * *' (every 5 min)")
        raise _Bad(f"unknown macro; use one of {', '.join(_MACROS)} or {_FORMAT}")
    fields = text.split()
    if any(f.startswith("#") for f in fields):
        raise _Bad("comments ('#') are not supported; remove the comment")
    if len(fields) in (6, 7):
        short = " ".join(fields[1:6])
        hint = f" (without a seconds field: {short!r})" if fields[0] == "0" else ""
        raise _Bad(
            f"{len(fields)} fields, but a seconds or year field is not supported; "
            f"use {_FORMAT}{hint}"
        )
    if len(fields) != 5:
        raise _Bad(f"{len(fields)} fields; use {_FORMAT}")
    minutes, hours, doms, months, dows = (
        _parse_field(f, spec) for f, spec in zip(fields, _FIELDS, strict=True)
    )
    dom_restricted = not fields[2].startswith("*")
    dow_restricted = not fields[4].startswith("*")
    day_or = dom_restricted and dow_restricted
    if not day_or and not any(d <= _MAX_DAYS[m - 1] for m in months for d in doms):
        raise _Bad(
            f"never fires: no month in {sorted(months)} has a day {min(doms)} or "
            "later; fix the day-of-month or month field"
        )
    return CronSchedule(
        expr, minutes, hours, doms, months, dows, dom_restricted, dow_restricted, day_or
    )
