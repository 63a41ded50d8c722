"""The companion's background work: remembering an ended conversation for someone who allows
it, and forgetting everything when they stop allowing it."""

from __future__ import annotations

import uuid

import procrastinate
from procrastinate import JobContext
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.companion import memories
from mindspace.companion.events import ConversationEnded
from mindspace.identity import service as identity
from mindspace.platform import jobs
from mindspace.platform.crypto import Vault
from mindspace.platform.outbox import OutboxEvent
from mindspace.platform.relay import EventBus

blueprint = procrastinate.Blueprint()


@blueprint.task(name="remember_conversation", pass_context=True, retry=jobs.DEFAULT_RETRY)
async def remember_conversation(context: JobContext, conversation_id: str, owner_id: str) -> None:
    vault: Vault = context.additional_context["vault"]
    await memories.remember_conversation(
        jobs.job_database(context),
        vault,
        conversation_id=uuid.UUID(conversation_id),
        owner_id=uuid.UUID(owner_id),
    )


async def _on_privacy_changed(session: AsyncSession, event: OutboxEvent) -> None:
    if not event.payload["privacy"].get("allow_ai_memory"):
        owner_id = uuid.UUID(jobs.event_uuid(event, "user_id"))
        await memories.forget_everything(session, owner_id=owner_id)


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
        identity.PrivacyOptionsChanged.topic,
        _on_privacy_changed,
        consumer="companion.privacy_changed",
    )
