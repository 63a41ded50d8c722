"""Idempotency keys: the first response to each key, sealed, per person and route.

Revision ID: 0026_idempotency
Revises: 0025_companion_templates
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mindspace.migrations.helpers import apply_owner_rls
from mindspace.platform.db import DbScope

revision: str = "0026_idempotency"
down_revision: str | None = "0025_companion_templates"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = "idempotency_record"
    op.create_table(
        table,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("route", sa.String(200), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("response_sealed", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user_account.id"],
            ondelete="CASCADE",
            name=op.f(f"fk_{table}_owner_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        # Also the owner's index (erasure, row-level security): it leads with owner_id.
        sa.UniqueConstraint(
            "owner_id", "route", "key", name=op.f(f"uq_{table}_owner_id_route_key")
        ),
    )
    op.create_index(f"ix_{table}_expires_at", table, ["expires_at"])
    # The person's requests, and the purge job (system). Staff never read kept responses: they
    # hold what the person wrote and was told. Kept responses are never changed, only replaced.
    apply_owner_rls(table, scopes=(DbScope.system,), privileges="SELECT, INSERT, DELETE")


def downgrade() -> None:
    op.drop_table("idempotency_record")
