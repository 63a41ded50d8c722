"""Background jobs: procrastinate's schema, usable by the application role.

Revision ID: 0010_jobs
Revises: 0009_preferences_avatar
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources

from alembic import op
from sqlalchemy.util import await_

from mindspace.migrations.helpers import app_role

revision: str = "0010_jobs"
down_revision: str | None = "0009_preferences_avatar"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA_FILE = "procrastinate-3.10.0.sql"


def upgrade() -> None:
    role = app_role()
    sql = resources.files("mindspace.migrations").joinpath("sql", SCHEMA_FILE).read_text()
    # Many statements in one script: only the driver's simple-query path takes that (the
    # dialect prepares every statement). Same connection, so same transaction.
    raw = op.get_bind().connection.driver_connection
    await_(raw.execute(sql))  # type: ignore[union-attr]
    # The queue is infrastructure, not anyone's data: no row-level security; the app role
    # (API and workers) may use every procrastinate table, sequence and function.
    op.execute(
        f"""
        DO $$
        DECLARE r record;
        BEGIN
          FOR r IN SELECT tablename FROM pg_tables
                   WHERE schemaname = 'public' AND tablename LIKE 'procrastinate\\_%' LOOP
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO {role}', r.tablename);
          END LOOP;
          FOR r IN SELECT sequence_name FROM information_schema.sequences
                   WHERE sequence_schema = 'public' AND sequence_name LIKE 'procrastinate\\_%' LOOP
            EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE %I TO {role}', r.sequence_name);
          END LOOP;
        END $$;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DO $$
        DECLARE r record;
        BEGIN
          FOR r IN SELECT tablename FROM pg_tables
                   WHERE schemaname = 'public' AND tablename LIKE 'procrastinate\\_%' LOOP
            EXECUTE format('DROP TABLE IF EXISTS %I CASCADE', r.tablename);
          END LOOP;
          FOR r IN SELECT p.oid::regprocedure AS fn FROM pg_proc p
                   JOIN pg_namespace n ON n.oid = p.pronamespace
                   WHERE n.nspname = 'public' AND p.proname LIKE 'procrastinate\\_%' LOOP
            EXECUTE format('DROP FUNCTION IF EXISTS %s CASCADE', r.fn);
          END LOOP;
          FOR r IN SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                   WHERE n.nspname = 'public' AND t.typname LIKE 'procrastinate\\_%'
                     AND t.typtype IN ('e', 'c') LOOP
            EXECUTE format('DROP TYPE IF EXISTS %I CASCADE', r.typname);
          END LOOP;
        END $$;
        """
    )
