"""`python -m bench.relay_latency`: how long a committed event waits for its consumer.

Measures, in one process against a fresh database, the time from a publishing transaction's
commit returning to the consumer being called, for an idle relay that only polls every second
(`Sleep`) and for one woken by the outbox trigger's NOTIFY (`OutboxListener`). Events are
published at random moments so the polling relay is caught at every phase of its sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import random
import statistics
import sys
import time
import uuid
from typing import ClassVar

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.ext.asyncio import AsyncSession

from bench.database import APP_ROLE, _dsn, server_url
from mindspace.platform.db import Database, app_url
from mindspace.platform.migrate import upgrade
from mindspace.platform.outbox import DomainEvent, OutboxEvent, publish
from mindspace.platform.relay import (
    EventBus,
    OutboxListener,
    Sleep,
    Wakeup,
    relay_once,
    run_forever,
)

EVENTS = 40


class Measured(DomainEvent):
    topic: ClassVar[str] = "bench.measured"


async def _measure(db: Database, wakeup: Wakeup) -> list[float]:
    arrived: dict[uuid.UUID, float] = {}

    async def consumer(session: AsyncSession, event: OutboxEvent) -> None:
        arrived[event.id] = time.perf_counter()

    bus = EventBus()
    bus.subscribe(Measured.topic, consumer, consumer="bench.latency")
    relay = asyncio.create_task(
        run_forever([functools.partial(relay_once, db, bus)], wakeup=wakeup)
    )
    committed: dict[uuid.UUID, float] = {}
    try:
        await asyncio.sleep(0.5)
        for _ in range(EVENTS):
            await asyncio.sleep(random.uniform(0.05, 1.0))
            async with db.session(None) as session:
                event_id = publish(session, Measured())
            committed[event_id] = time.perf_counter()
        while len(arrived) < EVENTS:  # noqa: ASYNC110 - waiting on the relay under test
            await asyncio.sleep(0.05)
    finally:
        relay.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relay
    return [(arrived[i] - committed[i]) * 1000 for i in committed]


def _summary(name: str, ms: list[float]) -> str:
    ms = sorted(ms)
    p95 = ms[int(len(ms) * 0.95) - 1]
    return (
        f"{name:<22} n={len(ms)}  mean {statistics.fmean(ms):7.1f} ms  "
        f"p50 {statistics.median(ms):7.1f} ms  p95 {p95:7.1f} ms  max {ms[-1]:7.1f} ms"
    )


async def _run(owner: str) -> list[str]:
    db = Database(app_url(owner, explicit=None, role=APP_ROLE, password=None))
    listener = OutboxListener(db.engine.url)
    try:
        polling = await _measure(db, Sleep())
        notified = await _measure(db, listener)
    finally:
        await listener.aclose()
        await db.dispose()
    return [_summary("poll every 1 s", polling), _summary("LISTEN/NOTIFY wake-up", notified)]


async def _database(name: str, *, drop: bool) -> None:
    conn = await asyncpg.connect(_dsn(server_url().set(database="postgres")))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def main() -> int:
    name = f"mindspace_relay_latency_{os.getpid()}"
    asyncio.run(_database(name, drop=False))
    try:
        owner = server_url().set(database=name).render_as_string(hide_password=False)
        upgrade(owner, app_role=APP_ROLE)
        lines = asyncio.run(_run(owner))
    finally:
        asyncio.run(_database(name, drop=True))
    sys.stdout.write("commit → consumer latency, idle relay\n" + "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
