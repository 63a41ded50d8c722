"""The companion's memory of journal entries (a privacy option of its own), and the pgvector
extension where the server has it.

Revision ID: 0028_memory_journal_pgvector
Revises: 0027_crisis_sealed_excerpt
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028_memory_journal_pgvector"
down_revision: str | None = "0027_crisis_sealed_excerpt"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "companion_memory"
# Ranking in PostgreSQL when the server has pgvector; without it (or without the right to create
# it: pgvector is not a trusted extension) memory is ranked in Python and nothing else changes.
_VECTOR = """
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') THEN
        CREATE EXTENSION IF NOT EXISTS vector;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'pgvector is available, but this role may not create it';
END
$$
"""


def upgrade() -> None:
    op.add_column(
        "user_preference",
        sa.Column("allow_journal_memory", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    # Every memory so far came from a conversation; from now on each names its source.
    op.add_column(
        _TABLE,
        sa.Column("source", sa.String(20), server_default="conversation", nullable=False),
    )
    op.alter_column(_TABLE, "source", server_default=None)
    op.alter_column(_TABLE, "conversation_id", nullable=True)
    op.add_column(_TABLE, sa.Column("journal_entry_id", sa.Uuid(), nullable=True))
    op.create_unique_constraint(op.f(f"uq_{_TABLE}_journal_entry_id"), _TABLE, ["journal_entry_id"])
    op.create_check_constraint(
        "one_source",
        _TABLE,
        "(source = 'conversation' AND conversation_id IS NOT NULL AND journal_entry_id IS NULL) "
        "OR (source = 'journal_entry' AND journal_entry_id IS NOT NULL "
        "AND conversation_id IS NULL)",
    )
    op.create_index(f"ix_{_TABLE}_embedder_owner", _TABLE, ["embedder", "owner_id"])
    op.execute(_VECTOR)


def downgrade() -> None:
    # The extension stays: nothing tells whether this revision or an operator created it.
    op.execute(sa.text(f"DELETE FROM {_TABLE} WHERE source = 'journal_entry'"))
    op.drop_index(f"ix_{_TABLE}_embedder_owner", table_name=_TABLE)
    op.drop_constraint(op.f(f"ck_{_TABLE}_one_source"), _TABLE, type_="check")
    op.drop_constraint(op.f(f"uq_{_TABLE}_journal_entry_id"), _TABLE, type_="unique")
    op.drop_column(_TABLE, "journal_entry_id")
    op.alter_column(_TABLE, "conversation_id", nullable=False)
    op.drop_column(_TABLE, "source")
    op.drop_column("user_preference", "allow_journal_memory")
