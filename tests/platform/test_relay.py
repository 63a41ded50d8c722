"""The relay's consumers act once per event: each commits its effect with an inbox claim, a
failing one is retried alone, and an idle relay wakes when an event commits."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import ClassVar

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from mindspace.platform.audit import AuditRecord, record
from mindspace.platform.db import Database, DbScope
from mindspace.platform.inbox import InboxMessage, handle_once
from mindspace.platform.outbox import DomainEvent, OutboxEvent, publish
from mindspace.platform.relay import (
    LISTENER_NAME,
    MAX_ATTEMPTS,
    EventBus,
    OutboxListener,
    backoff,
    deliver,
    relay_once,
)
from tests.conftest import Person


class Noted(DomainEvent):
    topic: ClassVar[str] = "testing.noted"
    note: str


async def _note(session: AsyncSession, event: OutboxEvent) -> None:
    """An effect in the consumer's transaction: one audit record per delivery."""
    record(session, actor=None, action="testing.effect", target_id=event.id)


async def _effects(db: Database) -> dict[uuid.UUID, int]:
    async with db.session(None, scope=DbScope.system) as session:
        rows = await session.execute(
            select(AuditRecord.target_id, func.count())
            .where(AuditRecord.action == "testing.effect")
            .group_by(AuditRecord.target_id)
        )
        return {target: count for target, count in rows if target is not None}


async def _publish(db: Database, person: Person, count: int = 1) -> list[uuid.UUID]:
    async with db.session(person.principal) as session:
        return [publish(session, Noted(note=str(i)), owner_id=person.id) for i in range(count)]


async def _event(db: Database, event_id: uuid.UUID) -> OutboxEvent:
    async with db.session(None, scope=DbScope.system) as session:
        event = await session.get(OutboxEvent, event_id)
    assert event is not None
    return event


async def _reset(db: Database, **values: object) -> None:
    async with db.session(None, scope=DbScope.system) as session:
        await session.execute(update(OutboxEvent).values(**values))


@pytest.mark.asyncio
async def test_a_redelivered_event_takes_effect_once(db: Database, user: Person) -> None:
    bus = EventBus()
    bus.subscribe(Noted.topic, _note, consumer="testing.note")
    (event_id,) = await _publish(db, user)

    assert await relay_once(db, bus) == 1
    # As if the relay had died before marking the event published.
    await _reset(db, published_at=None)
    assert await relay_once(db, bus) == 1

    assert await _effects(db) == {event_id: 1}
    assert (await _event(db, event_id)).published_at is not None


@pytest.mark.asyncio
async def test_a_failing_consumer_is_retried_alone(db: Database, user: Person) -> None:
    flaky_calls = 0

    async def flaky(session: AsyncSession, event: OutboxEvent) -> None:
        nonlocal flaky_calls
        flaky_calls += 1
        record(session, actor=None, action="testing.flaky", target_id=event.id)
        if flaky_calls == 1:
            raise ConnectionError("provider down")

    bus = EventBus()
    bus.subscribe(Noted.topic, _note, consumer="testing.note")
    bus.subscribe(Noted.topic, flaky, consumer="testing.flaky")
    (event_id,) = await _publish(db, user)

    await relay_once(db, bus)
    event = await _event(db, event_id)
    assert (event.published_at, event.attempts) == (None, 1)
    assert event.last_error is not None
    assert event.last_error.startswith("testing.flaky: ConnectionError")
    await _reset(db, next_attempt_at=None)
    await relay_once(db, bus)

    assert (await _event(db, event_id)).published_at is not None
    assert await _effects(db) == {event_id: 1}
    assert flaky_calls == 2
    async with db.session(None, scope=DbScope.system) as session:
        # The failed attempt's effect rolled back with its transaction.
        flaky_effects = await session.scalar(
            select(func.count()).where(AuditRecord.action == "testing.flaky")
        )
    assert flaky_effects == 1


@pytest.mark.asyncio
async def test_an_event_whose_attempts_ran_out_waits_for_staff(db: Database, user: Person) -> None:
    bus = EventBus()
    bus.subscribe(Noted.topic, _note, consumer="testing.note")
    await _publish(db, user)
    await _reset(db, attempts=MAX_ATTEMPTS)

    assert await relay_once(db, bus) == 0
    assert await _effects(db) == {}


@pytest.mark.asyncio
async def test_events_without_consumers_are_settled(db: Database, user: Person) -> None:
    ids = await _publish(db, user, count=3)
    assert await relay_once(db, EventBus()) == 3
    assert all([(await _event(db, i)).published_at is not None for i in ids])


@pytest.mark.asyncio
async def test_a_batch_stops_at_its_time_budget(db: Database, user: Person) -> None:
    bus = EventBus()
    bus.subscribe(Noted.topic, _note, consumer="testing.note")
    first, *rest = await _publish(db, user, count=3)

    assert await relay_once(db, bus, batch_seconds=0) == 1
    assert list(await _effects(db)) == [first]
    for event_id in rest:  # untouched: no attempt counted against them
        event = await _event(db, event_id)
        assert (event.published_at, event.attempts) == (None, 0)
    assert await relay_once(db, bus) == 2


@pytest.mark.asyncio
async def test_a_consumer_that_hangs_is_cut_off(db: Database, user: Person) -> None:
    async def hangs(session: AsyncSession, event: OutboxEvent) -> None:
        record(session, actor=None, action="testing.effect", target_id=event.id)
        await asyncio.Event().wait()

    bus = EventBus()
    bus.subscribe(Noted.topic, hangs, consumer="testing.hangs")
    (event_id,) = await _publish(db, user)

    assert await relay_once(db, bus, consumer_seconds=0.2) == 1
    event = await _event(db, event_id)
    assert (event.published_at, event.attempts) == (None, 1)
    assert (event.last_error or "").startswith("testing.hangs: TimeoutError")
    assert await _effects(db) == {}  # its transaction rolled back


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3)] == [2, 4, 8]
    assert backoff(MAX_ATTEMPTS + 20).total_seconds() == 3600


def test_one_consumer_name_cannot_serve_two_handlers_of_a_topic() -> None:
    bus = EventBus()
    bus.subscribe(Noted.topic, _note, consumer="testing.note")
    # Claims are per event, and an event has one topic: one consumer may serve several.
    bus.subscribe("testing.other", _note, consumer="testing.note")
    with pytest.raises(ValueError, match="already subscribed"):
        bus.subscribe(Noted.topic, _note, consumer="testing.note")
    with pytest.raises(ValueError, match="already subscribed"):
        bus.subscribe_all(_note, consumer="testing.note")


@pytest.mark.asyncio
async def test_a_claim_that_rolled_back_can_be_made_again(db: Database) -> None:
    event_id = uuid.uuid4()
    with pytest.raises(RuntimeError):
        async with db.session(None, scope=DbScope.system) as session:
            assert await handle_once(session, "testing.claims", event_id)
            raise RuntimeError("the effect failed")
    async with db.session(None, scope=DbScope.system) as session:
        assert await handle_once(session, "testing.claims", event_id)
        assert not await handle_once(session, "testing.claims", event_id)
        # Another consumer keeps its own claims.
        assert await handle_once(session, "testing.others", event_id)


@pytest.mark.asyncio
async def test_members_cannot_read_or_forge_inbox_claims(db: Database, user: Person) -> None:
    async with db.session(None, scope=DbScope.system) as session:
        await handle_once(session, "testing.claims", uuid.uuid4())
    async with db.session(user.principal) as session:
        assert (await session.execute(select(InboxMessage))).first() is None
    with pytest.raises(Exception, match="row-level security"):
        async with db.session(user.principal) as session:
            await handle_once(session, "testing.claims", uuid.uuid4())


@pytest.mark.asyncio
async def test_deliver_reports_whether_the_consumer_ran(db: Database, user: Person) -> None:
    bus = EventBus()
    bus.subscribe(Noted.topic, _note, consumer="testing.note")
    (event_id,) = await _publish(db, user)
    event = await _event(db, event_id)
    (consumer,) = bus.consumers(Noted.topic)
    assert await deliver(db, consumer, event) is True
    assert await deliver(db, consumer, event) is False
    assert await _effects(db) == {event_id: 1}


@pytest.mark.asyncio
async def test_the_idle_relay_wakes_when_an_event_commits(db: Database, user: Person) -> None:
    listener = OutboxListener(db.engine.url)
    try:
        await listener.wait(0)  # connects; returns at once (events may have been missed)
        await listener.wait(0)  # nothing new: times out at once
        waiting = asyncio.create_task(listener.wait(3600))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        await _publish(db, user)
        # Fails the test (rather than hanging it) when no notification arrives.
        await asyncio.wait_for(waiting, 30)
    finally:
        await listener.aclose()


@pytest.mark.asyncio
async def test_a_lost_listener_connection_is_made_again(
    db: Database, user: Person, owner_engine: AsyncEngine
) -> None:
    listener = OutboxListener(db.engine.url)
    try:
        await listener.wait(0)
        async with owner_engine.connect() as conn:
            killed = await conn.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = :name AND datname = current_database()"
                ),
                {"name": LISTENER_NAME},
            )
        assert killed == 1
        await asyncio.wait_for(_until(lambda: not listener.connected), 30)
        await listener.wait(0)  # connects again
        assert listener.connected
        waiting = asyncio.create_task(listener.wait(3600))
        await asyncio.sleep(0.05)
        await _publish(db, user)
        await asyncio.wait_for(waiting, 30)
    finally:
        await listener.aclose()


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():  # noqa: ASYNC110 - asyncpg reports the loss on its own time
        await asyncio.sleep(0.01)


@pytest.mark.asyncio
async def test_relays_running_side_by_side_deliver_each_event_once(
    db: Database, user: Person
) -> None:
    bus = EventBus()
    bus.subscribe(Noted.topic, _note, consumer="testing.note")
    ids = await _publish(db, user, count=30)

    async def drain() -> None:
        while await relay_once(db, bus, batch=3):
            pass

    await asyncio.gather(drain(), drain(), drain())
    assert await _effects(db) == dict.fromkeys(ids, 1)
