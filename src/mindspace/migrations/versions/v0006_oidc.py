"""External sign-in providers (OpenID Connect).

Revision ID: 0006_oidc
Revises: 0005_phone_otp
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0006_oidc"
down_revision: str | None = "0005_phone_otp"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
