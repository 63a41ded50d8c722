"""The person's consent to crisis outreach from what they write outside a conversation.

Revision ID: 0024_crisis_outreach
Revises: 0023_companion_memory
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024_crisis_outreach"
down_revision: str | None = "0023_companion_memory"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "user_preference",
        sa.Column("allow_crisis_outreach", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("user_preference", "allow_crisis_outreach")
