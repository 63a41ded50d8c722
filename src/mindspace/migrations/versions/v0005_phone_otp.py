"""Phone numbers and one-time codes.

Revision ID: 0005_phone_otp
Revises: 0004_email_flows
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0005_phone_otp"
down_revision: str | None = "0004_email_flows"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
