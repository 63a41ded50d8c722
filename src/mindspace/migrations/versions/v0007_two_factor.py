"""Two-factor authentication, recovery codes and account lockout.

Revision ID: 0007_two_factor
Revises: 0006_oidc
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mindspace.migrations.helpers import IDENTITY_SCOPES, apply_owner_rls

revision: str = "0007_two_factor"
down_revision: str | None = "0006_oidc"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "auth_session", sa.Column("stepped_up_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "user_account",
        sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column(
        "user_account", sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_check_constraint(
        op.f("ck_user_account_failed_logins"), "user_account", "failed_logins >= 0"
    )

    op.create_table(
        "totp_credential",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("secret_ciphertext", sa.LargeBinary(length=128), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_counter", sa.Integer(), nullable=True),
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
            name=op.f("fk_totp_credential_owner_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_totp_credential")),
        sa.UniqueConstraint("owner_id", name=op.f("uq_totp_credential_owner_id")),
    )
    # Sign-in (the auth scope) checks whether a person has two-factor on and verifies codes.
    apply_owner_rls("totp_credential", scopes=IDENTITY_SCOPES)

    op.create_table(
        "recovery_code",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(length=32), nullable=False),
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
            name=op.f("fk_recovery_code_owner_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_code")),
    )
    op.create_index(op.f("ix_recovery_code_owner_id"), "recovery_code", ["owner_id"])
    apply_owner_rls("recovery_code", scopes=IDENTITY_SCOPES)


def downgrade() -> None:
    op.drop_table("recovery_code")
    op.drop_table("totp_credential")
    op.drop_constraint(op.f("ck_user_account_failed_logins"), "user_account", type_="check")
    op.drop_column("user_account", "locked_until")
    op.drop_column("user_account", "failed_logins")
    op.drop_column("auth_session", "stepped_up_at")
