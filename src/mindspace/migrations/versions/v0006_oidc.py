"""External sign-in providers (OpenID Connect).

Revision ID: 0006_oidc
Revises: 0005_phone_otp
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mindspace.migrations.helpers import IDENTITY_SCOPES, app_role, apply_owner_rls

revision: str = "0006_oidc"
down_revision: str | None = "0005_phone_otp"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    role = app_role()
    op.create_table(
        "oidc_flow",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("state_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("nonce", sa.String(length=128), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column("redirect_uri", sa.String(length=2000), nullable=False),
        sa.Column("link_user_id", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("subject", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["link_user_id"],
            ["user_account.id"],
            ondelete="CASCADE",
            name=op.f("fk_oidc_flow_link_user_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_flow")),
    )
    op.create_index("uq_oidc_flow_state_hash", "oidc_flow", ["state_hash"], unique=True)
    op.create_index(op.f("ix_oidc_flow_expires_at"), "oidc_flow", ["expires_at"])
    op.create_index(op.f("ix_oidc_flow_link_user_id"), "oidc_flow", ["link_user_id"])
    # A flow belongs to nobody yet (sign-in) or is checked against the signed-in person by the
    # service (linking): only sign-in and jobs (clean-up) touch these rows.
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON oidc_flow TO {role}")
    op.execute("ALTER TABLE oidc_flow ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE oidc_flow FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY oidc_flow_sign_in ON oidc_flow FOR ALL "
        "USING (mindspace_scope() IN ('auth', 'system')) "
        "WITH CHECK (mindspace_scope() IN ('auth', 'system'))"
    )

    op.create_table(
        "identity_link",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user_account.id"],
            ondelete="CASCADE",
            name=op.f("fk_identity_link_owner_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_link")),
    )
    op.create_index(
        "uq_identity_link_provider_subject", "identity_link", ["provider", "subject"], unique=True
    )
    op.create_index(op.f("ix_identity_link_owner_id"), "identity_link", ["owner_id"])
    # Sign-in finds the account by (provider, subject) before anyone is authenticated.
    apply_owner_rls("identity_link", scopes=IDENTITY_SCOPES)


def downgrade() -> None:
    op.drop_table("identity_link")
    op.drop_table("oidc_flow")
