"""Every companion query. Reads start from `readable_*`; row-level security stands behind them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.companion.models import (
    Author,
    Conversation,
    Memory,
    MemorySource,
    Message,
    SafetyTransition,
    TemplateRun,
)
from mindspace.platform.pagination import PageParams, keyset
from mindspace.platform.security import Principal

CONVERSATION_COLUMNS = (
    Conversation.id,
    Conversation.persona,
    Conversation.status,
    Conversation.safety_state,
    Conversation.created_at,
    Conversation.last_message_at,
    Conversation.ended_at,
)
MESSAGE_COLUMNS = (
    Message.id,
    Message.author,
    Message.kind,
    Message.engine,
    Message.replaced,
    Message.content_sealed,
    Message.created_at,
)


def readable_conversations(principal: Principal) -> Select[*tuple[Any, ...]]:
    return select(*CONVERSATION_COLUMNS).where(Conversation.owner_id == principal.user_id)


def readable_messages(principal: Principal, conversation_id: uuid.UUID) -> Select[*tuple[Any, ...]]:
    return select(*MESSAGE_COLUMNS).where(
        Message.owner_id == principal.user_id, Message.conversation_id == conversation_id
    )


def readable_transitions(
    principal: Principal, conversation_id: uuid.UUID
) -> Select[*tuple[Any, ...]]:
    return select(SafetyTransition).where(
        SafetyTransition.owner_id == principal.user_id,
        SafetyTransition.conversation_id == conversation_id,
    )


async def get_conversation(
    session: AsyncSession, principal: Principal, conversation_id: uuid.UUID
) -> Row[*tuple[Any, ...]] | None:
    stmt = readable_conversations(principal).where(Conversation.id == conversation_id)
    return (await session.execute(stmt)).first()


async def conversation_for_update(
    session: AsyncSession, owner_id: uuid.UUID, conversation_id: uuid.UUID
) -> Conversation | None:
    stmt = (
        select(Conversation)
        .where(Conversation.owner_id == owner_id, Conversation.id == conversation_id)
        .with_for_update()
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_conversations(
    session: AsyncSession, principal: Principal, params: PageParams
) -> Sequence[Row[*tuple[Any, ...]]]:
    stmt = keyset(
        readable_conversations(principal), params, Conversation.created_at, Conversation.id
    )
    return (await session.execute(stmt)).all()


async def list_messages(
    session: AsyncSession, principal: Principal, conversation_id: uuid.UUID, params: PageParams
) -> Sequence[Row[*tuple[Any, ...]]]:
    stmt = keyset(
        readable_messages(principal, conversation_id), params, Message.created_at, Message.id
    )
    return (await session.execute(stmt)).all()


async def recent_messages(
    session: AsyncSession, principal: Principal, conversation_id: uuid.UUID, *, limit: int
) -> Sequence[Row[*tuple[Any, ...]]]:
    """The last `limit` messages, oldest first."""
    stmt = (
        readable_messages(principal, conversation_id)
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(limit)
    )
    return list(reversed((await session.execute(stmt)).all()))


async def count_daily_uses_since(
    session: AsyncSession, principal: Principal, since: datetime
) -> int:
    """The person's messages and template runs since `since`, in one round trip."""
    messages = select(func.count()).where(
        Message.owner_id == principal.user_id,
        Message.author == Author.person,
        Message.created_at >= since,
    )
    runs = select(func.count()).where(
        TemplateRun.owner_id == principal.user_id, TemplateRun.created_at >= since
    )
    return int(
        await session.scalar(select(messages.scalar_subquery() + runs.scalar_subquery())) or 0
    )


async def all_messages(
    session: AsyncSession, principal: Principal
) -> Sequence[Row[*tuple[Any, ...]]]:
    stmt = (
        select(Message.conversation_id, *MESSAGE_COLUMNS)
        .where(Message.owner_id == principal.user_id)
        .order_by(Message.created_at, Message.id)
    )
    return (await session.execute(stmt)).all()


MEMORY_COLUMNS = (
    Memory.id,
    Memory.source,
    Memory.conversation_id,
    Memory.journal_entry_id,
    Memory.summary_sealed,
    Memory.created_at,
)


def readable_memories(principal: Principal) -> Select[*tuple[Any, ...]]:
    return select(*MEMORY_COLUMNS).where(Memory.owner_id == principal.user_id)


async def list_memories(
    session: AsyncSession, principal: Principal, params: PageParams
) -> Sequence[Row[*tuple[Any, ...]]]:
    stmt = keyset(readable_memories(principal), params, Memory.created_at, Memory.id)
    return (await session.execute(stmt)).all()


async def memorable_words(
    session: AsyncSession, principal: Principal, conversation_id: uuid.UUID
) -> Sequence[Row[*tuple[Any, ...]]]:
    """The person's messages in a conversation that memory may keep, oldest first."""
    stmt = (
        select(Message.id, Message.content_sealed)
        .where(
            Message.owner_id == principal.user_id,
            Message.conversation_id == conversation_id,
            Message.author == Author.person.value,
            Message.memorable,
        )
        .order_by(Message.created_at, Message.id)
    )
    return (await session.execute(stmt)).all()


async def memory_vectors(
    session: AsyncSession, principal: Principal, *, embedder: str, journal: bool, limit: int
) -> Sequence[Row[*tuple[Any, ...]]]:
    """The newest `limit` memories' ids and embeddings (of journal entries too, if `journal`),
    for ranking in Python."""
    stmt = (
        select(Memory.id, Memory.embedding)
        .where(Memory.owner_id == principal.user_id, Memory.embedder == embedder)
        .order_by(Memory.created_at.desc(), Memory.id.desc())
        .limit(limit)
    )
    if not journal:
        stmt = stmt.where(Memory.source == MemorySource.conversation.value)
    return (await session.execute(stmt)).all()


# Exact: every one of the person's vectors is compared. An approximate index (HNSW, IVFFlat)
# would search everyone's vectors and filter by owner afterwards, returning too few, and needs a
# column of type vector, which a server without the extension cannot have. Through the owner
# index, 500 memories of 384 dimensions rank in about 8 ms on the 2-core machine (mostly the
# cast from float8[]), against about 50 ms to fetch them for ranking in Python.
_NEAREST_PGVECTOR = text(
    "SELECT id FROM ("
    " SELECT id, created_at,"
    "  CAST(embedding AS vector) <=> CAST(CAST(:query AS double precision[]) AS vector) AS distance"
    " FROM companion_memory WHERE owner_id = :owner AND embedder = :embedder"
    "  AND (:journal OR source = 'conversation')"
    ") AS scored WHERE distance < :max_distance "
    "ORDER BY distance, created_at DESC, id DESC LIMIT :limit"
)


async def nearest_memories_pgvector(
    session: AsyncSession,
    principal: Principal,
    query: list[float],
    *,
    embedder: str,
    journal: bool,
    threshold: float,
    limit: int,
) -> list[uuid.UUID]:
    """Ids of memories (of journal entries too, if `journal`) whose cosine with `query` is
    above `threshold`, nearest first (newest first on a tie, as in Python), ranked in
    PostgreSQL by the pgvector extension."""
    params = {
        "owner": principal.user_id,
        "embedder": embedder,
        "journal": journal,
        "query": query,
        "max_distance": 1.0 - threshold,
        "limit": limit,
    }
    return list((await session.execute(_NEAREST_PGVECTOR, params)).scalars())


async def has_pgvector(session: AsyncSession) -> bool:
    stmt = text("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector')")
    return bool((await session.execute(stmt)).scalar_one())


async def summaries(
    session: AsyncSession, principal: Principal, memory_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, bytes]:
    stmt = select(Memory.id, Memory.summary_sealed).where(
        Memory.owner_id == principal.user_id, Memory.id.in_(memory_ids)
    )
    return {row.id: row.summary_sealed for row in await session.execute(stmt)}


TEMPLATE_RUN_COLUMNS = (
    TemplateRun.id,
    TemplateRun.template,
    TemplateRun.version,
    TemplateRun.kind,
    TemplateRun.engine,
    TemplateRun.cached,
    TemplateRun.replaced,
    TemplateRun.created_at,
)


def readable_template_runs(principal: Principal) -> Select[*tuple[Any, ...]]:
    return select(*TEMPLATE_RUN_COLUMNS).where(TemplateRun.owner_id == principal.user_id)


async def memory_of_entry(
    session: AsyncSession, principal: Principal, entry_id: uuid.UUID
) -> uuid.UUID | None:
    stmt = select(Memory.id).where(
        Memory.owner_id == principal.user_id, Memory.journal_entry_id == entry_id
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def stale_memories(
    session: AsyncSession, principal: Principal, *, embedders: Sequence[str]
) -> Sequence[Row[*tuple[Any, ...]]]:
    """The person's memories embedded by any of `embedders`, with their sealed summaries."""
    stmt = select(Memory.id, Memory.embedder, Memory.summary_sealed).where(
        Memory.owner_id == principal.user_id, Memory.embedder.in_(embedders)
    )
    return (await session.execute(stmt)).all()


async def owners_of_stale_memories(
    session: AsyncSession, *, embedders: Sequence[str], limit: int
) -> list[uuid.UUID]:
    """People with memories embedded by any of `embedders` (system scope)."""
    stmt = (
        select(Memory.owner_id)
        .where(Memory.embedder.in_(embedders))
        .group_by(Memory.owner_id)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())
