"""The outbox relay: hands committed events to their consumers, oldest first.

Delivery is at least once and consumers act once. Each consumer runs in its own transaction,
which claims (consumer, event id) in the inbox (`platform.inbox`) beside the consumer's effect;
the event is marked published afterwards, in the transaction that holds its row. A crash in
between re-delivers the event, and the consumers that had committed find their claim and skip
it. A consumer that fails leaves the others' work committed and the event pending: it is tried
again after a backoff, and only the consumers that have not succeeded run again.

Several relays may run at once; SKIP LOCKED gives each its own batch. An idle relay waits for
PostgreSQL to announce a new event (`OutboxListener`, NOTIFY from a trigger on the outbox) and
polls anyway every `idle_seconds`, so a lost connection only slows delivery down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import asyncpg  # type: ignore[import-untyped]  # no stubs
from sqlalchemy import func, or_, select
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.platform.clock import utc_now
from mindspace.platform.db import Database, DbScope
from mindspace.platform.inbox import handle_once
from mindspace.platform.jobs import conninfo
from mindspace.platform.outbox import OutboxEvent

log = logging.getLogger(__name__)
Handler = Callable[[AsyncSession, OutboxEvent], Awaitable[None]]
# After this many failed deliveries an event is stuck: staff see it and may retry it.
MAX_ATTEMPTS = 10
# The channel the outbox trigger notifies (see the 0013 migration).
OUTBOX_CHANNEL = "mindspace_outbox"
_MAX_BACKOFF = timedelta(hours=1)
LISTENER_NAME = "mindspace-outbox-listener"  # in pg_stat_activity


@dataclass(frozen=True, slots=True)
class Consumer:
    # Stable across releases: the inbox remembers what a consumer processed by this name, so
    # renaming a consumer makes it process every pending event again.
    name: str
    handler: Handler


class EventBus:
    def __init__(self) -> None:
        self._by_topic: dict[str, list[Consumer]] = defaultdict(list)
        self._every_topic: list[Consumer] = []

    def subscribe(self, topic: str, handler: Handler, *, consumer: str) -> None:
        """Runs `handler` once per event of `topic`, in a transaction that also records
        `consumer` as having processed it."""
        self._add(self._by_topic[topic], Consumer(consumer, handler))

    def subscribe_all(self, handler: Handler, *, consumer: str) -> None:
        """As `subscribe`, for every topic (forwarding to NATS)."""
        self._add(self._every_topic, Consumer(consumer, handler))

    def _add(self, consumers: list[Consumer], new: Consumer) -> None:
        rivals = [*consumers, *self._every_topic]
        if consumers is self._every_topic:
            rivals += [c for topic in self._by_topic.values() for c in topic]
        if any(c.name == new.name for c in rivals):
            # Two handlers of one event under one name would share one inbox claim: the second
            # would never run. Across topics a name may repeat (an event has one topic).
            raise ValueError(f"consumer {new.name!r} is already subscribed")
        consumers.append(new)

    def consumers(self, topic: str) -> list[Consumer]:
        return [*self._by_topic.get(topic, []), *self._every_topic]


def backoff(attempts: int) -> timedelta:
    """How long a failed event waits before its next delivery: 2, 4, 8 … seconds, at most an
    hour, so an outage of a few minutes does not use up its attempts."""
    return min(timedelta(seconds=2**attempts), _MAX_BACKOFF)


async def deliver(db: Database, consumer: Consumer, event: OutboxEvent) -> bool:
    """Runs one consumer for one event in its own transaction; False if it had already."""
    async with db.session(None, scope=DbScope.system) as session:
        if not await handle_once(session, consumer.name, event.id):
            return False
        await consumer.handler(session, event)
        return True


async def relay_once(
    db: Database,
    bus: EventBus,
    *,
    batch: int = 100,
    batch_seconds: float = 10.0,
    consumer_seconds: float = 15.0,
) -> int:
    """Delivers one batch of due events; returns how many it handled. A consumer that takes
    longer than `consumer_seconds` is cancelled and counts as failed."""
    async with db.session(None, scope=DbScope.system) as session:
        stmt = (
            select(OutboxEvent)
            .where(
                OutboxEvent.published_at.is_(None),
                OutboxEvent.attempts < MAX_ATTEMPTS,
                or_(
                    OutboxEvent.next_attempt_at.is_(None),
                    OutboxEvent.next_attempt_at <= func.now(),
                ),
            )
            .order_by(OutboxEvent.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
        events = list((await session.execute(stmt)).scalars())
        # The claim transaction idles while consumers work; PostgreSQL ends one idle for
        # longer than idle_in_transaction_session_timeout (30 s by default), and with it every
        # mark of the batch: the batch budget plus one consumer's must stay below that.
        deadline = time.monotonic() + batch_seconds
        handled = 0
        for event in events:
            errors: list[str] = []
            for consumer in bus.consumers(event.topic):
                try:
                    async with asyncio.timeout(consumer_seconds):
                        await deliver(db, consumer, event)
                except Exception as exc:
                    log.exception(
                        "event consumer failed",
                        extra={"event_id": str(event.id), "consumer": consumer.name},
                    )
                    errors.append(f"{consumer.name}: {exc!r}")
            if errors:
                event.attempts += 1
                event.next_attempt_at = utc_now() + backoff(event.attempts)
                event.last_error = "; ".join(errors)[:2000]
            else:
                event.published_at = func.now()
            handled += 1
            if time.monotonic() > deadline:
                break  # the rest stay pending, untouched, for the next batch
        return handled


class Wakeup(Protocol):
    async def wait(self, at_most: float) -> None: ...


class Sleep:
    """Plain polling."""

    async def wait(self, at_most: float) -> None:
        await asyncio.sleep(at_most)


class OutboxListener:
    """Wakes the relay as soon as an event commits: LISTEN on the channel the outbox trigger
    notifies. One connection of its own, outside the pool (a pooled connection would be
    reset and lose the LISTEN); when it is lost, waiting falls back to the timeout and the
    next wait connects again."""

    def __init__(self, url: URL, *, channel: str = OUTBOX_CHANNEL) -> None:
        self._dsn = conninfo(url)
        self._channel = channel
        self._conn: Any = None
        self._notified = asyncio.Event()

    @property
    def connected(self) -> bool:
        return self._conn is not None

    def _on_notify(self, *_: object) -> None:
        self._notified.set()

    def _on_lost(self, *_: object) -> None:
        self._conn = None

    async def _connect(self) -> None:
        try:
            conn = await asyncpg.connect(
                self._dsn, timeout=5, server_settings={"application_name": LISTENER_NAME}
            )
            await conn.add_listener(self._channel, self._on_notify)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            log.warning("outbox listener cannot connect; polling only", exc_info=True)
            return
        conn.add_termination_listener(self._on_lost)
        self._conn = conn
        # Events may have committed while nobody listened.
        self._notified.set()

    async def wait(self, at_most: float) -> None:
        if self._conn is None:
            await self._connect()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._notified.wait(), at_most)
        # Cleared before the pumps run: a notification that arrives while they work sets it
        # again, so the next wait returns at once instead of missing it.
        self._notified.clear()

    async def aclose(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()


Pump = Callable[[], Awaitable[int]]


async def run_forever(
    pumps: Sequence[Pump], *, idle_seconds: float = 1.0, wakeup: Wakeup | None = None
) -> None:
    """Runs each pump (event relay, message delivery…) until all are idle, then waits for a
    wake-up or `idle_seconds`, whichever comes first."""
    wakeup = wakeup or Sleep()
    log.info("background pumps started", extra={"pumps": len(pumps)})
    while True:
        busy = 0
        for pump in pumps:
            try:
                busy += await pump()
            except Exception:
                # The database may be restarting; keep trying rather than take the worker down.
                log.exception("background pump failed")
        if busy == 0:
            await wakeup.wait(idle_seconds)
