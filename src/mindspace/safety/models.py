from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ForeignKey, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mindspace.platform.db import USER_TABLE, Base, OwnedMixin, TimestampMixin

PLAN_SECTIONS = (
    "warning_signs",
    "coping_steps",
    "people_and_places",
    "people_to_ask",
    "professionals",
    "environment_safety",
    "reasons_for_living",
)


class SafetyPlan(OwnedMixin, TimestampMixin, Base):
    """A person's safety plan (after Stanley and Brown): one row, written whole on each save.
    Each section is a JSON array, validated by schemas.SafetyPlanInput on the way in."""

    __tablename__ = "safety_plan"

    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{USER_TABLE}.id", ondelete="CASCADE"), primary_key=True
    )
    warning_signs: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    coping_steps: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    people_and_places: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, server_default=text("'[]'::jsonb")
    )
    people_to_ask: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, server_default=text("'[]'::jsonb")
    )
    professionals: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, server_default=text("'[]'::jsonb")
    )
    environment_safety: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    reasons_for_living: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
