"""Every reminders query. Reads of a person's reminders start from `readable_reminders`;
row-level security stands behind it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.platform.pagination import PageParams, keyset
from mindspace.platform.security import Principal
from mindspace.reminders.models import Reminder

COLUMNS = (
    Reminder.id,
    Reminder.kind,
    Reminder.title,
    Reminder.schedule,
    Reminder.timezone,
    Reminder.enabled,
    Reminder.next_fire_at,
    Reminder.last_fired_at,
    Reminder.created_at,
    Reminder.updated_at,
)


def readable_reminders(principal: Principal) -> Select[Reminder]:
    return select(Reminder).where(Reminder.owner_id == principal.user_id)


async def read_reminder(
    session: AsyncSession, principal: Principal, reminder_id: uuid.UUID
) -> Row[Any] | None:
    stmt = (
        readable_reminders(principal).with_only_columns(*COLUMNS).where(Reminder.id == reminder_id)
    )
    return (await session.execute(stmt)).first()


async def read_page(
    session: AsyncSession, principal: Principal, params: PageParams
) -> Sequence[Row[Any]]:
    stmt = keyset(readable_reminders(principal).with_only_columns(*COLUMNS), params, Reminder.id)
    return (await session.execute(stmt)).all()


async def read_all(session: AsyncSession, principal: Principal) -> Sequence[Row[Any]]:
    stmt = readable_reminders(principal).with_only_columns(*COLUMNS).order_by(Reminder.id)
    return (await session.execute(stmt)).all()


async def lock_reminder(
    session: AsyncSession, principal: Principal, reminder_id: uuid.UUID
) -> Reminder | None:
    stmt = readable_reminders(principal).where(Reminder.id == reminder_id).with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def delete_reminder(
    session: AsyncSession, principal: Principal, reminder_id: uuid.UUID
) -> bool:
    stmt = (
        delete(Reminder)
        .where(Reminder.owner_id == principal.user_id, Reminder.id == reminder_id)
        .returning(Reminder.id)
    )
    return (await session.execute(stmt)).first() is not None


async def claim_due(session: AsyncSession, *, now: datetime, limit: int) -> Sequence[Reminder]:
    """Due reminders, locked for this transaction. Rows another worker holds are skipped, not
    waited for: that worker fires them, and they are no longer due when it commits."""
    stmt = (
        select(Reminder)
        .where(Reminder.next_fire_at <= now)
        .order_by(Reminder.next_fire_at)
        .with_for_update(skip_locked=True)
        .limit(limit)
    )
    return (await session.execute(stmt)).scalars().all()
