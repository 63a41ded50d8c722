"""Crisis alerts, trusted contacts and the notices that tell a person who was contacted.

Revision ID: 0020_crisis
Revises: 0019_safety
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from mindspace.migrations.helpers import apply_owner_rls

revision: str = "0020_crisis"
down_revision: str | None = "0019_safety"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    now = sa.text("now()")
    op.create_table(
        "trusted_contact",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("relationship", sa.String(40), nullable=True),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("notify_in_crisis", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("consented_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.CheckConstraint("channel IN ('email', 'sms')", name=op.f("ck_trusted_contact_channel")),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user_account.id"],
            name=op.f("fk_trusted_contact_owner_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trusted_contact")),
    )
    op.create_index(op.f("ix_trusted_contact_owner_id"), "trusted_contact", ["owner_id"])
    apply_owner_rls("trusted_contact")

    op.create_table(
        "crisis_alert",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("trigger", sa.String(30), nullable=False),
        sa.Column("signals", postgresql.JSONB(), nullable=False, server_default="[]"),
        sa.Column("excerpt", sa.String(280), nullable=False),
        sa.Column("source_type", sa.String(30), nullable=True),
        sa.Column("source_id", sa.Uuid(), nullable=True),
        sa.Column("occurrences", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("status", sa.String(12), nullable=False, server_default="open"),
        sa.Column("assignee_id", sa.Uuid(), nullable=True),
        sa.Column("review_note", sa.String(2000), nullable=True),
        sa.Column("resolution", sa.String(2000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "severity IN ('elevated_concern', 'high_risk')", name=op.f("ck_crisis_alert_severity")
        ),
        sa.CheckConstraint(
            "status IN ('open', 'assigned', 'reviewed', 'resolved')",
            name=op.f("ck_crisis_alert_status"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user_account.id"],
            name=op.f("fk_crisis_alert_owner_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["user_account.id"],
            name=op.f("fk_crisis_alert_assignee_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crisis_alert")),
    )
    op.create_index(op.f("ix_crisis_alert_owner_id"), "crisis_alert", ["owner_id"])
    op.create_index("ix_crisis_alert_queue", "crisis_alert", ["status", "created_at"])
    apply_owner_rls("crisis_alert")

    op.create_table(
        "contact_notice",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("alert_id", sa.Uuid(), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=True),
        sa.Column("contact_name", sa.String(80), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.Column("details", postgresql.JSONB(), nullable=False, server_default="{}"),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user_account.id"],
            name=op.f("fk_contact_notice_owner_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["crisis_alert.id"],
            name=op.f("fk_contact_notice_alert_id_crisis_alert"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["trusted_contact.id"],
            name=op.f("fk_contact_notice_contact_id_trusted_contact"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_notice")),
    )
    op.create_index(op.f("ix_contact_notice_owner_id"), "contact_notice", ["owner_id"])
    op.create_index(op.f("ix_contact_notice_alert_id"), "contact_notice", ["alert_id"])
    op.create_index(op.f("ix_contact_notice_contact_id"), "contact_notice", ["contact_id"])
    apply_owner_rls("contact_notice")


def downgrade() -> None:
    op.drop_table("contact_notice")
    op.drop_table("crisis_alert")
    op.drop_table("trusted_contact")
