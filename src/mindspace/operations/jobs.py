"""The platform's own periodic housekeeping, run by every `mindspace worker`."""

from __future__ import annotations

from datetime import timedelta

import procrastinate
from procrastinate import JobContext
from sqlalchemy import delete, exists, select

from mindspace.platform import idempotency, jobs
from mindspace.platform.clock import utc_now
from mindspace.platform.db import DbScope
from mindspace.platform.inbox import InboxMessage
from mindspace.platform.outbox import OutboxEvent

blueprint = procrastinate.Blueprint()
# A worker heartbeats every few seconds; one silent this long has died (SIGKILL, lost host).
STALLED_AFTER = timedelta(minutes=2)
# Long past any re-delivery of a published event; an unpublished one keeps its claims.
INBOX_RETENTION = timedelta(days=30)


@blueprint.periodic(cron="*/5 * * * *")
@blueprint.task(name="retry_stalled_jobs", queueing_lock="retry_stalled_jobs", pass_context=True)
async def retry_stalled_jobs(context: JobContext, timestamp: int) -> int:
    """Queues again the jobs a dead worker was running: procrastinate leaves them `doing`."""
    manager = context.app.job_manager
    stalled = list(
        await manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER.total_seconds())
    )
    for job in stalled:
        await manager.retry_job(job)
    return len(stalled)


@blueprint.periodic(cron="17 3 * * *")
@blueprint.task(name="prune_inbox", queueing_lock="prune_inbox", pass_context=True)
async def prune_inbox(context: JobContext, timestamp: int) -> int:
    """Forgets the claims of events published more than INBOX_RETENTION ago."""
    pending = exists(
        select(OutboxEvent.id).where(
            OutboxEvent.id == InboxMessage.event_id, OutboxEvent.published_at.is_(None)
        )
    )
    stmt = delete(InboxMessage).where(
        InboxMessage.processed_at < utc_now() - INBOX_RETENTION, ~pending
    )
    async with jobs.job_database(context).session(None, scope=DbScope.system) as session:
        result = await session.execute(stmt)
    return int(result.rowcount)  # type: ignore[attr-defined]


@blueprint.periodic(cron="41 * * * *")
@blueprint.task(
    name="purge_idempotency_keys", queueing_lock="purge_idempotency_keys", pass_context=True
)
async def purge_idempotency_keys(context: JobContext, timestamp: int) -> int:
    """Deletes the kept responses of expired Idempotency-Keys (already ignored by lookups)."""
    return await idempotency.purge_expired(jobs.job_database(context))
