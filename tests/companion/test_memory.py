"""Memory the person controls: made after a conversation ends and only with their permission,
never from a crisis turn, sealed at rest, listed and deleted by them, forgotten when they
withdraw the permission, and recalled into a model's context (what a real local
OpenAI-protocol server receives), by either embedder."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
import procrastinate
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from mindspace.companion import memories, repository, service
from mindspace.companion.engines.scripted import FLOWS
from mindspace.companion.memory import (
    HashedEmbedder,
    RotatedSentenceEmbedder,
    Rotation,
    chosen,
    cosine,
    ranked,
    summarise,
    summarise_entry,
)
from mindspace.companion.prompts import MEMORY_HEADING
from mindspace.platform import embeddings
from mindspace.platform.config import Settings
from mindspace.platform.crypto import Vault
from mindspace.platform.db import Database, DbScope
from tests.companion.conftest import (
    BASE,
    CRISIS_TEXT,
    MEMORIES,
    SAFE_REPLY,
    ModelServer,
    listed_memories,
    send,
    set_privacy,
    start,
)
from tests.conftest import Person, assert_problem, run_jobs

GARDEN = "I planted tomatoes in the allotment with my sister Bernadette today."
LIDO = "I went swimming at the lido before breakfast."
TOMATOES = "How are the tomatoes at the allotment doing?"
needs_model = pytest.mark.skipif(
    not embeddings.extra_installed(), reason="needs the `ai` extra (part of `dev`)"
)


async def _allow(client: httpx.AsyncClient, person: Person, allowed: bool = True) -> None:
    await set_privacy(client, person, allow_ai_memory=allowed)


async def _end(client: httpx.AsyncClient, person: Person, conversation: str) -> None:
    response = await client.post(f"{BASE}/conversations/{conversation}/end", headers=person.headers)
    assert response.status_code == 200, response.text


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
    return await listed_memories(client, person)


@pytest.fixture(
    params=[
        pytest.param("auto", id="minilm", marks=needs_model),
        pytest.param("off", id="hashed"),
    ]
)
def embedder(
    request: pytest.FixtureRequest, settings_of: Settings, monkeypatch: pytest.MonkeyPatch
) -> memories.Embedders:
    """The API and the worker (which share these settings) on one embedder."""
    monkeypatch.setattr(settings_of, "embeddings", request.param)
    return memories.embedders_for(settings_of)


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


def test_a_journal_entry_is_summarised_with_its_title() -> None:
    summary = summarise_entry("Allotment day", "Ok.\nWe planted tomatoes. The shed is painted.")
    assert summary.startswith("In their journal: Allotment day")
    assert "tomatoes" in summary
    assert summarise_entry("", "ok") == ""


def test_the_hashed_embedding_is_deterministic_normalised_and_matches_shared_words() -> None:
    embedder = HashedEmbedder(b"k" * 32)
    garden = embedder.embed("tomatoes in the allotment")
    assert garden == embedder.embed("tomatoes in the allotment")
    assert len(garden) == embedder.dimensions == 256
    assert cosine(garden, garden) == pytest.approx(1.0)
    assert embedder.embed("the and of") == [0.0] * 256
    # The labels every summary shares are not words of the person's.
    assert embedder.embed("They said: tomatoes in the allotment") == garden
    work = embedder.embed("my manager criticised my report")
    query = embedder.embed("how are the tomatoes at the allotment")
    assert ranked(query, [("work", work), ("garden", garden)], embedder.threshold) == ["garden"]
    # Someone else's key buckets the same words elsewhere.
    assert HashedEmbedder(b"o" * 32).embed("tomatoes in the allotment") != garden


def test_settings_choose_the_embedder() -> None:
    assert memories.embedders_for(Settings(embeddings="off")) is memories.HASHED
    expected = memories.SENTENCES if embeddings.extra_installed() else memories.HASHED
    assert memories.embedders_for(Settings(embeddings="auto")) is expected


def test_a_hashed_collision_is_never_offered_as_a_memory() -> None:
    """The flaky recall of the "lido" memory, made certain: among per-person keys, find ones
    whose buckets make the lido memory look similar to a question about tomatoes."""
    lido, garden = f"They said: {LIDO}", f"They said: {GARDEN}"
    colliding = []
    for i in range(400):
        embedder = HashedEmbedder(i.to_bytes(32, "big"))
        query = embedder.embed(TOMATOES)
        candidates = [("lido", embedder.embed(lido)), ("garden", embedder.embed(garden))]
        if "lido" in ranked(query, candidates, embedder.threshold):
            colliding.append(embedder)
    assert len(colliding) > 10  # collisions are common, not a curiosity
    for embedder in colliding:
        memories_ = [("lido", lido), ("garden", garden)]
        assert chosen(embedder, TOMATOES, memories_, 3) == ["garden"]


def test_the_rotation_is_orthogonal_per_key_and_deterministic() -> None:
    first = Rotation(b"a" * 32, 384)(np.eye(384))
    assert np.allclose(first @ first.T, np.eye(384), atol=1e-10)
    assert np.array_equal(first, Rotation(b"a" * 32, 384)(np.eye(384)))
    other = Rotation(b"b" * 32, 384)(np.eye(384))
    # Every coordinate mixed into every other, as in a dense random rotation (whose entries
    # are about N(0, 1/384)): nothing like the identity, nor like another key's.
    assert abs(float(np.trace(first))) < 3
    assert np.std(first) == pytest.approx(384**-0.5, rel=0.01)
    assert np.abs(first).max() < 0.3
    assert abs(float(np.trace(first @ other.T))) < 3


@needs_model
def test_the_rotation_keeps_a_persons_similarities_and_hides_them_from_others() -> None:
    model = embeddings.shared_encoder()
    texts = [GARDEN, "We baked sourdough bread with rosemary.", LIDO, TOMATOES]
    public = model.encode(texts).astype(np.float64)
    mine = RotatedSentenceEmbedder(embeddings.shared_encoder, b"a" * 32)
    theirs = RotatedSentenceEmbedder(embeddings.shared_encoder, b"b" * 32)
    my_vectors = np.array([mine.embed(t) for t in texts])
    their_vectors = np.array([theirs.embed(t) for t in texts])
    assert np.allclose(np.linalg.norm(my_vectors, axis=1), 1.0, atol=1e-5)
    # Within one person, every similarity is the model's: ranking works.
    assert np.allclose(my_vectors @ my_vectors.T, public @ public.T, atol=1e-5)
    # The same words, embedded for two people or by the public model, do not compare.
    across_people = np.diag(my_vectors @ their_vectors.T)
    against_public = np.diag(my_vectors @ public.T)
    assert np.all(np.abs(across_people) < 0.25), across_people
    assert np.all(np.abs(against_public) < 0.25), against_public
    assert mine.embed("ok, the, and") == [0.0] * 384


@needs_model
def test_the_sentence_model_recalls_what_is_near_in_meaning_without_a_shared_word() -> None:
    texts = {
        "rent": "They said: I feel anxious about money and the rent.",
        "garden": f"They said: {GARDEN}",
        "bread": "They said: We baked sourdough bread with rosemary.",
        "lido": f"They said: {LIDO}",
    }
    query = "I'm worried about paying the bills"
    model = RotatedSentenceEmbedder(embeddings.shared_encoder, b"a" * 32)
    hashed = HashedEmbedder(b"a" * 32)
    for embedder in (model, hashed):
        vectors = [(name, embedder.embed(text)) for name, text in texts.items()]
        order = ranked(embedder.embed(query), vectors, embedder.threshold)
        found = chosen(embedder, query, [(n, texts[n]) for n in order], 3)
        # Meaning, not spelling: only the model finds it, and nothing unrelated comes with it.
        assert found == (["rent"] if embedder is model else [])


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
    assert len(await listed_memories(client, user)) == 1


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
    assert await listed_memories(client, user) == []


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
    assert await listed_memories(client, user) == []
    assert len(await listed_memories(client, other_user)) == 1
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
    assert len(await listed_memories(client, other_user)) == 1

    response = await client.delete(f"{MEMORIES}/{first['id']}", headers=user.headers)
    assert response.status_code == 204
    assert [m["id"] for m in await listed_memories(client, user)] == [second["id"]]
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
    assert await listed_memories(client, user) == []
    assert len(await listed_memories(client, other_user)) == 1


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
    assert len(await listed_memories(client, user)) == 1


@pytest.mark.asyncio
async def test_deleting_the_conversation_forgets_its_memory(
    client: httpx.AsyncClient, user: Person, background: Any
) -> None:
    await _allow(client, user)
    conversation = await start(client, user)
    await send(client, user, conversation, GARDEN)
    await _end(client, user, conversation)
    await background()
    assert len(await listed_memories(client, user)) == 1
    response = await client.delete(f"{BASE}/conversations/{conversation}", headers=user.headers)
    assert response.status_code == 204
    assert await listed_memories(client, user) == []


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
    client: httpx.AsyncClient,
    user: Person,
    background: Any,
    use_model: ModelServer,
    embedder: memories.Embedders,
) -> None:
    use_model.replies["chosen"] = SAFE_REPLY
    await _allow(client, user)
    for said in (
        GARDEN,
        "We baked sourdough bread with rosemary.",
        "My manager Priya criticised my report at work.",
        LIDO,
    ):
        await _remembered(client, user, background, said)
    conversation = await start(client, user)
    await send(client, user, conversation, TOMATOES)
    prompt = _system_prompt(use_model.bodies[-1])
    assert MEMORY_HEADING in prompt
    remembered = prompt.split(MEMORY_HEADING, 1)[1]
    assert "Bernadette" in remembered
    # Nothing that has nothing to do with tomatoes, whatever the hashed buckets did.
    assert remembered.count("\n- ") == 1, remembered


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
async def test_recall_ranks_the_three_nearest(
    client: httpx.AsyncClient,
    app: FastAPI,
    db: Database,
    user: Person,
    background: Any,
    embedder: memories.Embedders,
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
    query = "tomatoes at the allotment with Bernadette"
    async with db.session(user.principal) as session:
        key = await vault.data_key(session, user.id)
        recalled = await memories.recall(session, user.principal, key, embedder, text_=query)
        pgvector = await repository.has_pgvector(session)
        # Python's ranking, whatever the server has (pgvector's agrees: test_memory_pgvector).
        mine = embedder(key)
        in_python = await memories.nearest(
            session, user.principal, mine, mine.embed(query), ranking=memories.Ranking.python
        )
    assert recalled.ranking is (memories.Ranking.pgvector if pgvector else memories.Ranking.python)
    assert len(recalled.summaries) == memories.RECALLED
    assert "Bernadette" in recalled.summaries[0]
    assert "Bernadette" in recalled.summaries[1]
    assert not any("sourdough" in s for s in recalled.summaries)
    assert len(in_python) >= memories.RECALLED


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


@needs_model
@pytest.mark.asyncio
async def test_memories_move_to_the_embedder_in_use(
    client: httpx.AsyncClient,
    app: FastAPI,
    db: Database,
    user: Person,
    other_user: Person,
    background: Any,
    settings_of: Settings,
    monkeypatch: pytest.MonkeyPatch,
    job_app: procrastinate.App,
    owner_engine: AsyncEngine,
) -> None:
    monkeypatch.setattr(settings_of, "embeddings", "off")
    for person in (user, other_user):
        await _allow(client, person)
        await _remembered(client, person, background, GARDEN)
    await _remembered(client, user, background, "We baked sourdough bread with rosemary.")
    async with owner_engine.begin() as conn:
        # One made before the hashed embedder stopped embedding the labels.
        await conn.execute(
            text(
                "UPDATE companion_memory SET embedder = 'hashed-ngrams-256-v1' "
                "WHERE id = (SELECT id FROM companion_memory WHERE owner_id = :o LIMIT 1)"
            ),
            {"o": user.id},
        )
    monkeypatch.setattr(settings_of, "embeddings", "auto")
    vault: Vault = app.state.vault

    async def recalled() -> list[str]:
        async with db.session(user.principal) as session:
            key = await vault.data_key(session, user.id)
            found = await memories.recall(
                session, user.principal, key, memories.SENTENCES, text_=TOMATOES
            )
        return found.summaries

    # Only like is compared with like: the model's query meets no vector of its kind yet.
    assert await recalled() == []
    await job_app.tasks["companion:reembed_memories"].defer_async(timestamp=0)
    await run_jobs(job_app, db, settings_of)
    async with owner_engine.connect() as conn:
        rows = (
            await conn.execute(
                text("SELECT embedder, cardinality(embedding) FROM companion_memory")
            )
        ).all()
    assert rows == [(memories.SENTENCES.name, 384)] * 3
    [summary] = await recalled()
    assert "Bernadette" in summary
    assert len(await listed_memories(client, user)) == 2
