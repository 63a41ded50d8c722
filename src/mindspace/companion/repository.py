"""Every companion query. Reads start from `readable_*`; row-level security stands behind them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.companion.models import Author, Conversation, Message, SafetyTransition
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


async def count_person_messages_since(
    session: AsyncSession, principal: Principal, since: datetime
) -> int:
    stmt = select(func.count()).where(
        Message.owner_id == principal.user_id,
        Message.author == Author.person,
        Message.created_at >= since,
    )
    return int(await session.scalar(stmt) or 0)


async def all_messages(
    session: AsyncSession, principal: Principal
) -> Sequence[Row[*tuple[Any, ...]]]:
    stmt = (
        select(Message.conversation_id, *MESSAGE_COLUMNS)
        .where(Message.owner_id == principal.user_id)
        .order_by(Message.created_at, Message.id)
    )
    return (await session.execute(stmt)).all()
