"""From a committed `notify()` to messages that arrived: the work the jobs in jobs.py do.

Every step is idempotent, because jobs run at least once: the notification's id is the id of
the request's event, each delivery is unique per (request, channel, address), and a delivery
is sent only while it is `pending`, under a row lock. A failed send is recorded with its
attempt and left pending; the job then raises and procrastinate retries it with backoff.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.identity import service as identity
from mindspace.identity.service import (
    CRITICAL_CATEGORIES,
    NotificationCategory,
    NotificationChannel,
)
from mindspace.notifications import templates
from mindspace.notifications.channels import Channels
from mindspace.notifications.kinds import DIGEST, KINDS
from mindspace.notifications.models import (
    Broadcast,
    DeliveryAttempt,
    Notification,
    NotificationDelivery,
    NotificationSettings,
    PushSubscription,
)
from mindspace.notifications.quiet_hours import quiet_until
from mindspace.notifications.repository import NOTIFICATION_COLUMNS
from mindspace.notifications.schemas import NotificationOut
from mindspace.platform.clock import utc_now
from mindspace.platform.db import Database, DbScope
from mindspace.platform.ids import new_id
from mindspace.platform.messaging import OutboundMessage
from mindspace.platform.security import Principal, Role
from mindspace.platform.webpush import PushGone, PushTarget

log = logging.getLogger(__name__)
# Matches jobs.DEFAULT_RETRY: after this many failed sends a delivery is given up as failed.
MAX_SEND_ATTEMPTS = 14
SETTINGS_PATH = "/settings/notifications"
PENDING, HELD, SENT, FAILED, DIGESTED, SKIPPED = (
    "pending",
    "held",
    "sent",
    "failed",
    "digested",
    "skipped",
)
_OUTSIDE = (NotificationChannel.email, NotificationChannel.push, NotificationChannel.sms)


class DeliveryFailed(RuntimeError):
    """A send failed in a way worth retrying; raised after the attempt was recorded."""


@dataclass(slots=True)
class Dispatched:
    notification: NotificationOut | None = None
    deliveries: list[uuid.UUID] = field(default_factory=list)
    # When each channel's held deliveries are due (quiet hours end).
    held: dict[str, datetime] = field(default_factory=dict)


async def dispatch(
    db: Database,
    *,
    request_id: uuid.UUID,
    user_id: uuid.UUID,
    category: NotificationCategory,
    kind: str,
    data: dict[str, Any],
    push_enabled: bool,
    now: datetime | None = None,
) -> Dispatched:
    """Creates the inbox entry and the deliveries the person's preferences allow; on a re-run
    creates nothing new and returns what is still waiting, so the caller can (re)queue it."""
    now = now or utc_now()
    person = Principal(user_id=user_id)
    out = Dispatched()
    async with db.session(None, scope=DbScope.system) as session:
        try:
            me = await identity.load_me(session, person)
        except identity.UserNotFound:
            return out  # the account was erased before its notification went out
        preferences = await identity.get_preferences(session, person)
        spec = KINDS[kind]

        if preferences.allows(category, NotificationChannel.in_app):
            text = templates.render_in_app(kind, me.locale, data)
            out.notification = await _insert_notification(
                session,
                id=request_id,
                owner_id=user_id,
                category=category.value,
                kind=kind,
                title=text.title,
                body=text.body,
                data=data,
                link=spec.path,
            )

        hold_until = None
        if category not in CRITICAL_CATEGORIES:
            hold_until = await _quiet_until(session, user_id, me.timezone, now)
        rows = []
        for channel in _OUTSIDE:
            if not preferences.allows(category, channel):
                continue
            for target in await _targets(session, me, channel, push_enabled):
                rows.append(
                    {
                        "id": new_id(),
                        "owner_id": user_id,
                        "request_id": request_id,
                        "notification_id": request_id if out.notification else None,
                        "channel": channel.value,
                        "category": category.value,
                        "kind": kind,
                        "link": spec.path,
                        "target": target,
                        "status": HELD if hold_until else PENDING,
                        "hold_until": hold_until,
                    }
                )
        if rows:
            await session.execute(
                insert(NotificationDelivery).values(rows).on_conflict_do_nothing()
            )
        waiting = await session.execute(
            select(
                NotificationDelivery.id,
                NotificationDelivery.channel,
                NotificationDelivery.status,
                NotificationDelivery.hold_until,
            ).where(
                NotificationDelivery.request_id == request_id,
                NotificationDelivery.status.in_((PENDING, HELD)),
            )
        )
        for row in waiting:
            if row.status == PENDING:
                out.deliveries.append(row.id)
            elif row.hold_until is not None:
                out.held[row.channel] = min(
                    out.held.get(row.channel, row.hold_until), row.hold_until
                )
    return out


async def _insert_notification(session: AsyncSession, **values: Any) -> NotificationOut | None:
    stmt = (
        insert(Notification)
        .values(**values)
        .on_conflict_do_nothing()
        .returning(*NOTIFICATION_COLUMNS)
    )
    row = (await session.execute(stmt)).first()
    if row is None:
        # Already there (a re-run): return it, so the live push can still happen.
        existing = select(*NOTIFICATION_COLUMNS).where(Notification.id == values["id"])
        row = (await session.execute(existing)).first()
    return NotificationOut.model_validate(row._mapping) if row else None


async def _quiet_until(
    session: AsyncSession, user_id: uuid.UUID, timezone: str, now: datetime
) -> datetime | None:
    settings = await session.get(NotificationSettings, user_id)
    if settings is None or settings.quiet_start is None or settings.quiet_end is None:
        return None
    return quiet_until(now, timezone, settings.quiet_start, settings.quiet_end)


async def _targets(
    session: AsyncSession, me: identity.Me, channel: NotificationChannel, push_enabled: bool
) -> list[str]:
    if channel is NotificationChannel.email:
        # An unconfirmed address may be a typo: someone else's inbox.
        return [me.email] if me.email and me.email_verified else []
    if channel is NotificationChannel.sms:
        return [me.phone] if me.phone else []
    if not push_enabled:
        return []
    stmt = select(PushSubscription.id).where(PushSubscription.owner_id == me.id)
    return [sub_id.hex for sub_id in (await session.execute(stmt)).scalars()]


@dataclass(slots=True)
class Sent:
    """What one run of `deliver` did; `retry` is set when the job should be tried again."""

    status: str | None
    retry: Exception | None = None


async def deliver(
    db: Database, channels: Channels, *, delivery_id: uuid.UUID, base_url: str
) -> Sent:
    """Sends one pending delivery and records the attempt. A delivery another worker is
    sending right now (row locked) or that is no longer pending is left alone."""
    retry: Exception | None = None
    async with db.session(None, scope=DbScope.system) as session:
        stmt = (
            select(NotificationDelivery)
            .where(NotificationDelivery.id == delivery_id)
            .with_for_update(skip_locked=True)
        )
        delivery = (await session.execute(stmt)).scalar_one_or_none()
        if delivery is None or delivery.status != PENDING:
            return Sent(delivery.status if delivery else None)
        try:
            me = await identity.load_me(session, Principal(user_id=delivery.owner_id))
        except identity.UserNotFound:
            return Sent(None)  # erased: the cascade takes the delivery too
        if not _still_theirs(me, delivery):
            # The address changed since: the old one may belong to someone else by now.
            delivery.status = SKIPPED
            delivery.last_error = "the address is no longer the account's"
            return Sent(SKIPPED)
        text = templates.render_external(
            delivery.kind,
            me.locale,
            display_name=me.display_name,
            link=base_url.rstrip("/") + delivery.link,
            settings_link=base_url.rstrip("/") + SETTINGS_PATH,
            count=delivery.item_count,
        )
        now = utc_now()
        delivery.attempts += 1
        delivery.last_attempt_at = now
        error: str | None = None
        try:
            await _send(session, channels, delivery, text)
            delivery.status = SENT
            delivery.sent_at = now
            delivery.last_error = None
        except PushGone as exc:
            # The browser dropped the subscription: forget it, there is nothing to retry.
            error = str(exc)
            delivery.status = SKIPPED
            await session.execute(
                delete(PushSubscription).where(PushSubscription.id == uuid.UUID(delivery.target))
            )
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:2000]
            if getattr(exc, "permanent", False) or delivery.attempts >= MAX_SEND_ATTEMPTS:
                delivery.status = FAILED
            else:
                retry = exc
            log.warning(
                "notification delivery failed",
                extra={"delivery_id": str(delivery.id), "channel": delivery.channel},
            )
        delivery.last_error = error
        session.add(
            DeliveryAttempt(
                owner_id=delivery.owner_id,
                delivery_id=delivery.id,
                attempt=delivery.attempts,
                outcome="sent" if delivery.status == SENT else "failed",
                error=error,
            )
        )
        status = delivery.status
    return Sent(status, retry)


def _still_theirs(me: identity.Me, delivery: NotificationDelivery) -> bool:
    if delivery.channel == NotificationChannel.email.value:
        return me.email == delivery.target and me.email_verified
    if delivery.channel == NotificationChannel.sms.value:
        return me.phone == delivery.target
    return True  # a push subscription is removed, not changed


async def _send(
    session: AsyncSession,
    channels: Channels,
    delivery: NotificationDelivery,
    text: templates.External,
) -> None:
    if delivery.channel == NotificationChannel.push.value:
        await _send_push(session, channels, delivery, text)
        return
    # Email and SMS go through the platform's message providers. The message is not stored
    # again (the delivery row is the record); its id keeps the email's Message-ID stable
    # across retries, so a copy sent twice after a lost reply folds into one.
    is_email = delivery.channel == NotificationChannel.email.value
    message = OutboundMessage(
        id=delivery.id,
        channel=delivery.channel,
        recipient=delivery.target,
        purpose=f"notification:{delivery.kind}"[:40],
        subject=text.email_subject if is_email else None,
        body=text.email_text if is_email else text.sms_text,
        user_id=delivery.owner_id,
        created_at=delivery.created_at,
    )
    await (channels.email if is_email else channels.sms).deliver(message)


async def _send_push(
    session: AsyncSession,
    channels: Channels,
    delivery: NotificationDelivery,
    text: templates.External,
) -> None:
    subscription = await session.get(PushSubscription, uuid.UUID(delivery.target))
    if subscription is None:
        raise PushGone("the subscription was removed")
    if channels.push is None:
        raise RuntimeError("Web Push is not configured on this worker")
    payload = {
        "title": text.title,
        "body": text.notice,
        "url": delivery.link,
        "tag": delivery.kind,
    }
    urgency = "high" if delivery.category in {c.value for c in CRITICAL_CATEGORIES} else "normal"
    await channels.push.send(
        PushTarget(subscription.endpoint, subscription.p256dh, subscription.auth),
        orjson.dumps(payload),
        urgency=urgency,
    )
    subscription.last_success_at = utc_now()


@dataclass(slots=True)
class Released:
    deliveries: list[uuid.UUID] = field(default_factory=list)
    # The next time more held deliveries of this channel fall due, if any.
    later: datetime | None = None


async def release_held(
    db: Database, *, owner_id: uuid.UUID, channel: str, now: datetime | None = None
) -> Released:
    """Quiet hours are over: everything held for one channel goes out as one digest per
    address (or as itself, when it is the only one)."""
    now = now or utc_now()
    out = Released()
    async with db.session(None, scope=DbScope.system) as session:
        stmt = (
            select(NotificationDelivery)
            .where(
                NotificationDelivery.owner_id == owner_id,
                NotificationDelivery.channel == channel,
                NotificationDelivery.status == HELD,
            )
            .order_by(NotificationDelivery.id)
            .with_for_update()
        )
        by_target: dict[str, list[NotificationDelivery]] = defaultdict(list)
        for delivery in (await session.execute(stmt)).scalars():
            # A held row always has hold_until (ck_notification_delivery_held_until).
            if delivery.hold_until is not None and delivery.hold_until > now:
                out.later = min(out.later or delivery.hold_until, delivery.hold_until)
            else:
                by_target[delivery.target].append(delivery)
        for target, held in by_target.items():
            if len(held) == 1:
                held[0].status = PENDING
                out.deliveries.append(held[0].id)
                continue
            digest = NotificationDelivery(
                id=new_id(),
                owner_id=owner_id,
                request_id=new_id(),
                channel=channel,
                category=DIGEST,
                kind=DIGEST,
                link="/notifications",
                target=target,
                status=PENDING,
                item_count=len(held),
            )
            session.add(digest)
            for delivery in held:
                delivery.status = DIGESTED
                delivery.digest_id = digest.id
            out.deliveries.append(digest.id)
    return out


@dataclass(slots=True)
class Stranded:
    deliveries: list[uuid.UUID] = field(default_factory=list)
    held: list[tuple[uuid.UUID, str]] = field(default_factory=list)


async def find_stranded(db: Database, *, grace: timedelta, limit: int = 500) -> Stranded:
    """Deliveries that may have lost their job (a worker that died between committing and
    deferring): pending ones older than `grace`, and held ones whose quiet hours ended more
    than `grace` ago. Deferring them again is safe: a job still waiting holds the queueing
    lock, and a delivery is sent only while pending."""
    cutoff = utc_now() - grace
    out = Stranded()
    async with db.session(None, scope=DbScope.system) as session:
        pending = select(NotificationDelivery.id).where(
            NotificationDelivery.status == PENDING, NotificationDelivery.created_at < cutoff
        )
        out.deliveries = list((await session.execute(pending.limit(limit))).scalars())
        held = (
            select(NotificationDelivery.owner_id, NotificationDelivery.channel)
            .where(NotificationDelivery.status == HELD, NotificationDelivery.hold_until < cutoff)
            .distinct()
            .limit(limit)
        )
        out.held = [(r.owner_id, r.channel) for r in await session.execute(held)]
    return out


@dataclass(slots=True)
class BatchDone:
    created: list[tuple[uuid.UUID, NotificationOut]] = field(default_factory=list)
    finished: bool = True


async def broadcast_batch(db: Database, *, broadcast_id: uuid.UUID, batch_size: int) -> BatchDone:
    """One batch of a broadcast: the next `batch_size` accounts of the segment each get the
    announcement in their inbox (once: a re-run skips who already has it), and the cursor
    moves on in the same transaction."""
    out = BatchDone()
    async with db.session(None, scope=DbScope.system) as session:
        stmt = select(Broadcast).where(Broadcast.id == broadcast_id).with_for_update()
        broadcast = (await session.execute(stmt)).scalar_one_or_none()
        if broadcast is None or broadcast.status == "done":
            return out
        segment = broadcast.segment
        ids = await identity.list_account_ids(
            session,
            limit=batch_size,
            after=broadcast.cursor,
            role=Role(segment["role"]) if segment.get("role") else None,
            country=segment.get("country"),
        )
        category = NotificationCategory(broadcast.category)
        data = {"title": broadcast.title, "body": broadcast.body}
        for user_id in ids:
            person = Principal(user_id=user_id)
            preferences = await identity.get_preferences(session, person)
            if not preferences.allows(category, NotificationChannel.in_app):
                continue
            text = templates.render_in_app("announcement", None, data)
            stmt_insert = (
                insert(Notification)
                .values(
                    id=new_id(),
                    owner_id=user_id,
                    category=category.value,
                    kind="announcement",
                    title=text.title,
                    body=text.body,
                    data=data,
                    link=KINDS["announcement"].path,
                    dedup_key=f"broadcast:{broadcast.id}",
                )
                .on_conflict_do_nothing()
                .returning(*NOTIFICATION_COLUMNS)
            )
            row = (await session.execute(stmt_insert)).first()
            if row is not None:
                out.created.append((user_id, NotificationOut.model_validate(row._mapping)))
        broadcast.recipients += len(out.created)
        if ids:
            broadcast.cursor = ids[-1]
        out.finished = len(ids) < batch_size
        broadcast.status = "done" if out.finished else "sending"
        if out.finished:
            broadcast.finished_at = func.now()
    return out
