"""Entries: sealed on the way in, opened on the way out, for their owner only."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import delete, insert
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.crisis import service as crisis
from mindspace.identity import service as identity_service
from mindspace.journal import prompts, repository, search
from mindspace.journal.errors import (
    EmptyEntry,
    EntryNotFound,
    NothingToSearch,
    UnknownPrompt,
    WrittenInFuture,
)
from mindspace.journal.events import EntryDeleted, EntryWritten
from mindspace.journal.models import BODY, TAGS, TITLE, JournalEntry, Mood
from mindspace.journal.sanitize import html_to_text, sanitize_html
from mindspace.journal.schemas import (
    CUSTOM_PROMPT_PREFIX,
    Entry,
    EntryCreate,
    EntryFilters,
    EntryUpdate,
    SavedEntry,
)
from mindspace.platform import outbox
from mindspace.platform.clock import utc_now
from mindspace.platform.crypto import DataKey, Vault
from mindspace.platform.db import ReadConnection
from mindspace.platform.ids import InvalidIdError, decode, encode, new_id
from mindspace.platform.pagination import InvalidCursor, Page, PageParams, decode_cursor, page
from mindspace.platform.security import Principal
from mindspace.safety.service import CrisisSupport

# Devices' clocks disagree a little; "now" on a phone may be a minute ahead of ours.
CLOCK_SKEW = timedelta(minutes=5)
PROMPT_KIND = CUSTOM_PROMPT_PREFIX.rstrip("_")
SOURCE_TYPE = "journal_entry"  # how a crisis alert names where the words were


def _written_at(value: datetime | None) -> datetime:
    now = utc_now()
    if value is None:
        return now
    if value > now + CLOCK_SKEW:
        raise WrittenInFuture("Choose a date and time that has already happened.")
    return value


def _unique_tags(tags: list[str]) -> list[str]:
    """Tags as the person typed them, one per normalised form (the first spelling wins)."""
    seen: dict[str, str] = {}
    for tag in tags:
        seen.setdefault(search.normalise_tag(tag), tag)
    return list(seen.values())


async def _prompt_columns(
    session: AsyncSession, principal: Principal, ref: str | None
) -> tuple[str | None, uuid.UUID | None]:
    """(catalogue prompt id, custom prompt id) for a prompt reference; 422 if it names none
    of the catalogue or the person's own prompts."""
    if ref is None:
        return None, None
    if not ref.startswith(CUSTOM_PROMPT_PREFIX):
        if ref not in prompts.catalogue_by_id():
            raise UnknownPrompt(f"There is no prompt {ref!r} in the catalogue.")
        return ref, None
    try:
        prompt_id = decode(PROMPT_KIND, ref)
    except InvalidIdError:
        raise UnknownPrompt("That is not one of your prompts.") from None
    if await repository.get_prompt(session, principal, prompt_id) is None:
        raise UnknownPrompt("That is not one of your prompts.")
    return None, prompt_id


def _prompt_ref(catalogue_id: str | None, custom_id: uuid.UUID | None) -> str | None:
    if custom_id is not None:
        return encode(PROMPT_KIND, custom_id)
    return catalogue_id


def _indexes(key: DataKey, *, title: str, body_text: str, tags: list[str]) -> dict[str, Any]:
    word_terms = search.BlindIndex(key, search.WORD_INDEX_LABEL).terms(
        search.words(title + "\n" + body_text)
    )
    tag_terms = search.BlindIndex(key, search.TAG_INDEX_LABEL).terms(
        search.normalise_tag(t) for t in tags
    )
    return {"word_index": word_terms, "tag_index": tag_terms}


def _sealed(
    key: DataKey, entry_id: uuid.UUID, *, title: str, body: str, tags: list[str]
) -> dict[str, bytes]:
    return {
        "title_sealed": key.seal_text(title, purpose=TITLE, row_id=entry_id),
        "body_sealed": key.seal_text(body, purpose=BODY, row_id=entry_id),
        "tags_sealed": key.seal(orjson.dumps(tags), purpose=TAGS, row_id=entry_id),
    }


def open_entry(key: DataKey, row: Mapping[Any, Any]) -> Entry:
    entry_id: uuid.UUID = row["id"]
    return Entry(
        id=entry_id,
        title=key.open_text(row["title_sealed"], purpose=TITLE, row_id=entry_id),
        body=key.open_text(row["body_sealed"], purpose=BODY, row_id=entry_id),
        tags=orjson.loads(key.open(row["tags_sealed"], purpose=TAGS, row_id=entry_id)),
        mood=row["mood"],
        prompt_id=_prompt_ref(row["catalogue_prompt_id"], row["custom_prompt_id"]),
        written_at=row["written_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def open_joined(vault: Vault, row: Mapping[Any, Any]) -> Entry:
    key = vault.open_wrapped(row["owner_id"], row["master_key_id"], row["wrapped_key"])
    return open_entry(key, row)


async def _announce(
    session: AsyncSession, principal: Principal, event: EntryWritten | EntryDeleted
) -> None:
    # Only for people who let something use their entries' words (see journal.events).
    privacy = (await identity_service.get_preferences(session, principal)).privacy
    if privacy.allow_journal_analysis or privacy.allow_journal_memory:
        outbox.publish(session, event, owner_id=principal.user_id)


async def _support(
    session: AsyncSession, principal: Principal, entry_id: uuid.UUID, *, title: str, body_text: str
) -> CrisisSupport | None:
    return await crisis.respond_to_writing(
        session,
        principal,
        text=f"{title}\n{body_text}",
        source_type=SOURCE_TYPE,
        source_id=entry_id,
    )


async def create_entry(
    session: AsyncSession, principal: Principal, vault: Vault, *, data: EntryCreate
) -> SavedEntry:
    """Sealed with the person's key; crisis lines in the answer when the words call for them."""
    body = sanitize_html(data.body)
    body_text = html_to_text(body)
    if not data.title and not body_text.strip():
        raise EmptyEntry("Write a title or a few words before saving.")
    written_at = _written_at(data.written_at)
    catalogue_id, custom_id = await _prompt_columns(session, principal, data.prompt_id)
    tags = _unique_tags(data.tags)
    key = await vault.data_key(session, principal.user_id)
    entry_id, now = new_id(), utc_now()
    # A Core insert: nothing reads the row back in this unit of work, so the ORM's identity
    # map and flush would be pure overhead on the most frequent write.
    await session.execute(
        insert(JournalEntry).values(
            id=entry_id,
            owner_id=principal.user_id,
            written_at=written_at,
            mood=data.mood,
            catalogue_prompt_id=catalogue_id,
            custom_prompt_id=custom_id,
            created_at=now,
            updated_at=now,
            **_sealed(key, entry_id, title=data.title, body=body, tags=tags),
            **_indexes(key, title=data.title, body_text=body_text, tags=tags),
        )
    )
    await _announce(session, principal, EntryWritten(entry_id=entry_id, owner_id=principal.user_id))
    return SavedEntry(
        id=entry_id,
        title=data.title,
        body=body,
        mood=data.mood,
        tags=tags,
        prompt_id=_prompt_ref(catalogue_id, custom_id),
        written_at=written_at,
        created_at=now,
        updated_at=now,
        crisis=await _support(session, principal, entry_id, title=data.title, body_text=body_text),
    )


async def get_entry(
    reader: ReadConnection, principal: Principal, vault: Vault, *, entry_id: uuid.UUID
) -> Entry:
    row = await repository.read_entry(reader, principal, entry_id)
    if row is None:
        raise EntryNotFound()
    return open_joined(vault, row)


def _list_values(
    key: DataKey | None, filters: EntryFilters, params: PageParams
) -> dict[str, Any] | None:
    """The query's parameters, or None when nothing can match."""
    values: dict[str, Any] = {"limit": params.limit + 1}
    if filters.written_from is not None:
        values["written_from"] = filters.written_from
    if filters.written_to is not None:
        values["written_to"] = filters.written_to
    if filters.mood is not None:
        values["mood"] = filters.mood.value
    if filters.prompt_id is not None:
        if filters.prompt_id.startswith(CUSTOM_PROMPT_PREFIX):
            try:
                values["custom_prompt_id"] = decode(PROMPT_KIND, filters.prompt_id)
            except InvalidIdError:
                return None
        else:
            values["catalogue_prompt_id"] = filters.prompt_id
    if filters.q is not None:
        terms = search.words(filters.q)
        if not terms:
            raise NothingToSearch("Search for at least one word of two or more letters.")
        if key is None:
            return None
        values["word_terms"] = search.BlindIndex(key, search.WORD_INDEX_LABEL).terms(terms)
    if filters.tag is not None:
        if key is None:
            return None
        tag = search.normalise_tag(filters.tag)
        values["tag_terms"] = [search.BlindIndex(key, search.TAG_INDEX_LABEL).term(tag)]
    if params.cursor:
        at, entry_id = decode_cursor(params.cursor, 2)
        if not isinstance(at, datetime) or not isinstance(entry_id, uuid.UUID):
            raise InvalidCursor("Start again from the first page.")
        values["cursor_at"], values["cursor_id"] = at, entry_id
    return values


async def list_entries(
    reader: ReadConnection,
    principal: Principal,
    vault: Vault,
    params: PageParams,
    *,
    filters: EntryFilters,
) -> Page[Entry]:
    """The person's entries, newest written first, narrowed by every filter given. `q` finds
    entries containing all its words (see journal.search)."""
    key = None
    if filters.q is not None or filters.tag is not None:
        # The blind index needs the key before the query; plain listings get it in the rows.
        key = await vault.read_data_key(reader, principal.user_id)
    values = _list_values(key, filters, params)
    if values is None:
        return Page[Entry](items=[])
    rows = await repository.read_entries(reader, principal, values)
    entries = [open_joined(vault, row) for row in rows]
    return page(entries, params, key=lambda e: (e.written_at, e.id))


async def update_entry(
    session: AsyncSession,
    principal: Principal,
    vault: Vault,
    *,
    entry_id: uuid.UUID,
    changes: EntryUpdate,
) -> SavedEntry:
    entry = await repository.get_entry_for_update(session, principal, entry_id)
    if entry is None:
        raise EntryNotFound()
    sent = changes.model_fields_set
    key = await vault.data_key(session, principal.user_id)
    current = open_entry(key, {c.key: getattr(entry, c.key) for c in repository.ENTRY_COLUMNS})
    title = changes.title if "title" in sent and changes.title is not None else current.title
    body = current.body
    if "body" in sent and changes.body is not None:
        body = sanitize_html(changes.body)
    tags = current.tags
    if "tags" in sent and changes.tags is not None:
        tags = _unique_tags(changes.tags)
    body_text = html_to_text(body)
    if not title and not body_text.strip():
        raise EmptyEntry("An entry needs a title or a few words.")
    if changes.written_at is not None:
        entry.written_at = _written_at(changes.written_at)
    if "mood" in sent:
        entry.mood = changes.mood
    if "prompt_id" in sent:
        entry.catalogue_prompt_id, entry.custom_prompt_id = await _prompt_columns(
            session, principal, changes.prompt_id
        )
    words_changed = (title, body) != (current.title, current.body)
    if words_changed or tags != current.tags:
        for column, value in _sealed(key, entry.id, title=title, body=body, tags=tags).items():
            setattr(entry, column, value)
        for column, value in _indexes(key, title=title, body_text=body_text, tags=tags).items():
            setattr(entry, column, value)
    entry.updated_at = utc_now()
    await session.flush()
    support = None
    if words_changed:
        await _announce(
            session, principal, EntryWritten(entry_id=entry.id, owner_id=principal.user_id)
        )
        support = await _support(session, principal, entry.id, title=title, body_text=body_text)
    return SavedEntry(
        id=entry.id,
        title=title,
        body=body,
        mood=Mood(entry.mood) if entry.mood else None,
        tags=tags,
        prompt_id=_prompt_ref(entry.catalogue_prompt_id, entry.custom_prompt_id),
        written_at=entry.written_at,
        created_at=entry.created_at,
        updated_at=entry.updated_at,
        crisis=support,
    )


async def delete_entry(session: AsyncSession, principal: Principal, *, entry_id: uuid.UUID) -> None:
    """Deletes the entry and, through the foreign key, its analysis; other domains hear of it."""
    result = await session.execute(
        delete(JournalEntry)
        .where(JournalEntry.owner_id == principal.user_id, JournalEntry.id == entry_id)
        .returning(JournalEntry.id)
    )
    if result.first() is None:
        raise EntryNotFound()
    await _announce(session, principal, EntryDeleted(entry_id=entry_id, owner_id=principal.user_id))


@dataclass(frozen=True, slots=True)
class EntryText:
    title: str
    text: str  # the body as plain text


async def read_entry_text(
    session: AsyncSession, principal: Principal, vault: Vault, *, entry_id: uuid.UUID
) -> EntryText | None:
    """One of the person's entries as plain words, opened in their own scope, for a domain
    they allowed to use them (the companion's memory); None if it is gone."""
    row = (
        await session.execute(
            repository.readable_entries(principal).where(JournalEntry.id == entry_id)
        )
    ).first()
    if row is None:
        return None
    entry = open_joined(vault, row._mapping)
    return EntryText(title=entry.title, text=html_to_text(entry.body))
