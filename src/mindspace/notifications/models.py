"""Notifications tables: the in-app inbox, every delivery by another channel and each attempt
at it, the browsers' push subscriptions, quiet hours, and admin broadcasts."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mindspace.platform.db import USER_TABLE, Base, IdMixin, OwnedMixin


class Notification(IdMixin, OwnedMixin, Base):
    """One entry of a person's inbox. Its id is the id of the `notify()` call's event, so a
    re-delivered event finds its notification already there."""

    __tablename__ = "notification"
    __table_args__ = (
        # Keyset pages of one inbox, newest first, and its unread badge.
        Index("ix_notification_owner_id_id", "owner_id", "id"),
        Index("ix_notification_unread", "owner_id", "id", postgresql_where=text("read_at IS NULL")),
        # A caller's own idempotency key (a broadcast's id): one notification per person.
        UniqueConstraint("owner_id", "dedup_key"),
    )

    category: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(48))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(String(1000))
    # The kind's whitelisted fields only (kinds.py validates them): ids to open the thing.
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    link: Mapped[str] = mapped_column(String(300))
    dedup_key: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    read_at: Mapped[datetime | None]


class NotificationDelivery(IdMixin, OwnedMixin, Base):
    """A notification on its way out by one channel to one address (an email address, a phone
    number, one browser's push subscription). Rendered when it is sent, in the person's
    language then, from the kind and the link only: never from the notification's data."""

    __tablename__ = "notification_delivery"
    __table_args__ = (
        # One delivery per request, channel and address: a re-run of the dispatch adds none.
        UniqueConstraint("request_id", "channel", "target"),
        Index(
            "ix_notification_delivery_held",
            "owner_id",
            "channel",
            "hold_until",
            postgresql_where=text("status = 'held'"),
        ),
    )

    # The notify() call this came from (its event id), or the digest's own id.
    request_id: Mapped[uuid.UUID]
    notification_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("notification.id", ondelete="SET NULL")
    )
    channel: Mapped[str] = mapped_column(String(8))
    category: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(48))
    link: Mapped[str] = mapped_column(String(300))
    target: Mapped[str] = mapped_column(String(320))
    # pending → sent | failed; held (quiet hours) → digested (carried by a digest) or pending;
    # skipped: the address went away before it could be used (a push subscription removed).
    status: Mapped[str] = mapped_column(String(12), server_default="pending")
    hold_until: Mapped[datetime | None]
    digest_id: Mapped[uuid.UUID | None]
    # How many notifications a digest stands for; 1 for an ordinary delivery.
    item_count: Mapped[int] = mapped_column(server_default="1")
    attempts: Mapped[int] = mapped_column(server_default="0")
    last_error: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    last_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]


class DeliveryAttempt(IdMixin, OwnedMixin, Base):
    """Every send attempt, kept: what support reads when someone says "I never got it"."""

    __tablename__ = "notification_delivery_attempt"

    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notification_delivery.id", ondelete="CASCADE"), index=True
    )
    attempt: Mapped[int]
    outcome: Mapped[str] = mapped_column(String(8))
    error: Mapped[str | None] = mapped_column(String(2000))
    attempted_at: Mapped[datetime] = mapped_column(server_default=func.now())


class PushSubscription(IdMixin, OwnedMixin, Base):
    """A browser's PushSubscription (endpoint and encryption keys)."""

    __tablename__ = "push_subscription"
    __table_args__ = (UniqueConstraint("endpoint"),)

    endpoint: Mapped[str] = mapped_column(Text)
    p256dh: Mapped[str] = mapped_column(String(200))
    auth: Mapped[str] = mapped_column(String(100))
    user_agent: Mapped[str | None] = mapped_column(String(400))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    last_success_at: Mapped[datetime | None]


class NotificationSettings(OwnedMixin, Base):
    """Quiet hours, in the person's own timezone (identity's profile). No row: none."""

    __tablename__ = "notification_settings"

    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{USER_TABLE}.id", ondelete="CASCADE"), primary_key=True
    )
    quiet_start: Mapped[time | None]
    quiet_end: Mapped[time | None]
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class Broadcast(IdMixin, Base):
    """An announcement from staff to a segment, sent in batches by a job that resumes from
    `cursor` (the last account id done)."""

    __tablename__ = "notification_broadcast"

    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey(f"{USER_TABLE}.id", ondelete="SET NULL")
    )
    category: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(String(1000))
    segment: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(12), server_default="queued")
    cursor: Mapped[uuid.UUID | None]
    recipients: Mapped[int] = mapped_column(server_default="0")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    finished_at: Mapped[datetime | None]
