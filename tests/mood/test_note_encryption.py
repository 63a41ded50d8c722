"""Check-in notes are sealed like journal entries: no plaintext in the table, bound to their
row and owner, gone with the person's key, and notes stored before encryption still open."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from mindspace.mood.notes import PLAIN
from mindspace.platform import crypto
from mindspace.platform.db import Database
from mindspace.platform.ids import decode
from tests.conftest import Person, assert_problem
from tests.mood.conftest import CHECKINS, post_checkin

pytestmark = pytest.mark.asyncio
NOTE = "Argued with Priya about the move; couldn't sleep"


async def test_the_table_holds_no_note_in_plaintext(
    client: httpx.AsyncClient, user: Person, owner_engine: AsyncEngine
) -> None:
    created = await post_checkin(client, user, score=4, note=NOTE)
    assert created["note"] == NOTE
    one = await client.get(f"{CHECKINS}/{created['id']}", headers=user.headers)
    assert one.json()["note"] == NOTE
    listed = await client.get(CHECKINS, headers=user.headers)
    assert listed.json()["items"][0]["note"] == NOTE
    async with owner_engine.connect() as conn:
        stored = (await conn.execute(text("SELECT note FROM mood_checkin"))).scalar_one()
    assert b"Priya" not in stored
    assert NOTE.encode() not in stored


async def test_a_note_moved_to_another_row_does_not_open(
    client: httpx.AsyncClient, user: Person, owner_engine: AsyncEngine
) -> None:
    first = await post_checkin(client, user, score=4, note=NOTE)
    second = await post_checkin(client, user, score=5, note="fine")
    async with owner_engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE mood_checkin SET note = (SELECT note FROM mood_checkin WHERE id = :a) "
                "WHERE id = :b"
            ),
            {"a": decode("mci", first["id"]), "b": decode("mci", second["id"])},
        )
    response = await client.get(f"{CHECKINS}/{second['id']}", headers=user.headers)
    assert_problem(response, 500)  # refused, never shown as someone else's words


async def test_notes_written_before_encryption_still_open(
    client: httpx.AsyncClient, user: Person, owner_engine: AsyncEngine
) -> None:
    created = await post_checkin(client, user, score=6)
    async with owner_engine.begin() as conn:
        await conn.execute(
            text("UPDATE mood_checkin SET note = :note"), {"note": PLAIN + b"an old note"}
        )
    one = await client.get(f"{CHECKINS}/{created['id']}", headers=user.headers)
    assert one.json()["note"] == "an old note"


async def test_shredding_the_key_makes_notes_unrecoverable(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    created = await post_checkin(client, user, score=4, note=NOTE)
    async with db.session(user.principal) as session:
        assert await crypto.shred(session, user.id)
    response = await client.get(f"{CHECKINS}/{created['id']}", headers=user.headers)
    assert response.status_code == 200
    assert (response.json()["score"], response.json()["note"]) == (4, None)
