"""Phone numbers and one-time codes.

Revision ID: 0005_phone_otp
Revises: 0004_email_flows
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mindspace.migrations.helpers import app_role

revision: str = "0005_phone_otp"
down_revision: str | None = "0004_email_flows"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    role = app_role()
    op.add_column("user_account", sa.Column("phone", sa.String(length=16), nullable=True))
    op.add_column(
        "user_account",
        sa.Column("phone_verified_at", sa.DateTime(timezone=True), nullable=True),
    )
    # E.164: "+", a country code that never starts with 0, at most 15 digits in all.
    op.create_check_constraint(
        op.f("ck_user_account_phone_e164"), "user_account", r"phone ~ '^\+[1-9][0-9]{6,14}$'"
    )
    op.create_index(
        "uq_user_account_phone",
        "user_account",
        ["phone"],
        unique=True,
        postgresql_where=sa.text("phone IS NOT NULL"),
    )

    op.create_table(
        "phone_otp",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("code_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("attempts", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "purpose IN ('sign_in', 'verify_phone')", name=op.f("ck_phone_otp_purpose")
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_phone_otp_attempts")),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            ondelete="CASCADE",
            name=op.f("fk_phone_otp_user_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phone_otp")),
    )
    op.create_index("ix_phone_otp_phone_purpose", "phone_otp", ["phone", "purpose"])
    op.create_index(op.f("ix_phone_otp_user_id"), "phone_otp", ["user_id"])
    # Codes are keyed by phone, not owned: sign-in (auth scope) and jobs (system) reach them all;
    # a signed-in person reaches only the codes they asked for to add a number to their account.
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON phone_otp TO {role}")
    op.execute("ALTER TABLE phone_otp ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE phone_otp FORCE ROW LEVEL SECURITY")
    rule = (
        "mindspace_scope() IN ('auth', 'system') "
        "OR (user_id IS NOT NULL AND user_id = mindspace_user_id())"
    )
    op.execute(f"CREATE POLICY phone_otp_access ON phone_otp USING ({rule}) WITH CHECK ({rule})")


def downgrade() -> None:
    op.drop_table("phone_otp")
    op.drop_index("uq_user_account_phone", table_name="user_account")
    op.drop_constraint(op.f("ck_user_account_phone_e164"), "user_account", type_="check")
    op.drop_column("user_account", "phone_verified_at")
    op.drop_column("user_account", "phone")
