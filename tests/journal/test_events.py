"""What the journal tells other domains (through the outbox): ids only, and only for people
who let something use their entries' words."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import Person
from tests.journal.conftest import ENTRIES, write_entry

pytestmark = pytest.mark.asyncio
PREFERENCES = "/api/v1/users/me/preferences"
BODY = "<p>Tomatoes at the allotment with Bernadette.</p>"


async def _told(owner_engine: AsyncEngine, person: Person) -> list[tuple[str, str]]:
    async with owner_engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT topic, payload::text FROM outbox_event "
                "WHERE owner_id = :o AND topic LIKE 'journal.%' ORDER BY occurred_at, id"
            ),
            {"o": person.id},
        )
        return [(r[0], r[1]) for r in rows]


async def _write_edit_delete(client: httpx.AsyncClient, person: Person) -> None:
    entry = await write_entry(client, person, body=BODY)
    url = f"{ENTRIES}/{entry['id']}"
    response = await client.patch(url, json={"body": "<p>Bread.</p>"}, headers=person.headers)
    assert response.status_code == 200, response.text
    assert (await client.delete(url, headers=person.headers)).status_code == 204


async def test_nothing_is_told_for_someone_who_allows_no_use_of_their_words(
    client: httpx.AsyncClient, user: Person, owner_engine: AsyncEngine
) -> None:
    await _write_edit_delete(client, user)
    assert await _told(owner_engine, user) == []


@pytest.mark.parametrize("option", ["allow_journal_analysis", "allow_journal_memory"])
async def test_writes_edits_and_deletes_are_told_when_words_may_be_used(
    client: httpx.AsyncClient, user: Person, owner_engine: AsyncEngine, option: str
) -> None:
    response = await client.patch(
        PREFERENCES, json={"privacy": {option: True}}, headers=user.headers
    )
    assert response.status_code == 200, response.text
    await _write_edit_delete(client, user)
    told = await _told(owner_engine, user)
    assert [topic for topic, _ in told] == [
        "journal.entry_written",
        "journal.entry_written",
        "journal.entry_deleted",
    ]
    assert not any("Bernadette" in payload or "Bread" in payload for _, payload in told)
