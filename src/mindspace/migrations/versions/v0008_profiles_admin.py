"""Account status, public profiles and the admin surface.

Revision ID: 0008_profiles_admin
Revises: 0007_two_factor
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mindspace.migrations.helpers import app_role

revision: str = "0008_profiles_admin"
down_revision: str | None = "0007_two_factor"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    role = app_role()
    op.add_column(
        "user_account",
        sa.Column(
            "profile_visibility", sa.String(length=16), server_default="private", nullable=False
        ),
    )
    op.add_column(
        "user_account", sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "user_account", sa.Column("suspension_reason", sa.String(length=500), nullable=True)
    )
    op.create_check_constraint(
        op.f("ck_user_account_profile_visibility"),
        "user_account",
        "profile_visibility IN ('private', 'public')",
    )

    # Public profiles. Row-level security hides every other person's account from the app, and
    # is FORCEd, so it binds the table owner too. The widening is therefore two narrow pieces:
    # a SELECT policy that applies only to the migration role (the view's owner) and only to
    # active public accounts, and a view, running as its owner (not security_invoker), that
    # exposes four harmless columns of those rows. The app may read the view, never the rows.
    # (The owner could disable row-level security on its own table anyway: no new power.)
    op.execute(
        "CREATE POLICY user_account_public_profile ON user_account FOR SELECT TO CURRENT_USER "
        "USING (status = 'active' AND profile_visibility = 'public')"
    )
    # security_barrier: a caller's WHERE clause cannot run a leaky function on hidden rows.
    op.execute(
        """
        CREATE VIEW public_profile WITH (security_barrier) AS
        SELECT id, display_name, bio, pronouns FROM user_account
        WHERE status = 'active' AND profile_visibility = 'public'
        """
    )
    op.execute(f"GRANT SELECT ON public_profile TO {role}")

    # The activity log is read newest first, one person at a time.
    op.create_index(
        "ix_account_activity_owner_recent",
        "account_activity",
        ["owner_id", sa.text("occurred_at DESC"), sa.text("id DESC")],
    )


def downgrade() -> None:
    op.drop_index("ix_account_activity_owner_recent", table_name="account_activity")
    op.execute("DROP VIEW public_profile")
    op.execute("DROP POLICY user_account_public_profile ON user_account")
    op.drop_constraint(op.f("ck_user_account_profile_visibility"), "user_account", type_="check")
    op.drop_column("user_account", "suspension_reason")
    op.drop_column("user_account", "suspended_at")
    op.drop_column("user_account", "profile_visibility")
