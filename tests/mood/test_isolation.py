"""Mood rows are private twice over (row-level security behind every query) and leave with the
account."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from mindspace.mood.models import MoodActivity, MoodCheckin, MoodSettings
from mindspace.platform.db import Database
from tests.conftest import Person
from tests.mood.conftest import post_checkin

pytestmark = pytest.mark.asyncio


async def fill(client: httpx.AsyncClient, person: Person) -> None:
    await post_checkin(client, person, score=5, note="private")
    await client.post("/api/v1/mood/activities", json={"name": "Choir"}, headers=person.headers)
    await client.patch(
        "/api/v1/mood/settings", json={"freeze_days_per_month": 1}, headers=person.headers
    )


async def test_unfiltered_queries_see_only_the_actors_mood_rows(
    client: httpx.AsyncClient, db: Database, user: Person, other_user: Person
) -> None:
    await fill(client, user)
    await fill(client, other_user)
    async with db.session(user.principal) as session:
        for table in (MoodCheckin, MoodActivity, MoodSettings):
            owners = set((await session.execute(select(table.owner_id))).scalars())
            assert owners == {user.id}, table.__tablename__
    reader = db.reader(user.principal)
    rows = await reader.fetch("SELECT owner_id FROM mood_checkin")
    assert {r["owner_id"] for r in rows} == {user.id}


async def test_erasing_the_account_erases_its_mood_rows(
    client: httpx.AsyncClient, owner_engine: AsyncEngine, user: Person, other_user: Person
) -> None:
    await fill(client, user)
    await fill(client, other_user)
    async with owner_engine.begin() as conn:
        await conn.execute(text("DELETE FROM user_account WHERE id = :id"), {"id": user.id})
    async with owner_engine.connect() as conn:
        for table in (MoodCheckin, MoodActivity, MoodSettings):
            owners = set((await conn.execute(select(table.owner_id))).scalars())
            assert owners == {other_user.id}, table.__tablename__
