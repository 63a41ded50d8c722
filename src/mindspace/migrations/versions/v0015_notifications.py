"""Notifications: the inbox, deliveries and their attempts, push subscriptions, quiet hours
and admin broadcasts.

Revision ID: 0015_notifications
Revises: 0013_inbox
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from mindspace.migrations.helpers import app_role, apply_owner_rls

revision: str = "0015_notifications"
down_revision: str | None = "0013_inbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NOW = sa.text("now()")


def _tz(name: str, *, nullable: bool = True, now: bool = False) -> sa.Column[object]:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        nullable=nullable,
        server_default=_NOW if now else None,
    )


def _owner(table: str, *, primary_key: bool = False) -> list[Any]:
    return [
        sa.Column("owner_id", sa.Uuid(), nullable=False, primary_key=primary_key),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user_account.id"],
            ondelete="CASCADE",
            name=op.f(f"fk_{table}_owner_id_user_account"),
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "notification",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_owner("notification"),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(48), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.String(1000), nullable=False),
        sa.Column("data", postgresql.JSONB(), nullable=False),
        sa.Column("link", sa.String(300), nullable=False),
        sa.Column("dedup_key", sa.String(120), nullable=True),
        _tz("created_at", nullable=False, now=True),
        _tz("read_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
        sa.UniqueConstraint(
            "owner_id", "dedup_key", name=op.f("uq_notification_owner_id_dedup_key")
        ),
    )
    op.create_index(op.f("ix_notification_owner_id"), "notification", ["owner_id"])
    op.create_index("ix_notification_owner_id_id", "notification", ["owner_id", "id"])
    op.create_index(
        "ix_notification_unread",
        "notification",
        ["owner_id", "id"],
        postgresql_where=sa.text("read_at IS NULL"),
    )
    apply_owner_rls("notification")

    op.create_table(
        "notification_delivery",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_owner("notification_delivery"),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("notification_id", sa.Uuid(), nullable=True),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(48), nullable=False),
        sa.Column("link", sa.String(300), nullable=False),
        sa.Column("target", sa.String(320), nullable=False),
        sa.Column("status", sa.String(12), server_default="pending", nullable=False),
        _tz("hold_until"),
        sa.Column("digest_id", sa.Uuid(), nullable=True),
        sa.Column("item_count", sa.Integer(), server_default="1", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.String(2000), nullable=True),
        _tz("created_at", nullable=False, now=True),
        _tz("last_attempt_at"),
        _tz("sent_at"),
        sa.CheckConstraint(
            "channel IN ('email', 'push', 'sms')", name=op.f("ck_notification_delivery_channel")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'held', 'sent', 'failed', 'digested', 'skipped')",
            name=op.f("ck_notification_delivery_status"),
        ),
        sa.CheckConstraint(
            "status <> 'held' OR hold_until IS NOT NULL",
            name=op.f("ck_notification_delivery_held_until"),
        ),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notification.id"],
            ondelete="SET NULL",
            name=op.f("fk_notification_delivery_notification_id_notification"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_delivery")),
        sa.UniqueConstraint(
            "request_id",
            "channel",
            "target",
            name=op.f("uq_notification_delivery_request_id_channel_target"),
        ),
    )
    op.create_index(
        op.f("ix_notification_delivery_owner_id"), "notification_delivery", ["owner_id"]
    )
    op.create_index(
        "ix_notification_delivery_held",
        "notification_delivery",
        ["owner_id", "channel", "hold_until"],
        postgresql_where=sa.text("status = 'held'"),
    )
    apply_owner_rls("notification_delivery")

    op.create_table(
        "notification_delivery_attempt",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_owner("notification_delivery_attempt"),
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(8), nullable=False),
        sa.Column("error", sa.String(2000), nullable=True),
        _tz("attempted_at", nullable=False, now=True),
        sa.CheckConstraint(
            "outcome IN ('sent', 'failed')", name=op.f("ck_notification_delivery_attempt_outcome")
        ),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["notification_delivery.id"],
            ondelete="CASCADE",
            name=op.f("fk_notification_delivery_attempt_delivery_id_notification_delivery"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_delivery_attempt")),
    )
    op.create_index(
        op.f("ix_notification_delivery_attempt_owner_id"),
        "notification_delivery_attempt",
        ["owner_id"],
    )
    op.create_index(
        op.f("ix_notification_delivery_attempt_delivery_id"),
        "notification_delivery_attempt",
        ["delivery_id"],
    )
    apply_owner_rls("notification_delivery_attempt")

    op.create_table(
        "push_subscription",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_owner("push_subscription"),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("p256dh", sa.String(200), nullable=False),
        sa.Column("auth", sa.String(100), nullable=False),
        sa.Column("user_agent", sa.String(400), nullable=True),
        _tz("created_at", nullable=False, now=True),
        _tz("last_success_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_subscription")),
        sa.UniqueConstraint("endpoint", name=op.f("uq_push_subscription_endpoint")),
    )
    op.create_index(op.f("ix_push_subscription_owner_id"), "push_subscription", ["owner_id"])
    apply_owner_rls("push_subscription")

    op.create_table(
        "notification_settings",
        *_owner("notification_settings", primary_key=True),
        sa.Column("quiet_start", sa.Time(), nullable=True),
        sa.Column("quiet_end", sa.Time(), nullable=True),
        _tz("updated_at", nullable=False, now=True),
        sa.CheckConstraint(
            "(quiet_start IS NULL) = (quiet_end IS NULL)",
            name=op.f("ck_notification_settings_quiet_both"),
        ),
        sa.PrimaryKeyConstraint("owner_id", name=op.f("pk_notification_settings")),
    )
    apply_owner_rls("notification_settings")

    op.create_table(
        "notification_broadcast",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("title", sa.String(120), nullable=False),
        sa.Column("body", sa.String(1000), nullable=False),
        sa.Column("segment", postgresql.JSONB(), nullable=False),
        sa.Column("status", sa.String(12), server_default="queued", nullable=False),
        sa.Column("cursor", sa.Uuid(), nullable=True),
        sa.Column("recipients", sa.Integer(), server_default="0", nullable=False),
        _tz("created_at", nullable=False, now=True),
        _tz("finished_at"),
        sa.CheckConstraint(
            "status IN ('queued', 'sending', 'done')", name=op.f("ck_notification_broadcast_status")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["user_account.id"],
            ondelete="SET NULL",
            name=op.f("fk_notification_broadcast_created_by_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_broadcast")),
    )
    # Staff and the broadcast job only: no member ever reads or writes a broadcast.
    role = app_role()
    for statement in (
        "ALTER TABLE notification_broadcast ENABLE ROW LEVEL SECURITY",
        "ALTER TABLE notification_broadcast FORCE ROW LEVEL SECURITY",
        "CREATE POLICY notification_broadcast_staff ON notification_broadcast "
        "USING (mindspace_scope() IN ('admin', 'system')) "
        "WITH CHECK (mindspace_scope() IN ('admin', 'system'))",
        f"GRANT SELECT, INSERT, UPDATE ON notification_broadcast TO {role}",
    ):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("notification_broadcast")
    op.drop_table("notification_settings")
    op.drop_table("push_subscription")
    op.drop_table("notification_delivery_attempt")
    op.drop_table("notification_delivery")
    op.drop_table("notification")
