"""Journal entries in the companion's memory: only with their own permission (on top of AI
memory), never an entry with risk signals, following the entry's edits and deletion through
the journal's events, gone when either permission is withdrawn, listed with their source,
deletable, exported, and recalled into a model's context."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from mindspace.companion import service
from mindspace.companion.prompts import MEMORY_HEADING
from mindspace.platform.db import Database
from tests.companion.conftest import (
    BASE,
    MEMORIES,
    SAFE_REPLY,
    ModelServer,
    listed_memories,
    send,
    set_privacy,
    start,
)
from tests.conftest import Person, assert_problem
from tests.journal.conftest import ENTRIES, write_entry

ALLOTMENT = "<p>We planted tomatoes at the allotment with Bernadette. The shed is painted.</p>"
SOURDOUGH = "<p>Baked sourdough with rosemary and sea salt for Florian.</p>"
# Normal words about the day, and a sentence with a warning sign in it.
RISKY = "<p>Lovely walk by the canal with Ottoline. I have been thinking about ending my life.</p>"


async def _allow_journal(client: httpx.AsyncClient, person: Person, allowed: bool = True) -> None:
    await set_privacy(client, person, allow_ai_memory=True, allow_journal_memory=allowed)


async def _stored(owner_engine: AsyncEngine) -> list[str]:
    async with owner_engine.connect() as conn:
        rows = await conn.execute(text("SELECT t::text FROM companion_memory t"))
        return [r[0] for r in rows]


async def _edit(
    client: httpx.AsyncClient, person: Person, entry: dict[str, Any], **fields: Any
) -> None:
    response = await client.patch(f"{ENTRIES}/{entry['id']}", json=fields, headers=person.headers)
    assert response.status_code == 200, response.text


@pytest.mark.asyncio
async def test_an_entry_is_remembered_only_with_both_permissions(
    client: httpx.AsyncClient, user: Person, background: Any
) -> None:
    await set_privacy(client, user, allow_ai_memory=True)
    await write_entry(client, user, title="Allotment", body=ALLOTMENT)
    await background()
    assert await listed_memories(client, user) == []

    await set_privacy(client, user, allow_ai_memory=False, allow_journal_memory=True)
    await write_entry(client, user, title="Allotment", body=ALLOTMENT)
    await background()
    assert await listed_memories(client, user) == []


@pytest.mark.asyncio
async def test_an_entry_becomes_a_sealed_memory_with_its_source(
    client: httpx.AsyncClient, user: Person, background: Any, owner_engine: AsyncEngine
) -> None:
    await _allow_journal(client, user)
    entry = await write_entry(client, user, title="Allotment day", body=ALLOTMENT)
    await background()
    [memory] = await listed_memories(client, user)
    assert memory["source"] == "journal_entry"
    assert memory["journal_entry_id"] == entry["id"]
    assert memory["conversation_id"] is None
    assert memory["summary"].startswith("In their journal: Allotment day")
    assert "Bernadette" in memory["summary"]
    [row] = await _stored(owner_engine)
    assert "Bernadette" not in row
    assert "tomatoes" not in row.lower()
    # The job running again changes nothing.
    await background()
    assert await listed_memories(client, user) == [memory]


@pytest.mark.asyncio
async def test_entries_written_before_the_permission_are_not_taken(
    client: httpx.AsyncClient, user: Person, background: Any
) -> None:
    await write_entry(client, user, title="Allotment", body=ALLOTMENT)
    await _allow_journal(client, user)
    await background()
    assert await listed_memories(client, user) == []


@pytest.mark.asyncio
async def test_an_edit_replaces_the_memory(
    client: httpx.AsyncClient, user: Person, background: Any
) -> None:
    await _allow_journal(client, user)
    entry = await write_entry(client, user, title="Allotment", body=ALLOTMENT)
    await background()
    [before] = await listed_memories(client, user)
    await _edit(client, user, entry, body=SOURDOUGH)
    await background()
    [after] = await listed_memories(client, user)
    assert after["id"] == before["id"]
    assert "Florian" in after["summary"]
    assert "Bernadette" not in after["summary"]
    # Tags are not words of the memory: no job, no change.
    await _edit(client, user, entry, tags=["bread"])
    await background()
    assert await listed_memories(client, user) == [after]


@pytest.mark.asyncio
async def test_deleting_the_entry_forgets_its_memory_only(
    client: httpx.AsyncClient, user: Person, background: Any
) -> None:
    await _allow_journal(client, user)
    gone = await write_entry(client, user, title="Allotment", body=ALLOTMENT)
    kept = await write_entry(client, user, title="Bread", body=SOURDOUGH)
    await background()
    assert len(await listed_memories(client, user)) == 2
    response = await client.delete(f"{ENTRIES}/{gone['id']}", headers=user.headers)
    assert response.status_code == 204
    await background()
    [memory] = await listed_memories(client, user)
    assert memory["journal_entry_id"] == kept["id"]


@pytest.mark.asyncio
async def test_an_entry_deleted_before_the_job_runs_leaves_no_memory(
    client: httpx.AsyncClient, user: Person, background: Any
) -> None:
    await _allow_journal(client, user)
    entry = await write_entry(client, user, title="Allotment", body=ALLOTMENT)
    response = await client.delete(f"{ENTRIES}/{entry['id']}", headers=user.headers)
    assert response.status_code == 204
    await background()
    assert await listed_memories(client, user) == []


@pytest.mark.asyncio
async def test_an_entry_with_a_risk_signal_is_never_remembered(
    client: httpx.AsyncClient, user: Person, background: Any, owner_engine: AsyncEngine
) -> None:
    await _allow_journal(client, user)
    await write_entry(client, user, title="Canal", body=RISKY, crisis=True)
    await background()
    assert await listed_memories(client, user) == []
    assert await _stored(owner_engine) == []


@pytest.mark.asyncio
async def test_an_edit_that_adds_a_risk_signal_forgets_the_memory(
    client: httpx.AsyncClient, user: Person, background: Any
) -> None:
    await _allow_journal(client, user)
    entry = await write_entry(client, user, title="Canal", body="<p>Lovely walk with Ottoline.</p>")
    await background()
    assert len(await listed_memories(client, user)) == 1
    await _edit(client, user, entry, body=RISKY)
    await background()
    assert await listed_memories(client, user) == []


@pytest.mark.asyncio
async def test_withdrawing_journal_memory_forgets_entries_but_not_conversations(
    client: httpx.AsyncClient, user: Person, other_user: Person, background: Any
) -> None:
    for person in (user, other_user):
        await _allow_journal(client, person)
        await write_entry(client, person, title="Allotment", body=ALLOTMENT)
    conversation = await start(client, user)
    await send(client, user, conversation, "We baked sourdough bread with rosemary.")
    response = await client.post(f"{BASE}/conversations/{conversation}/end", headers=user.headers)
    assert response.status_code == 200, response.text
    await background()
    assert {m["source"] for m in await listed_memories(client, user)} == {
        "journal_entry",
        "conversation",
    }

    await _allow_journal(client, user, False)
    await background()
    [left] = await listed_memories(client, user)
    assert left["source"] == "conversation"
    assert len(await listed_memories(client, other_user)) == 1

    # A new entry is not remembered any more; nor is an old one when edited.
    await write_entry(client, user, title="Bread", body=SOURDOUGH)
    await background()
    assert await listed_memories(client, user) == [left]


@pytest.mark.asyncio
async def test_withdrawing_ai_memory_forgets_journal_memories_too(
    client: httpx.AsyncClient, user: Person, background: Any
) -> None:
    await _allow_journal(client, user)
    await write_entry(client, user, title="Allotment", body=ALLOTMENT)
    await background()
    assert len(await listed_memories(client, user)) == 1
    await set_privacy(client, user, allow_ai_memory=False)
    await background()
    assert await listed_memories(client, user) == []


@pytest.mark.asyncio
async def test_permission_withdrawn_before_the_job_runs_makes_no_memory(
    client: httpx.AsyncClient, user: Person, background: Any
) -> None:
    await _allow_journal(client, user)
    await write_entry(client, user, title="Allotment", body=ALLOTMENT)
    await _allow_journal(client, user, False)
    await background()
    assert await listed_memories(client, user) == []


@pytest.mark.asyncio
async def test_a_journal_memory_is_mine_to_delete_and_no_one_elses(
    client: httpx.AsyncClient, user: Person, other_user: Person, background: Any
) -> None:
    for person in (user, other_user):
        await _allow_journal(client, person)
        await write_entry(client, person, title="Allotment", body=ALLOTMENT)
    await background()
    [mine] = await listed_memories(client, user)
    [theirs] = await listed_memories(client, other_user)
    assert mine["id"] != theirs["id"]

    response = await client.delete(f"{MEMORIES}/{theirs['id']}", headers=user.headers)
    assert_problem(response, 404, "companion-memory-not-found")
    assert await listed_memories(client, other_user) == [theirs]

    response = await client.delete(f"{MEMORIES}/{mine['id']}", headers=user.headers)
    assert response.status_code == 204
    assert await listed_memories(client, user) == []
    assert_problem(await client.delete(f"{MEMORIES}/{mine['id']}", headers=user.headers), 404)


@pytest.mark.asyncio
async def test_the_export_includes_journal_memories_with_their_source(
    client: httpx.AsyncClient, db: Database, user: Person, other_user: Person, background: Any
) -> None:
    await _allow_journal(client, user)
    await _allow_journal(client, other_user)
    entry = await write_entry(client, user, title="Allotment", body=ALLOTMENT)
    await write_entry(client, other_user, title="Bread", body=SOURDOUGH)
    await background()
    async with db.session(user.principal) as session:
        exported = await service.export_companion(session, user.principal)
    [memory] = exported["memories"]
    assert memory["source"] == "journal_entry"
    assert memory["journal_entry_id"] == entry["id"]
    assert "Bernadette" in memory["summary"]
    assert "Florian" not in str(exported)


@pytest.mark.asyncio
async def test_a_journal_memory_is_recalled_into_a_models_context(
    client: httpx.AsyncClient, user: Person, background: Any, use_model: ModelServer
) -> None:
    use_model.replies["chosen"] = SAFE_REPLY
    await _allow_journal(client, user)
    await write_entry(client, user, title="Allotment", body=ALLOTMENT)
    await write_entry(client, user, title="Bread", body=SOURDOUGH)
    await background()
    conversation = await start(client, user)
    await send(client, user, conversation, "How are the tomatoes at the allotment doing?")
    prompt: str = use_model.bodies[-1]["messages"][0]["content"]
    remembered = prompt.split(MEMORY_HEADING, 1)[1]
    assert "In their journal: " in remembered
    assert "Bernadette" in remembered
    assert "Florian" not in remembered

    # Withdrawn: not recalled even before the worker has forgotten.
    await _allow_journal(client, user, False)
    await send(client, user, conversation, "How are the tomatoes at the allotment doing?")
    prompt = use_model.bodies[-1]["messages"][0]["content"]
    assert MEMORY_HEADING not in prompt


@pytest.mark.asyncio
async def test_a_deleted_journal_memory_comes_back_only_when_the_entry_is_edited(
    client: httpx.AsyncClient, user: Person, background: Any
) -> None:
    await _allow_journal(client, user)
    entry = await write_entry(client, user, title="Allotment", body=ALLOTMENT)
    await background()
    [memory] = await listed_memories(client, user)
    response = await client.delete(f"{MEMORIES}/{memory['id']}", headers=user.headers)
    assert response.status_code == 204
    # Another permission changing does not bring it back.
    await set_privacy(client, user, allow_journal_analysis=True)
    await background()
    assert await listed_memories(client, user) == []
    await _edit(client, user, entry, body=SOURDOUGH)
    await background()
    [again] = await listed_memories(client, user)
    assert "Florian" in again["summary"]
