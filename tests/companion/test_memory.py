"""Memory the person controls: made after a conversation ends and only with their permission,
never from a crisis turn, sealed at rest, listed and deleted by them, forgotten when they
withdraw the permission, and recalled into a model's context (what a real local
OpenAI-protocol server receives)."""

from __future__ import annotations

from typing import Any

import httpx
import procrastinate
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from mindspace.companion import memories, repository, service
from mindspace.companion.engines.scripted import FLOWS
from mindspace.companion.memory import HashedEmbedder, cosine, summarise, top
from mindspace.companion.prompts import MEMORY_HEADING
from mindspace.platform.config import Settings
from mindspace.platform.crypto import Vault
from mindspace.platform.db import Database, DbScope
from tests.companion.conftest import BASE, CRISIS_TEXT, SAFE_REPLY, ModelServer, send, start
from tests.conftest import Person, assert_problem, run_background

MEMORIES = f"{BASE}/memories"
PREFERENCES = "/api/v1/users/me/preferences"
GARDEN = "I planted tomatoes in the allotment with my sister Bernadette today."


async def _allow(client: httpx.AsyncClient, person: Person, allowed: bool = True) -> None:
    response = await client.patch(
        PREFERENCES, json={"privacy": {"allow_ai_memory": allowed}}, headers=person.headers
    )
    assert response.status_code == 200, response.text


async def _end(client: httpx.AsyncClient, person: Person, conversation: str) -> None:
    response = await client.post(f"{BASE}/conversations/{conversation}/end", headers=person.headers)
    assert response.status_code == 200, response.text


async def _listed(client: httpx.AsyncClient, person: Person) -> list[dict[str, Any]]:
    response = await client.get(MEMORIES, headers=person.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def _remembered(
    client: httpx.AsyncClient,
    person: Person,
    background: Any,
    *said: str,
) -> list[dict[str, Any]]:
    """A conversation in which the person says `said`, ended and processed by the worker."""
    conversation = await start(client, person)
    for words in said:
        await send(client, person, conversation, words)
    await _end(client, person, conversation)
    await background()
    return await _listed(client, person)


@pytest.fixture
def background(job_app: procrastinate.App, db: Database, settings: Settings) -> Any:
    async def run() -> None:
        await run_background(job_app, db, settings)

    return run


async def _rows(owner_engine: AsyncEngine) -> list[str]:
    async with owner_engine.connect() as conn:
        return [r[0] for r in await conn.execute(text("SELECT t::text FROM companion_memory t"))]


# --- the summary and the embedding, without I/O ----------------------------------------------


def test_the_summary_keeps_the_weightiest_sentences_in_order_and_the_exercises() -> None:
    summary = summarise(
        [
            "Hi.",
            "Work was hard: my manager Priya criticised my report in front of everyone.",
            "Ok. I went running by the canal afterwards.",
            "Thanks.",
        ],
        ["Thought record", "Thought record"],
    )
    assert summary.startswith("Exercises finished: Thought record.")
    assert summary.index("Priya") < summary.index("canal")
    assert "Hi." not in summary
    assert "Thanks" not in summary
    assert summarise(["ok", "thanks"], []) == ""


def test_the_summary_is_short_however_much_was_said() -> None:
    said = [f"Sentence number {i} about gardening, cooking and walking far." for i in range(200)]
    summary = summarise(said, [])
    assert len(summary) <= 600
    assert summary == summarise(said, [])  # deterministic


def test_the_hashed_embedding_is_deterministic_normalised_and_matches_shared_words() -> None:
    embedder = HashedEmbedder(b"k" * 32)
    garden = embedder.embed("tomatoes in the allotment")
    assert garden == embedder.embed("tomatoes in the allotment")
    assert len(garden) == embedder.dimensions == 256
    assert cosine(garden, garden) == pytest.approx(1.0)
    assert embedder.embed("the and of") == [0.0] * 256
    work = embedder.embed("my manager criticised my report")
    query = embedder.embed("how are the tomatoes at the allotment")
    assert top(query, [("work", work), ("garden", garden)], 3) == ["garden"]
    # Someone else's key buckets the same words elsewhere.
    assert HashedEmbedder(b"o" * 32).embed("tomatoes in the allotment") != garden


# --- made only with permission, never from a crisis turn --------------------------------------


@pytest.mark.asyncio
async def test_nothing_is_remembered_without_permission(
    client: httpx.AsyncClient, user: Person, background: Any, owner_engine: AsyncEngine
) -> None:
    assert await _remembered(client, user, background, GARDEN) == []
    assert await _rows(owner_engine) == []


@pytest.mark.asyncio
async def test_an_ended_conversation_is_remembered_in_the_persons_words(
    client: httpx.AsyncClient, user: Person, background: Any, owner_engine: AsyncEngine
) -> None:
    await _allow(client, user)
    [memory] = await _remembered(client, user, background, GARDEN)
    assert "Bernadette" in memory["summary"]
    assert memory["id"].startswith("cmem_")
    # The companion's own replies are never part of it.
    assert "AI wellbeing companion" not in memory["summary"]
    # Sealed at rest: no word of it in a dump of the table.
    [row] = await _rows(owner_engine)
    assert "Bernadette" not in row
    assert "tomatoes" not in row.lower()
    # Ending again, or the job running again, makes no second memory.
    await background()
    assert len(await _listed(client, user)) == 1


@pytest.mark.asyncio
async def test_crisis_turns_never_appear_in_a_memory(
    client: httpx.AsyncClient, user: Person, background: Any
) -> None:
    await _allow(client, user)
    [memory] = await _remembered(
        client,
        user,
        background,
        GARDEN,
        CRISIS_TEXT,
        # Normal words, but said while the conversation is in a crisis state.
        "The lighthouse keeper painted the fence yellow.",
    )
    assert "Bernadette" in memory["summary"]
    assert "kill" not in memory["summary"]
    assert "lighthouse" not in memory["summary"]


@pytest.mark.asyncio
async def test_words_of_concern_are_never_remembered(
    client: httpx.AsyncClient, user: Person, background: Any
) -> None:
    await _allow(client, user)
    [memory] = await _remembered(
        client, user, background, GARDEN, "My friend Ottoline says she wants to die."
    )
    assert "Ottoline" not in memory["summary"]
    assert "Bernadette" in memory["summary"]


@pytest.mark.asyncio
async def test_a_conversation_of_only_a_crisis_leaves_no_memory(
    client: httpx.AsyncClient, user: Person, background: Any
) -> None:
    await _allow(client, user)
    assert await _remembered(client, user, background, CRISIS_TEXT) == []


@pytest.mark.asyncio
async def test_a_finished_exercise_is_remembered(
    client: httpx.AsyncClient, user: Person, background: Any
) -> None:
    await _allow(client, user)
    [memory] = await _remembered(
        client,
        user,
        background,
        "thought record",
        "My friend didn't reply all day",
        "She must think I'm annoying",
        "anxious 80",
        "mind reading",
        "She hasn't answered",
        "She said last week she's swamped at work",
        "She's probably busy; it says nothing about me",
        "45",
    )
    assert memory["summary"].startswith(f"Exercises finished: {FLOWS['thought_record'].title}.")


@pytest.mark.asyncio
async def test_permission_withdrawn_before_the_job_runs_makes_no_memory(
    client: httpx.AsyncClient, user: Person, background: Any
) -> None:
    await _allow(client, user)
    conversation = await start(client, user)
    await send(client, user, conversation, GARDEN)
    await _end(client, user, conversation)
    await _allow(client, user, False)
    await background()
    assert await _listed(client, user) == []


# --- the person's control ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_withdrawing_permission_forgets_everything(
    client: httpx.AsyncClient,
    user: Person,
    other_user: Person,
    background: Any,
    owner_engine: AsyncEngine,
) -> None:
    for person in (user, other_user):
        await _allow(client, person)
        assert len(await _remembered(client, person, background, GARDEN)) == 1
    await _allow(client, user, False)
    await background()
    assert await _listed(client, user) == []
    assert len(await _listed(client, other_user)) == 1
    assert len(await _rows(owner_engine)) == 1


@pytest.mark.asyncio
async def test_i_can_delete_one_memory_and_no_one_elses(
    client: httpx.AsyncClient, user: Person, other_user: Person, background: Any
) -> None:
    for person in (user, other_user):
        await _allow(client, person)
    await _remembered(client, user, background, GARDEN)
    [first, second] = await _remembered(
        client, user, background, "We baked sourdough bread with rosemary."
    )
    [theirs] = await _remembered(client, other_user, background, GARDEN)

    response = await client.delete(f"{MEMORIES}/{theirs['id']}", headers=user.headers)
    assert_problem(response, 404, "companion-memory-not-found")
    assert len(await _listed(client, other_user)) == 1

    response = await client.delete(f"{MEMORIES}/{first['id']}", headers=user.headers)
    assert response.status_code == 204
    assert [m["id"] for m in await _listed(client, user)] == [second["id"]]
    response = await client.delete(f"{MEMORIES}/{first['id']}", headers=user.headers)
    assert_problem(response, 404, "companion-memory-not-found")


@pytest.mark.asyncio
async def test_i_can_forget_everything_and_only_mine_goes(
    client: httpx.AsyncClient, user: Person, other_user: Person, background: Any
) -> None:
    for person in (user, other_user):
        await _allow(client, person)
        await _remembered(client, person, background, GARDEN)
    response = await client.delete(MEMORIES, headers=user.headers)
    assert response.status_code == 204
    assert await _listed(client, user) == []
    assert len(await _listed(client, other_user)) == 1


@pytest.mark.asyncio
async def test_the_list_pages_newest_first(
    client: httpx.AsyncClient, user: Person, background: Any
) -> None:
    await _allow(client, user)
    await _remembered(client, user, background, GARDEN)
    await _remembered(client, user, background, "We baked sourdough bread with rosemary.")
    response = await client.get(MEMORIES, params={"limit": 1}, headers=user.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "sourdough" in body["items"][0]["summary"]
    response = await client.get(
        MEMORIES, params={"limit": 1, "cursor": body["next_cursor"]}, headers=user.headers
    )
    assert "Bernadette" in response.json()["items"][0]["summary"]


@pytest.mark.asyncio
async def test_memories_need_a_token(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get(MEMORIES), 401)
    assert_problem(await client.delete(MEMORIES), 401)
    assert_problem(await client.delete(f"{MEMORIES}/cmem_x"), 401)


@pytest.mark.asyncio
async def test_bad_input_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, user: Person, background: Any
) -> None:
    await _allow(client, user)
    await _remembered(client, user, background, GARDEN)
    # A malformed or wrong-kind id in the path is simply not found (the platform's rule).
    assert_problem(await client.delete(f"{MEMORIES}/not-an-id", headers=user.headers), 404)
    assert_problem(await client.delete(f"{MEMORIES}/cnv_abc", headers=user.headers), 404)
    response = await client.get(MEMORIES, params={"cursor": "garbage"}, headers=user.headers)
    assert_problem(response, 422)
    response = await client.get(MEMORIES, params={"limit": 0}, headers=user.headers)
    assert_problem(response, 422)
    assert len(await _listed(client, user)) == 1


@pytest.mark.asyncio
async def test_deleting_the_conversation_forgets_its_memory(
    client: httpx.AsyncClient, user: Person, background: Any
) -> None:
    await _allow(client, user)
    conversation = await start(client, user)
    await send(client, user, conversation, GARDEN)
    await _end(client, user, conversation)
    await background()
    assert len(await _listed(client, user)) == 1
    response = await client.delete(f"{BASE}/conversations/{conversation}", headers=user.headers)
    assert response.status_code == 204
    assert await _listed(client, user) == []


@pytest.mark.asyncio
async def test_the_export_includes_my_memories_opened(
    client: httpx.AsyncClient, db: Database, user: Person, other_user: Person, background: Any
) -> None:
    for person in (user, other_user):
        await _allow(client, person)
    await _remembered(client, user, background, GARDEN)
    await _remembered(client, other_user, background, "We baked sourdough bread with rosemary.")
    async with db.session(user.principal) as session:
        exported = await service.export_companion(session, user.principal)
    [memory] = exported["memories"]
    assert "Bernadette" in memory["summary"]
    assert "sourdough" not in str(exported)


# --- recalled into a model's context ----------------------------------------------------------


def _system_prompt(body: dict[str, Any]) -> str:
    content: str = body["messages"][0]["content"]
    assert body["messages"][0]["role"] == "system"
    return content


@pytest.mark.asyncio
async def test_a_model_is_told_the_most_similar_memories(
    client: httpx.AsyncClient, user: Person, background: Any, use_model: ModelServer
) -> None:
    use_model.replies["chosen"] = SAFE_REPLY
    await _allow(client, user)
    for said in (
        GARDEN,
        "We baked sourdough bread with rosemary.",
        "My manager Priya criticised my report at work.",
        "I went swimming at the lido before breakfast.",
    ):
        await _remembered(client, user, background, said)
    conversation = await start(client, user)
    await send(client, user, conversation, "How are the tomatoes at the allotment doing?")
    prompt = _system_prompt(use_model.bodies[-1])
    assert MEMORY_HEADING in prompt
    remembered = prompt.split(MEMORY_HEADING, 1)[1]
    assert "Bernadette" in remembered
    assert remembered.count("\n- ") <= memories.RECALLED
    assert "lido" not in remembered  # shares no word with the message


@pytest.mark.asyncio
async def test_a_deleted_memory_is_never_recalled(
    client: httpx.AsyncClient, user: Person, background: Any, use_model: ModelServer
) -> None:
    use_model.replies["chosen"] = SAFE_REPLY
    await _allow(client, user)
    await _remembered(client, user, background, GARDEN)
    assert (await client.delete(MEMORIES, headers=user.headers)).status_code == 204
    conversation = await start(client, user)
    await send(client, user, conversation, "How are the tomatoes at the allotment doing?")
    assert MEMORY_HEADING not in _system_prompt(use_model.bodies[-1])


@pytest.mark.asyncio
async def test_no_memory_reaches_a_model_without_permission_or_in_a_crisis(
    client: httpx.AsyncClient, user: Person, background: Any, use_model: ModelServer
) -> None:
    use_model.replies["chosen"] = SAFE_REPLY
    await _allow(client, user)
    await _remembered(client, user, background, GARDEN)
    conversation = await start(client, user)
    await send(client, user, conversation, CRISIS_TEXT)
    calls = len(use_model.bodies)
    await send(client, user, conversation, "How are the tomatoes at the allotment doing?")
    assert len(use_model.bodies) == calls  # in a crisis state no model is asked at all

    # Withdrawn: not recalled even before the worker has forgotten.
    await _allow(client, user, False)
    await send(client, user, await start(client, user), "How are the tomatoes at the allotment?")
    assert MEMORY_HEADING not in _system_prompt(use_model.bodies[-1])


@pytest.mark.asyncio
async def test_recall_ranks_the_three_nearest_in_python_without_pgvector(
    client: httpx.AsyncClient, app: FastAPI, db: Database, user: Person, background: Any
) -> None:
    await _allow(client, user)
    for said in (
        "The allotment flooded after the storm.",
        "Tomatoes at the allotment with Bernadette, and the allotment shed is painted.",
        "We baked sourdough bread with rosemary.",
        "Bernadette and I picked tomatoes at the allotment.",
        "Tomatoes again, roasted with garlic.",
    ):
        await _remembered(client, user, background, said)
    vault: Vault = app.state.vault
    async with db.session(user.principal) as session:
        key = await vault.data_key(session, user.id)
        recalled = await memories.recall(
            session, user.principal, key, text_="tomatoes at the allotment with Bernadette"
        )
        assert not await repository.has_pgvector(session)
    assert recalled.ranking is memories.Ranking.python
    assert len(recalled.summaries) == memories.RECALLED
    assert "Bernadette" in recalled.summaries[0]
    assert "Bernadette" in recalled.summaries[1]
    assert not any("sourdough" in s for s in recalled.summaries)


@pytest.mark.asyncio
async def test_staff_never_read_memories_and_erasure_takes_them(
    client: httpx.AsyncClient,
    db: Database,
    user: Person,
    admin: Person,
    background: Any,
    owner_engine: AsyncEngine,
) -> None:
    await _allow(client, user)
    await _remembered(client, user, background, GARDEN)
    async with db.session(admin.principal, scope=DbScope.admin) as session:
        seen = await session.execute(text("SELECT count(*) FROM companion_memory"))
        assert seen.scalar_one() == 0
    async with owner_engine.begin() as conn:
        await conn.execute(text("DELETE FROM user_account WHERE id = :id"), {"id": user.id})
    assert await _rows(owner_engine) == []
