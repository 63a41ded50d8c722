"""Quiet hours: a daily window of local wall-clock time, in the person's IANA timezone.

A window may cross midnight (22:00–07:00). Its end is found on the local calendar, so a
night across a DST change is an hour shorter or longer in UTC, as the person lives it. An end
that falls in a spring-forward gap (02:30 on the night clocks jump from 02:00 to 03:00) is
read with the offset before the jump: quiet ends just after the jump, never an hour early.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo


def quiet_until(now: datetime, timezone: str, start: time, end: time) -> datetime | None:
    """When the quiet hours that `now` falls in end (UTC), or None when `now` is not in them.
    A window whose start equals its end is empty."""
    if start == end:
        return None
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    wall = local.time().replace(tzinfo=None)
    if start < end:
        inside = start <= wall < end
        end_date = local.date()
    else:
        inside = wall >= start or wall < end
        end_date = local.date() if wall < end else local.date() + timedelta(days=1)
    if not inside:
        return None
    # fold=0: an ambiguous end (clocks going back) is its first occurrence; a non-existent one
    # (clocks going forward) takes the earlier offset, which lands after the gap.
    return datetime.combine(end_date, end, tzinfo=zone).astimezone(UTC)
