"""Safety: each person's safety plan.

Revision ID: 0019_safety
Revises: 0018_mood
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from mindspace.migrations.helpers import apply_owner_rls

revision: str = "0019_safety"
down_revision: str | None = "0018_mood"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SECTIONS = (
    "warning_signs",
    "coping_steps",
    "people_and_places",
    "people_to_ask",
    "professionals",
    "environment_safety",
    "reasons_for_living",
)


def upgrade() -> None:
    op.create_table(
        "safety_plan",
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        *(
            sa.Column(
                section,
                postgresql.JSONB(astext_type=sa.Text()),
                server_default=sa.text("'[]'::jsonb"),
                nullable=False,
            )
            for section in SECTIONS
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        *(
            sa.CheckConstraint(
                f"jsonb_typeof({section}) = 'array'", name=op.f(f"ck_safety_plan_{section}_array")
            )
            for section in SECTIONS
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user_account.id"],
            ondelete="CASCADE",
            name=op.f("fk_safety_plan_owner_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("owner_id", name=op.f("pk_safety_plan")),
    )
    apply_owner_rls("safety_plan")


def downgrade() -> None:
    op.drop_table("safety_plan")
