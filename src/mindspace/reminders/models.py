"""The reminder table: a rule in local wall-clock time, its zone, and the next instant it fires."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, String, text, true
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mindspace.platform.db import Base, IdMixin, OwnedMixin, TimestampMixin

KINDS = ("mood_checkin", "meditation", "journal", "habit", "custom")


class Reminder(IdMixin, OwnedMixin, TimestampMixin, Base):
    __tablename__ = "reminder"
    __table_args__ = (
        CheckConstraint(f"kind IN {KINDS}", name="kind"),
        # Paused and finished reminders have no next_fire_at, so the due scan reads only live ones.
        Index("ix_reminder_due", "next_fire_at", postgresql_where=text("next_fire_at IS NOT NULL")),
    )

    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(80))
    timezone: Mapped[str] = mapped_column(String(64))
    # The schedule as the person gave it (schemas.Schedule), in wall-clock time of `timezone`.
    schedule: Mapped[dict[str, Any]] = mapped_column(JSONB)
    enabled: Mapped[bool] = mapped_column(server_default=true())
    # UTC. None while paused or once the rule has ended (COUNT, UNTIL).
    next_fire_at: Mapped[datetime | None]
    last_fired_at: Mapped[datetime | None]
