"""The pure schedule rules: local wall-clock times across clock changes, and what is refused."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr

from mindspace.reminders.schedule import (
    InvalidRule,
    compile_rule,
    daily_rule,
    to_utc,
    weekly_rule,
)

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
START = datetime(2026, 1, 1)
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_20_00_in_london_is_20_00_local_on_both_sides_of_both_clock_changes() -> None:
    rule = compile_rule(daily_rule(time(20, 0)), start=START, tz=LONDON)
    # Clocks go forward on 29 March 2026 and back on 25 October 2026.
    assert rule.upcoming(utc(2026, 3, 27), 4) == [
        utc(2026, 3, 27, 20),
        utc(2026, 3, 28, 20),
        utc(2026, 3, 29, 19),
        utc(2026, 3, 30, 19),
    ]
    assert rule.upcoming(utc(2026, 10, 24), 3) == [
        utc(2026, 10, 24, 19),
        utc(2026, 10, 25, 20),
        utc(2026, 10, 26, 20),
    ]
    assert all(at.astimezone(LONDON).time() == time(20) for at in rule.upcoming(NOW, 400))


def test_20_00_in_new_york_follows_the_us_clock_changes() -> None:
    rule = compile_rule(daily_rule(time(20, 0)), start=START, tz=NEW_YORK)
    # US clocks change on 8 March and 1 November 2026.
    assert rule.upcoming(utc(2026, 3, 7, 12), 3) == [
        utc(2026, 3, 8, 1),  # 20:00 EST on the 7th
        utc(2026, 3, 9, 0),  # 20:00 EDT on the 8th
        utc(2026, 3, 10, 0),
    ]
    assert rule.upcoming(utc(2026, 10, 31, 12), 3) == [
        utc(2026, 11, 1, 0),  # 20:00 EDT on 31 October
        utc(2026, 11, 2, 1),  # 20:00 EST on 1 November
        utc(2026, 11, 3, 1),
    ]


def test_a_time_the_clocks_skip_fires_at_the_jump() -> None:
    rule = compile_rule("FREQ=DAILY;BYHOUR=2;BYMINUTE=30", start=START, tz=NEW_YORK)
    assert rule.upcoming(utc(2026, 3, 7), 3) == [
        utc(2026, 3, 7, 7, 30),  # 02:30 EST
        utc(2026, 3, 8, 7, 0),  # 02:30 does not exist: 03:00 EDT, the moment 02:00 became 03:00
        utc(2026, 3, 9, 6, 30),  # 02:30 EDT
    ]
    assert to_utc(datetime(2026, 3, 8, 2, 30), NEW_YORK).astimezone(NEW_YORK).time() == time(3)


def test_a_time_that_happens_twice_fires_once_the_first_time() -> None:
    rule = compile_rule("FREQ=DAILY;BYHOUR=1;BYMINUTE=30", start=START, tz=NEW_YORK)
    first = utc(2026, 11, 1, 5, 30)  # 01:30 EDT; 01:30 EST (06:30 UTC) does not fire
    assert rule.upcoming(utc(2026, 10, 31, 12), 2) == [first, utc(2026, 11, 2, 6, 30)]
    # Asked between the two 01:30s, the next firing is the following day's.
    assert rule.next_after(utc(2026, 11, 1, 5, 45)) == utc(2026, 11, 2, 6, 30)


def test_two_skipped_times_landing_on_the_same_instant_fire_once() -> None:
    rule = compile_rule("FREQ=DAILY;BYHOUR=2,3;BYMINUTE=0", start=START, tz=NEW_YORK)
    got = rule.upcoming(utc(2026, 3, 8, 5), 2)
    assert got == [utc(2026, 3, 8, 7), utc(2026, 3, 9, 6)]


def test_weekly_on_chosen_days() -> None:
    rule = compile_rule(weekly_rule(["MO", "WE", "FR"], time(7, 30)), start=START, tz=LONDON)
    got = rule.upcoming(utc(2026, 11, 30), 4)  # a Monday, in GMT
    assert [at.strftime("%a %H:%M") for at in got] == [
        "Mon 07:30",
        "Wed 07:30",
        "Fri 07:30",
        "Mon 07:30",
    ]


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR;BYHOUR=9;BYMINUTE=15", datetime(2019, 6, 5, 8)),
        ("FREQ=WEEKLY;INTERVAL=3;WKST=SU;BYDAY=SU,SA", datetime(2020, 2, 29, 21, 45)),
        ("FREQ=DAILY;INTERVAL=3", datetime(2018, 12, 31, 7, 5)),
        ("FREQ=MONTHLY;INTERVAL=5", datetime(2015, 1, 31, 18)),
        ("FREQ=MONTHLY;BYDAY=-1FR;BYHOUR=17;BYMINUTE=0", datetime(2016, 3, 1)),
        ("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", datetime(2017, 8, 9, 16, 30)),
        ("FREQ=YEARLY;INTERVAL=2", datetime(2012, 2, 29, 9)),
        ("FREQ=YEARLY;BYWEEKNO=1,53;BYDAY=MO", datetime(2014, 5, 5, 6)),
    ],
)
def test_restarting_a_long_running_rule_changes_nothing(text: str, start: datetime) -> None:
    """Computations restart the rule near the asked instant; the answers must be those of the
    rule run from its own start."""
    rule = compile_rule(text, start=start, tz=ZoneInfo("UTC"))
    explicit = ";".join(f"{k}={v}" for k, v in rule.parts.items())
    plain = rrulestr(explicit, dtstart=start)
    for instant in (utc(2021, 1, 1), utc(2026, 7, 14, 9, 15), utc(2031, 12, 31, 23)):
        expected = plain.xafter(instant.replace(tzinfo=None), count=6)
        assert [a.replace(tzinfo=None) for a in rule.upcoming(instant, 6)] == list(expected)


def test_the_defaults_come_from_the_start_as_in_rfc_5545() -> None:
    rule = compile_rule("FREQ=MONTHLY", start=datetime(2026, 1, 15, 8, 45), tz=LONDON)
    assert [at.astimezone(LONDON).strftime("%d %H:%M") for at in rule.upcoming(NOW, 2)] == [
        "15 08:45",
        "15 08:45",
    ]


def test_after_downtime_a_reminder_fires_once_then_keeps_its_schedule() -> None:
    rule = compile_rule(daily_rule(time(20, 0)), start=START, tz=LONDON)
    due = utc(2026, 11, 27, 20)
    now = utc(2026, 11, 30, 21, 5)  # three days down
    assert rule.catch_up(due, now) == (utc(2026, 11, 30, 20), utc(2026, 12, 1, 20))
    # On time: announces the occurrence that came due.
    assert rule.catch_up(due, due + timedelta(seconds=30)) == (due, utc(2026, 11, 28, 20))


def test_a_rule_that_ends_has_no_next_firing() -> None:
    rule = compile_rule("FREQ=DAILY;COUNT=2;BYHOUR=9;BYMINUTE=0", start=START, tz=LONDON)
    assert rule.upcoming(utc(2025, 12, 31), 5) == [utc(2026, 1, 1, 9), utc(2026, 1, 2, 9)]
    assert rule.next_after(utc(2026, 1, 2, 9)) is None
    assert rule.catch_up(utc(2026, 1, 2, 9), utc(2026, 1, 3)) == (utc(2026, 1, 2, 9), None)


def test_until_in_utc_is_read_in_the_reminders_zone() -> None:
    rule = compile_rule(
        "FREQ=DAILY;UNTIL=20261203T010000Z;BYHOUR=20;BYMINUTE=0", start=START, tz=NEW_YORK
    )
    # 01:00 UTC on the 3rd is 20:00 EST on the 2nd: that one is the last.
    assert rule.upcoming(utc(2026, 12, 1, 2), 5) == [utc(2026, 12, 2, 1), utc(2026, 12, 3, 1)]
    by_date = compile_rule("FREQ=DAILY;UNTIL=20261202;BYHOUR=20", start=START, tz=NEW_YORK)
    assert by_date.upcoming(utc(2026, 12, 1, 2), 5) == [utc(2026, 12, 2, 1), utc(2026, 12, 3, 1)]


def test_the_rrule_prefix_and_lower_case_are_accepted() -> None:
    rule = compile_rule("RRULE:freq=weekly;byday=tu;byhour=18", start=START, tz=LONDON)
    rule.check(NOW)
    assert rule.next_after(NOW) == utc(2026, 12, 1, 18)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("FREQ=HOURLY", "too frequent"),
        ("FREQ=MINUTELY;INTERVAL=30", "too frequent"),
        ("FREQ=SECONDLY", "too frequent"),
        ("FREQ=FORTNIGHTLY", "must be DAILY"),
        ("BYHOUR=9", "FREQ is required"),
        ("FREQ=DAILY;BYMINUTE=0,10", "once every 15 minutes"),
        ("FREQ=DAILY;BYHOUR=23,0;BYMINUTE=55,5", "once every 15 minutes"),
        ("FREQ=DAILY;BYSECOND=30", "BYSECOND"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "never fires"),
        ("FREQ=DAILY;BYMONTH=4;BYMONTHDAY=31", "never fires"),
        ("FREQ=DAILY;UNTIL=20250101T000000Z", "never fires"),
        ("FREQ=DAILY;COUNT=3", "never fires"),
        ("FREQ=DAILY;COUNT=0", "COUNT must be"),
        ("FREQ=DAILY;INTERVAL=x", "INTERVAL must be"),
        ("FREQ=DAILY;COUNT=2;UNTIL=20270101", "not both"),
        ("FREQ=DAILY;UNTIL=tomorrow", "UNTIL must look like"),
        ("FREQ=DAILY;UNTIL=29991231", "UNTIL must be before"),
        ("FREQ=DAILY;BYHOUR=24", "not a valid RRULE"),
        ("FREQ=WEEKLY;BYDAY=XX", "not a valid RRULE"),
        ("FREQ=DAILY;BYEASTER=0", "not supported"),
        ("FREQ=DAILY;FREQ=WEEKLY", "twice"),
        ("FREQ=DAILY;;", "NAME=VALUE"),
        ("DTSTART:20260101T000000\nRRULE:FREQ=DAILY", "one RRULE value"),
        ("", "one RRULE value"),
    ],
)
def test_rules_a_reminder_cannot_use_are_refused_with_a_reason(text: str, says: str) -> None:
    with pytest.raises(InvalidRule, match=says):
        compile_rule(text, start=START, tz=LONDON).check(NOW)


def test_hourly_through_daily_is_allowed_at_15_minute_spacing() -> None:
    rule = compile_rule("FREQ=DAILY;BYHOUR=9,10;BYMINUTE=0,15,30,45", start=START, tz=LONDON)
    rule.check(NOW)
    assert len(rule.upcoming(NOW, 8)) == 8


def test_a_half_hour_clock_change_is_handled_like_any_other() -> None:
    lord_howe = ZoneInfo("Australia/Lord_Howe")  # 02:00 becomes 02:30 on 4 October 2026
    skipped = to_utc(datetime(2026, 10, 4, 2, 15), lord_howe)
    assert skipped.astimezone(lord_howe).replace(tzinfo=None) == datetime(2026, 10, 4, 2, 30)
    assert to_utc(datetime(2026, 10, 4, 2, 45), lord_howe) - skipped == timedelta(minutes=15)


def test_a_zone_without_clock_changes_is_a_fixed_offset() -> None:
    kolkata = ZoneInfo("Asia/Kolkata")
    rule = compile_rule(daily_rule(time(8, 0)), start=START, tz=kolkata)
    assert {at.time() for at in rule.upcoming(NOW, 365)} == {time(2, 30)}
