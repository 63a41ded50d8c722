"""Preferences and avatars.

Revision ID: 0009_preferences_avatar
Revises: 0008_profiles_admin
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0009_preferences_avatar"
down_revision: str | None = "0008_profiles_admin"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
