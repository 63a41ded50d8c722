"""Account status, public profiles and the admin surface.

Revision ID: 0008_profiles_admin
Revises: 0007_two_factor
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0008_profiles_admin"
down_revision: str | None = "0007_two_factor"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
