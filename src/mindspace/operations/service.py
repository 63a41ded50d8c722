"""Staff views of background work: failed jobs and stuck events, and sending them round again.

Each function opens its own `admin_session`, which audits the opening in the same transaction
as the act. The tables here are infrastructure (procrastinate's queue, the outbox), read with
Core: they hold ids and facts, not anyone's journal.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, column, func, literal_column, select, table, text
from sqlalchemy.dialects.postgresql import JSONB

from mindspace.operations.errors import FailedJobNotFound, StuckEventNotFound
from mindspace.operations.schemas import Job, StuckEvent
from mindspace.platform.audit import Origin, admin_session
from mindspace.platform.db import Database
from mindspace.platform.outbox import OutboxEvent
from mindspace.platform.pagination import Page, PageParams, keyset, page
from mindspace.platform.relay import MAX_ATTEMPTS, OUTBOX_CHANNEL
from mindspace.platform.security import Principal

JOB_TARGET = "job"
EVENT_TARGET = "event"
# Procrastinate's enums: a bound string would be compared as varchar, which PostgreSQL refuses.
_FAILED_STATUS: ColumnElement[str] = literal_column("'failed'::procrastinate_job_status")
_FAILED_EVENT: ColumnElement[str] = literal_column("'failed'::procrastinate_job_event_type")

# Procrastinate's tables, as much of them as we read (its schema is pinned by migration 0010).
_jobs = table(
    "procrastinate_jobs",
    column("id"),
    column("task_name"),
    column("queue_name"),
    column("args", JSONB),
    column("attempts"),
    column("status"),
)
_job_events = table("procrastinate_events", column("job_id"), column("type"), column("at"))
_failed_at = (
    select(func.max(_job_events.c.at))
    .where(_job_events.c.job_id == _jobs.c.id, _job_events.c.type == _FAILED_EVENT)
    .scalar_subquery()
    .label("failed_at")
)
_JOB_COLUMNS = (*_jobs.c, _failed_at)
_RETRY_JOB = text("SELECT procrastinate_retry_job_v2(:id, now(), NULL, NULL, NULL)")

_STUCK_COLUMNS = (
    OutboxEvent.id,
    OutboxEvent.topic,
    OutboxEvent.owner_id,
    OutboxEvent.payload,
    OutboxEvent.attempts,
    OutboxEvent.last_error,
    OutboxEvent.occurred_at,
    OutboxEvent.next_attempt_at,
)
_stuck = (OutboxEvent.published_at.is_(None), OutboxEvent.attempts >= MAX_ATTEMPTS)


def _job(values: Any) -> Job:
    return Job.model_validate(dict(values))


async def list_failed_jobs(
    db: Database,
    principal: Principal,
    *,
    params: PageParams,
    origin: Origin,
    task_name: str | None = None,
) -> Page[Job]:
    """Jobs whose retries ran out, newest first."""
    async with admin_session(
        db,
        principal,
        action="job.list_failed",
        target_type=JOB_TARGET,
        origin=origin,
        details={"task_name": task_name} if task_name else None,
    ) as session:
        stmt = select(*_JOB_COLUMNS).where(_jobs.c.status == _FAILED_STATUS)
        if task_name:
            stmt = stmt.where(_jobs.c.task_name == task_name)
        rows = (await session.execute(keyset(stmt, params, _jobs.c.id))).all()
    return page([_job(r._mapping) for r in rows], params, key=lambda job: (job.id,))


async def retry_job(
    db: Database, principal: Principal, *, job_id: int, reason: str, origin: Origin
) -> Job:
    """Queues a failed job again, to run now. Its retry strategy still counts its attempts,
    so a job that fails again is failed again rather than retried for hours."""
    async with admin_session(
        db,
        principal,
        action="job.retry",
        target_type=JOB_TARGET,
        origin=origin,
        details={"job_id": job_id, "reason": reason},
    ) as session:
        locked = select(_jobs.c.id).where(_jobs.c.id == job_id, _jobs.c.status == _FAILED_STATUS)
        if (await session.execute(locked.with_for_update())).first() is None:
            raise FailedJobNotFound()
        await session.execute(_RETRY_JOB, {"id": job_id})
        row = (await session.execute(select(*_JOB_COLUMNS).where(_jobs.c.id == job_id))).one()
    return _job(row._mapping)


async def list_stuck_events(
    db: Database, principal: Principal, *, params: PageParams, origin: Origin
) -> Page[StuckEvent]:
    """Events that used up their delivery attempts and wait for staff, newest first."""
    async with admin_session(
        db, principal, action="event.list_stuck", target_type=EVENT_TARGET, origin=origin
    ) as session:
        stmt = select(*_STUCK_COLUMNS).where(*_stuck)
        rows = (await session.execute(keyset(stmt, params, OutboxEvent.id))).all()
    items = [StuckEvent.model_validate(dict(r._mapping)) for r in rows]
    return page(items, params, key=lambda event: (event.id,))


async def retry_event(
    db: Database, principal: Principal, *, event_id: uuid.UUID, reason: str, origin: Origin
) -> StuckEvent:
    """Gives a stuck event a fresh set of attempts, starting now. Consumers that had already
    processed it skip it (their inbox claims), so only the failing ones run again."""
    async with admin_session(
        db,
        principal,
        action="event.retry",
        target_type=EVENT_TARGET,
        target_id=event_id,
        origin=origin,
        details={"reason": reason},
    ) as session:
        event = (
            await session.execute(
                select(OutboxEvent).where(OutboxEvent.id == event_id, *_stuck).with_for_update()
            )
        ).scalar_one_or_none()
        if event is None:
            raise StuckEventNotFound()
        event.attempts = 0
        event.next_attempt_at = None
        await session.flush()
        # Wakes an idle relay at commit instead of at its next poll.
        await session.execute(select(func.pg_notify(OUTBOX_CHANNEL, "")))
        result = StuckEvent.model_validate({c.key: getattr(event, c.key) for c in _STUCK_COLUMNS})
    return result
