"""Opt-in analysis: scores computed by a job after the entry committed, kept only while the
person allows it ("allow journal analysis" in identity's privacy options).

Turning the option off deletes every stored score (on identity's event); a job already running
cannot slip its scores in afterwards, because the job and the deletion take the same per-person
lock and the job checks the option under it.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import datetime

from sqlalchemy import bindparam, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.identity import service as identity_service
from mindspace.journal import analysis, repository
from mindspace.journal.errors import AnalysisNotFound
from mindspace.journal.models import BODY, TITLE, JournalEntry, JournalEntryAnalysis
from mindspace.journal.sanitize import html_to_text
from mindspace.journal.schemas import EntryAnalysis, Sentiment
from mindspace.platform.clock import utc_now
from mindspace.platform.crypto import Vault
from mindspace.platform.db import Database, ReadConnection, driver_sql
from mindspace.platform.security import Principal

_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


async def _lock_person(session: AsyncSession, owner_id: uuid.UUID) -> None:
    digest = hashlib.sha256(b"journal-analysis|" + owner_id.bytes).digest()
    await session.execute(_LOCK, {"key": int.from_bytes(digest[:8], "big", signed=True)})


async def analysis_allowed(session: AsyncSession, principal: Principal) -> bool:
    preferences = await identity_service.get_preferences(session, principal)
    return preferences.privacy.allow_journal_analysis


async def get_analysis(
    session: AsyncSession, principal: Principal, *, entry_id: uuid.UUID
) -> EntryAnalysis:
    """The entry's scores; 404 while analysis is off, before the job ran, or for an entry
    that is not the person's."""
    if not await analysis_allowed(session, principal):
        raise AnalysisNotFound("Journal analysis is off in your privacy settings.")
    stmt = repository.readable_analyses(principal).where(JournalEntryAnalysis.entry_id == entry_id)
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise AnalysisNotFound()
    return analysis_out(row)


def analysis_out(row: JournalEntryAnalysis) -> EntryAnalysis:
    return EntryAnalysis(
        entry_id=row.entry_id,
        sentiment=Sentiment(
            compound=row.compound,
            positive=row.positive,
            neutral=row.neutral,
            negative=row.negative,
        ),
        emotions=row.emotions,
        analyser=row.analyser,
        analysed_at=row.analysed_at,
    )


async def analyse_entry(
    db: Database, vault: Vault, *, entry_id: uuid.UUID, owner_id: uuid.UUID
) -> bool:
    """The job body, in the person's own scope. Idempotent: it recomputes from the entry as it
    is now. Returns whether scores were stored."""
    principal = Principal(user_id=owner_id)
    async with db.session(principal) as session:
        await _lock_person(session, owner_id)
        if not await analysis_allowed(session, principal):
            await repository.delete_analyses(session, owner_id)
            return False
        entry = await repository.get_entry_for_update(session, principal, entry_id)
        key = await vault.find_data_key(session, owner_id)
        if entry is None or key is None:
            return False  # deleted, or its owner's key shredded, since the entry was written
        title = key.open_text(entry.title_sealed, purpose=TITLE, row_id=entry.id)
        body = key.open_text(entry.body_sealed, purpose=BODY, row_id=entry.id)
        scores = await asyncio.to_thread(analysis.analyse, title + "\n" + html_to_text(body))
        values = {
            "compound": scores.compound,
            "positive": scores.positive,
            "neutral": scores.neutral,
            "negative": scores.negative,
            "emotions": scores.emotions,
            "analyser": analysis.ANALYSER_VERSION,
            "analysed_at": utc_now(),
        }
        await session.execute(
            insert(JournalEntryAnalysis)
            .values(entry_id=entry.id, owner_id=owner_id, **values)
            .on_conflict_do_update(index_elements=[JournalEntryAnalysis.entry_id], set_=values)
        )
        return True


async def retract_analysis(session: AsyncSession, *, owner_id: uuid.UUID) -> None:
    """Deletes every score of the person (the permission was turned off)."""
    await _lock_person(session, owner_id)
    await repository.delete_analyses(session, owner_id)


async def entries_to_analyse(session: AsyncSession, principal: Principal) -> list[uuid.UUID]:
    stmt = (
        repository.readable_entries(principal)
        .with_only_columns(JournalEntry.id)
        .order_by(JournalEntry.id)
    )
    return list((await session.execute(stmt)).scalars())


_SENTIMENT_SQL = driver_sql(
    select(JournalEntry.written_at, JournalEntryAnalysis.compound)
    .join(JournalEntry, JournalEntry.id == JournalEntryAnalysis.entry_id)
    .where(
        JournalEntry.owner_id == bindparam("owner_id"),
        JournalEntry.written_at >= bindparam("since"),
        JournalEntry.written_at < bindparam("until"),
    )
    .order_by(JournalEntry.written_at)
)


async def sentiment_between(
    reader: ReadConnection, principal: Principal, *, since: datetime, until: datetime
) -> list[tuple[datetime, float]]:
    """(written_at, VADER compound) of my analysed entries in [since, until): numbers only,
    and none at all unless I allow analysis (withdrawing it deletes the scores)."""
    rows = await reader.fetch(_SENTIMENT_SQL, principal.user_id, since, until)
    return [(row["written_at"], row["compound"]) for row in rows]
