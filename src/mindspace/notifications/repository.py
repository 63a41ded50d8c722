"""Every query of the notifications tables. Reads of a person's rows start from `readable_*`."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.notifications.models import Notification, PushSubscription
from mindspace.platform.clock import utc_now
from mindspace.platform.db import ReadConnection, driver_sql
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


def _page_sql(*, after: bool, unread: bool) -> str:
    stmt = select(*NOTIFICATION_COLUMNS).where(Notification.owner_id == bindparam("owner"))
    if unread:
        stmt = stmt.where(Notification.read_at.is_(None))
    if after:
        stmt = stmt.where(Notification.id < bindparam("after"))
    return driver_sql(stmt.order_by(Notification.id.desc()).limit(bindparam("limit")))


# The inbox is read far more often than it is written (every app open, every badge): its
# pages and its count are compiled once and run on the driver connection.
_PAGE_SQL = {(a, u): _page_sql(after=a, unread=u) for a in (False, True) for u in (False, True)}
_UNREAD_SQL = driver_sql(
    select(func.count()).where(
        Notification.owner_id == bindparam("owner"), Notification.read_at.is_(None)
    )
)


async def read_page(
    reader: ReadConnection,
    principal: Principal,
    *,
    after: uuid.UUID | None,
    limit: int,
    unread_only: bool,
) -> list[Any]:
    sql = _PAGE_SQL[(after is not None, unread_only)]
    args = (principal.user_id, after, limit) if after is not None else (principal.user_id, limit)
    return list(await reader.fetch(sql, *args))


async def read_unread_count(reader: ReadConnection, principal: Principal) -> int:
    row = await reader.fetchrow(_UNREAD_SQL, principal.user_id)
    return int(row["count_1"]) if row else 0


def readable_push_subscriptions(principal: Principal) -> Select[Any]:
    return select(PushSubscription).where(PushSubscription.owner_id == principal.user_id)


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
