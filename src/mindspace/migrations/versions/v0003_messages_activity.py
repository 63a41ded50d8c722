"""Outbound messages (email, SMS) and each person's account activity.

Revision ID: 0003_messages_activity
Revises: 0002_identity
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from mindspace.migrations.helpers import IDENTITY_SCOPES, app_role, apply_owner_rls

revision: str = "0003_messages_activity"
down_revision: str | None = "0002_identity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    role = app_role()
    op.create_table(
        "outbound_message",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=2000), nullable=True),
        sa.CheckConstraint("channel IN ('email', 'sms')", name=op.f("ck_outbound_message_channel")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_message")),
    )
    op.create_index(
        "ix_outbound_message_pending",
        "outbound_message",
        ["id"],
        postgresql_where=sa.text("sent_at IS NULL"),
    )
    # Messages carry sign-in links and codes: any transaction may queue one, only delivery
    # (the system scope) reads them.
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON outbound_message TO {role}")
    op.execute("ALTER TABLE outbound_message ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE outbound_message FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY outbound_message_queue ON outbound_message FOR INSERT WITH CHECK (true)"
    )
    op.execute(
        "CREATE POLICY outbound_message_delivery ON outbound_message FOR ALL "
        "USING (mindspace_scope() = 'system') WITH CHECK (mindspace_scope() = 'system')"
    )

    op.create_table(
        "account_activity",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("ip", postgresql.INET(), nullable=True),
        sa.Column("user_agent", sa.String(length=400), nullable=True),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user_account.id"],
            ondelete="CASCADE",
            name=op.f("fk_account_activity_owner_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_activity")),
    )
    op.create_index(op.f("ix_account_activity_owner_id"), "account_activity", ["owner_id"])
    # Sign-in flows record activity too (a replayed refresh token). A person's history is
    # theirs to read and erase, not to rewrite: no UPDATE.
    apply_owner_rls("account_activity", scopes=IDENTITY_SCOPES, privileges="SELECT, INSERT, DELETE")


def downgrade() -> None:
    op.drop_table("account_activity")
    op.drop_table("outbound_message")
