"""Email verification, password reset and common-password refusal.

Revision ID: 0004_email_flows
Revises: 0003_messages_activity
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mindspace.migrations.helpers import IDENTITY_SCOPES, apply_owner_rls

revision: str = "0004_email_flows"
down_revision: str | None = "0003_messages_activity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "email_token",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "purpose IN ('verify_email', 'reset_password')", name=op.f("ck_email_token_purpose")
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user_account.id"],
            ondelete="CASCADE",
            name=op.f("fk_email_token_owner_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_token")),
    )
    op.create_index(op.f("ix_email_token_owner_id"), "email_token", ["owner_id"])
    op.create_index("uq_email_token_token_hash", "email_token", ["token_hash"], unique=True)
    # Links are followed before anyone is signed in, so the auth scope must find them.
    apply_owner_rls("email_token", scopes=IDENTITY_SCOPES)


def downgrade() -> None:
    op.drop_table("email_token")
