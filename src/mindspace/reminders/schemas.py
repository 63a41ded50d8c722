from __future__ import annotations

import uuid
import zoneinfo
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints, field_validator

from mindspace.platform.ids import PublicId
from mindspace.platform.schemas import InputModel, OutputModel
from mindspace.reminders.schedule import LATEST_YEAR

ReminderId = Annotated[uuid.UUID, PublicId("rem", "reminder")]
ReminderKind = Literal["mood_checkin", "meditation", "journal", "habit", "custom"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
EARLIEST_YEAR = 2000

ClockTime = Annotated[
    str,
    StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$"),
    Field(description="Local wall-clock time, 24-hour HH:MM", examples=["20:00"]),
]
Title = Annotated[
    str,
    StringConstraints(min_length=1, max_length=80),
    Field(
        description="Shown in the notification, perhaps on a lock screen: keep it short and "
        "free of anything private",
        examples=["Evening check-in"],
    ),
]


def _valid_timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    # OSError: a region folder such as "Europe" is a directory in the tz database, not a zone.
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError("not an IANA time zone, e.g. Europe/London") from None
    return value


Timezone = Annotated[
    str,
    StringConstraints(max_length=64),
    AfterValidator(_valid_timezone),
    Field(examples=["Europe/London"]),
]


class DailySchedule(InputModel):
    """Every day at one local time."""

    type: Literal["daily"]
    time: ClockTime


class WeeklySchedule(InputModel):
    """On some days of the week at one local time."""

    type: Literal["weekly"]
    days: Annotated[list[Weekday], Field(min_length=1, max_length=7, examples=[["mon", "fri"]])]
    time: ClockTime

    @field_validator("days")
    @classmethod
    def _in_week_order(cls, days: list[str]) -> list[str]:
        return sorted(set(days), key=WEEK.index)


class RruleSchedule(InputModel):
    """Any RFC 5545 recurrence rule (DAILY, WEEKLY, MONTHLY or YEARLY; at most one firing
    every 15 minutes), read in the reminder's time zone from `start`."""

    type: Literal["rrule"]
    rrule: Annotated[
        str,
        StringConstraints(min_length=1, max_length=500),
        Field(
            description="The RRULE value, e.g. FREQ=MONTHLY;BYDAY=1SU;BYHOUR=10;BYMINUTE=0. "
            "Hour, minute, weekday or day of month left out come from `start`. UNTIL may be "
            "UTC (…Z) or local; COUNT counts from `start`.",
            examples=["FREQ=WEEKLY;INTERVAL=2;BYDAY=SA;BYHOUR=9;BYMINUTE=30"],
        ),
    ]
    start: datetime | None = Field(
        default=None,
        description="DTSTART as local wall-clock time without an offset. Defaults to midnight "
        "(local) on the day the schedule is set; the answer shows the value used.",
        examples=["2026-12-01T09:00:00"],
    )

    @field_validator("start")
    @classmethod
    def _wall_clock(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            raise ValueError("give local wall-clock time without an offset; set `timezone`")
        if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
            raise ValueError(f"must be between {EARLIEST_YEAR} and {LATEST_YEAR}")
        return value.replace(second=0, microsecond=0)


AnySchedule = DailySchedule | WeeklySchedule | RruleSchedule
Schedule = Annotated[AnySchedule, Field(discriminator="type")]


class ReminderCreate(InputModel):
    kind: ReminderKind
    title: Title
    schedule: Schedule
    timezone: Timezone | None = Field(
        default=None, description="IANA zone; defaults to the time zone in your profile"
    )
    enabled: bool = True


class ReminderUpdate(InputModel):
    """Fields left out keep their value. A new schedule or time zone moves the next firing."""

    kind: ReminderKind | None = None
    title: Title | None = None
    schedule: Schedule | None = None
    timezone: Timezone | None = None

    @field_validator("kind", "title", "schedule", "timezone")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("cannot be null; leave the field out to keep it")
        return value


class Reminder(OutputModel):
    id: ReminderId
    kind: ReminderKind
    title: str
    schedule: Schedule
    timezone: str
    enabled: bool
    next_fire_at: datetime | None = Field(
        description="UTC. None while paused or once the rule has ended. After downtime a "
        "reminder that missed several occurrences fires once, then keeps its schedule."
    )
    upcoming: list[datetime] = Field(
        description="The next few firings in the reminder's local time (with offset)"
    )
    last_fired_at: datetime | None
    created_at: datetime
    updated_at: datetime
