"""Background jobs: deferred from committed events only, run by the worker with a database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import ClassVar

import procrastinate
import pytest
import pytest_asyncio
from fastapi import FastAPI
from procrastinate import JobContext
from sqlalchemy import select

from mindspace.platform import jobs
from mindspace.platform.audit import AuditRecord, record
from mindspace.platform.db import Database, DbScope
from mindspace.platform.outbox import DomainEvent, OutboxEvent, publish
from mindspace.platform.relay import EventBus, deliver, relay_once
from tests.conftest import Person

blueprint = procrastinate.Blueprint()
runs: list[str] = []


class ThingHappened(DomainEvent):
    topic: ClassVar[str] = "testing.thing_happened"
    thing_id: uuid.UUID


@blueprint.task(name="note_thing", pass_context=True, retry=jobs.DEFAULT_RETRY)
async def note_thing(context: JobContext, thing_id: str) -> None:
    runs.append(thing_id)
    async with jobs.job_database(context).session(None, scope=DbScope.system) as session:
        record(session, actor=None, action="testing.noted", target_id=uuid.UUID(thing_id))


@pytest_asyncio.fixture(scope="module")
async def _module_job_app(app: FastAPI) -> AsyncIterator[procrastinate.App]:
    # One jobs app per process, as in production: a blueprint joins one app only.
    job_app = jobs.build_app(app.state.db.engine.url, {"testing": blueprint})
    async with job_app.open_async():
        yield job_app


@pytest_asyncio.fixture
async def job_app(
    db: Database, _module_job_app: procrastinate.App
) -> AsyncIterator[procrastinate.App]:
    yield _module_job_app
    runs.clear()


def _bus(job_app: procrastinate.App) -> EventBus:
    bus = EventBus()
    bus.subscribe(
        ThingHappened.topic,
        jobs.defer_on(job_app, "testing:note_thing", lambda e: {"thing_id": e.payload["thing_id"]}),
        consumer="testing.note_thing",
    )
    return bus


async def _run_worker(job_app: procrastinate.App, db: Database) -> None:
    await job_app.run_worker_async(
        wait=False, install_signal_handlers=False, additional_context=jobs.worker_context(db)
    )


@pytest.mark.asyncio
async def test_a_committed_event_runs_its_job_once(
    db: Database, user: Person, job_app: procrastinate.App
) -> None:
    thing = uuid.uuid4()
    async with db.session(user.principal) as session:
        publish(session, ThingHappened(thing_id=thing), owner_id=user.id)

    assert await relay_once(db, _bus(job_app)) == 1
    await _run_worker(job_app, db)

    assert runs == [str(thing)]
    async with db.session(None, scope=DbScope.system) as session:
        noted = (await session.execute(select(AuditRecord.target_id))).scalars().all()
    assert noted == [thing]


@pytest.mark.asyncio
async def test_a_redelivered_event_does_not_queue_its_job_twice(
    db: Database, user: Person, job_app: procrastinate.App
) -> None:
    thing = uuid.uuid4()
    async with db.session(user.principal) as session:
        publish(session, ThingHappened(thing_id=thing), owner_id=user.id)
    async with db.session(None, scope=DbScope.system) as session:
        (event,) = (await session.execute(select(OutboxEvent))).scalars().all()
    (consumer,) = _bus(job_app).consumers(ThingHappened.topic)
    # As if the relay crashed after the consumer committed and before marking the event
    # published, then delivered it again.
    assert await deliver(db, consumer, event) is True
    assert await deliver(db, consumer, event) is False
    # The job committed with the consumer's transaction, not on a connection of its own.
    assert await relay_once(db, _bus(job_app)) == 1

    await _run_worker(job_app, db)
    assert runs == [str(thing)]


@pytest.mark.asyncio
async def test_a_rolled_back_request_defers_nothing(
    db: Database, user: Person, job_app: procrastinate.App
) -> None:
    with pytest.raises(RuntimeError):
        async with db.session(user.principal) as session:
            publish(session, ThingHappened(thing_id=uuid.uuid4()), owner_id=user.id)
            raise RuntimeError("the request failed")
    assert await relay_once(db, _bus(job_app)) == 0
    await _run_worker(job_app, db)
    assert runs == []
