"""Mood: check-ins, each person's own activities, mood settings.

Revision ID: 0018_mood
Revises: 0017_journal
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from mindspace.migrations.helpers import apply_owner_rls

revision: str = "0018_mood"
down_revision: str | None = "0017_journal"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _owner(table: str, *, primary_key: bool = False) -> list[Any]:
    return [
        sa.Column("owner_id", sa.Uuid(), nullable=False, primary_key=primary_key),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user_account.id"],
            ondelete="CASCADE",
            name=op.f(f"fk_{table}_owner_id_user_account"),
        ),
    ]


def _now(name: str) -> sa.Column[Any]:
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def _tags(name: str, item: sa.types.TypeEngine[Any], empty: str) -> sa.Column[Any]:
    return sa.Column(
        name, postgresql.ARRAY(item), server_default=sa.text(f"'{{}}'::{empty}[]"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "mood_checkin",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_owner("mood_checkin"),
        sa.Column("mood", sa.String(length=16), nullable=True),
        sa.Column("score", sa.SmallInteger(), nullable=False),
        _tags("emotions", sa.String(length=24), "varchar"),
        sa.Column("energy", sa.SmallInteger(), nullable=True),
        sa.Column("sleep_hours", sa.Numeric(3, 1), nullable=True),
        _tags("activities", sa.String(length=24), "varchar"),
        _tags("custom_activity_ids", sa.Uuid(), "uuid"),
        _tags("triggers", sa.String(length=40), "varchar"),
        sa.Column("note", sa.LargeBinary(), nullable=True),
        sa.Column("logged_at", sa.DateTime(timezone=True), nullable=False),
        _now("created_at"),
        _now("updated_at"),
        sa.CheckConstraint("score BETWEEN 1 AND 10", name=op.f("ck_mood_checkin_score_range")),
        sa.CheckConstraint(
            "energy IS NULL OR energy BETWEEN 1 AND 5", name=op.f("ck_mood_checkin_energy_range")
        ),
        sa.CheckConstraint(
            "sleep_hours IS NULL OR (sleep_hours BETWEEN 0 AND 24 "
            "AND sleep_hours * 2 = trunc(sleep_hours * 2))",
            name=op.f("ck_mood_checkin_sleep_hours_range"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mood_checkin")),
    )
    op.create_index(op.f("ix_mood_checkin_owner_id"), "mood_checkin", ["owner_id"])
    op.create_index("ix_mood_checkin_owner_logged", "mood_checkin", ["owner_id", "logged_at", "id"])
    apply_owner_rls("mood_checkin")

    op.create_table(
        "mood_activity",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_owner("mood_activity"),
        sa.Column("name", sa.String(length=40), nullable=False),
        _now("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mood_activity")),
    )
    op.create_index(op.f("ix_mood_activity_owner_id"), "mood_activity", ["owner_id"])
    op.create_index(
        "uq_mood_activity_owner_name",
        "mood_activity",
        ["owner_id", sa.text("lower(name)")],
        unique=True,
    )
    apply_owner_rls("mood_activity")

    op.create_table(
        "mood_settings",
        *_owner("mood_settings", primary_key=True),
        sa.Column("freeze_days_per_month", sa.SmallInteger(), server_default="0", nullable=False),
        _now("updated_at"),
        sa.CheckConstraint(
            "freeze_days_per_month BETWEEN 0 AND 2",
            name=op.f("ck_mood_settings_freeze_days_range"),
        ),
        sa.PrimaryKeyConstraint("owner_id", name=op.f("pk_mood_settings")),
    )
    apply_owner_rls("mood_settings")


def downgrade() -> None:
    op.drop_table("mood_settings")
    op.drop_table("mood_activity")
    op.drop_table("mood_checkin")
