"""Upgrading a database whose alerts hold plaintext excerpts: the migration keeps every word
(it cannot seal them, holding no keys), the worker's job then seals and clears them, and the
migration steps back down and up again."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from mindspace.crisis import service
from mindspace.crisis.models import EXCERPT
from mindspace.platform.crypto import MasterKeys, Vault
from mindspace.platform.db import Database, app_url
from mindspace.platform.ids import new_id
from mindspace.platform.migrate import downgrade, upgrade
from mindspace.platform.security import Principal

pytestmark = pytest.mark.asyncio
BEFORE = "0026_idempotency"
APP_ROLE = "mindspace_app"


async def _admin_sql(server_url: str, *statements: str) -> None:
    admin = create_async_engine(
        make_url(server_url).set(drivername="postgresql+asyncpg", database="postgres"),
        isolation_level="AUTOCOMMIT",
    )
    async with admin.connect() as conn:
        for statement in statements:
            await conn.exec_driver_sql(statement)
    await admin.dispose()


@pytest_asyncio.fixture
async def old_database(worker_database_url: str) -> AsyncIterator[str]:
    """A database of its own, at the revision before sealing."""
    name = f"{make_url(worker_database_url).database}_excerpts"
    await _admin_sql(worker_database_url, f'DROP DATABASE IF EXISTS "{name}"')
    await _admin_sql(worker_database_url, f'CREATE DATABASE "{name}"')
    url = make_url(worker_database_url).set(database=name).render_as_string(hide_password=False)
    await asyncio.to_thread(upgrade, url, app_role=APP_ROLE, revision=BEFORE)
    yield url
    await _admin_sql(worker_database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _rows(engine: AsyncEngine, sql: str, **params: Any) -> list[dict[str, Any]]:
    async with engine.begin() as conn:
        return [dict(r._mapping) for r in await conn.execute(text(sql), params)]


async def test_plaintext_alerts_survive_the_upgrade_and_are_sealed_after_it(
    old_database: str,
) -> None:
    owner = create_async_engine(make_url(old_database).set(drivername="postgresql+asyncpg"))
    person, alert_id = new_id(), new_id()
    words = "written before sealing existed"
    try:
        async with owner.begin() as conn:
            await conn.execute(
                text("INSERT INTO user_account (id, display_name) VALUES (:id, 'Old person')"),
                {"id": person},
            )
            await conn.execute(
                text(
                    "INSERT INTO crisis_alert (id, owner_id, severity, trigger, excerpt) "
                    "VALUES (:id, :owner, 'high_risk', 'companion_message', :words)"
                ),
                {"id": alert_id, "owner": person, "words": words},
            )

        await asyncio.to_thread(upgrade, old_database, app_role=APP_ROLE)
        query = "SELECT excerpt, excerpt_sealed FROM crisis_alert WHERE id = :id"
        assert await _rows(owner, query, id=alert_id) == [
            {"excerpt": words, "excerpt_sealed": None}
        ]

        db = Database(app_url(old_database, explicit=None, role=APP_ROLE, password=None))
        vault = Vault(MasterKeys([("test", os.urandom(32))]))
        try:
            assert await service.seal_legacy_excerpts(db, vault) == 1
            assert await service.seal_legacy_excerpts(db, vault) == 0
            async with db.session(None) as session:  # nobody's scope: no key is visible
                assert await vault.find_data_key(session, person) is None
            reader = db.reader(Principal(user_id=person))
            key = await vault.read_data_key(reader, person)
        finally:
            await db.dispose()
        [row] = await _rows(owner, query, id=alert_id)
        assert row["excerpt"] is None
        assert key is not None
        assert key.open_text(row["excerpt_sealed"], purpose=EXCERPT, row_id=alert_id) == words

        # Down again: sealed words cannot go back to plaintext without the keys, but the
        # schema does, and up once more.
        await asyncio.to_thread(downgrade, old_database, app_role=APP_ROLE, revision=BEFORE)
        assert await _rows(owner, "SELECT excerpt FROM crisis_alert") == [{"excerpt": ""}]
        await asyncio.to_thread(upgrade, old_database, app_role=APP_ROLE)
    finally:
        await owner.dispose()
