"""Email verification, password reset and common-password refusal.

Revision ID: 0004_email_flows
Revises: 0003_messages_activity
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0004_email_flows"
down_revision: str | None = "0003_messages_activity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
