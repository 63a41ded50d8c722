"""Reminders' rules: a person's reminders, and the job that fires them exactly once."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.identity import service as identity_service
from mindspace.platform import outbox
from mindspace.platform.clock import utc_now
from mindspace.platform.db import Database, DbScope
from mindspace.platform.ids import new_id
from mindspace.platform.pagination import Page, PageParams, page
from mindspace.platform.security import Principal
from mindspace.reminders import repository
from mindspace.reminders.errors import InvalidSchedule, ReminderNotFound
from mindspace.reminders.events import ReminderDue
from mindspace.reminders.models import Reminder as ReminderRow
from mindspace.reminders.schedule import (
    InvalidRule,
    Recurrence,
    compile_rule,
    daily_rule,
    weekly_rule,
)
from mindspace.reminders.schemas import (
    AnySchedule,
    DailySchedule,
    Reminder,
    ReminderCreate,
    ReminderUpdate,
    RruleSchedule,
    Schedule,
    WeeklySchedule,
)

log = logging.getLogger(__name__)
UPCOMING = 5
FIRE_BATCH = 200
_SCHEDULE: TypeAdapter[AnySchedule] = TypeAdapter(Schedule)
# Simple schedules repeat every day or week from any start: one fixed Monday serves them all.
SIMPLE_START = datetime(2000, 1, 3)


def recurrence(schedule: AnySchedule, tz: str) -> Recurrence:
    """The compiled rule of a stored schedule. Raises InvalidRule."""
    zone = ZoneInfo(tz)
    if isinstance(schedule, DailySchedule):
        return compile_rule(
            daily_rule(time.fromisoformat(schedule.time)), start=SIMPLE_START, tz=zone
        )
    if isinstance(schedule, WeeklySchedule):
        days = [d[:2].upper() for d in schedule.days]
        return compile_rule(
            weekly_rule(days, time.fromisoformat(schedule.time)), start=SIMPLE_START, tz=zone
        )
    if schedule.start is None:
        raise InvalidRule("the rule has no start")
    return compile_rule(schedule.rrule, start=schedule.start, tz=zone)


def _resolved(schedule: AnySchedule, tz: str, now: datetime) -> AnySchedule:
    """The schedule as stored: an RRULE without a start starts at local midnight today."""
    if isinstance(schedule, RruleSchedule) and schedule.start is None:
        today = now.astimezone(ZoneInfo(tz)).date()
        return schedule.model_copy(update={"start": datetime.combine(today, time())})
    return schedule


async def _checked(schedule: AnySchedule, tz: str, now: datetime) -> Recurrence:
    """Compiles and bounds a schedule that is being set; bad ones are a 422 at the field."""
    pointer = "/body/schedule/rrule" if isinstance(schedule, RruleSchedule) else "/body/schedule"

    def check() -> Recurrence:
        rule = recurrence(schedule, tz)
        rule.check(now)
        return rule

    try:
        # A rule that matches no day at all takes a few tenths of a second to find out.
        if isinstance(schedule, RruleSchedule):
            return await asyncio.to_thread(check)
        return check()
    except InvalidRule as exc:
        raise InvalidSchedule(str(exc), pointer=pointer) from None


def _out(values: Mapping[str, Any]) -> Reminder:
    schedule = _SCHEDULE.validate_python(values["schedule"])
    upcoming: list[datetime] = []
    next_fire_at: datetime | None = values["next_fire_at"]
    if next_fire_at is not None:
        zone = ZoneInfo(values["timezone"])
        rule = recurrence(schedule, values["timezone"])
        following = rule.upcoming(next_fire_at, UPCOMING - 1)
        upcoming = [at.astimezone(zone) for at in (next_fire_at, *following)]
    return Reminder.model_validate({**values, "schedule": schedule, "upcoming": upcoming})


def _row_out(row: ReminderRow) -> Reminder:
    return _out({c.key: getattr(row, c.key) for c in repository.COLUMNS})


async def create_reminder(
    session: AsyncSession, principal: Principal, *, data: ReminderCreate
) -> Reminder:
    now = utc_now()
    tz = data.timezone or (await identity_service.load_me(session, principal)).timezone
    schedule = _resolved(data.schedule, tz, now)
    rule = await _checked(schedule, tz, now)
    row = ReminderRow(
        id=new_id(),
        owner_id=principal.user_id,
        kind=data.kind,
        title=data.title,
        timezone=tz,
        schedule=schedule.model_dump(mode="json"),
        enabled=data.enabled,
        next_fire_at=rule.next_after(now) if data.enabled else None,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    return _row_out(row)


async def list_reminders(
    session: AsyncSession, principal: Principal, params: PageParams
) -> Page[Reminder]:
    """The person's reminders, newest first."""
    rows = await repository.read_page(session, principal, params)
    return page([_out(dict(r._mapping)) for r in rows], params, key=lambda item: (item.id,))


async def get_reminder(
    session: AsyncSession, principal: Principal, *, reminder_id: uuid.UUID
) -> Reminder:
    row = await repository.read_reminder(session, principal, reminder_id)
    if row is None:
        raise ReminderNotFound()
    return _out(dict(row._mapping))


async def _locked(
    session: AsyncSession, principal: Principal, reminder_id: uuid.UUID
) -> ReminderRow:
    row = await repository.lock_reminder(session, principal, reminder_id)
    if row is None:
        raise ReminderNotFound()
    return row


async def update_reminder(
    session: AsyncSession, principal: Principal, *, reminder_id: uuid.UUID, changes: ReminderUpdate
) -> Reminder:
    """A new schedule or time zone is checked like a new one and moves the next firing to
    its first occurrence from now."""
    row = await _locked(session, principal, reminder_id)
    now = utc_now()
    if changes.kind is not None:
        row.kind = changes.kind
    if changes.title is not None:
        row.title = changes.title
    if changes.schedule is not None or changes.timezone is not None:
        tz = changes.timezone or row.timezone
        schedule = _resolved(changes.schedule or _SCHEDULE.validate_python(row.schedule), tz, now)
        rule = await _checked(schedule, tz, now)
        row.timezone = tz
        row.schedule = schedule.model_dump(mode="json")
        row.next_fire_at = rule.next_after(now) if row.enabled else None
    row.updated_at = now
    await session.flush()
    return _row_out(row)


async def pause_reminder(
    session: AsyncSession, principal: Principal, *, reminder_id: uuid.UUID
) -> Reminder:
    row = await _locked(session, principal, reminder_id)
    if row.enabled:
        row.enabled = False
        row.next_fire_at = None
        row.updated_at = utc_now()
        await session.flush()
    return _row_out(row)


async def resume_reminder(
    session: AsyncSession, principal: Principal, *, reminder_id: uuid.UUID
) -> Reminder:
    """Resumes from now: what fell due while paused does not fire."""
    row = await _locked(session, principal, reminder_id)
    if not row.enabled:
        now = utc_now()
        row.enabled = True
        row.next_fire_at = recurrence(
            _SCHEDULE.validate_python(row.schedule), row.timezone
        ).next_after(now)
        row.updated_at = now
        await session.flush()
    return _row_out(row)


async def delete_reminder(
    session: AsyncSession, principal: Principal, *, reminder_id: uuid.UUID
) -> None:
    if not await repository.delete_reminder(session, principal, reminder_id):
        raise ReminderNotFound()


async def export_reminders(session: AsyncSession, principal: Principal) -> dict[str, Any]:
    rows = await repository.read_all(session, principal)
    return {"reminders": [_out(dict(r._mapping)).model_dump(mode="json") for r in rows]}


def _fire(session: AsyncSession, row: ReminderRow, now: datetime) -> bool:
    due_at = row.next_fire_at
    assert due_at is not None  # noqa: S101 - claimed because it is due
    try:
        rule = recurrence(_SCHEDULE.validate_python(row.schedule), row.timezone)
    except (InvalidRule, ValueError, KeyError):
        # Stored rules were checked when set; one that no longer compiles (a zone gone from
        # the tz database) must not be retried every minute forever.
        log.exception("reminder schedule no longer compiles", extra={"reminder_id": str(row.id)})
        row.next_fire_at = None
        return False
    fire_at, row.next_fire_at = rule.catch_up(due_at, now)
    row.last_fired_at = now
    outbox.publish(
        session,
        ReminderDue(
            reminder_id=row.id,
            owner_id=row.owner_id,
            kind=row.kind,
            title=row.title,
            fire_at=fire_at,
        ),
        owner_id=row.owner_id,
    )
    return True


async def fire_due_reminders(
    db: Database, *, now: datetime | None = None, batch: int = FIRE_BATCH
) -> int:
    """The periodic job's body: every due reminder publishes one ReminderDue and moves to its
    next occurrence after now, in one transaction per batch. Workers running this at once
    share the work (SKIP LOCKED) and each occurrence is announced once. Returns how many
    fired."""
    fired = 0
    while True:
        moment = now or utc_now()
        async with db.session(None, scope=DbScope.system) as session:
            due = await repository.claim_due(session, now=moment, limit=batch)
            fired += sum(_fire(session, row, moment) for row in due)
        if len(due) < batch:
            return fired
