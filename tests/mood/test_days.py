"""Local days and streaks: day boundaries, DST edges, gaps and freezes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from mindspace.mood.days import day_start, local_day, streak

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def days(first: date, count: int) -> list[date]:
    return [first + timedelta(days=i) for i in range(count)]


@pytest.mark.parametrize(
    ("instant", "zone", "boundary", "expected"),
    [
        # 02:00 with a boundary of 4 belongs to the day before.
        (utc(2026, 3, 10, 2, 0), ZoneInfo("UTC"), 4, date(2026, 3, 9)),
        (utc(2026, 3, 10, 4, 0), ZoneInfo("UTC"), 4, date(2026, 3, 10)),
        (utc(2026, 3, 10, 3, 59), ZoneInfo("UTC"), 4, date(2026, 3, 9)),
        (utc(2026, 3, 10, 23, 59), ZoneInfo("UTC"), 0, date(2026, 3, 10)),
        # Kolkata is UTC+5:30: 22:00 UTC is 03:30 the next local morning, before the boundary.
        (utc(2026, 3, 10, 22, 0), KOLKATA, 4, date(2026, 3, 10)),
        (utc(2026, 3, 10, 23, 0), KOLKATA, 4, date(2026, 3, 11)),
        # London springs forward on 2026-03-29 at 01:00 UTC (01:00 -> 02:00 local).
        (utc(2026, 3, 29, 0, 59), LONDON, 1, date(2026, 3, 28)),  # 00:59 GMT
        (utc(2026, 3, 29, 1, 0), LONDON, 1, date(2026, 3, 29)),  # 02:00 BST, 01:00 skipped
        (utc(2026, 3, 29, 2, 30), LONDON, 4, date(2026, 3, 28)),  # 03:30 BST
        (utc(2026, 3, 29, 3, 0), LONDON, 4, date(2026, 3, 29)),  # 04:00 BST
        # New York falls back on 2026-11-01: 01:00-02:00 local happens twice.
        (utc(2026, 11, 1, 5, 30), NEW_YORK, 1, date(2026, 11, 1)),  # first 01:30 (EDT)
        (utc(2026, 11, 1, 6, 30), NEW_YORK, 1, date(2026, 11, 1)),  # second 01:30 (EST)
        (utc(2026, 11, 1, 4, 59), NEW_YORK, 1, date(2026, 10, 31)),  # 00:59 EDT
    ],
)
def test_local_day(instant: datetime, zone: ZoneInfo, boundary: int, expected: date) -> None:
    assert local_day(instant, zone, boundary) == expected


@pytest.mark.parametrize("zone", [LONDON, NEW_YORK, KOLKATA, ZoneInfo("UTC")])
@pytest.mark.parametrize("boundary", [0, 1, 2, 4, 23])
def test_day_start_is_the_first_instant_of_its_local_day_across_a_year(
    zone: ZoneInfo, boundary: int
) -> None:
    for day in days(date(2026, 1, 1), 365):
        start = day_start(day, zone, boundary)
        assert local_day(start, zone, boundary) == day
        assert local_day(start - timedelta(seconds=1), zone, boundary) == day - timedelta(days=1)


def test_no_check_ins_is_no_streak() -> None:
    result = streak([], today=date(2026, 5, 10))
    assert (result.current, result.longest, result.total_days, result.last_day) == (0, 0, 0, None)


def test_today_not_yet_checked_in_keeps_the_run_alive() -> None:
    result = streak(days(date(2026, 5, 1), 9), today=date(2026, 5, 10))
    assert (result.current, result.longest, result.total_days) == (9, 9, 9)


def test_a_missed_day_ends_the_run_but_keeps_history() -> None:
    checked = [*days(date(2026, 5, 1), 5), *days(date(2026, 5, 7), 3)]  # 5/6 missed
    result = streak(checked, today=date(2026, 5, 9))
    assert (result.current, result.longest, result.total_days) == (3, 5, 8)


def test_missing_yesterday_too_ends_the_current_run() -> None:
    result = streak(days(date(2026, 5, 1), 5), today=date(2026, 5, 7))
    assert (result.current, result.longest, result.total_days) == (0, 5, 5)


def test_future_days_are_ignored() -> None:
    result = streak([date(2026, 5, 1), date(2026, 6, 1)], today=date(2026, 5, 1))
    assert (result.current, result.total_days) == (1, 1)


def test_a_freeze_bridges_a_one_day_gap() -> None:
    checked = [*days(date(2026, 5, 1), 5), *days(date(2026, 5, 7), 3)]
    result = streak(checked, today=date(2026, 5, 9), freezes_per_month=1)
    assert (result.current, result.longest, result.total_days) == (8, 8, 8)
    assert result.frozen_days == (date(2026, 5, 6),)


def test_a_gap_longer_than_the_allowance_spends_nothing() -> None:
    # 3 missed days with 2 freezes: not bridged, and the freezes stay for the later 1-day gap.
    checked = [
        *days(date(2026, 5, 1), 2),
        *days(date(2026, 5, 6), 2),  # 5/3-5/5 missed
        *days(date(2026, 5, 9), 2),  # 5/8 missed
    ]
    result = streak(checked, today=date(2026, 5, 10), freezes_per_month=2)
    assert result.frozen_days == (date(2026, 5, 8),)
    assert (result.current, result.longest) == (4, 4)


def test_the_allowance_is_per_month() -> None:
    # Two one-day gaps in May, one in June, with one freeze a month: the second May gap breaks.
    checked = [
        date(2026, 5, 1),
        date(2026, 5, 3),  # 5/2 frozen
        date(2026, 5, 5),  # 5/4: May's freeze is spent
        date(2026, 5, 6),
        date(2026, 6, 2),
        date(2026, 6, 4),  # 6/3 frozen with June's
    ]
    result = streak(checked, today=date(2026, 6, 4), freezes_per_month=1)
    assert result.frozen_days == (date(2026, 5, 2), date(2026, 6, 3))
    assert (result.current, result.longest, result.total_days) == (2, 2, 6)


def test_a_gap_across_a_month_end_uses_each_months_allowance() -> None:
    checked = [date(2026, 5, 30), date(2026, 6, 2)]  # 5/31 and 6/1 missed
    result = streak(checked, today=date(2026, 6, 2), freezes_per_month=1)
    assert result.frozen_days == (date(2026, 5, 31), date(2026, 6, 1))
    assert result.current == 2


def test_freezes_bridge_the_days_up_to_yesterday() -> None:
    result = streak(days(date(2026, 5, 1), 5), today=date(2026, 5, 8), freezes_per_month=2)
    assert result.frozen_days == (date(2026, 5, 6), date(2026, 5, 7))
    assert result.current == 5
