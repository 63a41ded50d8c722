"""Runs of the companion's prompt templates: which template, when and who answered (never the
person's input or the answer), so runs count toward the daily quota and a credit or a crisis
alert can name one.

Revision ID: 0025_companion_templates
Revises: 0024_crisis_outreach
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mindspace.migrations.helpers import apply_owner_rls
from mindspace.platform.db import DbScope

revision: str = "0025_companion_templates"
down_revision: str | None = "0024_crisis_outreach"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NOW = sa.text("now()")


def upgrade() -> None:
    table = "companion_template_run"
    op.create_table(
        table,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("template", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("engine", sa.String(20), nullable=False),
        sa.Column("cached", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("replaced", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_NOW, nullable=False),
        sa.CheckConstraint("kind IN ('answer', 'crisis')", name=op.f(f"ck_{table}_kind_known")),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user_account.id"],
            ondelete="CASCADE",
            name=op.f(f"fk_{table}_owner_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    )
    op.create_index(op.f(f"ix_{table}_owner_id"), table, ["owner_id"])
    op.create_index(f"ix_{table}_owner_created", table, ["owner_id", "created_at"])
    # Which templates a person reaches for, and when, is theirs: staff never read it.
    apply_owner_rls(table, scopes=(DbScope.system,))


def downgrade() -> None:
    op.drop_table("companion_template_run")
