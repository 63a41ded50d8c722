"""The companion's memory: sealed summaries of ended conversations and their embeddings, and
which of the person's messages may ever be remembered.

Revision ID: 0023_companion_memory
Revises: 0022_companion
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from mindspace.migrations.helpers import apply_owner_rls
from mindspace.platform.db import DbScope

revision: str = "0023_companion_memory"
down_revision: str | None = "0022_companion"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NOW = sa.text("now()")


def upgrade() -> None:
    # Messages written before this revision were never marked: they are never remembered.
    op.add_column(
        "companion_message",
        sa.Column("memorable", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    table = "companion_memory"
    op.create_table(
        table,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("summary_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("embedding", postgresql.ARRAY(sa.Float()), nullable=False),
        sa.Column("embedder", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_NOW, nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user_account.id"],
            ondelete="CASCADE",
            name=op.f(f"fk_{table}_owner_id_user_account"),
        ),
        # Deleting a conversation forgets what was remembered of it too.
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["companion_conversation.id"],
            ondelete="CASCADE",
            name=op.f(f"fk_{table}_conversation_id_companion_conversation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("conversation_id", name=op.f(f"uq_{table}_conversation_id")),
    )
    op.create_index(op.f(f"ix_{table}_owner_id"), table, ["owner_id"])
    op.create_index(f"ix_{table}_owner_created", table, ["owner_id", "created_at", "id"])
    # Like the messages they summarise: staff never read them.
    apply_owner_rls(table, scopes=(DbScope.system,))


def downgrade() -> None:
    op.drop_table("companion_memory")
    op.drop_column("companion_message", "memorable")
