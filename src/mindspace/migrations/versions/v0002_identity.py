"""Identity: accounts, sign-in sessions, refresh tokens.

Revision ID: 0002_identity
Revises: 0001_platform
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from mindspace.migrations.helpers import IDENTITY_SCOPES, apply_owner_rls

revision: str = "0002_identity"
down_revision: str | None = "0001_platform"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_account",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("email_verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column(
            "roles",
            postgresql.ARRAY(sa.String(length=16)),
            server_default=sa.text("ARRAY['member']::varchar[]"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=16), server_default="active", nullable=False),
        sa.Column("display_name", sa.String(length=80), nullable=False),
        sa.Column("bio", sa.String(length=1000), nullable=True),
        sa.Column("pronouns", sa.String(length=40), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False),
        sa.Column("locale", sa.String(length=16), server_default="en", nullable=False),
        sa.Column("theme", sa.String(length=16), server_default="system", nullable=False),
        sa.Column("day_boundary_hour", sa.SmallInteger(), server_default="4", nullable=False),
        sa.Column("onboarding_step", sa.SmallInteger(), server_default="0", nullable=False),
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
        sa.CheckConstraint(
            "status IN ('active', 'suspended')", name=op.f("ck_user_account_status")
        ),
        sa.CheckConstraint(
            "day_boundary_hour BETWEEN 0 AND 23", name=op.f("ck_user_account_day_boundary_hour")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_account")),
    )
    op.create_index("uq_user_account_email", "user_account", ["email"], unique=True)
    apply_owner_rls("user_account", column="id", scopes=IDENTITY_SCOPES)

    op.create_table(
        "auth_session",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "last_seen_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoke_reason", sa.String(length=40), nullable=True),
        sa.Column("ip", postgresql.INET(), nullable=True),
        sa.Column("user_agent", sa.String(length=400), nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user_account.id"],
            ondelete="CASCADE",
            name=op.f("fk_auth_session_owner_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_session")),
    )
    op.create_index(op.f("ix_auth_session_owner_id"), "auth_session", ["owner_id"])
    apply_owner_rls("auth_session", column="owner_id", scopes=IDENTITY_SCOPES)

    op.create_table(
        "refresh_token",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user_account.id"],
            ondelete="CASCADE",
            name=op.f("fk_refresh_token_owner_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["auth_session.id"],
            ondelete="CASCADE",
            name=op.f("fk_refresh_token_session_id_auth_session"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_token")),
    )
    op.create_index(op.f("ix_refresh_token_owner_id"), "refresh_token", ["owner_id"])
    op.create_index(op.f("ix_refresh_token_session_id"), "refresh_token", ["session_id"])
    op.create_index("uq_refresh_token_token_hash", "refresh_token", ["token_hash"], unique=True)
    apply_owner_rls("refresh_token", column="owner_id", scopes=IDENTITY_SCOPES)


def downgrade() -> None:
    op.drop_table("refresh_token")
    op.drop_table("auth_session")
    op.drop_table("user_account")
