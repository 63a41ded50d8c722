"""Background jobs on procrastinate, in the same PostgreSQL.

Procrastinate talks to PostgreSQL through psycopg, while requests use asyncpg, so deferring a
job cannot join the request's transaction. Requests therefore never defer directly: they
publish an outbox event in their own transaction, and the relay's handler defers the job
(`defer_on`). The job then exists if and only if the request committed; the relay delivers at
least once, so every task must be idempotent.

Tasks live in each domain's `jobs.py` on a `procrastinate.Blueprint`; the composition root adds
the blueprints to one app. A task that needs the database takes `context` (pass_context=True)
and opens its own session: `job_database(context)`.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import procrastinate
from procrastinate import JobContext, PsycopgConnector
from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.platform.db import Database
from mindspace.platform.outbox import OutboxEvent

# Exponential backoff (procrastinate waits 2^(attempt+1) s): 4 s, 8 s … about 9 hours in all,
# long enough to ride out a provider's outage.
DEFAULT_RETRY = procrastinate.RetryStrategy(max_attempts=14, exponential_wait=2)


def conninfo(url: URL) -> str:
    """libpq connection string for psycopg from our SQLAlchemy URL (sockets included)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def build_app(url: URL, blueprints: dict[str, procrastinate.Blueprint]) -> procrastinate.App:
    app = procrastinate.App(
        connector=PsycopgConnector(conninfo=conninfo(url), min_size=1, max_size=4),
    )
    for namespace, blueprint in blueprints.items():
        app.add_tasks_from(blueprint, namespace=namespace)
    return app


def job_database(context: JobContext) -> Database:
    """The asyncpg database a worker passes to its tasks (see `worker_context`)."""
    db: Database = context.additional_context["db"]
    return db


def worker_context(db: Database, **extra: Any) -> dict[str, Any]:
    """What tasks find in `context.additional_context`: the database, plus what the
    composition root adds (storage, settings, the domains' exporters)."""
    return {"db": db, **extra}


Handler = Callable[[AsyncSession, OutboxEvent], Awaitable[None]]


def defer_on(
    jobs: procrastinate.App, task_name: str, args: Callable[[OutboxEvent], dict[str, Any]]
) -> Handler:
    """An outbox handler that defers `task_name` once per event (the event id is the lock)."""

    async def handler(session: AsyncSession, event: OutboxEvent) -> None:
        task = jobs.tasks[task_name]
        try:
            await task.configure(queueing_lock=str(event.id)).defer_async(**args(event))
        except AlreadyEnqueued:
            pass  # the relay re-delivered an event whose job is already waiting

    return handler


def event_uuid(event: OutboxEvent, key: str) -> str:
    return str(uuid.UUID(str(event.payload[key])))
