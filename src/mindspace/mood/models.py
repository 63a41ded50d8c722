"""Mood tables: check-ins, a person's own activities, and their mood settings."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from mindspace.platform.db import USER_TABLE, Base, IdMixin, OwnedMixin, TimestampMixin


class MoodCheckin(IdMixin, OwnedMixin, TimestampMixin, Base):
    __tablename__ = "mood_checkin"
    __table_args__ = (
        CheckConstraint("score BETWEEN 1 AND 10", name="score_range"),
        CheckConstraint("energy IS NULL OR energy BETWEEN 1 AND 5", name="energy_range"),
        # Half-hours: twice the value is a whole number.
        CheckConstraint(
            "sleep_hours IS NULL OR (sleep_hours BETWEEN 0 AND 24 "
            "AND sleep_hours * 2 = trunc(sleep_hours * 2))",
            name="sleep_hours_range",
        ),
        # Lists and date-range reads walk this index newest first.
        Index("ix_mood_checkin_owner_logged", "owner_id", "logged_at", "id"),
    )

    # NULL for a quick check-in, which carries only a score.
    mood: Mapped[str | None] = mapped_column(String(16))
    score: Mapped[int] = mapped_column(SmallInteger)
    emotions: Mapped[list[str]] = mapped_column(
        ARRAY(String(24)), server_default=text("'{}'::varchar[]")
    )
    energy: Mapped[int | None] = mapped_column(SmallInteger)
    sleep_hours: Mapped[Decimal | None] = mapped_column(Numeric(3, 1))
    # Built-in activity keys (schemas.BuiltinActivity); the person's own are by id below.
    activities: Mapped[list[str]] = mapped_column(
        ARRAY(String(24)), server_default=text("'{}'::varchar[]")
    )
    custom_activity_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(Uuid(as_uuid=True)),
        server_default=text("'{}'::uuid[]"),
    )
    triggers: Mapped[list[str]] = mapped_column(
        ARRAY(String(40)), server_default=text("'{}'::varchar[]")
    )
    # Sealed by notes.seal_note: bytes, so switching to encryption needs no migration.
    note: Mapped[bytes | None] = mapped_column(LargeBinary)
    logged_at: Mapped[datetime]


class MoodActivity(IdMixin, OwnedMixin, Base):
    """An activity a person added to the built-in list, for their own check-ins only."""

    __tablename__ = "mood_activity"
    __table_args__ = (
        Index("uq_mood_activity_owner_name", "owner_id", func.lower(text("name")), unique=True),
    )

    name: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class MoodSettings(OwnedMixin, Base):
    """One row per person who changed a mood setting; everyone else has the defaults."""

    __tablename__ = "mood_settings"
    __table_args__ = (
        CheckConstraint("freeze_days_per_month BETWEEN 0 AND 2", name="freeze_days_range"),
    )

    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{USER_TABLE}.id", ondelete="CASCADE"), primary_key=True
    )
    freeze_days_per_month: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
