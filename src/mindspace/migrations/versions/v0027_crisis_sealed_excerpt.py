"""Crisis alerts keep the person's words sealed, not in plaintext; and the notes behind the
sustained-concern rule.

A migration cannot reach the master keys, so it cannot seal the excerpts already stored. It
adds the sealed column and lets the plaintext one be empty; the worker's `crisis:seal_legacy_
excerpts` job (every few minutes, idempotent) seals each plaintext excerpt with its owner's data
key and clears it, including any that a process of the previous release writes during a rolling
deploy. No row is lost in between: staff read a leftover through the same audited view. The
plaintext column is dropped in a later release, once no row holds a value.

Revision ID: 0027_crisis_sealed_excerpt
Revises: 0026_idempotency
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from mindspace.migrations.helpers import apply_owner_rls
from mindspace.platform.db import DbScope

revision: str = "0027_crisis_sealed_excerpt"
down_revision: str | None = "0026_idempotency"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("crisis_alert", sa.Column("excerpt_sealed", sa.LargeBinary(), nullable=True))
    op.alter_column("crisis_alert", "excerpt", existing_type=sa.String(280), nullable=True)

    table = "crisis_concern_note"
    op.create_table(
        table,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("signals", postgresql.JSONB(), nullable=False, server_default="[]"),
        sa.Column("source_type", sa.String(30), nullable=True),
        sa.Column("source_id", sa.Uuid(), nullable=True),
        sa.Column(
            "noted_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user_account.id"],
            ondelete="CASCADE",
            name=op.f(f"fk_{table}_owner_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    )
    op.create_index(op.f(f"ix_{table}_owner_id"), table, ["owner_id"])
    op.create_index(f"ix_{table}_owner_noted", table, ["owner_id", "noted_at"])
    # Written in the person's own scope as they talk, pruned by a system job; staff see the
    # alerts these notes lead to, not the notes.
    apply_owner_rls(table, scopes=(DbScope.system,))


def downgrade() -> None:
    op.drop_table("crisis_concern_note")
    # Back to plaintext is not something a downgrade may do (it holds no keys): an alert whose
    # excerpt is only sealed keeps an empty plaintext excerpt.
    op.execute("UPDATE crisis_alert SET excerpt = '' WHERE excerpt IS NULL")
    op.alter_column("crisis_alert", "excerpt", existing_type=sa.String(280), nullable=False)
    op.drop_column("crisis_alert", "excerpt_sealed")
