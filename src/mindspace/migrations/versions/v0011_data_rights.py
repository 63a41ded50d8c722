"""Data rights: export archives and account deletion with a grace period.

Revision ID: 0011_data_rights
Revises: 0010_jobs
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mindspace.migrations.helpers import apply_owner_rls

revision: str = "0011_data_rights"
down_revision: str | None = "0010_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "user_account", sa.Column("deletion_due_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.drop_constraint(op.f("ck_user_account_status"), "user_account", type_="check")
    op.create_check_constraint(
        op.f("ck_user_account_status"),
        "user_account",
        "status IN ('active', 'suspended', 'pending_deletion')",
    )
    op.create_index(
        "ix_user_account_deletion_due_at",
        "user_account",
        ["deletion_due_at"],
        postgresql_where=sa.text("deletion_due_at IS NOT NULL"),
    )
    op.create_table(
        "data_export",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column(
            "requested_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("ready_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("file_key", sa.String(length=200), nullable=True),
        sa.Column("download_token_hash", sa.LargeBinary(length=32), nullable=True),
        sa.Column("downloaded_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'ready', 'failed', 'downloaded', 'expired')",
            name=op.f("ck_data_export_status"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user_account.id"],
            ondelete="CASCADE",
            name=op.f("fk_data_export_owner_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_export")),
    )
    op.create_index(op.f("ix_data_export_owner_id"), "data_export", ["owner_id"])
    apply_owner_rls("data_export")


def downgrade() -> None:
    op.drop_table("data_export")
    op.drop_index("ix_user_account_deletion_due_at", table_name="user_account")
    op.drop_constraint(op.f("ck_user_account_status"), "user_account", type_="check")
    op.create_check_constraint(
        op.f("ck_user_account_status"), "user_account", "status IN ('active', 'suspended')"
    )
    op.drop_column("user_account", "deletion_due_at")
