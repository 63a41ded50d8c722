"""Memory the person controls: summaries of their ended conversations and, when they allow it
separately, of their journal entries; kept only while they allow AI memory (identity's privacy
options), listed and deletable by them, and recalled into a model's context by similarity to
what they just said.

What is never remembered: anything the companion said, any of the person's messages that were
not assessed normal or that were sent while the conversation was in a crisis state (the turn
marks each message `memorable` as it is written), and any journal entry that the safety
service finds a risk signal in. Making a memory is a job (after a conversation ended, after an
entry was written); it and every forgetting take the same per-person lock, and the job checks
the permission under it, so no memory slips in after the permission is withdrawn.

Each memory stores the name of the embedder that made it, and only vectors of one embedder are
ever compared. When the deployment's embedder changes (the `ai` extra installed or removed,
`MINDSPACE_EMBEDDINGS` switched), a periodic job re-embeds the older memories from their sealed
summaries, in each person's own scope; until it has, those memories are listed but not recalled.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import delete, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.companion import memory, repository
from mindspace.companion.engines.scripted import FLOWS
from mindspace.companion.errors import MemoryNotFound
from mindspace.companion.events import ConversationEnded
from mindspace.companion.memory import Embedder, HashedEmbedder, RotatedSentenceEmbedder
from mindspace.companion.models import (
    CONTENT,
    ENGINE_STATE,
    SUMMARY,
    Conversation,
    Memory,
    MemorySource,
)
from mindspace.companion.schemas import MemoryOut
from mindspace.identity import service as identity
from mindspace.journal import service as journal
from mindspace.platform import embeddings, outbox
from mindspace.platform.config import Settings
from mindspace.platform.crypto import DataKey, Vault
from mindspace.platform.db import Database, DbScope
from mindspace.platform.ids import new_id
from mindspace.platform.pagination import Page, PageParams, page
from mindspace.platform.security import Principal
from mindspace.safety import service as safety

log = logging.getLogger(__name__)
EMBEDDING_KEY = "companion.memory.embedding"
ROTATION_KEY = "companion.memory.rotation"


@dataclass(frozen=True, slots=True)
class Embedders:
    """The embedder a deployment uses, made for one person from their data key."""

    name: str
    make: Callable[[DataKey], Embedder]

    def __call__(self, key: DataKey) -> Embedder:
        return self.make(key)


HASHED = Embedders(HashedEmbedder.name, lambda key: HashedEmbedder(key.subkey(EMBEDDING_KEY)))
SENTENCES = Embedders(
    RotatedSentenceEmbedder.name,
    # The model loads on first use, inside the thread that embeds.
    lambda key: RotatedSentenceEmbedder(embeddings.shared_encoder, key.subkey(ROTATION_KEY)),
)
# Every embedder memories were ever made with, so the re-embedding job finds them all.
EMBEDDER_NAMES = ("hashed-ngrams-256-v1", HASHED.name, SENTENCES.name)


def embedders_for(settings: Settings) -> Embedders:
    """MiniLM when the `ai` extra is installed and not turned off, else hashed n-grams. The
    API and the worker must agree, or the worker's memories are not the API's to recall."""
    return SENTENCES if embeddings.enabled(settings) else HASHED


RECALLED = 3
# Ranking reads at most this many memories (in Python, the person's newest).
SCANNED = 500
# How many people's memories one run of the re-embedding job moves.
REEMBEDDED_PEOPLE = 200
COMPLETED = "completed"  # the engine-state key listing the guided flows finished
_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


class Ranking(enum.StrEnum):
    pgvector = "pgvector"
    python = "python"


@dataclass(frozen=True, slots=True)
class Recall:
    summaries: list[str]
    ranking: Ranking | None  # None when nothing was looked up (not allowed, or no words)


async def _lock_person(session: AsyncSession, owner_id: uuid.UUID) -> None:
    digest = hashlib.sha256(b"companion-memory|" + owner_id.bytes).digest()
    await session.execute(_LOCK, {"key": int.from_bytes(digest[:8], "big", signed=True)})


async def memory_allowed(session: AsyncSession, principal: Principal) -> bool:
    preferences = await identity.get_preferences(session, principal)
    return preferences.privacy.allow_ai_memory


async def journal_memory_allowed(session: AsyncSession, principal: Principal) -> bool:
    """Both switches: AI memory at all, and journal entries in it."""
    privacy = (await identity.get_preferences(session, principal)).privacy
    return privacy.allow_ai_memory and privacy.allow_journal_memory


async def announce_end(
    session: AsyncSession, principal: Principal, *, conversation_id: uuid.UUID
) -> None:
    """In the ending's transaction: a job will remember it, if the person allows memory.
    The job checks again, since the permission may change before it runs."""
    if await memory_allowed(session, principal):
        outbox.publish(
            session,
            ConversationEnded(conversation_id=conversation_id, owner_id=principal.user_id),
            owner_id=principal.user_id,
        )


def _summary_and_vector(
    said: Sequence[str], exercises: Sequence[str], embedder: Embedder
) -> tuple[str, list[float]]:
    summary = memory.summarise(said, exercises)
    return summary, embedder.embed(summary) if summary else []


async def remember_conversation(
    db: Database,
    vault: Vault,
    embedders: Embedders,
    *,
    conversation_id: uuid.UUID,
    owner_id: uuid.UUID,
) -> bool:
    """The job body, in the person's own scope, idempotent (one memory per conversation).
    Returns whether a memory was stored."""
    principal = Principal(user_id=owner_id)
    async with db.session(principal) as session:
        await _lock_person(session, owner_id)
        if not await memory_allowed(session, principal):
            return False
        conversation = await session.get(Conversation, conversation_id)
        key = await vault.find_data_key(session, owner_id)
        if conversation is None or key is None:
            return False  # deleted, or its owner's key shredded, since it ended
        said = [
            key.open_text(row.content_sealed, purpose=CONTENT, row_id=row.id)
            for row in await repository.memorable_words(session, principal, conversation_id)
        ]
        embedder = embedders(key)
        summary, vector = await asyncio.to_thread(
            _summary_and_vector, said, _exercises(key, conversation), embedder
        )
        if not summary:
            return False
        memory_id = new_id()
        stored = await session.execute(
            insert(Memory)
            .values(
                id=memory_id,
                owner_id=owner_id,
                source=MemorySource.conversation.value,
                conversation_id=conversation_id,
                summary_sealed=key.seal_text(summary, purpose=SUMMARY, row_id=memory_id),
                embedding=vector,
                embedder=embedder.name,
            )
            .on_conflict_do_nothing(index_elements=[Memory.conversation_id])
            .returning(Memory.id)
        )
        return stored.first() is not None


def _exercises(key: DataKey, conversation: Conversation) -> list[str]:
    raw = key.open(conversation.engine_state_sealed, purpose=ENGINE_STATE, row_id=conversation.id)
    names: list[Any] = orjson.loads(raw).get(COMPLETED, [])
    return [FLOWS[n].title for n in names if n in FLOWS]


def _fit_to_remember(assessment: safety.Assessment) -> bool:
    """Normal, and no risk signal at all (a stressor or distress alone is part of life)."""
    return assessment.level is safety.RiskLevel.normal and all(
        s in safety.CONTEXT_ONLY_SIGNALS for s in assessment.signals
    )


async def remember_journal_entry(
    db: Database,
    vault: Vault,
    embedders: Embedders,
    *,
    entry_id: uuid.UUID,
    owner_id: uuid.UUID,
) -> bool:
    """The job body after an entry was written, in the person's own scope: the entry's memory
    made from its words as they are now, replacing any earlier one; none (and any earlier one
    forgotten) for an entry that is gone, has no words, or carries a risk signal. Idempotent.
    Returns whether a memory was stored."""
    principal = Principal(user_id=owner_id)
    async with db.session(principal) as session:
        await _lock_person(session, owner_id)
        if not await journal_memory_allowed(session, principal):
            return False  # withdrawing it forgot them all; nothing may come back
        key = await vault.find_data_key(session, owner_id)
        entry = await journal.read_entry_text(session, principal, vault, entry_id=entry_id)
        summary = ""
        if key is not None and entry is not None:
            words = entry.title + "\n" + entry.text
            if _fit_to_remember(await safety.assess_off_loop(words)):
                summary = memory.summarise_entry(entry.title, entry.text)
        existing = await repository.memory_of_entry(session, principal, entry_id)
        if key is None or not summary:
            if existing is not None:
                await session.execute(delete(Memory).where(Memory.id == existing))
            return False
        embedder = embedders(key)
        vector = await asyncio.to_thread(embedder.embed, summary)
        memory_id = existing or new_id()
        values = {
            "summary_sealed": key.seal_text(summary, purpose=SUMMARY, row_id=memory_id),
            "embedding": vector,
            "embedder": embedder.name,
        }
        if existing is not None:
            await session.execute(update(Memory).where(Memory.id == existing).values(**values))
        else:
            await session.execute(
                insert(Memory).values(
                    id=memory_id,
                    owner_id=owner_id,
                    source=MemorySource.journal_entry.value,
                    journal_entry_id=entry_id,
                    **values,
                )
            )
        return True


def _memory_out(key: DataKey, row: Any) -> MemoryOut:
    return MemoryOut(
        id=row.id,
        summary=key.open_text(row.summary_sealed, purpose=SUMMARY, row_id=row.id),
        source=MemorySource(row.source),
        conversation_id=row.conversation_id,
        journal_entry_id=row.journal_entry_id,
        created_at=row.created_at,
    )


async def list_memories(
    session: AsyncSession, principal: Principal, vault: Vault, *, params: PageParams
) -> Page[MemoryOut]:
    """Mine, newest first, opened."""
    rows = await repository.list_memories(session, principal, params)
    key = await vault.find_data_key(session, principal.user_id)
    items = [_memory_out(key, r) for r in rows] if key else []
    return page(items, params, key=lambda m: [m.created_at, m.id])


async def delete_memory(
    session: AsyncSession, principal: Principal, *, memory_id: uuid.UUID
) -> None:
    deleted = await session.execute(
        delete(Memory)
        .where(Memory.owner_id == principal.user_id, Memory.id == memory_id)
        .returning(Memory.id)
    )
    if deleted.first() is None:
        raise MemoryNotFound()


async def forget_everything(session: AsyncSession, *, owner_id: uuid.UUID) -> None:
    """Every memory of the person: they asked, or withdrew the permission."""
    await _lock_person(session, owner_id)
    await session.execute(delete(Memory).where(Memory.owner_id == owner_id))


async def forget_journal(session: AsyncSession, *, owner_id: uuid.UUID) -> None:
    """Every memory of the person's journal entries: they withdrew that permission."""
    await _lock_person(session, owner_id)
    await session.execute(
        delete(Memory).where(
            Memory.owner_id == owner_id, Memory.source == MemorySource.journal_entry.value
        )
    )


async def forget_entry(session: AsyncSession, *, owner_id: uuid.UUID, entry_id: uuid.UUID) -> None:
    """The memory of one journal entry, which was deleted."""
    await _lock_person(session, owner_id)
    await session.execute(
        delete(Memory).where(Memory.owner_id == owner_id, Memory.journal_entry_id == entry_id)
    )


async def nearest(
    session: AsyncSession,
    principal: Principal,
    embedder: Embedder,
    query: list[float],
    *,
    ranking: Ranking,
    journal: bool = True,
) -> list[uuid.UUID]:
    """Ids of the person's memories by `embedder` (of journal entries too, if `journal`) above
    its threshold, most similar first."""
    if ranking is Ranking.pgvector:
        return await repository.nearest_memories_pgvector(
            session,
            principal,
            query,
            embedder=embedder.name,
            journal=journal,
            threshold=embedder.threshold,
            limit=SCANNED,
        )
    rows = await repository.memory_vectors(
        session, principal, embedder=embedder.name, journal=journal, limit=SCANNED
    )
    candidates = [(row.id, row.embedding) for row in rows]
    return await asyncio.to_thread(memory.ranked, query, candidates, embedder.threshold)


async def recall(
    session: AsyncSession,
    principal: Principal,
    key: DataKey,
    embedders: Embedders,
    *,
    text_: str,
) -> Recall:
    """The person's `RECALLED` memories most similar to `text_` and related to it, best first.
    Nothing is cached: a memory deleted a moment ago, or one whose permission was withdrawn
    a moment ago (before the worker has forgotten it), is never recalled."""
    privacy = (await identity.get_preferences(session, principal)).privacy
    if not privacy.allow_ai_memory:
        return Recall([], None)
    embedder = embedders(key)
    query = await asyncio.to_thread(embedder.embed, text_)
    if not any(query):
        return Recall([], None)
    ranking = Ranking.pgvector if await repository.has_pgvector(session) else Ranking.python
    ranked = await nearest(
        session, principal, embedder, query, ranking=ranking, journal=privacy.allow_journal_memory
    )
    recalled: list[str] = []
    # Opened a few at a time, in rank order, until enough are related (usually the first few).
    for start in range(0, len(ranked), RECALLED):
        chunk = ranked[start : start + RECALLED]
        sealed = await repository.summaries(session, principal, chunk)
        opened = [key.open_text(sealed[i], purpose=SUMMARY, row_id=i) for i in chunk if i in sealed]
        wanted = RECALLED - len(recalled)
        recalled += memory.chosen(embedder, text_, [(s, s) for s in opened], wanted)
        if len(recalled) == RECALLED:
            break
    log.debug("companion memories recalled", extra={"ranking": ranking.value, "n": len(recalled)})
    return Recall(recalled, ranking)


async def reembed_person(
    db: Database, vault: Vault, embedders: Embedders, *, owner_id: uuid.UUID
) -> int:
    """The person's memories made by another embedder, embedded again from their summaries by
    the one in use. Returns how many."""
    principal = Principal(user_id=owner_id)
    stale = [name for name in EMBEDDER_NAMES if name != embedders.name]
    async with db.session(principal) as session:
        await _lock_person(session, owner_id)
        rows = await repository.stale_memories(session, principal, embedders=stale)
        key = await vault.find_data_key(session, owner_id)
        if key is None:
            # Shredded: nothing of them can ever be opened again.
            await session.execute(delete(Memory).where(Memory.id.in_([r.id for r in rows])))
            return 0
        summaries = [key.open_text(r.summary_sealed, purpose=SUMMARY, row_id=r.id) for r in rows]
        embedder = embedders(key)
        vectors = await asyncio.to_thread(lambda: [embedder.embed(s) for s in summaries])
        for row, vector in zip(rows, vectors, strict=True):
            await session.execute(
                update(Memory)
                .where(Memory.id == row.id, Memory.embedder == row.embedder)
                .values(embedding=vector, embedder=embedder.name)
            )
        return len(rows)


async def reembed_stale(db: Database, vault: Vault, embedders: Embedders) -> int:
    """The periodic job's body: up to `REEMBEDDED_PEOPLE` people's memories moved to the
    embedder in use (the next run takes the rest). Returns how many memories moved."""
    stale = [name for name in EMBEDDER_NAMES if name != embedders.name]
    async with db.session(None, scope=DbScope.system) as session:
        owners = await repository.owners_of_stale_memories(
            session, embedders=stale, limit=REEMBEDDED_PEOPLE
        )
    moved = 0
    for owner_id in owners:
        moved += await reembed_person(db, vault, embedders, owner_id=owner_id)
    if moved:
        log.info("companion memories re-embedded", extra={"n": moved, "embedder": embedders.name})
    return moved


async def export_memories(
    session: AsyncSession, principal: Principal, key: DataKey | None
) -> list[dict[str, Any]]:
    if key is None:
        return []
    stmt = repository.readable_memories(principal).order_by(Memory.created_at, Memory.id)
    return [_memory_out(key, r).model_dump(mode="json") for r in await session.execute(stmt)]
