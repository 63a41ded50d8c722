"""Background jobs on procrastinate, in the same PostgreSQL.

Requests never defer directly: they publish an outbox event in their own transaction, and the
relay's consumer defers the job (`defer_on`), inserting it through procrastinate's own SQL
function in the consumer's transaction, beside its inbox claim. The job then exists if and only
if the request committed, and exactly once per event however often the relay re-delivers it.
A job itself runs at least once (a worker may die after the job's effect committed), so every
task must be idempotent.

Tasks live in each domain's `jobs.py` on a `procrastinate.Blueprint`; the composition root adds
the blueprints to one app. A task that needs the database takes `context` (pass_context=True)
and opens its own session: `job_database(context)`.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import procrastinate
from procrastinate import JobContext, PsycopgConnector
from sqlalchemy import text
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

_DEFER = text(
    "SELECT procrastinate_defer_jobs_v1(ARRAY[ROW(:queue, :task_name, :priority, :lock, "
    ":queueing_lock, CAST(:args AS jsonb), :scheduled_at)::procrastinate_job_to_defer_v1])"
)


async def defer_in(
    session: AsyncSession, jobs: procrastinate.App, task_name: str, **task_kwargs: Any
) -> None:
    """Defers `task_name` in the caller's transaction: the job commits or vanishes with it.
    Procrastinate's own `defer_async` would commit on a connection of its own."""
    job = jobs.tasks[task_name].configure().make_new_job(**task_kwargs)
    await session.execute(
        _DEFER,
        {
            "queue": job.queue,
            "task_name": job.task_name,
            "priority": job.priority,
            "lock": job.lock,
            "queueing_lock": job.queueing_lock,
            "args": orjson.dumps(job.task_kwargs).decode(),
            "scheduled_at": job.scheduled_at,
        },
    )


def defer_on(
    jobs: procrastinate.App, task_name: str, args: Callable[[OutboxEvent], dict[str, Any]]
) -> Handler:
    """A relay handler that defers `task_name` for each event; subscribed under a consumer
    name, the inbox makes that once per event."""

    async def handler(session: AsyncSession, event: OutboxEvent) -> None:
        await defer_in(session, jobs, task_name, **args(event))

    return handler


def event_uuid(event: OutboxEvent, key: str) -> str:
    return str(uuid.UUID(str(event.payload[key])))
