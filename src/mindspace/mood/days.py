"""Calendar rules for a person's days: which local day an instant belongs to, and streaks.

A person's day runs from `day_boundary_hour` to the same hour the next morning, on the wall
clock of their timezone: a check-in at 02:00 with a boundary of 4 belongs to the day before.
Working on the wall clock (not on elapsed hours) keeps the rule true across DST changes.
Pure: no I/O, so every edge is a fast unit test.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

ONE_DAY = timedelta(days=1)


def local_day(instant: datetime, zone: ZoneInfo, boundary_hour: int) -> date:
    return local_day_and_hour(instant, zone, boundary_hour)[0]


def local_day_and_hour(instant: datetime, zone: ZoneInfo, boundary_hour: int) -> tuple[date, int]:
    """The local day, and the wall-clock hour (for time-of-day patterns), in one conversion."""
    wall = instant.astimezone(zone).replace(tzinfo=None)
    return (wall - timedelta(hours=boundary_hour)).date(), wall.hour


def day_start(day: date, zone: ZoneInfo, boundary_hour: int) -> datetime:
    """The UTC instant a local day begins. On a DST gap the wall clock skips the boundary hour;
    zoneinfo then maps it forward, which is still inside the right day."""
    return datetime.combine(day, time(boundary_hour), tzinfo=zone).astimezone(UTC)


def month_key(day: date) -> tuple[int, int]:
    return day.year, day.month


@dataclass(frozen=True, slots=True)
class StreakSummary:
    """Compassionate by design: a missed day ends a run but never erases the history; runs and
    totals count only days checked in, and freeze days only bridge a gap."""

    current: int
    longest: int
    total_days: int
    frozen_days: tuple[date, ...]
    last_day: date | None


def streak(checked_in: Iterable[date], *, today: date, freezes_per_month: int = 0) -> StreakSummary:
    """Runs of consecutive checked-in days. A gap is bridged when every missed day in it can be
    covered by that month's freeze allowance (so an allowance is never spent on a gap it cannot
    close). Today not being checked in yet does not break the current run: the day is open."""
    days = sorted({d for d in checked_in if d <= today})
    if not days:
        return StreakSummary(0, 0, 0, (), None)
    spent: Counter[tuple[int, int]] = Counter()
    frozen: list[date] = []

    def bridge(first_missed: date, last_missed: date) -> bool:
        missed = [first_missed + ONE_DAY * i for i in range((last_missed - first_missed).days + 1)]
        need = Counter(month_key(d) for d in missed)
        if any(spent[m] + n > freezes_per_month for m, n in need.items()):
            return False
        spent.update(need)
        frozen.extend(missed)
        return True

    longest = run = 1
    for previous, day in itertools.pairwise(days):
        if day - previous == ONE_DAY or bridge(previous + ONE_DAY, day - ONE_DAY):
            run += 1
        else:
            run = 1
        longest = max(longest, run)
    last = days[-1]
    # Yesterday is the last day that must be covered; today is still open.
    alive = last >= today - ONE_DAY or bridge(last + ONE_DAY, today - ONE_DAY)
    return StreakSummary(
        current=run if alive else 0,
        longest=longest,
        total_days=len(days),
        frozen_days=tuple(frozen),
        last_day=last,
    )
