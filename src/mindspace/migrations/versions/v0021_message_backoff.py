"""Outbound messages wait between failed attempts instead of retrying in a tight loop.

Revision ID: 0021_message_backoff
Revises: 0020_crisis
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_message_backoff"
down_revision: str | None = "0020_crisis"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "outbound_message", sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("outbound_message", "next_attempt_at")
