"""Platform: the application role, the row-level security helpers, the audit trail, the outbox.

Revision ID: 0001_platform
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from mindspace.migrations.helpers import app_role

revision: str = "0001_platform"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    role = app_role()
    password = op.get_context().config.attributes.get("app_password")  # type: ignore[union-attr]
    # Roles are cluster-wide: several databases (one per test worker) share this one, and two
    # migrations creating it at once race past the IF: the loser sees unique_violation.
    op.execute(
        f"""
        DO $$ BEGIN
          IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
            CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
          END IF;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END $$;
        """
    )
    if password:
        op.execute(sa.text(f"ALTER ROLE {role} PASSWORD :pw").bindparams(pw=str(password)))
    op.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
    op.execute(f"GRANT CONNECT ON DATABASE {op.get_bind().engine.url.database} TO {role}")

    # Who is acting, as set per transaction by the app (platform.db). STABLE SQL functions are
    # inlined into policies, so they cost no more than the expression they wrap.
    op.execute(
        """
        CREATE FUNCTION mindspace_user_id() RETURNS uuid LANGUAGE sql STABLE PARALLEL SAFE AS
        $$ SELECT nullif(current_setting('mindspace.user_id', true), '')::uuid $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION mindspace_scope() RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS
        $$ SELECT coalesce(nullif(current_setting('mindspace.scope', true), ''), 'user') $$
        """
    )
    op.execute(f"GRANT SELECT ON alembic_version TO {role}")

    op.create_table(
        "audit_record",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=80), nullable=False),
        sa.Column("target_type", sa.String(length=40), nullable=True),
        sa.Column("target_id", sa.Uuid(), nullable=True),
        sa.Column("ip", postgresql.INET(), nullable=True),
        sa.Column("user_agent", sa.String(length=400), nullable=True),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_record")),
    )
    op.create_index("ix_audit_record_target", "audit_record", ["target_type", "target_id"])
    op.create_index(op.f("ix_audit_record_actor_id"), "audit_record", ["actor_id"])
    # Append-only: the app may add and read, never change or remove; the trigger holds even
    # for the owner, so history cannot be rewritten by accident either.
    op.execute(f"GRANT SELECT, INSERT ON audit_record TO {role}")
    op.execute(
        """
        CREATE FUNCTION audit_record_is_append_only() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN RAISE EXCEPTION 'audit_record is append-only'; END $$
        """
    )
    op.execute(
        "CREATE TRIGGER audit_record_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
        "ON audit_record FOR EACH STATEMENT EXECUTE FUNCTION audit_record_is_append_only()"
    )
    # Staff read the trail through the admin scope; a member reads nothing here.
    op.execute("ALTER TABLE audit_record ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE audit_record FORCE ROW LEVEL SECURITY")
    op.execute("CREATE POLICY audit_record_append ON audit_record FOR INSERT WITH CHECK (true)")
    op.execute(
        "CREATE POLICY audit_record_read ON audit_record FOR SELECT "
        "USING (mindspace_scope() IN ('admin', 'system'))"
    )

    op.create_table(
        "outbox_event",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("topic", sa.String(length=120), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=2000), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_event")),
    )
    op.create_index(
        "ix_outbox_event_pending",
        "outbox_event",
        ["id"],
        postgresql_where=sa.text("published_at IS NULL"),
    )
    # Anyone's transaction may add events; only the relay (system scope) reads and marks them.
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON outbox_event TO {role}")
    op.execute("ALTER TABLE outbox_event ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE outbox_event FORCE ROW LEVEL SECURITY")
    op.execute("CREATE POLICY outbox_event_append ON outbox_event FOR INSERT WITH CHECK (true)")
    op.execute(
        "CREATE POLICY outbox_event_relay ON outbox_event FOR ALL "
        "USING (mindspace_scope() = 'system') WITH CHECK (mindspace_scope() = 'system')"
    )


def downgrade() -> None:
    role = app_role()
    op.drop_table("outbox_event")
    op.execute("DROP TRIGGER audit_record_append_only ON audit_record")
    op.drop_table("audit_record")
    op.execute("DROP FUNCTION audit_record_is_append_only()")
    op.execute("DROP FUNCTION mindspace_scope()")
    op.execute("DROP FUNCTION mindspace_user_id()")
    op.execute(f"REVOKE ALL ON alembic_version FROM {role}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {role}")
