"""Every query of the notifications tables. Reads of a person's rows start from `readable_*`."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.notifications.models import Notification, PushSubscription
from mindspace.platform.clock import utc_now
from mindspace.platform.security import Principal

NOTIFICATION_COLUMNS = (
    Notification.id,
    Notification.category,
    Notification.kind,
    Notification.title,
    Notification.body,
    Notification.data,
    Notification.link,
    Notification.created_at,
    Notification.read_at,
)


def readable_notifications(principal: Principal) -> Select[Any]:
    return select(*NOTIFICATION_COLUMNS).where(Notification.owner_id == principal.user_id)


def readable_push_subscriptions(principal: Principal) -> Select[Any]:
    return select(PushSubscription).where(PushSubscription.owner_id == principal.user_id)


async def count_unread(session: AsyncSession, principal: Principal) -> int:
    stmt = select(func.count()).where(
        Notification.owner_id == principal.user_id, Notification.read_at.is_(None)
    )
    return int((await session.execute(stmt)).scalar_one())


async def mark_read(
    session: AsyncSession, principal: Principal, notification_id: uuid.UUID
) -> bool:
    """True when the notification is the principal's (read now, or already)."""
    stmt = (
        update(Notification)
        .where(Notification.owner_id == principal.user_id, Notification.id == notification_id)
        .values(read_at=func.coalesce(Notification.read_at, utc_now()))
    )
    result = await session.execute(stmt)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def mark_all_read(session: AsyncSession, principal: Principal) -> int:
    stmt = (
        update(Notification)
        .where(Notification.owner_id == principal.user_id, Notification.read_at.is_(None))
        .values(read_at=utc_now())
    )
    return int((await session.execute(stmt)).rowcount)  # type: ignore[attr-defined]


async def delete_notification(
    session: AsyncSession, principal: Principal, notification_id: uuid.UUID
) -> bool:
    stmt = delete(Notification).where(
        Notification.owner_id == principal.user_id, Notification.id == notification_id
    )
    return bool((await session.execute(stmt)).rowcount)  # type: ignore[attr-defined]
