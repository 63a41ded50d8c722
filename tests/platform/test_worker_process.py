"""`mindspace worker` as a real process with NATS_URL set: a request's event is relayed at once
(NOTIFY), its job is deferred and run, and the event reaches JetStream."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import nats
import orjson
import pytest
import pytest_asyncio
from nats.js import JetStreamContext

from mindspace.platform.config import Settings
from mindspace.platform.db import Database
from tests.conftest import Person
from tests.identity.test_data_rights import EXPORTS, _step_up
from tests.platform.test_nats import NATS_URL, pytestmark  # noqa: F401 - skipped without NATS

MINDSPACE = Path(sys.executable).parent / "mindspace"


@pytest_asyncio.fixture
async def worker_process(
    settings: Settings, tmp_path: Path
) -> AsyncIterator[tuple[JetStreamContext, str, str]]:
    run = uuid.uuid4().hex[:12]
    stream, prefix = f"MINDSPACE_WORKER_{run}", f"worker_{run}.mindspace"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MINDSPACE_")},
        "DATABASE_URL": settings.database_url or "",
        "NATS_URL": NATS_URL,
        "MINDSPACE_NATS_STREAM": stream,
        "MINDSPACE_NATS_SUBJECT_PREFIX": prefix,
        "MINDSPACE_ENVIRONMENT": "test",
        "MINDSPACE_DATA_DIR": str(settings.data_dir),
    }
    log = tmp_path / "worker.log"
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            str(MINDSPACE), "worker", cwd=tmp_path, env=env, stdout=output, stderr=output
        )
    nc = await nats.connect(NATS_URL)
    try:
        yield nc.jetstream(), stream, prefix
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()
        try:
            await nc.jetstream().delete_stream(stream)
        except nats.js.errors.NotFoundError:
            pass  # the worker never got as far as creating it; the log says why
        finally:
            await nc.close()


@pytest.mark.asyncio
async def test_the_worker_relays_runs_the_job_and_publishes_to_nats(
    client: httpx.AsyncClient,
    db: Database,
    user: Person,
    worker_process: tuple[JetStreamContext, str, str],
) -> None:
    js, stream, prefix = worker_process
    await _step_up(client, user)
    export = (await client.post(EXPORTS, headers=user.headers)).json()

    async def ready() -> None:
        while True:
            status = await client.get(f"{EXPORTS}/{export['id']}", headers=user.headers)
            if status.json()["status"] == "ready":
                return
            await asyncio.sleep(0.1)

    await asyncio.wait_for(ready(), 60)
    sub = await js.pull_subscribe(f"{prefix}.identity.>", durable=None, stream=stream)
    (message,) = await sub.fetch(1, timeout=10)
    assert message.subject == f"{prefix}.identity.export_requested"
    body = orjson.loads(message.data)
    assert body["topic"] == "identity.export_requested"
    assert body["owner_id"] == str(user.id)
    assert set(body["payload"]) == {"export_id"}
