"""Firing: each due occurrence is announced exactly once, however many workers claim at once,
and a reminder that missed several occurrences fires once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.platform.clock import utc_now
from mindspace.platform.db import Database, DbScope
from mindspace.platform.ids import decode
from mindspace.platform.outbox import OutboxEvent
from mindspace.platform.relay import EventBus, relay_once
from mindspace.reminders import jobs
from mindspace.reminders.events import ReminderDue
from mindspace.reminders.models import Reminder
from mindspace.reminders.service import fire_due_reminders
from tests.conftest import Person
from tests.reminders.conftest import REMINDERS, make_reminder

pytestmark = pytest.mark.asyncio


async def _due_events(db: Database) -> list[dict[str, Any]]:
    async with db.session(None, scope=DbScope.system) as session:
        rows = await session.execute(
            select(OutboxEvent.payload, OutboxEvent.owner_id)
            .where(OutboxEvent.topic == ReminderDue.topic)
            .order_by(OutboxEvent.id)
        )
        return [{**payload, "_owner": owner} for payload, owner in rows]


def _uuid(public: str) -> uuid.UUID:
    return decode("rem", public)


async def _make_due(db: Database, reminder_id: str, at: datetime) -> None:
    async with db.session(None, scope=DbScope.system) as session:
        await session.execute(
            update(Reminder).where(Reminder.id == _uuid(reminder_id)).values(next_fire_at=at)
        )


async def _next_fire_at(db: Database, reminder_id: str) -> datetime | None:
    async with db.session(None, scope=DbScope.system) as session:
        return await session.scalar(
            select(Reminder.next_fire_at).where(Reminder.id == _uuid(reminder_id))
        )


async def test_a_due_reminder_publishes_one_event_and_moves_on(
    client: httpx.AsyncClient, db: Database, user: Person, other_user: Person
) -> None:
    created = await make_reminder(client, user, kind="meditation", title="Breathe")
    later = await make_reminder(client, other_user)
    scheduled = datetime.fromisoformat(created["next_fire_at"])
    await _make_due(db, later["id"], scheduled + timedelta(minutes=1))

    # Just before its time: nothing.
    assert await fire_due_reminders(db, now=scheduled - timedelta(seconds=1)) == 0
    assert await fire_due_reminders(db, now=scheduled + timedelta(seconds=20)) == 1
    assert await fire_due_reminders(db, now=scheduled + timedelta(seconds=40)) == 0

    (event,) = await _due_events(db)
    assert event == {
        "reminder_id": str(_uuid(created["id"])),
        "owner_id": str(user.id),
        "kind": "meditation",
        "title": "Breathe",
        "fire_at": scheduled.isoformat().replace("+00:00", "Z"),
        "_owner": user.id,
    }
    assert await _next_fire_at(db, created["id"]) == scheduled + timedelta(days=1)
    shown = (await client.get(f"{REMINDERS}/{created['id']}", headers=user.headers)).json()
    assert shown["last_fired_at"] is not None
    assert datetime.fromisoformat(shown["next_fire_at"]) == scheduled + timedelta(days=1)


async def test_the_event_reaches_a_subscriber_through_the_relay(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    """What notifications will do: subscribe to the topic and read the payload."""
    created = await make_reminder(client, user)
    received: list[ReminderDue] = []

    async def on_due(session: AsyncSession, event: OutboxEvent) -> None:
        received.append(ReminderDue.model_validate(event.payload))

    bus = EventBus()
    bus.subscribe(ReminderDue.topic, on_due, consumer="test.on_due")
    assert await fire_due_reminders(db, now=utc_now() + timedelta(days=1)) == 1
    await relay_once(db, bus)

    (due,) = received
    assert (due.reminder_id, due.owner_id, due.kind) == (
        _uuid(created["id"]),
        user.id,
        "mood_checkin",
    )
    assert due.fire_at == datetime.fromisoformat(created["next_fire_at"])


async def test_concurrent_claimers_announce_each_occurrence_exactly_once(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    ids = [(await make_reminder(client, user, title=f"R{i}"))["id"] for i in range(40)]
    now = utc_now()
    for rid in ids:
        await _make_due(db, rid, now - timedelta(minutes=1))

    # Eight claimers at once on their own connections, in small batches so they overlap.
    counts = await asyncio.gather(*(fire_due_reminders(db, now=now, batch=3) for _ in range(8)))

    assert sum(counts) == len(ids)
    events = await _due_events(db)
    assert sorted(e["reminder_id"] for e in events) == sorted(str(_uuid(r)) for r in ids)
    assert sum(c > 0 for c in counts) > 1, "the claimers did not actually share the work"
    assert await fire_due_reminders(db, now=now) == 0


async def test_a_claimer_skips_what_another_holds_instead_of_waiting_or_repeating_it(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    held, free = [(await make_reminder(client, user))["id"] for _ in range(2)]
    now = utc_now()
    await _make_due(db, held, now - timedelta(minutes=2))
    await _make_due(db, free, now - timedelta(minutes=1))

    async with db.session(None, scope=DbScope.system) as session:
        # Another worker mid-way through firing `held`.
        await session.execute(
            select(Reminder.id).where(Reminder.id == _uuid(held)).with_for_update()
        )
        assert await asyncio.wait_for(fire_due_reminders(db, now=now), timeout=5) == 1
        assert [e["reminder_id"] for e in await _due_events(db)] == [str(_uuid(free))]
    assert await fire_due_reminders(db, now=now) == 1
    assert await fire_due_reminders(db, now=now) == 0


async def test_after_downtime_a_reminder_fires_once_then_keeps_its_schedule(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    created = await make_reminder(client, user, timezone="Europe/London")
    first = datetime.fromisoformat(created["next_fire_at"])
    # The workers were down for three days: three 20:00s passed unannounced.
    now = first + timedelta(days=3, minutes=5)

    assert await fire_due_reminders(db, now=now) == 1
    assert await fire_due_reminders(db, now=now + timedelta(minutes=1)) == 0
    (event,) = await _due_events(db)
    assert event["fire_at"] == (first + timedelta(days=3)).isoformat().replace("+00:00", "Z")
    assert await _next_fire_at(db, created["id"]) == first + timedelta(days=4)


async def test_a_paused_or_ended_reminder_does_not_fire(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    paused = await make_reminder(client, user)
    await client.post(f"{REMINDERS}/{paused['id']}/pause", headers=user.headers)
    today = utc_now().date()
    once = await make_reminder(
        client,
        user,
        timezone="UTC",
        schedule={
            "type": "rrule",
            "rrule": "FREQ=DAILY;COUNT=1",
            "start": f"{today + timedelta(days=1)}T09:00:00",
        },
    )
    due = datetime.fromisoformat(once["next_fire_at"])
    assert await fire_due_reminders(db, now=due + timedelta(days=30)) == 1
    assert await _next_fire_at(db, once["id"]) is None
    assert await fire_due_reminders(db, now=due + timedelta(days=60)) == 0
    assert [e["reminder_id"] for e in await _due_events(db)] == [str(_uuid(once["id"]))]


async def test_a_rule_that_no_longer_compiles_stops_instead_of_failing_every_minute(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    broken, fine = [(await make_reminder(client, user))["id"] for _ in range(2)]
    now = utc_now()
    for rid in (broken, fine):
        await _make_due(db, rid, now - timedelta(minutes=1))
    async with db.session(None, scope=DbScope.system) as session:
        # As if a zone had been withdrawn from the tz database since the rule was set.
        await session.execute(
            update(Reminder).where(Reminder.id == _uuid(broken)).values(timezone="Gone/Away")
        )

    assert await fire_due_reminders(db, now=now) == 1
    assert [e["reminder_id"] for e in await _due_events(db)] == [str(_uuid(fine))]
    assert await _next_fire_at(db, broken) is None
    assert await fire_due_reminders(db, now=now + timedelta(days=2)) == 1


async def test_the_job_runs_every_minute() -> None:
    # The task object, not its registry key: once a jobs app adopts the blueprint (another
    # test builds one), the key gains the "reminders:" namespace.
    task = jobs.fire_due_reminders
    periodic = [
        p for p in jobs.blueprint.periodic_registry.periodic_tasks.values() if p.task is task
    ]
    assert [p.cron for p in periodic] == ["* * * * *"]
