"""Alembic, driven from code: the only way the schema changes.

The migrations live inside the package (`mindspace/migrations`) so an installed wheel can
migrate its own database; `alembic.ini` at the repository root points at the same place for
people who prefer the alembic command.
"""

from __future__ import annotations

import asyncio
from functools import lru_cache

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from mindspace.platform.db import owner_url

SCRIPT_LOCATION = "mindspace:migrations"


def alembic_config(database_url: str, *, app_role: str, app_password: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    cfg.attributes["database_url"] = owner_url(database_url).render_as_string(hide_password=False)
    cfg.attributes["app_role"] = app_role
    cfg.attributes["app_password"] = app_password
    return cfg


@lru_cache(maxsize=1)
def head_revision() -> str:
    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    heads = ScriptDirectory.from_config(cfg).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"migrations must have exactly one head, found {heads}")
    return heads[0]


def upgrade(
    database_url: str, *, app_role: str, app_password: str | None = None, revision: str = "head"
) -> None:
    """Blocking; call from a thread when an event loop is running."""
    command.upgrade(
        alembic_config(database_url, app_role=app_role, app_password=app_password), revision
    )


def downgrade(database_url: str, *, app_role: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url, app_role=app_role), revision)


async def ensure_database(database_url: str) -> None:
    """Creates the database named in the URL if it does not exist (needs CREATEDB)."""
    url = owner_url(database_url)
    name = url.database
    if not name:
        raise ValueError("DATABASE_URL names no database")
    engine = create_async_engine(
        url.set(database="postgres"), isolation_level="AUTOCOMMIT", connect_args={"timeout": 10}
    )
    try:
        async with engine.connect() as conn:
            exists = await conn.exec_driver_sql(
                "SELECT 1 FROM pg_database WHERE datname = $1", (name,)
            )
            if exists.first() is None:
                quoted = '"' + name.replace('"', '""') + '"'
                await conn.exec_driver_sql(f"CREATE DATABASE {quoted}")
    finally:
        await engine.dispose()


def run_upgrade_sync(database_url: str, *, app_role: str, app_password: str | None) -> None:
    asyncio.run(ensure_database(database_url))
    upgrade(database_url, app_role=app_role, app_password=app_password)


def database_name(database_url: str) -> str | None:
    return make_url(database_url).database
