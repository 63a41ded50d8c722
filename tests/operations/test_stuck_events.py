"""Staff see events whose delivery attempts ran out and can send one round again: only the
consumers that had not processed it run, once."""

from __future__ import annotations

import uuid
from typing import ClassVar

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.platform.audit import AuditRecord
from mindspace.platform.db import Database, DbScope
from mindspace.platform.ids import encode
from mindspace.platform.outbox import DomainEvent, OutboxEvent, publish
from mindspace.platform.relay import MAX_ATTEMPTS, EventBus, relay_once
from tests.conftest import Person, assert_problem

STUCK = "/api/v1/admin/events/stuck"


class Sent(DomainEvent):
    topic: ClassVar[str] = "testing.sent"
    n: int


class Consumers:
    """Two consumers of `testing.sent`: one that works, one whose provider is down."""

    def __init__(self) -> None:
        self.working: list[uuid.UUID] = []
        self.broken: list[uuid.UUID] = []
        self.provider_up = False
        self.bus = EventBus()
        self.bus.subscribe(Sent.topic, self._work, consumer="testing.working")
        self.bus.subscribe(Sent.topic, self._break, consumer="testing.broken")

    async def _work(self, session: AsyncSession, event: OutboxEvent) -> None:
        self.working.append(event.id)

    async def _break(self, session: AsyncSession, event: OutboxEvent) -> None:
        if not self.provider_up:
            raise ConnectionError("provider down")
        self.broken.append(event.id)


async def _stuck_events(db: Database, person: Person, consumers: Consumers, n: int) -> list[str]:
    """Events that really failed every attempt (the backoff skipped, as if hours passed)."""
    async with db.session(person.principal) as session:
        ids = [publish(session, Sent(n=i), owner_id=person.id) for i in range(n)]
    for _ in range(MAX_ATTEMPTS):
        async with db.session(None, scope=DbScope.system) as session:
            await session.execute(update(OutboxEvent).values(next_attempt_at=None))
        await relay_once(db, consumers.bus)
    assert await relay_once(db, consumers.bus) == 0
    return [encode("evt", i) for i in ids]


async def _attempts(db: Database) -> list[int]:
    async with db.session(None, scope=DbScope.system) as session:
        return list((await session.execute(select(OutboxEvent.attempts))).scalars())


async def _audit(db: Database, action: str) -> list[AuditRecord]:
    async with db.session(None, scope=DbScope.system) as session:
        stmt = select(AuditRecord).where(AuditRecord.action == action)
        return list((await session.execute(stmt)).scalars())


@pytest.mark.asyncio
async def test_staff_see_a_stuck_event_and_retry_it(
    client: httpx.AsyncClient, db: Database, admin: Person, user: Person
) -> None:
    consumers = Consumers()
    (public_id,) = await _stuck_events(db, user, consumers, 1)
    assert len(consumers.working) == 1

    listed = await client.get(STUCK, headers=admin.headers)
    assert listed.status_code == 200, listed.text
    (event,) = listed.json()["items"]
    assert event["id"] == public_id
    assert event["topic"] == "testing.sent"
    assert event["owner_id"] == encode("usr", user.id)
    assert event["payload"] == {"n": 0}
    assert event["attempts"] == MAX_ATTEMPTS
    assert event["last_error"].startswith("testing.broken: ConnectionError")

    consumers.provider_up = True
    retried = await client.post(
        f"/api/v1/admin/events/{public_id}/retry",
        json={"reason": "provider fixed"},
        headers=admin.headers,
    )
    assert retried.status_code == 200, retried.text
    assert retried.json()["attempts"] == 0
    assert await relay_once(db, consumers.bus) == 1

    assert len(consumers.working) == 1  # it had processed the event: not again
    assert len(consumers.broken) == 1
    assert (await client.get(STUCK, headers=admin.headers)).json()["items"] == []
    (audit,) = await _audit(db, "event.retry")
    assert audit.actor_id == admin.id
    assert audit.target_type == "event"
    assert audit.details == {"reason": "provider fixed"}
    assert encode("evt", audit.target_id) == public_id  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_stuck_events_come_in_pages(
    client: httpx.AsyncClient, db: Database, admin: Person, user: Person
) -> None:
    ids = await _stuck_events(db, user, Consumers(), 3)
    first = (await client.get(STUCK, params={"limit": 2}, headers=admin.headers)).json()
    assert [e["id"] for e in first["items"]] == [ids[2], ids[1]]
    second = await client.get(
        STUCK, params={"limit": 2, "cursor": first["next_cursor"]}, headers=admin.headers
    )
    assert [e["id"] for e in second.json()["items"]] == [ids[0]]
    assert second.json()["next_cursor"] is None


@pytest.mark.asyncio
async def test_pending_and_published_events_are_not_stuck(
    client: httpx.AsyncClient, db: Database, admin: Person, user: Person
) -> None:
    consumers = Consumers()
    async with db.session(user.principal) as session:
        pending = publish(session, Sent(n=1), owner_id=user.id)
    await relay_once(db, consumers.bus)  # one failed attempt: pending, not stuck
    consumers.provider_up = True
    async with db.session(user.principal) as session:
        published = publish(session, Sent(n=2), owner_id=user.id)
    await relay_once(db, consumers.bus)

    assert (await client.get(STUCK, headers=admin.headers)).json()["items"] == []
    for event_id in (pending, published):
        response = await client.post(
            f"/api/v1/admin/events/{encode('evt', event_id)}/retry",
            json={"reason": "why"},
            headers=admin.headers,
        )
        assert_problem(response, 404, "stuck-event-not-found")


@pytest.mark.asyncio
async def test_stuck_events_need_staff(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    (public_id,) = await _stuck_events(db, user, Consumers(), 1)
    retry = f"/api/v1/admin/events/{public_id}/retry"
    assert_problem(await client.get(STUCK), 401)
    assert_problem(await client.get(STUCK, headers=user.headers), 403, "forbidden")
    assert_problem(await client.post(retry, json={"reason": "x"}), 401)
    assert_problem(
        await client.post(retry, json={"reason": "x"}, headers=user.headers), 403, "forbidden"
    )
    assert await _attempts(db) == [MAX_ATTEMPTS]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    # Fixed ids: xdist workers must collect the same parameters.
    "event_id",
    [encode("evt", uuid.UUID(int=7)), "evt_nope", encode("usr", uuid.UUID(int=7)), "42"],
)
async def test_unknown_events_are_not_found(
    client: httpx.AsyncClient, admin: Person, event_id: str
) -> None:
    response = await client.post(
        f"/api/v1/admin/events/{event_id}/retry", json={"reason": "why"}, headers=admin.headers
    )
    assert_problem(response, 404)


@pytest.mark.asyncio
@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 1000}, {"cursor": "%%%"}])
async def test_bad_listing_parameters_are_refused(
    client: httpx.AsyncClient, admin: Person, params: dict[str, str | int]
) -> None:
    assert_problem(await client.get(STUCK, params=params, headers=admin.headers), 422)


@pytest.mark.asyncio
@pytest.mark.parametrize("body", [{}, {"reason": " "}, {"reason": "ok", "attempts": 0}])
async def test_a_retry_without_a_valid_reason_changes_nothing(
    client: httpx.AsyncClient,
    db: Database,
    admin: Person,
    user: Person,
    body: dict[str, object],
) -> None:
    (public_id,) = await _stuck_events(db, user, Consumers(), 1)
    response = await client.post(
        f"/api/v1/admin/events/{public_id}/retry", json=body, headers=admin.headers
    )
    assert_problem(response, 422)
    assert await _attempts(db) == [MAX_ATTEMPTS]
    assert await _audit(db, "event.retry") == []
