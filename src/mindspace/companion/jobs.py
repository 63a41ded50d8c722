"""The companion's background work: remembering an ended conversation, or a journal entry, for
someone who allows it; forgetting when they stop allowing it or delete the entry; and moving
memories to the embedder in use."""

from __future__ import annotations

import uuid

import procrastinate
from procrastinate import JobContext
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.companion import memories
from mindspace.companion.events import ConversationEnded
from mindspace.identity import service as identity
from mindspace.journal import service as journal
from mindspace.platform import jobs
from mindspace.platform.config import Settings
from mindspace.platform.crypto import Vault
from mindspace.platform.outbox import OutboxEvent
from mindspace.platform.relay import EventBus

blueprint = procrastinate.Blueprint()


def _vault_and_embedders(context: JobContext) -> tuple[Vault, memories.Embedders]:
    vault: Vault = context.additional_context["vault"]
    settings: Settings = context.additional_context["settings"]
    return vault, memories.embedders_for(settings)


@blueprint.task(name="remember_conversation", pass_context=True, retry=jobs.DEFAULT_RETRY)
async def remember_conversation(context: JobContext, conversation_id: str, owner_id: str) -> None:
    await memories.remember_conversation(
        jobs.job_database(context),
        *_vault_and_embedders(context),
        conversation_id=uuid.UUID(conversation_id),
        owner_id=uuid.UUID(owner_id),
    )


@blueprint.task(name="remember_journal_entry", pass_context=True, retry=jobs.DEFAULT_RETRY)
async def remember_journal_entry(context: JobContext, entry_id: str, owner_id: str) -> None:
    await memories.remember_journal_entry(
        jobs.job_database(context),
        *_vault_and_embedders(context),
        entry_id=uuid.UUID(entry_id),
        owner_id=uuid.UUID(owner_id),
    )


# No retry: the next run picks up whatever this one left.
@blueprint.periodic(cron="*/15 * * * *")
@blueprint.task(name="reembed_memories", pass_context=True)
async def reembed_memories(context: JobContext, timestamp: int) -> None:
    await memories.reembed_stale(jobs.job_database(context), *_vault_and_embedders(context))


async def _on_privacy_changed(session: AsyncSession, event: OutboxEvent) -> None:
    privacy = event.payload["privacy"]
    owner_id = uuid.UUID(jobs.event_uuid(event, "user_id"))
    if not privacy.get("allow_ai_memory"):
        await memories.forget_everything(session, owner_id=owner_id)
    elif not privacy.get("allow_journal_memory"):
        await memories.forget_journal(session, owner_id=owner_id)


async def _on_entry_deleted(session: AsyncSession, event: OutboxEvent) -> None:
    await memories.forget_entry(
        session,
        owner_id=uuid.UUID(jobs.event_uuid(event, "owner_id")),
        entry_id=uuid.UUID(jobs.event_uuid(event, "entry_id")),
    )


def _entry_args(event: OutboxEvent) -> dict[str, str]:
    return {
        "entry_id": jobs.event_uuid(event, "entry_id"),
        "owner_id": jobs.event_uuid(event, "owner_id"),
    }


def subscribe(bus: EventBus, job_app: procrastinate.App) -> None:
    bus.subscribe(
        ConversationEnded.topic,
        jobs.defer_on(
            job_app,
            "companion:remember_conversation",
            lambda e: {
                "conversation_id": jobs.event_uuid(e, "conversation_id"),
                "owner_id": jobs.event_uuid(e, "owner_id"),
            },
        ),
        consumer="companion.remember_conversation",
    )
    bus.subscribe(
        journal.EntryWritten.topic,
        jobs.defer_on(job_app, "companion:remember_journal_entry", _entry_args),
        consumer="companion.remember_journal_entry",
    )
    bus.subscribe(
        journal.EntryDeleted.topic, _on_entry_deleted, consumer="companion.forget_journal_entry"
    )
    bus.subscribe(
        identity.PrivacyOptionsChanged.topic,
        _on_privacy_changed,
        consumer="companion.privacy_changed",
    )
