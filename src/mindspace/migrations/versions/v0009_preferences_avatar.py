"""Preferences and avatars.

Revision ID: 0009_preferences_avatar
Revises: 0008_profiles_admin
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from mindspace.migrations.helpers import IDENTITY_SCOPES, app_role, apply_owner_rls

revision: str = "0009_preferences_avatar"
down_revision: str | None = "0008_profiles_admin"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    role = app_role()
    op.create_table(
        "user_preference",
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        # Only the cells a person chose; the rest follow the defaults in service.preferences.
        sa.Column(
            "channels",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("allow_ai_memory", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column(
            "allow_journal_analysis", sa.Boolean(), server_default=sa.false(), nullable=False
        ),
        sa.Column(
            "show_in_community_directory", sa.Boolean(), server_default=sa.false(), nullable=False
        ),
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
            "jsonb_typeof(channels) = 'object'", name=op.f("ck_user_preference_channels_object")
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user_account.id"],
            ondelete="CASCADE",
            name=op.f("fk_user_preference_owner_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("owner_id", name=op.f("pk_user_preference")),
    )
    apply_owner_rls("user_preference", scopes=IDENTITY_SCOPES)

    op.add_column("user_account", sa.Column("avatar_key", sa.String(length=200), nullable=True))
    # Others see an avatar only where they may see the profile (0008's public_profile rule).
    # Same construction as public_profile: a view running as its owner, through 0008's SELECT
    # policy for the owner on active public accounts, exposing the id and the key and no more.
    op.execute(
        """
        CREATE VIEW public_avatar WITH (security_barrier) AS
        SELECT id, avatar_key FROM user_account
        WHERE status = 'active' AND profile_visibility = 'public' AND avatar_key IS NOT NULL
        """
    )
    op.execute(f"GRANT SELECT ON public_avatar TO {role}")


def downgrade() -> None:
    op.execute("DROP VIEW public_avatar")
    op.drop_column("user_account", "avatar_key")
    op.drop_table("user_preference")
