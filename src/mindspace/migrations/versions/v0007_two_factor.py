"""Two-factor authentication, recovery codes and account lockout.

Revision ID: 0007_two_factor
Revises: 0006_oidc
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0007_two_factor"
down_revision: str | None = "0006_oidc"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
