"""The journal's background work: analysing entries for people who allow it, and undoing the
analysis when they stop allowing it."""

from __future__ import annotations

import uuid

import procrastinate
from procrastinate import JobContext
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.identity import service as identity_service
from mindspace.journal import service
from mindspace.journal.events import EntryWritten
from mindspace.platform import jobs
from mindspace.platform.crypto import Vault
from mindspace.platform.outbox import OutboxEvent
from mindspace.platform.relay import EventBus
from mindspace.platform.security import Principal

blueprint = procrastinate.Blueprint()


def _vault(context: JobContext) -> Vault:
    vault: Vault = context.additional_context["vault"]
    return vault


@blueprint.task(name="analyse_entry", pass_context=True, retry=jobs.DEFAULT_RETRY)
async def analyse_entry(context: JobContext, entry_id: str, owner_id: str) -> None:
    await service.analyse_entry(
        jobs.job_database(context),
        _vault(context),
        entry_id=uuid.UUID(entry_id),
        owner_id=uuid.UUID(owner_id),
    )


@blueprint.task(name="analyse_all", pass_context=True, retry=jobs.DEFAULT_RETRY)
async def analyse_all(context: JobContext, owner_id: str) -> None:
    """Every entry of a person who just allowed analysis."""
    db, owner = jobs.job_database(context), uuid.UUID(owner_id)
    async with db.session(Principal(user_id=owner)) as session:
        entry_ids = await service.entries_to_analyse(session, Principal(user_id=owner))
    for entry_id in entry_ids:
        if not await service.analyse_entry(db, _vault(context), entry_id=entry_id, owner_id=owner):
            return  # turned off again meanwhile


def _on_privacy_changed(job_app: procrastinate.App) -> jobs.Handler:
    backfill = jobs.defer_on(
        job_app, "journal:analyse_all", lambda e: {"owner_id": jobs.event_uuid(e, "user_id")}
    )

    async def handler(session: AsyncSession, event: OutboxEvent) -> None:
        owner_id = uuid.UUID(jobs.event_uuid(event, "user_id"))
        if event.payload["privacy"].get("allow_journal_analysis"):
            await backfill(session, event)
        else:
            await service.retract_analysis(session, owner_id=owner_id)

    return handler


def subscribe(bus: EventBus, job_app: procrastinate.App) -> None:
    bus.subscribe(
        EntryWritten.topic,
        jobs.defer_on(
            job_app,
            "journal:analyse_entry",
            lambda e: {
                "entry_id": jobs.event_uuid(e, "entry_id"),
                "owner_id": jobs.event_uuid(e, "owner_id"),
            },
        ),
        consumer="journal.analyse_entry",
    )
    bus.subscribe(
        identity_service.PrivacyOptionsChanged.topic,
        _on_privacy_changed(job_app),
        consumer="journal.privacy_changed",
    )
