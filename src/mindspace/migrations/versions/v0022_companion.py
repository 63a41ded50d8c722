"""Companion conversations, their sealed messages and every change of their safety state.

Revision ID: 0022_companion
Revises: 0021_message_backoff
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from mindspace.migrations.helpers import apply_owner_rls
from mindspace.platform.db import DbScope

revision: str = "0022_companion"
down_revision: str | None = "0021_message_backoff"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Staff never read what was said, not even through the audited admin scope. They may see and
# move a conversation's safety state (a reviewer clears it), which the admin scope audits.
_NO_STAFF = (DbScope.system,)
_NOW = sa.text("now()")
RISK_LEVELS = ("normal", "elevated_concern", "high_risk")
SAFETY_STATES = (*RISK_LEVELS, "safety_mode")


def _one_of(table: str, column: str, values: Sequence[str], name: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(
        f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")",
        name=op.f(f"ck_{table}_{name}"),
    )


def _owner(table: str) -> list[Any]:
    return [
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user_account.id"],
            ondelete="CASCADE",
            name=op.f(f"fk_{table}_owner_id_user_account"),
        ),
    ]


def _conversation_fk(table: str) -> list[Any]:
    return [
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["companion_conversation.id"],
            ondelete="CASCADE",
            name=op.f(f"fk_{table}_conversation_id_companion_conversation"),
        ),
    ]


def upgrade() -> None:
    table = "companion_conversation"
    op.create_table(
        table,
        sa.Column("id", sa.Uuid(), nullable=False),
        *_owner(table),
        sa.Column("persona", sa.String(40), nullable=False),
        sa.Column("status", sa.String(10), server_default="active", nullable=False),
        sa.Column("safety_state", sa.String(20), server_default="normal", nullable=False),
        sa.Column("session_level", sa.String(20), server_default="normal", nullable=False),
        sa.Column("context_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_high_risk_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disclosed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_message_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("engine_state_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_NOW, nullable=False),
        _one_of(table, "status", ("active", "ended"), "status_known"),
        _one_of(table, "safety_state", SAFETY_STATES, "safety_state_known"),
        _one_of(table, "session_level", RISK_LEVELS, "session_level_known"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    )
    op.create_index(op.f(f"ix_{table}_owner_id"), table, ["owner_id"])
    op.create_index(f"ix_{table}_owner_created", table, ["owner_id", "created_at", "id"])
    apply_owner_rls(table)

    table = "companion_message"
    op.create_table(
        table,
        sa.Column("id", sa.Uuid(), nullable=False),
        *_owner(table),
        *_conversation_fk(table),
        sa.Column("author", sa.String(10), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("engine", sa.String(20), nullable=True),
        sa.Column("replaced", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("content_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_NOW, nullable=False),
        _one_of(table, "author", ("person", "companion"), "author_known"),
        _one_of(table, "kind", ("text", "disclosure", "reply", "crisis", "safety"), "kind_known"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    )
    op.create_index(op.f(f"ix_{table}_owner_id"), table, ["owner_id"])
    op.create_index(
        f"ix_{table}_conversation_created", table, ["conversation_id", "created_at", "id"]
    )
    apply_owner_rls(table, scopes=_NO_STAFF)

    table = "companion_safety_transition"
    op.create_table(
        table,
        sa.Column("id", sa.Uuid(), nullable=False),
        *_owner(table),
        *_conversation_fk(table),
        sa.Column("before", sa.String(20), nullable=False),
        sa.Column("after", sa.String(20), nullable=False),
        sa.Column("trigger", sa.String(30), nullable=False),
        sa.Column("rule", sa.String(120), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("message_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    )
    op.create_index(op.f(f"ix_{table}_owner_id"), table, ["owner_id"])
    op.create_index(f"ix_{table}_conversation", table, ["conversation_id", "created_at"])
    apply_owner_rls(table)


def downgrade() -> None:
    for table in (
        "companion_safety_transition",
        "companion_message",
        "companion_conversation",
    ):
        op.drop_table(table)
