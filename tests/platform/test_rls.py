"""Isolation, the second time: PostgreSQL itself hides other people's rows from the app role,
even from a query that forgets to filter by owner."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from mindspace.identity.models import AuthSession, UserAccount
from mindspace.platform.audit import AuditRecord, admin_session
from mindspace.platform.db import Database, DbScope
from mindspace.platform.ids import new_id
from tests.conftest import Person

pytestmark = pytest.mark.asyncio


async def test_a_query_without_owner_filter_sees_only_the_actors_rows(
    db: Database, user: Person, other_user: Person
) -> None:
    async with db.session(user.principal) as session:
        # Deliberately unfiltered: the kind of query a bug would write.
        owners = set((await session.execute(select(AuthSession.owner_id))).scalars())
        accounts = set((await session.execute(select(UserAccount.id))).scalars())
    assert owners == {user.id}
    assert accounts == {user.id}


async def test_the_hot_read_path_is_under_the_same_policies(
    db: Database, user: Person, other_user: Person
) -> None:
    reader = db.reader(user.principal)
    rows = await reader.fetch("SELECT owner_id FROM auth_session")
    assert {r["owner_id"] for r in rows} == {user.id}
    # Named explicitly, another person's row is still not there.
    found = await reader.fetchrow("SELECT id FROM user_account WHERE id = $1", other_user.id)
    assert found is None
    assert await reader.fetchrow("SELECT id FROM user_account WHERE id = $1", user.id)


async def test_the_hot_read_path_only_reads(db: Database, user: Person) -> None:
    reader = db.reader(user.principal)
    with pytest.raises(asyncpg.PostgresSyntaxError):
        await reader.fetch("UPDATE user_account SET bio = 'x'")
    [row] = await reader.fetch("SELECT current_setting('transaction_read_only') AS read_only")
    assert row["read_only"] == "on"


async def test_the_principal_of_a_hot_read_ends_with_it(db: Database, user: Person) -> None:
    lone = Database(db.engine.url, pool_size=1)  # every statement below runs on the same connection
    try:
        assert await lone.reader(user.principal).fetch("SELECT id FROM user_account")
        async with lone.driver() as conn:
            left = await conn.fetchrow(
                "SELECT current_setting('mindspace.user_id', true) AS user_id, "
                "current_setting('transaction_read_only') AS read_only"
            )
            unscoped = await conn.fetch("SELECT id FROM user_account")
    finally:
        await lone.dispose()
    assert not left["user_id"]
    assert left["read_only"] == "off"
    assert unscoped == []


async def test_anonymous_transactions_see_no_owned_rows(db: Database, user: Person) -> None:
    async with db.session(None) as session:
        assert (await session.execute(select(AuthSession))).first() is None
        assert (await session.execute(select(UserAccount))).first() is None


async def test_a_write_cannot_target_another_persons_rows(
    db: Database, user: Person, other_user: Person
) -> None:
    async with db.session(user.principal) as session:
        result = await session.execute(
            update(AuthSession)
            .where(AuthSession.owner_id == other_user.id)
            .values(revoke_reason="hijack")
            .returning(AuthSession.id)
        )
        assert result.first() is None  # invisible rows are not updated

    with pytest.raises(DBAPIError, match="row-level security"):
        async with db.session(user.principal) as session:
            session.add(AuthSession(id=new_id(), owner_id=other_user.id, expires_at=_far_future()))
            await session.flush()


async def test_the_admin_scope_sees_everyone_and_is_audited(
    db: Database, admin: Person, user: Person, other_user: Person
) -> None:
    async with admin_session(db, admin.principal, action="support.inspect_sessions") as session:
        owners = set((await session.execute(select(AuthSession.owner_id))).scalars())
    assert {user.id, other_user.id, admin.id} <= owners
    async with db.session(admin.principal, scope=DbScope.admin) as session:
        actions = (await session.execute(select(AuditRecord.action, AuditRecord.actor_id))).all()
    assert ("support.inspect_sessions", admin.id) in actions


async def test_members_cannot_open_the_admin_scope(db: Database, user: Person) -> None:
    with pytest.raises(PermissionError):
        async with db.session(user.principal, scope=DbScope.admin):
            pass


async def test_every_owned_table_is_under_forced_row_level_security(
    owner_engine: AsyncEngine, db: Database
) -> None:
    async with owner_engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    """
                    SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
                           (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
                    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = 'public' AND c.relkind = 'r'
                      AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                                  AND a.attname = 'owner_id' AND NOT a.attisdropped)
                    """
                )
            )
        ).all()
    assert rows, "expected owned tables"
    for name, enabled, forced, policies in rows:
        assert (enabled, forced) == (True, True), f"{name}: row-level security not forced"
        assert policies > 0, f"{name} has no policy"


async def test_the_app_role_cannot_bypass_row_level_security(db: Database) -> None:
    async with db.engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT rolsuper, rolbypassrls, "
                    "(SELECT count(*) FROM pg_tables WHERE tableowner = current_user) "
                    "FROM pg_roles WHERE rolname = current_user"
                )
            )
        ).one()
    assert tuple(row) == (False, False, 0)


async def test_the_audit_trail_is_append_only(
    db: Database, admin: Person, owner_engine: AsyncEngine
) -> None:
    async with admin_session(db, admin.principal, action="support.look"):
        pass
    for statement in ("UPDATE audit_record SET action = 'x'", "DELETE FROM audit_record"):
        with pytest.raises(DBAPIError, match="permission denied"):
            async with db.session(admin.principal, scope=DbScope.admin) as session:
                await session.execute(text(statement))
    with pytest.raises(DBAPIError, match="append-only"):
        async with owner_engine.begin() as conn:
            await conn.execute(text("DELETE FROM audit_record"))


def _far_future() -> datetime:
    return datetime(2100, 1, 1, tzinfo=UTC)
