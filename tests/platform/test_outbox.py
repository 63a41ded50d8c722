"""The outbox: an event exists if and only if the change that caused it committed, and the relay
hands each one to its subscribers at least once."""

from __future__ import annotations

import uuid
from typing import ClassVar

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.platform.db import Database, DbScope
from mindspace.platform.outbox import DomainEvent, OutboxEvent, publish
from mindspace.platform.relay import EventBus, relay_once
from tests.conftest import Person


class Pinged(DomainEvent):
    topic: ClassVar[str] = "testing.pinged"
    note: str


async def _events(db: Database) -> list[OutboxEvent]:
    async with db.session(None, scope=DbScope.system) as session:
        return list((await session.execute(select(OutboxEvent).order_by(OutboxEvent.id))).scalars())


@pytest.mark.asyncio
async def test_an_event_commits_with_its_transaction(db: Database, user: Person) -> None:
    async with db.session(user.principal) as session:
        event_id = publish(session, Pinged(note="kept"), owner_id=user.id)
    with pytest.raises(RuntimeError):
        async with db.session(user.principal) as session:
            publish(session, Pinged(note="rolled back"), owner_id=user.id)
            raise RuntimeError("the change failed")

    events = await _events(db)
    assert [(e.id, e.topic, e.payload) for e in events] == [
        (event_id, "testing.pinged", {"note": "kept"})
    ]


@pytest.mark.asyncio
async def test_members_cannot_read_the_outbox(db: Database, user: Person) -> None:
    async with db.session(user.principal) as session:
        publish(session, Pinged(note="mine"), owner_id=user.id)
    async with db.session(user.principal) as session:
        assert (await session.execute(select(OutboxEvent))).first() is None


@pytest.mark.asyncio
async def test_the_relay_delivers_then_marks_published(db: Database, user: Person) -> None:
    seen: list[uuid.UUID] = []

    async def handler(session: AsyncSession, event: OutboxEvent) -> None:
        seen.append(event.id)

    bus = EventBus()
    bus.subscribe(Pinged.topic, handler, consumer="testing.seen")
    async with db.session(user.principal) as session:
        first = publish(session, Pinged(note="one"), owner_id=user.id)
        second = publish(session, Pinged(note="two"), owner_id=user.id)

    assert await relay_once(db, bus) == 2
    assert seen == [first, second]
    assert await relay_once(db, bus) == 0  # nothing delivered twice once settled
    assert all(e.published_at is not None for e in await _events(db))


@pytest.mark.asyncio
async def test_a_failing_handler_leaves_the_event_for_a_retry(db: Database, user: Person) -> None:
    calls = 0

    async def flaky(session: AsyncSession, event: OutboxEvent) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("mail server down")

    bus = EventBus()
    bus.subscribe(Pinged.topic, flaky, consumer="testing.flaky")
    async with db.session(user.principal) as session:
        publish(session, Pinged(note="retry me"), owner_id=user.id)

    await relay_once(db, bus)
    (event,) = await _events(db)
    assert event.published_at is None
    assert event.attempts == 1
    assert "mail server down" in (event.last_error or "")

    assert event.next_attempt_at is not None
    assert event.next_attempt_at > event.occurred_at
    assert await relay_once(db, bus) == 0  # backing off: not due yet
    await _make_due(db)

    await relay_once(db, bus)
    (event,) = await _events(db)
    assert event.published_at is not None
    assert calls == 2


async def _make_due(db: Database) -> None:
    """As if the backoff had passed."""
    async with db.session(None, scope=DbScope.system) as session:
        await session.execute(update(OutboxEvent).values(next_attempt_at=None))


def test_a_topic_names_its_domain() -> None:
    class Bad(DomainEvent):
        topic: ClassVar[str] = "nodomain"

    with pytest.raises(ValueError, match=r"<domain>\.<event>"):
        publish(None, Bad())  # type: ignore[arg-type]
