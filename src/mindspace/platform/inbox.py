"""The consumers' inbox: what makes at-least-once delivery act once.

The relay may hand an event to a consumer more than once: a crash after the consumer's
transaction committed and before the event was marked published re-delivers it. Each consumer
claims (consumer, event id) here in the same transaction as its effect, so a re-delivery finds
the claim and does nothing, and an effect that rolled back leaves no claim behind.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import String, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from mindspace.platform.clock import utc_now
from mindspace.platform.db import Base


class InboxMessage(Base):
    __tablename__ = "inbox_message"

    consumer: Mapped[str] = mapped_column(String(120), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(default=utc_now, server_default=func.now())


async def handle_once(session: AsyncSession, consumer: str, event_id: uuid.UUID) -> bool:
    """Claims `event_id` for `consumer` in the caller's transaction: True the first time, so
    the caller applies its effect; False when it was processed already. A concurrent claim of
    the same event waits for the other transaction, then answers False if it committed and
    True if it rolled back."""
    stmt = (
        insert(InboxMessage)
        .values(consumer=consumer, event_id=event_id, processed_at=utc_now())
        .on_conflict_do_nothing(index_elements=[InboxMessage.consumer, InboxMessage.event_id])
        .returning(InboxMessage.event_id)
    )
    return (await session.execute(stmt)).first() is not None
