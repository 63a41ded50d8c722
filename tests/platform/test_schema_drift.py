"""The models and the migrations describe the same schema: a model changed without a
migration (or the reverse) fails here, not in production."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

import mindspace.models  # noqa: F401 - registers every table on the metadata
from mindspace.platform.db import Base

pytestmark = pytest.mark.asyncio
# Tables that migrations create from other sources than our models.
_NOT_OURS = ("procrastinate_", "alembic_version")


def _ours(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    table = obj if type_ == "table" else getattr(obj, "table", None)
    table_name = getattr(table, "name", name) or ""
    return not table_name.startswith(_NOT_OURS)


def _diff(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(
        conn,
        opts={
            "compare_type": True,
            "compare_server_default": True,
            "include_object": _ours,
        },
    )
    return list(compare_metadata(context, Base.metadata))


async def test_the_migrations_build_exactly_the_models(owner_engine: AsyncEngine) -> None:
    async with owner_engine.connect() as conn:
        differences = await conn.run_sync(_diff)
    assert differences == [], "\n".join(map(str, differences))
