"""Outbound email and SMS: written in the caller's transaction, delivered after it commits.

A message exists if and only if the act that caused it committed (a reset link is never sent
for a reset that rolled back), and delivery retries until a provider takes it. In development
the `DevSink` provider "delivers" by logging the whole message, so a newcomer can follow links;
SMTP, SMS providers and Web Push plug in as further `Provider`s.
"""

from __future__ import annotations

import enum
import logging
import uuid
from datetime import datetime
from typing import Protocol

from sqlalchemy import Index, String, Text, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from mindspace.platform.clock import utc_now
from mindspace.platform.db import Base, Database, DbScope, IdMixin
from mindspace.platform.ids import new_id
from mindspace.platform.relay import backoff

log = logging.getLogger(__name__)
# With backoff doubling to an hour (relay.backoff), about 13 hours of retrying in all: a
# provider outage overnight does not lose a reset link or a security alert.
MAX_ATTEMPTS = 20


class Channel(enum.StrEnum):
    email = "email"
    sms = "sms"


class OutboundMessage(IdMixin, Base):
    __tablename__ = "outbound_message"
    __table_args__ = (
        Index("ix_outbound_message_pending", "id", postgresql_where=text("sent_at IS NULL")),
    )

    channel: Mapped[str] = mapped_column(String(8))
    recipient: Mapped[str] = mapped_column(String(320))
    # What the message is for (verify_email, reset_password, otp…): lets tests and support
    # find a message without parsing it, and lets delivery pick a template.
    purpose: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    user_id: Mapped[uuid.UUID | None]
    # Set here: the table is insert-only outside the system scope (see outbox.py for why).
    created_at: Mapped[datetime] = mapped_column(default=utc_now, server_default=func.now())
    sent_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(2000))
    # After a failed attempt: not before this (backoff), so an outage does not burn the
    # attempts in a tight loop.
    next_attempt_at: Mapped[datetime | None]


def queue(
    session: AsyncSession,
    *,
    channel: Channel,
    recipient: str,
    purpose: str,
    body: str,
    subject: str | None = None,
    user_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Adds a message to the caller's transaction; returns its id."""
    message = OutboundMessage(
        id=new_id(),
        channel=channel.value,
        recipient=recipient,
        purpose=purpose,
        subject=subject,
        body=body,
        user_id=user_id,
    )
    session.add(message)
    return message.id


class Provider(Protocol):
    channel: Channel

    async def deliver(self, message: OutboundMessage) -> None: ...


class DevSink:
    """Development delivery: the message is stored (the table row) and printed."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    async def deliver(self, message: OutboundMessage) -> None:
        log.info(
            "dev %s to %s [%s]: %s\n%s",
            message.channel,
            message.recipient,
            message.purpose,
            message.subject or "",
            message.body,
        )


async def deliver_pending(
    db: Database, providers: dict[Channel, Provider], *, batch: int = 50
) -> int:
    """Delivers one batch of queued messages; returns how many it attempted."""
    async with db.session(None, scope=DbScope.system) as session:
        stmt = (
            select(OutboundMessage)
            .where(
                OutboundMessage.sent_at.is_(None),
                OutboundMessage.attempts < MAX_ATTEMPTS,
                or_(
                    OutboundMessage.next_attempt_at.is_(None),
                    OutboundMessage.next_attempt_at <= func.now(),
                ),
            )
            .order_by(OutboundMessage.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
        messages = list((await session.execute(stmt)).scalars())
        for message in messages:
            provider = providers.get(Channel(message.channel))
            if provider is None:
                continue
            try:
                await provider.deliver(message)
                message.sent_at = utc_now()
            except Exception as exc:
                log.warning("message delivery failed", extra={"message_id": str(message.id)})
                message.attempts += 1
                message.last_error = repr(exc)[:2000]
                message.next_attempt_at = utc_now() + backoff(message.attempts)
        return len(messages)
