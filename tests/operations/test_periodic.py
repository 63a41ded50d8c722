"""Periodic work runs: a worker started as `mindspace worker` starts it defers the product's
periodic tasks and runs them (identity's erasure of due accounts, the platform's retry of jobs
left behind by a dead worker)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import ClassVar

import procrastinate
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text, update

from mindspace.app import build_worker_context
from mindspace.identity.models import UserAccount
from mindspace.identity.service.accounts import PENDING_DELETION
from mindspace.operations.jobs import INBOX_RETENTION, STALLED_AFTER
from mindspace.platform import jobs
from mindspace.platform.clock import utc_now
from mindspace.platform.config import Settings
from mindspace.platform.db import Database, DbScope
from mindspace.platform.inbox import InboxMessage
from mindspace.platform.outbox import DomainEvent, OutboxEvent, publish
from tests.conftest import Person, create_user


class Tick(DomainEvent):
    topic: ClassVar[str] = "testing.tick"
    n: int


async def _eventually(check: Callable[[], Awaitable[bool]], seconds: float = 30) -> None:
    async def poll() -> None:
        while not await check():  # noqa: ASYNC110 - the worker's progress shows only in tables
            await asyncio.sleep(0.1)

    await asyncio.wait_for(poll(), seconds)


async def _job_statuses(db: Database, task_name: str) -> list[str]:
    async with db.session(None, scope=DbScope.system) as session:
        rows = await session.execute(
            text("SELECT status FROM procrastinate_jobs WHERE task_name = :t ORDER BY id"),
            {"t": task_name},
        )
        return [str(s) for s in rows.scalars()]


@pytest.mark.asyncio
async def test_the_worker_runs_the_periodic_tasks(
    db: Database, app: FastAPI, settings: Settings, job_app: procrastinate.App
) -> None:
    due = await create_user(
        db,
        app.state.tokens,
        status=PENDING_DELETION,
        deletion_due_at=utc_now() - timedelta(minutes=1),
    )
    # A job a worker was running when it died: its heartbeats stopped long ago.
    async with db.session(None, scope=DbScope.system) as session:
        worker_id = await session.scalar(
            text("INSERT INTO procrastinate_workers (last_heartbeat) VALUES (:at) RETURNING id"),
            {"at": utc_now() - STALLED_AFTER * 2},
        )
        orphan = await session.scalar(
            text(
                "INSERT INTO procrastinate_jobs (queue_name, task_name, args, status, worker_id) "
                "VALUES ('default', 'operations:prune_inbox', '{\"timestamp\": 0}', 'doing', :w) "
                "RETURNING id"
            ),
            {"w": worker_id},
        )

    # The real worker's context: every periodic task due at start-up runs with what it needs.
    context = build_worker_context(db, settings)
    worker = asyncio.create_task(
        job_app.run_worker_async(install_signal_handlers=False, additional_context=context)
    )

    async def erased() -> bool:
        async with db.session(None, scope=DbScope.system) as session:
            return await session.get(UserAccount, due.id) is None

    async def orphan_ran() -> bool:
        async with db.session(None, scope=DbScope.system) as session:
            status = await session.scalar(
                text("SELECT status FROM procrastinate_jobs WHERE id = :id"), {"id": orphan}
            )
        return str(status) == "succeeded"

    try:
        await _eventually(erased)
        await _eventually(orphan_ran)
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker

    assert await _job_statuses(db, "identity:erase_due_accounts") == ["succeeded"]
    assert await _job_statuses(db, "operations:retry_stalled_jobs") == ["succeeded"]
    async with db.session(None, scope=DbScope.system) as session:
        assert (await session.execute(select(UserAccount.id))).first() is None


@pytest.mark.asyncio
async def test_old_inbox_claims_of_published_events_are_pruned(
    db: Database, job_app: procrastinate.App, user: Person
) -> None:
    async with db.session(user.principal) as session:
        published = publish(session, Tick(n=1), owner_id=user.id)
        pending = publish(session, Tick(n=2), owner_id=user.id)
    long_ago = utc_now() - INBOX_RETENTION - timedelta(days=1)
    async with db.session(None, scope=DbScope.system) as session:
        await session.execute(
            update(OutboxEvent).where(OutboxEvent.id == published).values(published_at=long_ago)
        )
        session.add_all(
            [
                InboxMessage(consumer="testing.old", event_id=published, processed_at=long_ago),
                InboxMessage(consumer="testing.old", event_id=pending, processed_at=long_ago),
                InboxMessage(consumer="testing.new", event_id=published),
            ]
        )

    await job_app.tasks["operations:prune_inbox"].defer_async(timestamp=0)
    await job_app.run_worker_async(
        wait=False, install_signal_handlers=False, additional_context=jobs.worker_context(db)
    )

    async with db.session(None, scope=DbScope.system) as session:
        kept = (await session.execute(select(InboxMessage.consumer, InboxMessage.event_id))).all()
    assert sorted(kept) == sorted([("testing.old", pending), ("testing.new", published)])
