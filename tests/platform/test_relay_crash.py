"""Crash safety: a relay process killed with SIGKILL mid-delivery and started again loses no
event and applies none twice, in the database or on NATS.

The relay runs in a real child process (`relay_child.py`) against this worker's database and
the local NATS; the test kills it at a chosen point of one event's delivery, restarts it, waits
until the outbox drains, and counts every effect.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import orjson
import pytest
import pytest_asyncio
from nats.js import JetStreamContext
from sqlalchemy import func, select

from mindspace.platform.audit import AuditRecord
from mindspace.platform.config import Settings
from mindspace.platform.db import Database, DbScope
from mindspace.platform.inbox import InboxMessage
from mindspace.platform.outbox import OutboxEvent, publish
from tests.conftest import ROOT, Person
from tests.platform.relay_child import EFFECT, Crashed
from tests.platform.test_nats import NATS_URL, pytestmark  # noqa: F401 - skipped without NATS

EVENTS = 12
BATCH = 5


class Relay:
    """Starts and kills the child relay; its stderr goes to a file for a failing test's log."""

    def __init__(self, settings: Settings, stream: str, prefix: str, log: Path) -> None:
        self.env = {
            **os.environ,
            "DATABASE_URL": settings.database_url or "",
            "NATS_URL": NATS_URL,
            "RELAY_STREAM": stream,
            "RELAY_SUBJECT_PREFIX": prefix,
            "RELAY_BATCH": str(BATCH),
        }
        self.log = log
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, **env: str) -> asyncio.subprocess.Process:
        with self.log.open("ab") as stderr:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.platform.relay_child",
                cwd=ROOT,
                env={**self.env, **env},
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
            )
        return self.process

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()


@pytest_asyncio.fixture
async def nats_stream() -> AsyncIterator[tuple[JetStreamContext, str, str]]:
    run = uuid.uuid4().hex[:12]
    stream, prefix = f"MINDSPACE_CRASH_{run}", f"crash_{run}.mindspace"
    nc = await nats.connect(NATS_URL)
    js = nc.jetstream()
    try:
        yield js, stream, prefix
    finally:
        try:
            await js.delete_stream(stream)
        finally:
            await nc.close()


async def _counts(db: Database) -> tuple[int, Counter[uuid.UUID], Counter[str]]:
    async with db.session(None, scope=DbScope.system) as session:
        pending = await session.scalar(
            select(func.count()).where(OutboxEvent.published_at.is_(None))
        )
        effects = Counter(
            (
                await session.execute(
                    select(AuditRecord.target_id).where(AuditRecord.action == EFFECT)
                )
            ).scalars()
        )
        claims = Counter((await session.execute(select(InboxMessage.consumer))).scalars())
    return pending or 0, Counter({k: v for k, v in effects.items() if k is not None}), claims


async def _drained(db: Database) -> None:
    # Polling the database: the child's progress is visible nowhere else.
    while (await _counts(db))[0]:  # noqa: ASYNC110
        await asyncio.sleep(0.1)


@pytest.mark.asyncio
@pytest.mark.parametrize("point", ["after_effect", "after_publish"])
async def test_a_killed_relay_loses_nothing_and_repeats_nothing(
    db: Database,
    user: Person,
    settings: Settings,
    nats_stream: tuple[JetStreamContext, str, str],
    tmp_path: Path,
    point: str,
) -> None:
    js, stream, prefix = nats_stream
    async with db.session(user.principal) as session:
        ids = [publish(session, Crashed(n=n), owner_id=user.id) for n in range(EVENTS)]
    victim = ids[BATCH + 2]  # in the second batch: the first one was settled before the kill
    relay = Relay(settings, stream, prefix, tmp_path / "relay.log")
    try:
        child = await relay.start(RELAY_BLOCK_AT=str(victim), RELAY_BLOCK_POINT=point)
        assert child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), 60)
        assert line.decode().strip() == f"blocked {victim}", relay.log.read_text()
        pending, effects, _ = await _counts(db)
        # Killed mid-batch: the first batch is settled, the second is not.
        assert pending == EVENTS - BATCH
        if point == "after_effect":
            assert effects[victim] == 1  # its effect committed before the kill
        await relay.kill()

        await relay.start()
        await asyncio.wait_for(_drained(db), 60)
    finally:
        await relay.kill()

    pending, effects, claims = await _counts(db)
    assert pending == 0
    assert effects == Counter(dict.fromkeys(ids, 1))
    assert claims == {
        "testing.crash_effect": EVENTS,
        "platform.nats": EVENTS,
        "testing.crash_gate": EVENTS,
    }
    info = await js.stream_info(stream)
    assert info.state.messages == EVENTS
    sub = await js.pull_subscribe(f"{prefix}.>", durable=None, stream=stream)
    delivered = [orjson.loads(m.data)["id"] for m in await sub.fetch(EVENTS, timeout=5)]
    assert sorted(delivered) == sorted(str(i) for i in ids)
