"""Journal: per-person data keys (envelope encryption), entries, custom prompts, analysis.

Revision ID: 0017_journal
Revises: 0016_reminders
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from mindspace.migrations.helpers import apply_owner_rls
from mindspace.platform.db import DbScope

revision: str = "0017_journal"
down_revision: str | None = "0016_reminders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Staff never read journals or keys, not even through the audited admin scope; the system
# scope is for jobs (key rotation, retracting analysis). Account erasure needs neither: the
# foreign keys' cascades are not subject to row-level security.
_NO_STAFF = (DbScope.system,)
MOODS = ("very_happy", "happy", "neutral", "sad", "very_sad", "anxious", "angry")


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    ]


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


def upgrade() -> None:
    op.create_table(
        "user_data_key",
        *_owner("user_data_key"),
        sa.Column("master_key_id", sa.String(length=64), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("owner_id", name=op.f("pk_user_data_key")),
    )
    # Rotation looks for keys not yet under the active master key.
    op.create_index("ix_user_data_key_master_key_id", "user_data_key", ["master_key_id"])
    apply_owner_rls("user_data_key", scopes=_NO_STAFF)

    op.create_table(
        "journal_prompt",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_owner("journal_prompt"),
        sa.Column("text_sealed", sa.LargeBinary(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_prompt")),
    )
    op.create_index(op.f("ix_journal_prompt_owner_id"), "journal_prompt", ["owner_id"])
    apply_owner_rls("journal_prompt", scopes=_NO_STAFF)

    op.create_table(
        "journal_entry",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_owner("journal_entry"),
        sa.Column(
            "written_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("mood", sa.String(length=20), nullable=True),
        sa.Column("catalogue_prompt_id", sa.String(length=40), nullable=True),
        sa.Column("custom_prompt_id", sa.Uuid(), nullable=True),
        sa.Column("title_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("body_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("tags_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("word_index", postgresql.ARRAY(sa.LargeBinary()), nullable=False),
        sa.Column("tag_index", postgresql.ARRAY(sa.LargeBinary()), nullable=False),
        *_timestamps(),
        sa.CheckConstraint(
            "mood IN (" + ", ".join(f"'{m}'" for m in MOODS) + ")",
            name=op.f("ck_journal_entry_mood_known"),
        ),
        sa.CheckConstraint(
            "catalogue_prompt_id IS NULL OR custom_prompt_id IS NULL",
            name=op.f("ck_journal_entry_one_prompt"),
        ),
        sa.ForeignKeyConstraint(
            ["custom_prompt_id"],
            ["journal_prompt.id"],
            ondelete="SET NULL",
            name=op.f("fk_journal_entry_custom_prompt_id_journal_prompt"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_entry")),
    )
    op.create_index(op.f("ix_journal_entry_owner_id"), "journal_entry", ["owner_id"])
    op.create_index(
        "ix_journal_entry_owner_written", "journal_entry", ["owner_id", "written_at", "id"]
    )
    op.create_index(
        "ix_journal_entry_word_index", "journal_entry", ["word_index"], postgresql_using="gin"
    )
    op.create_index(
        "ix_journal_entry_tag_index", "journal_entry", ["tag_index"], postgresql_using="gin"
    )
    apply_owner_rls("journal_entry", scopes=_NO_STAFF)

    op.create_table(
        "journal_entry_analysis",
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        *_owner("journal_entry_analysis"),
        sa.Column("compound", sa.Float(), nullable=False),
        sa.Column("positive", sa.Float(), nullable=False),
        sa.Column("neutral", sa.Float(), nullable=False),
        sa.Column("negative", sa.Float(), nullable=False),
        sa.Column("emotions", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("analyser", sa.String(length=80), nullable=False),
        sa.Column(
            "analysed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["journal_entry.id"],
            ondelete="CASCADE",
            name=op.f("fk_journal_entry_analysis_entry_id_journal_entry"),
        ),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_journal_entry_analysis")),
    )
    op.create_index(
        op.f("ix_journal_entry_analysis_owner_id"), "journal_entry_analysis", ["owner_id"]
    )
    apply_owner_rls("journal_entry_analysis", scopes=_NO_STAFF)


def downgrade() -> None:
    op.drop_table("journal_entry_analysis")
    op.drop_table("journal_entry")
    op.drop_table("journal_prompt")
    op.drop_table("user_data_key")
