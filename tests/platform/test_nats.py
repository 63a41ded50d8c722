"""Events reach NATS JetStream through the relay, once per event even when re-published.

Against the real local NATS (NATS_URL, else 127.0.0.1:4222). Each test uses its own stream and
subject prefix, so parallel runs from other checkouts never see each other's messages.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import ClassVar

import nats
import orjson
import pytest
import pytest_asyncio
from nats.aio.client import Client
from nats.js import JetStreamContext
from sqlalchemy import delete, select, update

from mindspace.platform.db import Database, DbScope
from mindspace.platform.inbox import InboxMessage
from mindspace.platform.nats import CONSUMER, NatsPublisher, forward_to
from mindspace.platform.outbox import DomainEvent, OutboxEvent, publish
from mindspace.platform.relay import EventBus, relay_once
from tests.conftest import Person, _answers

NATS_URL = os.environ.get("NATS_URL") or "nats://127.0.0.1:4222"
pytestmark = pytest.mark.skipif(
    not _answers("127.0.0.1", 4222) and "NATS_URL" not in os.environ,
    reason="needs NATS with JetStream (NATS_URL or 127.0.0.1:4222)",
)


class Checked(DomainEvent):
    topic: ClassVar[str] = "testing.checked_in"
    mood: int


@dataclass
class Stream:
    publisher: NatsPublisher
    js: JetStreamContext


@pytest_asyncio.fixture
async def stream(db: Database) -> AsyncIterator[Stream]:
    run = uuid.uuid4().hex[:12]
    publisher = NatsPublisher(
        NATS_URL, stream=f"MINDSPACE_TEST_{run}", subject_prefix=f"test_{run}.mindspace"
    )
    nc: Client = await nats.connect(NATS_URL)
    js = nc.jetstream()
    try:
        yield Stream(publisher, js)
    finally:
        await publisher.aclose()
        try:
            await js.delete_stream(publisher.stream)
        finally:
            await nc.close()


def _bus(publisher: NatsPublisher) -> EventBus:
    bus = EventBus()
    forward_to(bus, publisher)
    return bus


async def _publish(db: Database, person: Person, *moods: int) -> list[uuid.UUID]:
    async with db.session(person.principal) as session:
        return [publish(session, Checked(mood=m), owner_id=person.id) for m in moods]


@pytest.mark.asyncio
async def test_each_event_is_one_message_on_its_subject(
    db: Database, user: Person, stream: Stream
) -> None:
    first, second = await _publish(db, user, 3, 5)
    assert await relay_once(db, _bus(stream.publisher)) == 2

    subject = stream.publisher.subject_for("testing.checked_in")
    assert subject.endswith(".mindspace.testing.checked_in")
    sub = await stream.js.pull_subscribe(subject, durable=None, stream=stream.publisher.stream)
    messages = await sub.fetch(2, timeout=5)
    bodies = [orjson.loads(m.data) for m in messages]
    assert [b["id"] for b in bodies] == [str(first), str(second)]
    assert [m.headers["Nats-Msg-Id"] for m in messages if m.headers] == [str(first), str(second)]
    assert bodies[0]["topic"] == "testing.checked_in"
    assert bodies[0]["owner_id"] == str(user.id)
    assert bodies[0]["payload"] == {"mood": 3}
    assert bodies[0]["occurred_at"].startswith("20")


@pytest.mark.asyncio
async def test_a_re_published_event_is_dropped_by_the_stream(
    db: Database, user: Person, stream: Stream
) -> None:
    (event_id,) = await _publish(db, user, 4)
    await relay_once(db, _bus(stream.publisher))
    # As if the relay died after NATS acknowledged and before its claim committed.
    async with db.session(None, scope=DbScope.system) as session:
        await session.execute(delete(InboxMessage).where(InboxMessage.consumer == CONSUMER))
        await session.execute(update(OutboxEvent).values(published_at=None))
    assert await relay_once(db, _bus(stream.publisher)) == 1

    info = await stream.js.stream_info(stream.publisher.stream)
    assert info.state.messages == 1
    async with db.session(None, scope=DbScope.system) as session:
        event = await session.get(OutboxEvent, event_id)
    assert event is not None
    assert event.published_at is not None


@pytest.mark.asyncio
async def test_events_wait_in_the_outbox_while_nats_is_down(db: Database, user: Person) -> None:
    unreachable = NatsPublisher("nats://127.0.0.1:1", timeout=1)
    try:
        ids = await _publish(db, user, 2, 3, 4)
        assert await relay_once(db, _bus(unreachable)) == 3
    finally:
        await unreachable.aclose()
    async with db.session(None, scope=DbScope.system) as session:
        events = list(
            (await session.execute(select(OutboxEvent).order_by(OutboxEvent.id))).scalars()
        )
    assert [e.id for e in events] == ids
    assert all(e.published_at is None and e.attempts == 1 for e in events)
    assert all((e.last_error or "").startswith(CONSUMER) for e in events)
    # Only the first waited for a connection; the others failed at once.
    assert "NatsUnavailable" not in (events[0].last_error or "")
    assert all("NatsUnavailable" in (e.last_error or "") for e in events[1:])


def test_forwarding_is_one_more_consumer_of_every_topic() -> None:
    bus = EventBus()
    forward_to(bus, NatsPublisher(NATS_URL))
    assert [c.name for c in bus.consumers("anything.at_all")] == [CONSUMER]
