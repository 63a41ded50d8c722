"""The outbox relay: hands committed events to their in-process subscribers, oldest first.

Delivery is at least once: an event is marked published only in the transaction that ran its
handlers, so a crash re-delivers it and handlers must be idempotent (they deduplicate by event
id). Several relays may run at once; SKIP LOCKED gives each its own batch. NATS publishing and
the consumers' inbox table arrive with the notifications work.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.platform.db import Database, DbScope
from mindspace.platform.outbox import OutboxEvent

log = logging.getLogger(__name__)
Handler = Callable[[AsyncSession, OutboxEvent], Awaitable[None]]
MAX_ATTEMPTS = 10


class EventBus:
    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)

    def subscribe(self, topic: str, handler: Handler) -> None:
        self._handlers[topic].append(handler)

    def handlers(self, topic: str) -> list[Handler]:
        return self._handlers.get(topic, [])


async def relay_once(db: Database, bus: EventBus, *, batch: int = 100) -> int:
    """Delivers one batch; returns how many events it settled."""
    async with db.session(None, scope=DbScope.system) as session:
        stmt = (
            select(OutboxEvent)
            .where(OutboxEvent.published_at.is_(None), OutboxEvent.attempts < MAX_ATTEMPTS)
            .order_by(OutboxEvent.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
        events = list((await session.execute(stmt)).scalars())
        for event in events:
            try:
                async with session.begin_nested():
                    for handler in bus.handlers(event.topic):
                        await handler(session, event)
                event.published_at = func.now()
            except Exception as exc:
                log.exception("event handler failed", extra={"event_id": str(event.id)})
                event.attempts += 1
                event.last_error = repr(exc)[:2000]
        return len(events)


Pump = Callable[[], Awaitable[int]]


async def run_forever(pumps: Sequence[Pump], *, idle_seconds: float = 1.0) -> None:
    """Runs each pump (event relay, message delivery…) until all are idle, then waits a bit."""
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
            await asyncio.sleep(idle_seconds)
