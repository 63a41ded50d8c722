"""When a reminder fires: a recurrence rule in a person's local time, placed on the UTC timeline.

Pure (no I/O, no clock: callers pass `now`). A schedule is an RFC 5545 RRULE read against a
wall-clock start (a DTSTART without offset) in an IANA zone. Occurrences are computed as wall-clock
times, and only then turned into instants, so 20:00 stays 20:00 on both sides of a clock change:
- a time the clocks skip (spring forward) fires at the jump, the first instant after it: 02:30 on
  a night when 02:00 becomes 03:00 fires at 03:00. RFC 5545 would shift it by the gap (03:30);
  a reminder should come as soon as its time has passed, not an hour late.
- a time that happens twice (fall back) fires once, at its first occurrence (as RFC 5545).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
TOO_FREQUENT = ("HOURLY", "MINUTELY", "SECONDLY")
RULE_PARTS = frozenset(
    {
        "FREQ",
        "INTERVAL",
        "COUNT",
        "UNTIL",
        "WKST",
        "BYMONTH",
        "BYWEEKNO",
        "BYYEARDAY",
        "BYMONTHDAY",
        "BYDAY",
        "BYHOUR",
        "BYMINUTE",
        "BYSECOND",
        "BYSETPOS",
    }
)
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
MIN_SPACING_MINUTES = 15
MIN_SPACING = timedelta(minutes=MIN_SPACING_MINUTES)
TOO_CLOSE = "a reminder can fire at most once every 15 minutes"
MAX_COUNT = 1000
MAX_INTERVAL = 1000
# Occurrences looked at when checking a rule's spacing; COUNT is capped below it, so a counted
# rule is checked whole.
SAMPLE = MAX_COUNT + 1
# Wall-clock time is at most this far behind the instant's own wall time when a clock change is
# in play (the largest DST shift in the tz database is 2 h), so no occurrence is missed.
LOOKBACK = timedelta(days=1)
# 400 Gregorian years are exactly 20,871 weeks: every date, weekday, week number and leap day
# repeats. A rule moved whole cycles forward behaves identically, and dateutil stops at year 9999.
GREGORIAN_CYCLE_YEARS = 400
# A probe moved whole cycles forward to start in (9399, 9799] sees 200 to 600 years of periods.
_PROBE_YEAR = 9799
# Keeps every moved date inside what datetime can hold.
LATEST_YEAR = 2100


class InvalidRule(ValueError):
    """The rule cannot be a reminder's schedule; the message says why, for the person."""


def daily_rule(at: time) -> str:
    return f"FREQ=DAILY;BYHOUR={at.hour};BYMINUTE={at.minute}"


def weekly_rule(days: list[str], at: time) -> str:
    return f"FREQ=WEEKLY;BYDAY={','.join(days)};BYHOUR={at.hour};BYMINUTE={at.minute}"


def to_utc(wall: datetime, tz: ZoneInfo) -> datetime:
    """The instant a wall-clock time (naive, in `tz`) names, by the rules in the module doc."""
    at = wall.replace(tzinfo=tz).astimezone(UTC)  # fold=0: the first of a repeated time
    if _wall(at, tz) == wall:
        return at
    # Skipped. fold=1 reads it with the offset after the jump, which lands before the jump.
    before, after = wall.replace(tzinfo=tz, fold=1).astimezone(UTC), at
    while after - before > timedelta(seconds=1):
        middle = before + (after - before) / 2
        if _wall(middle, tz) >= wall:
            after = middle
        else:
            before = middle
    return after.replace(microsecond=0)


def _wall(instant: datetime, tz: ZoneInfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)


def _split(text: str) -> dict[str, str]:
    text = text.strip()
    if text[:6].upper() == "RRULE:":
        text = text[6:]
    if not text or "\n" in text or "\r" in text:
        raise InvalidRule("expected one RRULE value, e.g. FREQ=WEEKLY;BYDAY=MO;BYHOUR=9")
    parts: dict[str, str] = {}
    for item in text.split(";"):
        key, sep, value = item.partition("=")
        key, value = key.strip().upper(), value.strip().upper()
        if not sep or not key or not value:
            raise InvalidRule(f"{item.strip()!r} is not NAME=VALUE")
        if key not in RULE_PARTS:
            raise InvalidRule(f"{key} is not supported in a reminder's rule")
        if key in parts:
            raise InvalidRule(f"{key} appears twice")
        parts[key] = value
    return parts


def _bounded_int(parts: Mapping[str, str], key: str, upper: int) -> None:
    value = parts.get(key)
    if value is not None and not (value.isdigit() and 1 <= int(value) <= upper):
        raise InvalidRule(f"{key} must be a whole number from 1 to {upper}")


def _check_parts(parts: Mapping[str, str]) -> None:
    freq = parts.get("FREQ")
    if freq is None:
        raise InvalidRule("FREQ is required (DAILY, WEEKLY, MONTHLY or YEARLY)")
    if freq in TOO_FREQUENT:
        raise InvalidRule(
            f"FREQ={freq} is too frequent for a reminder; use FREQ=DAILY with BYHOUR and BYMINUTE"
        )
    if freq not in FREQUENCIES:
        raise InvalidRule(f"FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY, not {freq}")
    if parts.get("BYSECOND", "0") != "0":
        raise InvalidRule("reminders fire on the minute: BYSECOND can only be 0")
    if "COUNT" in parts and "UNTIL" in parts:
        raise InvalidRule("use COUNT or UNTIL, not both (RFC 5545)")
    _bounded_int(parts, "COUNT", MAX_COUNT)
    _bounded_int(parts, "INTERVAL", MAX_INTERVAL)


def _until(value: str, tz: ZoneInfo) -> datetime:
    """UNTIL as a wall-clock time in `tz`: a UTC time (…Z, as RFC 5545 asks when DTSTART has a
    zone) is converted; a local date-time is taken as is; a date means the end of that day."""
    try:
        if value.endswith("Z"):
            utc = datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            wall = _wall(utc, tz)
        elif len(value) == 8:
            wall = datetime.combine(datetime.strptime(value, "%Y%m%d").date(), time(23, 59, 59))
        else:
            wall = datetime.strptime(value, "%Y%m%dT%H%M%S")
    # OverflowError: a date at the edge of the calendar, moved by the zone's offset.
    except (ValueError, OverflowError):
        raise InvalidRule(
            "UNTIL must look like 20261231, 20261231T235900 or 20261231T235900Z"
        ) from None
    if wall.year > LATEST_YEAR:
        raise InvalidRule(f"UNTIL must be before {LATEST_YEAR + 1}")
    return wall


@dataclass(frozen=True, slots=True)
class Recurrence:
    """A compiled schedule. `parts` carry every default RFC 5545 would take from DTSTART made
    explicit (weekday, day of month, hour, minute), so the rule can be restarted at any later
    period boundary without changing which wall-clock times it yields."""

    parts: Mapping[str, str]
    start: datetime  # naive wall-clock time in `tz`
    until: datetime | None  # naive wall-clock time in `tz`
    tz: ZoneInfo

    @property
    def frequency(self) -> str:
        return self.parts["FREQ"]

    @property
    def interval(self) -> int:
        return int(self.parts.get("INTERVAL", "1"))

    def _rule(self, dtstart: datetime, *, years: int = 0) -> rrule:
        text = ";".join(f"{k}={v}" for k, v in self.parts.items())
        if self.until is not None:
            until = self.until.replace(year=self.until.year + years)
            text += f";UNTIL={until:%Y%m%dT%H%M%S}"
        rule = rrulestr(text, dtstart=dtstart.replace(year=dtstart.year + years))
        assert isinstance(rule, rrule)  # noqa: S101 - one RRULE line, never a set
        return rule

    def _restart(self, wall: datetime) -> datetime:
        """The latest start of a period that the original rule also starts, at or before
        `wall` (never before `start`). A counted rule always starts at `start`: COUNT counts
        from there."""
        if wall <= self.start or "COUNT" in self.parts:
            return self.start
        step, freq, first = self.interval, self.frequency, self.start
        if freq == "DAILY":
            periods = (wall.date() - first.date()).days // step * step
            begin = first.date() + timedelta(days=periods)
        elif freq == "WEEKLY":
            week_start = WEEKDAYS.index(self.parts.get("WKST", "MO"))
            first_week = first.date() - timedelta(days=(first.weekday() - week_start) % 7)
            weeks = (wall.date() - first_week).days // 7 // step * step
            begin = first_week + timedelta(weeks=weeks)
        elif freq == "MONTHLY":
            months = ((wall.year - first.year) * 12 + wall.month - first.month) // step * step
            year, month = divmod(first.year * 12 + first.month - 1 + months, 12)
            begin = date(year, month + 1, 1)
        else:
            years = (wall.year - first.year) // step * step
            begin = date(first.year + years, 1, 1)
        return max(first, datetime.combine(begin, time()))

    def occurrences_after(self, instant: datetime) -> Iterator[datetime]:
        """The instants (UTC) this schedule fires strictly after `instant`, in order. Two
        wall-clock times that land on one instant (both inside a skipped hour) fire once."""
        rule = self._rule(self._restart(_wall(instant, self.tz) - LOOKBACK))
        last = instant
        for wall in rule:
            at = to_utc(wall, self.tz)
            if at > last:
                yield at
                last = at

    def next_after(self, instant: datetime) -> datetime | None:
        return next(self.occurrences_after(instant), None)

    def upcoming(self, instant: datetime, count: int) -> list[datetime]:
        return list(itertools.islice(self.occurrences_after(instant), count))

    def catch_up(self, due_at: datetime, now: datetime) -> tuple[datetime, datetime | None]:
        """For a reminder due at `due_at` and handled at `now`: the occurrence to announce (the
        latest one that has come, so after downtime it fires once for all it missed) and the
        next one after `now` (None when the rule has ended)."""
        fire_at = due_at
        for at in self.occurrences_after(due_at):
            if at > now:
                return fire_at, at
            fire_at = at
        return fire_at, None

    def check(self, now: datetime) -> None:
        """Refuses a rule that never fires after `now` or fires more often than every 15
        minutes (in wall-clock time; a clock change may bring two closer once a year).

        The probe runs near year 9999, where dateutil stops by itself: a rule that matches no
        day at all (30 February) is found out after 200 to 600 years of periods (a few tenths
        of a second at worst), instead of a search to year 9999 from today."""
        local_now = _wall(now, self.tz)
        begin = self._restart(local_now - LOOKBACK)
        years = (_PROBE_YEAR - begin.year) // GREGORIAN_CYCLE_YEARS * GREGORIAN_CYCLE_YEARS
        walls = list(itertools.islice(self._rule(begin, years=years), SAMPLE))
        moved_now = local_now.replace(year=local_now.year + years)
        if not any(wall > moved_now for wall in walls):
            raise InvalidRule("this rule never fires again; check its days, COUNT and UNTIL")
        # BYSETPOS may keep only some of a day's times, so then only the sample can tell.
        if "BYSETPOS" not in self.parts:
            minutes = sorted(
                int(h) * 60 + int(m)
                for h in self.parts["BYHOUR"].split(",")
                for m in self.parts["BYMINUTE"].split(",")
            )
            if any(b - a < MIN_SPACING_MINUTES for a, b in itertools.pairwise(minutes)):
                raise InvalidRule(TOO_CLOSE)
        if any(b - a < MIN_SPACING for a, b in itertools.pairwise(walls)):
            raise InvalidRule(TOO_CLOSE)


def compile_rule(text: str, *, start: datetime, tz: ZoneInfo) -> Recurrence:
    """Parses an RRULE (with or without the `RRULE:` prefix) against a wall-clock `start`.
    Raises InvalidRule for anything a reminder cannot use; the values themselves are read by
    dateutil, which refuses malformed ones."""
    parts = _split(text)
    _check_parts(parts)
    until = _until(parts.pop("UNTIL"), tz) if "UNTIL" in parts else None
    try:
        rrulestr(";".join(f"{k}={v}" for k, v in parts.items()), dtstart=start)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise InvalidRule(f"not a valid RRULE: {exc}") from None
    return Recurrence(parts=_explicit(parts, start), start=start, until=until, tz=tz)


def _explicit(parts: dict[str, str], start: datetime) -> dict[str, str]:
    """The defaults RFC 5545 takes from DTSTART, written into the rule."""
    out = dict(parts)
    freq = out["FREQ"]
    if not out.keys() & {"BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY"}:
        if freq == "YEARLY":
            out.setdefault("BYMONTH", str(start.month))
            out["BYMONTHDAY"] = str(start.day)
        elif freq == "MONTHLY":
            out["BYMONTHDAY"] = str(start.day)
        elif freq == "WEEKLY":
            out["BYDAY"] = WEEKDAYS[start.weekday()]
    out.setdefault("BYHOUR", str(start.hour))
    out.setdefault("BYMINUTE", str(start.minute))
    out["BYSECOND"] = "0"
    return out
