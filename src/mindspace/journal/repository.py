"""Every journal query. Reads start from `readable_*`; row-level security stands behind them.

Hot reads (one entry, the list) run on the driver connection (`Database.reader`) with the
person's wrapped data key joined in, so a read is one query however many rows it opens.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    DateTime,
    Integer,
    LargeBinary,
    Select,
    String,
    Uuid,
    bindparam,
    delete,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.journal.models import JournalEntry, JournalEntryAnalysis, JournalPrompt
from mindspace.platform.crypto import UserDataKey
from mindspace.platform.db import DriverQuery, ReadConnection, driver_query
from mindspace.platform.pagination import PageParams, keyset
from mindspace.platform.security import Principal

ENTRY_COLUMNS = (
    JournalEntry.id,
    JournalEntry.owner_id,
    JournalEntry.written_at,
    JournalEntry.mood,
    JournalEntry.catalogue_prompt_id,
    JournalEntry.custom_prompt_id,
    JournalEntry.title_sealed,
    JournalEntry.body_sealed,
    JournalEntry.tags_sealed,
    JournalEntry.created_at,
    JournalEntry.updated_at,
)
KEY_COLUMNS = (UserDataKey.master_key_id, UserDataKey.wrapped_key)
_OWNER = bindparam("owner_id", type_=Uuid())


def _entries_with_key(owner: uuid.UUID | BindParameter[uuid.UUID]) -> Select[*tuple[Any, ...]]:
    return (
        select(*ENTRY_COLUMNS, *KEY_COLUMNS)
        .join_from(JournalEntry, UserDataKey, UserDataKey.owner_id == JournalEntry.owner_id)
        .where(JournalEntry.owner_id == owner)
    )


def readable_entries(principal: Principal) -> Select[*tuple[Any, ...]]:
    return _entries_with_key(principal.user_id)


_ONE_ENTRY = driver_query(
    _entries_with_key(_OWNER).where(JournalEntry.id == bindparam("entry_id", type_=Uuid()))
)


async def read_entry(
    reader: ReadConnection, principal: Principal, entry_id: uuid.UUID
) -> Mapping[str, Any] | None:
    return await reader.fetchrow(
        _ONE_ENTRY.sql, *_ONE_ENTRY.args({"owner_id": principal.user_id, "entry_id": entry_id})
    )


_BYTEA_ARRAY = ARRAY(LargeBinary())
_AT = DateTime(timezone=True)


@cache
def _list_query(options: frozenset[str]) -> DriverQuery:
    """The list statement for one combination of filters, compiled once per combination."""
    stmt = _entries_with_key(_OWNER)
    entry = JournalEntry
    if "written_from" in options:
        stmt = stmt.where(entry.written_at >= bindparam("written_from", type_=_AT))
    if "written_to" in options:
        stmt = stmt.where(entry.written_at < bindparam("written_to", type_=_AT))
    if "mood" in options:
        stmt = stmt.where(entry.mood == bindparam("mood", type_=String()))
    if "catalogue_prompt_id" in options:
        stmt = stmt.where(
            entry.catalogue_prompt_id == bindparam("catalogue_prompt_id", type_=String())
        )
    if "custom_prompt_id" in options:
        stmt = stmt.where(entry.custom_prompt_id == bindparam("custom_prompt_id", type_=Uuid()))
    if "tag_terms" in options:
        stmt = stmt.where(entry.tag_index.contains(bindparam("tag_terms", type_=_BYTEA_ARRAY)))
    if "word_terms" in options:
        stmt = stmt.where(entry.word_index.contains(bindparam("word_terms", type_=_BYTEA_ARRAY)))
    if "cursor_at" in options:
        stmt = stmt.where(
            tuple_(entry.written_at, entry.id)
            < tuple_(bindparam("cursor_at", type_=_AT), bindparam("cursor_id", type_=Uuid()))
        )
    stmt = stmt.order_by(entry.written_at.desc(), entry.id.desc()).limit(
        bindparam("limit", type_=Integer())
    )
    return driver_query(stmt)


async def read_entries(
    reader: ReadConnection, principal: Principal, values: dict[str, Any]
) -> Sequence[Mapping[str, Any]]:
    """Entries matching `values` (filter name -> value; absent filters are not applied),
    newest first, `limit` rows at most."""
    query = _list_query(frozenset(k for k in values if k != "limit"))
    return await reader.fetch(query.sql, *query.args({**values, "owner_id": principal.user_id}))


async def get_entry_for_update(
    session: AsyncSession, principal: Principal, entry_id: uuid.UUID
) -> JournalEntry | None:
    stmt = (
        select(JournalEntry)
        .where(JournalEntry.owner_id == principal.user_id, JournalEntry.id == entry_id)
        .with_for_update()
    )
    return (await session.execute(stmt)).scalar_one_or_none()


def readable_prompts(principal: Principal) -> Select[JournalPrompt]:
    return select(JournalPrompt).where(JournalPrompt.owner_id == principal.user_id)


async def get_prompt(
    session: AsyncSession, principal: Principal, prompt_id: uuid.UUID, *, for_update: bool = False
) -> JournalPrompt | None:
    stmt = readable_prompts(principal).where(JournalPrompt.id == prompt_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_prompts(
    session: AsyncSession, principal: Principal, params: PageParams
) -> Sequence[JournalPrompt]:
    stmt = keyset(readable_prompts(principal), params, JournalPrompt.id)
    return (await session.execute(stmt)).scalars().all()


def readable_analyses(principal: Principal) -> Select[JournalEntryAnalysis]:
    return select(JournalEntryAnalysis).where(JournalEntryAnalysis.owner_id == principal.user_id)


async def delete_analyses(session: AsyncSession, owner_id: uuid.UUID) -> None:
    await session.execute(
        delete(JournalEntryAnalysis).where(JournalEntryAnalysis.owner_id == owner_id)
    )
