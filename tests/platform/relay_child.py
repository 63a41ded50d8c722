"""A relay in a process of its own, for the crash tests (`test_relay_crash.py`).

It delivers `testing.crashed` events to two consumers, an effect (one audit record per event)
and NATS, just as `mindspace worker` does. With RELAY_BLOCK_AT set to an event id it stops
dead at one point of that event's delivery, says so on stdout, and waits to be killed:
- `after_effect`: every consumer has committed, the event is not yet marked published;
- `after_publish`: NATS has acknowledged the message, the relay has not recorded it.
"""

from __future__ import annotations

import asyncio
import functools
import os
import sys
import uuid
from typing import ClassVar

from nats.js.api import PubAck
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.platform.audit import record
from mindspace.platform.config import Environment, Settings
from mindspace.platform.db import Database
from mindspace.platform.nats import NatsPublisher, forward_to
from mindspace.platform.outbox import DomainEvent, OutboxEvent
from mindspace.platform.relay import EventBus, OutboxListener, relay_once, run_forever

EFFECT = "testing.crash_effect"


class Crashed(DomainEvent):
    topic: ClassVar[str] = "testing.crashed"
    n: int


BLOCK_AT = uuid.UUID(os.environ["RELAY_BLOCK_AT"]) if os.environ.get("RELAY_BLOCK_AT") else None
BLOCK_POINT = os.environ.get("RELAY_BLOCK_POINT", "")


async def _stop_here(event: OutboxEvent, point: str) -> None:
    if event.id == BLOCK_AT and point == BLOCK_POINT:
        sys.stdout.write(f"blocked {event.id}\n")
        sys.stdout.flush()
        await asyncio.Event().wait()


class StoppingPublisher(NatsPublisher):
    async def publish(self, event: OutboxEvent) -> PubAck:
        ack = await super().publish(event)
        await _stop_here(event, "after_publish")
        return ack


async def effect(session: AsyncSession, event: OutboxEvent) -> None:
    record(session, actor=None, action=EFFECT, target_id=event.id)


async def gate(session: AsyncSession, event: OutboxEvent) -> None:
    await _stop_here(event, "after_effect")


async def main() -> None:
    settings = Settings(environment=Environment.test, database_url=os.environ["DATABASE_URL"])
    db = Database.from_settings(settings)
    publisher = StoppingPublisher(
        os.environ["NATS_URL"],
        stream=os.environ["RELAY_STREAM"],
        subject_prefix=os.environ["RELAY_SUBJECT_PREFIX"],
    )
    bus = EventBus()
    bus.subscribe(Crashed.topic, effect, consumer="testing.crash_effect")
    forward_to(bus, publisher)
    bus.subscribe_all(gate, consumer="testing.crash_gate")  # runs last, after NATS
    pump = functools.partial(relay_once, db, bus, batch=int(os.environ.get("RELAY_BATCH", "5")))
    await run_forever([pump], idle_seconds=0.2, wakeup=OutboxListener(db.engine.url))


if __name__ == "__main__":
    asyncio.run(main())
