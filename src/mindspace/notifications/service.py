"""Notifications' rules: `notify()` for the other domains, the inbox, quiet hours, push
subscriptions and admin broadcasts. Other domains import from here only."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.identity import service as identity

# Re-exported: what callers of notify() need to name a category.
from mindspace.identity.service import CRITICAL_CATEGORIES as CRITICAL_CATEGORIES
from mindspace.identity.service import NotificationCategory as NotificationCategory
from mindspace.notifications import kinds, repository
from mindspace.notifications.errors import (
    BroadcastNotFound,
    InvalidPushEndpoint,
    NotificationNotFound,
    PushNotConfigured,
    PushSubscriptionNotFound,
)
from mindspace.notifications.events import BroadcastQueued, NotificationRequested
from mindspace.notifications.kinds import KINDS as KINDS
from mindspace.notifications.kinds import InvalidNotification as InvalidNotification
from mindspace.notifications.models import (
    Broadcast,
    Notification,
    NotificationDelivery,
    NotificationSettings,
    PushSubscription,
)
from mindspace.notifications.schemas import (
    BroadcastCreate,
    BroadcastOut,
    MarkedRead,
    NotificationOut,
    PushConfig,
    PushSubscriptionCreate,
    PushSubscriptionOut,
    QuietHours,
    QuietHoursUpdate,
    UnreadCount,
)
from mindspace.platform import outbox
from mindspace.platform.audit import Origin, admin_session
from mindspace.platform.db import Database, DbScope, ReadConnection
from mindspace.platform.pagination import InvalidCursor, Page, PageParams, decode_cursor, page
from mindspace.platform.security import Principal

CATEGORIES = tuple(NotificationCategory)


def notify(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    category: NotificationCategory,
    kind: str,
    data: Mapping[str, Any] | None = None,
) -> uuid.UUID:
    """Tells a person something happened, as part of the caller's transaction: the inbox
    entry and the deliveries exist if and only if the caller commits.

    `kind` is one of `KINDS` and `data` holds only that kind's whitelisted fields (ids to open
    the thing; a short label shown in the inbox). Wrong ones raise InvalidNotification here,
    in the caller. What goes out by email, push or SMS never contains `data`. Returns the
    notification's id (its inbox entry has it when the person has in-app on for `category`).
    """
    clean = kinds.validate(category, kind, dict(data or {}))
    event = NotificationRequested(user_id=user_id, category=category.value, kind=kind, data=clean)
    return outbox.publish(session, event, owner_id=user_id)


# --- the inbox --------------------------------------------------------------------------------


async def list_notifications(
    reader: ReadConnection, principal: Principal, *, params: PageParams, unread_only: bool = False
) -> Page[NotificationOut]:
    """Newest first."""
    after = decode_cursor(params.cursor, 1)[0] if params.cursor else None
    if after is not None and not isinstance(after, uuid.UUID):
        raise InvalidCursor("Start again from the first page.")
    rows = await repository.read_page(
        reader, principal, after=after, limit=params.limit + 1, unread_only=unread_only
    )
    items = [NotificationOut.model_validate(dict(r)) for r in rows]
    return page(items, params, key=lambda n: (n.id,))


async def unread_count(reader: ReadConnection, principal: Principal) -> UnreadCount:
    return UnreadCount(unread=await repository.read_unread_count(reader, principal))


async def mark_read(
    session: AsyncSession, principal: Principal, *, notification_id: uuid.UUID
) -> NotificationOut:
    if not await repository.mark_read(session, principal, notification_id):
        raise NotificationNotFound()
    stmt = repository.readable_notifications(principal).where(Notification.id == notification_id)
    return NotificationOut.model_validate((await session.execute(stmt)).one()._mapping)


async def mark_all_read(session: AsyncSession, principal: Principal) -> MarkedRead:
    return MarkedRead(marked=await repository.mark_all_read(session, principal))


async def delete_notification(
    session: AsyncSession, principal: Principal, *, notification_id: uuid.UUID
) -> None:
    """Removes it from the inbox. A delivery still on its way keeps going: it carries no
    content, and the person asked to be told."""
    if not await repository.delete_notification(session, principal, notification_id):
        raise NotificationNotFound()


# --- quiet hours ------------------------------------------------------------------------------


async def get_quiet_hours(session: AsyncSession, principal: Principal) -> QuietHours:
    me = await identity.load_me(session, principal)
    row = (
        await session.execute(
            select(NotificationSettings).where(NotificationSettings.owner_id == principal.user_id)
        )
    ).scalar_one_or_none()
    start, end = (row.quiet_start, row.quiet_end) if row else (None, None)
    return QuietHours(start=start, end=end, timezone=me.timezone)


async def set_quiet_hours(
    session: AsyncSession, principal: Principal, *, changes: QuietHoursUpdate
) -> QuietHours:
    """Non-critical email, push and SMS are held between `start` and `end` (local time) and
    arrive as one digest when they end; security, crisis follow-ups and payments never wait."""
    values = {"quiet_start": changes.start, "quiet_end": changes.end}
    await session.execute(
        insert(NotificationSettings)
        .values(owner_id=principal.user_id, **values)
        .on_conflict_do_update(index_elements=[NotificationSettings.owner_id], set_=values)
    )
    return await get_quiet_hours(session, principal)


# --- push subscriptions -----------------------------------------------------------------------


def push_config(public_key: str | None) -> PushConfig:
    return PushConfig(enabled=public_key is not None, public_key=public_key)


async def subscribe_push(
    db: Database,
    principal: Principal,
    *,
    subscription: PushSubscriptionCreate,
    user_agent: str | None,
    push_enabled: bool,
    allow_private: bool = False,
) -> PushSubscriptionOut:
    """Stores a browser's subscription for the signed-in person. A browser has one endpoint,
    known only to it and its push service; when a different person signs in on it, the
    endpoint moves to them (the earlier person must not get the new one's notifications)."""
    if not push_enabled:
        raise PushNotConfigured()
    endpoint = str(subscription.endpoint)
    if not allow_private:
        _check_public_endpoint(endpoint)
    # The system scope, narrowly: the endpoint may be held by a row RLS hides from this person.
    async with db.session(None, scope=DbScope.system) as session:
        await session.execute(
            delete(PushSubscription).where(
                PushSubscription.endpoint == endpoint,
                PushSubscription.owner_id != principal.user_id,
            )
        )
    async with db.session(principal) as session:
        values = {
            "p256dh": subscription.keys.p256dh,
            "auth": subscription.keys.auth,
            "user_agent": (user_agent or "")[:400] or None,
        }
        stmt = (
            insert(PushSubscription)
            .values(owner_id=principal.user_id, endpoint=endpoint, **values)
            .on_conflict_do_update(index_elements=[PushSubscription.endpoint], set_=values)
            .returning(
                PushSubscription.id, PushSubscription.created_at, PushSubscription.last_success_at
            )
        )
        row = (await session.execute(stmt)).one()
    return PushSubscriptionOut.model_validate(row._mapping)


_PRIVATE_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa")


def _check_public_endpoint(endpoint: str) -> None:
    """The worker will POST to this address: it must be a push service on the internet, not
    something inside our network (a metadata service, Redis, the database)."""
    url = urlsplit(endpoint)
    host = (url.hostname or "").rstrip(".").lower()
    if url.scheme != "https" or not host:
        raise InvalidPushEndpoint("A push endpoint is an https URL.")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if host == "localhost" or host.endswith(_PRIVATE_SUFFIXES) or "." not in host:
            raise InvalidPushEndpoint("A push endpoint is on the public internet.") from None
        return
    if not address.is_global:
        raise InvalidPushEndpoint("A push endpoint is on the public internet.")


async def list_push_subscriptions(
    session: AsyncSession, principal: Principal
) -> list[PushSubscriptionOut]:
    rows = await session.execute(repository.readable_push_subscriptions(principal))
    return [PushSubscriptionOut.model_validate(s) for s in rows.scalars()]


async def unsubscribe_push(
    session: AsyncSession, principal: Principal, *, subscription_id: uuid.UUID
) -> None:
    result = await session.execute(
        delete(PushSubscription).where(
            PushSubscription.owner_id == principal.user_id,
            PushSubscription.id == subscription_id,
        )
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise PushSubscriptionNotFound()


# --- admin broadcasts -------------------------------------------------------------------------


def _broadcast_out(row: Broadcast) -> BroadcastOut:
    return BroadcastOut.model_validate(row, from_attributes=True)


async def create_broadcast(
    db: Database, principal: Principal, *, request: BroadcastCreate, origin: Origin
) -> BroadcastOut:
    """Queues an in-app announcement to everyone in the segment; a job sends it in batches."""
    segment = request.segment.model_dump(mode="json", exclude_none=True)
    async with admin_session(
        db,
        principal,
        action="notification.broadcast",
        target_type="notification_broadcast",
        origin=origin,
        details={"segment": segment, "category": request.category},
    ) as session:
        broadcast = Broadcast(
            created_by=principal.user_id,
            category=request.category,
            title=request.title,
            body=request.body,
            segment=segment,
        )
        session.add(broadcast)
        await session.flush()
        outbox.publish(session, BroadcastQueued(broadcast_id=broadcast.id))
        await session.refresh(broadcast)
        return _broadcast_out(broadcast)


async def get_broadcast(
    db: Database, principal: Principal, *, broadcast_id: uuid.UUID, origin: Origin
) -> BroadcastOut:
    async with admin_session(
        db,
        principal,
        action="notification.broadcast.inspect",
        target_type="notification_broadcast",
        target_id=broadcast_id,
        origin=origin,
    ) as session:
        broadcast = await session.get(Broadcast, broadcast_id)
        if broadcast is None:
            raise BroadcastNotFound()
        return _broadcast_out(broadcast)


# --- data export ------------------------------------------------------------------------------


async def export_notifications(session: AsyncSession, principal: Principal) -> dict[str, Any]:
    """A person's inbox, what was sent to them by which channel, their push devices and
    quiet hours."""
    notifications = await session.execute(
        repository.readable_notifications(principal).order_by(Notification.id)
    )
    deliveries = await session.execute(
        select(
            NotificationDelivery.channel,
            NotificationDelivery.kind,
            NotificationDelivery.status,
            NotificationDelivery.attempts,
            NotificationDelivery.created_at,
            NotificationDelivery.sent_at,
        )
        .where(NotificationDelivery.owner_id == principal.user_id)
        .order_by(NotificationDelivery.id)
    )
    subscriptions = await list_push_subscriptions(session, principal)
    quiet = (
        await session.execute(
            select(NotificationSettings.quiet_start, NotificationSettings.quiet_end).where(
                NotificationSettings.owner_id == principal.user_id
            )
        )
    ).first()
    return {
        "notifications": [
            NotificationOut.model_validate(r._mapping).model_dump(mode="json")
            for r in notifications
        ],
        "deliveries": [
            {**r._mapping, "created_at": r.created_at.isoformat(), "sent_at": _iso(r.sent_at)}
            for r in deliveries
        ],
        "push_subscriptions": [s.model_dump(mode="json") for s in subscriptions],
        "quiet_hours": (
            {"start": quiet.quiet_start.isoformat(), "end": quiet.quiet_end.isoformat()}
            if quiet and quiet.quiet_start and quiet.quiet_end
            else None
        ),
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
