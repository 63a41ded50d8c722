"""Memory the person controls: summaries of their ended conversations, kept only while they
allow AI memory (identity's privacy options), listed and deletable by them, and recalled into a
model's context by similarity to what they just said.

What is never remembered: anything the companion said, and any of the person's messages that
were not assessed normal or that were sent while the conversation was in a crisis state (the
turn marks each message `memorable` as it is written). Making a memory is a job after the
conversation ended; it and the forgetting when permission is withdrawn take the same per-person
lock, and the job checks the permission under it, so no memory slips in afterwards.
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
from sqlalchemy import delete, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.companion import memory, repository
from mindspace.companion.engines.scripted import FLOWS
from mindspace.companion.errors import MemoryNotFound
from mindspace.companion.events import ConversationEnded
from mindspace.companion.memory import Embedder, HashedEmbedder
from mindspace.companion.models import CONTENT, ENGINE_STATE, SUMMARY, Conversation, Memory
from mindspace.companion.schemas import MemoryOut
from mindspace.identity import service as identity
from mindspace.platform import outbox
from mindspace.platform.crypto import DataKey, Vault
from mindspace.platform.db import Database
from mindspace.platform.ids import new_id
from mindspace.platform.pagination import Page, PageParams, page
from mindspace.platform.security import Principal

log = logging.getLogger(__name__)
EmbedderFor = Callable[[DataKey], Embedder]
EMBEDDING_KEY = "companion.memory.embedding"


def hashed_embedder(key: DataKey) -> Embedder:
    return HashedEmbedder(key.subkey(EMBEDDING_KEY))


RECALLED = 3
# Ranking in Python reads at most this many of the person's newest memories.
SCANNED = 500
COMPLETED = "completed"  # the engine-state key listing the guided flows finished
_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


class Ranking(enum.StrEnum):
    pgvector = "pgvector"
    python = "python"


@dataclass(frozen=True, slots=True)
class Recall:
    summaries: list[str]
    ranking: Ranking | None  # None when nothing was looked up (not allowed, or no memories)


async def _lock_person(session: AsyncSession, owner_id: uuid.UUID) -> None:
    digest = hashlib.sha256(b"companion-memory|" + owner_id.bytes).digest()
    await session.execute(_LOCK, {"key": int.from_bytes(digest[:8], "big", signed=True)})


async def memory_allowed(session: AsyncSession, principal: Principal) -> bool:
    preferences = await identity.get_preferences(session, principal)
    return preferences.privacy.allow_ai_memory


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
    return summary, embedder.embed(summary)


async def remember_conversation(
    db: Database,
    vault: Vault,
    *,
    conversation_id: uuid.UUID,
    owner_id: uuid.UUID,
    embedder_for: EmbedderFor = hashed_embedder,
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
        embedder = embedder_for(key)
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


def _memory_out(key: DataKey, row: Any) -> MemoryOut:
    return MemoryOut(
        id=row.id,
        summary=key.open_text(row.summary_sealed, purpose=SUMMARY, row_id=row.id),
        conversation_id=row.conversation_id,
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


async def recall(
    session: AsyncSession,
    principal: Principal,
    key: DataKey,
    *,
    text_: str,
    embedder_for: EmbedderFor = hashed_embedder,
) -> Recall:
    """The person's `RECALLED` memories most similar to `text_`, best first. Nothing is cached:
    a memory deleted a moment ago is never recalled."""
    if not await memory_allowed(session, principal):
        return Recall([], None)
    embedder = embedder_for(key)
    query = await asyncio.to_thread(embedder.embed, text_)
    if not any(query):
        return Recall([], None)
    if await repository.has_pgvector(session):
        ranking = Ranking.pgvector
        ids = await repository.nearest_memories_pgvector(
            session, principal, query, embedder=embedder.name, k=RECALLED
        )
    else:
        ranking = Ranking.python
        rows = await repository.memory_vectors(
            session, principal, embedder=embedder.name, limit=SCANNED
        )
        candidates = [(row.id, row.embedding) for row in rows]
        ids = await asyncio.to_thread(memory.top, query, candidates, RECALLED)
    sealed = await repository.summaries(session, principal, ids)
    log.debug("companion memories recalled", extra={"ranking": ranking.value, "n": len(ids)})
    return Recall(
        [key.open_text(sealed[i], purpose=SUMMARY, row_id=i) for i in ids if i in sealed],
        ranking,
    )


async def export_memories(
    session: AsyncSession, principal: Principal, key: DataKey | None
) -> list[dict[str, Any]]:
    if key is None:
        return []
    stmt = repository.readable_memories(principal).order_by(Memory.created_at, Memory.id)
    return [_memory_out(key, r).model_dump(mode="json") for r in await session.execute(stmt)]
