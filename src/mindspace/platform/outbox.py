"""The transactional outbox: an event is written in the same transaction as the change it
describes, so it is published if and only if the change committed. The relay
(`platform.relay`) reads this table and hands each event to in-process consumers and, when
configured, to NATS JetStream; consumers deduplicate by event id (`platform.inbox`).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Index, String, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from mindspace.platform.clock import utc_now
from mindspace.platform.db import Base, IdMixin
from mindspace.platform.ids import new_id


class OutboxEvent(IdMixin, Base):
    __tablename__ = "outbox_event"
    __table_args__ = (
        Index("ix_outbox_event_pending", "id", postgresql_where=text("published_at IS NULL")),
    )

    topic: Mapped[str] = mapped_column(String(120))
    owner_id: Mapped[uuid.UUID | None]
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # Set here, not by the server: this table is insert-only to the app, so an INSERT ...
    # RETURNING of a server default would need a read the policy does not grant.
    occurred_at: Mapped[datetime] = mapped_column(default=utc_now, server_default=func.now())
    published_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    # After a failed delivery: not before this time (see relay.backoff).
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(2000))


class DomainEvent(BaseModel):
    """A fact one domain tells the others. Subclasses set `topic` as `<domain>.<event>`;
    it becomes the NATS subject `mindspace.<domain>.<event>`."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    topic: ClassVar[str]


def publish(
    session: AsyncSession, event: DomainEvent, *, owner_id: uuid.UUID | None = None
) -> uuid.UUID:
    """Adds the event to the caller's transaction and returns its id (the consumers' dedup key)."""
    topic = type(event).topic
    domain, _, name = topic.partition(".")
    if not domain or not name:
        raise ValueError(f"event topic must be '<domain>.<event>', got {topic!r}")
    row = OutboxEvent(
        id=new_id(), topic=topic, owner_id=owner_id, payload=event.model_dump(mode="json")
    )
    session.add(row)
    return row.id
