"""Email links may also confirm a change of address.

Revision ID: 0012_email_change
Revises: 0011_data_rights
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012_email_change"
down_revision: str | None = "0011_data_rights"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint(op.f("ck_email_token_purpose"), "email_token", type_="check")
    op.create_check_constraint(
        op.f("ck_email_token_purpose"),
        "email_token",
        "purpose IN ('verify_email', 'reset_password', 'change_email')",
    )


def downgrade() -> None:
    op.execute("DELETE FROM email_token WHERE purpose = 'change_email'")
    op.drop_constraint(op.f("ck_email_token_purpose"), "email_token", type_="check")
    op.create_check_constraint(
        op.f("ck_email_token_purpose"),
        "email_token",
        "purpose IN ('verify_email', 'reset_password')",
    )
