"""Events: the consumers' inbox, retry backoff and wake-ups for the outbox, staff access to
stuck events.

Revision ID: 0013_inbox
Revises: 0012_email_change
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mindspace.migrations.helpers import app_role

revision: str = "0013_inbox"
down_revision: str | None = "0012_email_change"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    role = app_role()
    op.create_table(
        "inbox_message",
        sa.Column("consumer", sa.String(length=120), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column(
            "processed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("consumer", "event_id", name=op.f("pk_inbox_message")),
    )
    # Infrastructure, not anyone's data: only the relay and jobs (system scope) touch it.
    # DELETE lets a periodic job prune claims of events long since published.
    op.execute(f"GRANT SELECT, INSERT, DELETE ON inbox_message TO {role}")
    op.execute("ALTER TABLE inbox_message ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE inbox_message FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY inbox_message_system ON inbox_message FOR ALL "
        "USING (mindspace_scope() = 'system') WITH CHECK (mindspace_scope() = 'system')"
    )

    op.add_column(
        "outbox_event", sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True)
    )
    # Staff see events whose attempts ran out and may send them round again (audited).
    op.execute(
        "CREATE POLICY outbox_event_staff_read ON outbox_event FOR SELECT "
        "USING (mindspace_scope() = 'admin')"
    )
    op.execute(
        "CREATE POLICY outbox_event_staff_retry ON outbox_event FOR UPDATE "
        "USING (mindspace_scope() = 'admin') WITH CHECK (mindspace_scope() = 'admin')"
    )
    # One NOTIFY per inserting statement, delivered at commit (never for a rollback): the
    # relay wakes at once instead of at its next poll. The payload stays empty so that
    # PostgreSQL folds a transaction's notifications into one.
    op.execute(
        """
        CREATE FUNCTION mindspace_outbox_notify() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('mindspace_outbox', '');
            RETURN NULL;
        END;
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER outbox_event_notify AFTER INSERT ON outbox_event "
        "FOR EACH STATEMENT EXECUTE FUNCTION mindspace_outbox_notify()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER outbox_event_notify ON outbox_event")
    op.execute("DROP FUNCTION mindspace_outbox_notify()")
    op.execute("DROP POLICY outbox_event_staff_retry ON outbox_event")
    op.execute("DROP POLICY outbox_event_staff_read ON outbox_event")
    op.drop_column("outbox_event", "next_attempt_at")
    op.drop_table("inbox_message")
