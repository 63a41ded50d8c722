"""Two real API processes on one database and one Redis: what one emits reaches clients of the
other, a person's events keep one order whichever process sends them, and a client that
reconnects to the other process gets what it missed."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio

from mindspace.platform import ids
from mindspace.platform.config import Settings
from mindspace.platform.ids import new_id
from mindspace.platform.realtime import ADMIN_ROOM, room_name
from tests.conftest import ROOT, Person, free_port
from tests.platform.realtime.conftest import REDIS_URL, Connect, delete_keys, needs_redis

pytestmark = [pytest.mark.asyncio, pytest.mark.redis, needs_redis]
_START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Peer:
    url: str
    process: subprocess.Popen[bytes]

    async def emit(self, event: str, data: dict[str, Any], **target: Any) -> int | None:
        body = {"event": event, "data": data, **{k: str(v) for k, v in target.items()}}
        async with httpx.AsyncClient(base_url=self.url, timeout=10) as client:
            response = await client.post("/test/emit", json=body)
        response.raise_for_status()
        seq: int | None = response.json()["seq"]
        return seq


def _start(settings: Settings, channel: str, log: Any) -> Peer:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINDSPACE_")}
    env.update(
        {
            "DATABASE_URL": str(settings.database_url),
            "REDIS_URL": str(REDIS_URL),
            "MINDSPACE_REALTIME_CHANNEL": channel,
            # The same signing keys as the test's own TokenService.
            "MINDSPACE_DATA_DIR": str(settings.data_dir),
            "MINDSPACE_ENVIRONMENT": "test",
            "MINDSPACE_LOG_LEVEL": "WARNING",
            # Realtime needs no embedding model; loading one would only slow readiness.
            "MINDSPACE_EMBEDDINGS": "off",
            "PYTHONPATH": str(ROOT),
        }
    )
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "tests.platform.realtime.peer_app:create",
        "--factory",
        "--host=127.0.0.1",
        f"--port={port}",
        "--log-level=warning",
    ]
    # Our own interpreter running our own module: no outside input.
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    return Peer(f"http://127.0.0.1:{port}", process)


def _wait_ready(peer: Peer) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if peer.process.poll() is not None:
            raise RuntimeError(f"peer exited with {peer.process.returncode}")
        try:
            if httpx.get(peer.url + "/health/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("peer did not become ready")


@pytest.fixture(scope="module")
def channel() -> str:
    return f"mindspace-test-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def peers(
    settings: Settings, channel: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Peer, Peer]]:
    log_path = tmp_path_factory.mktemp("peers") / "peers.log"
    with log_path.open("wb") as log:
        started = [_start(settings, channel, log) for _ in range(2)]
        try:
            for peer in started:
                _wait_ready(peer)
            yield started[0], started[1]
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}:\n{log_path.read_text()[-3000:]}") from None
        finally:
            for peer in started:
                peer.process.terminate()
            for peer in started:
                try:
                    peer.process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    peer.process.kill()
                    peer.process.wait()


@pytest_asyncio.fixture(scope="module")
async def _clean_keys(channel: str) -> AsyncIterator[None]:
    yield
    assert REDIS_URL is not None
    await delete_keys(REDIS_URL, channel)


@pytest.fixture
def a_and_b(peers: tuple[Peer, Peer], _clean_keys: None) -> tuple[Peer, Peer]:
    return peers


async def test_what_one_process_emits_reaches_clients_of_the_other(
    a_and_b: tuple[Peer, Peer], connect: Connect, user: Person, admin: Person
) -> None:
    a, b = a_and_b
    member = await connect(a.url, token=user.token)
    staff = await connect(a.url, token=admin.token)
    _, ready = await member.until_ready()
    await staff.until_ready()
    group_id = new_id()
    joined = await member.call("join", {"room": f"group:{ids.encode('grp', group_id)}"})
    assert joined["ok"] is True

    seq = await b.emit("message.received", {"n": 1}, user_id=user.id)
    await b.emit("post.created", {"n": 2}, room=room_name("group", group_id))
    await b.emit("crisis.alert", {"n": 3}, room=ADMIN_ROOM)

    assert seq == ready["seq"] + 1
    assert await member.next() == ("message.received", {"seq": seq, "data": {"n": 1}})
    assert await member.next() == ("post.created", {"n": 2})
    assert await staff.next() == ("crisis.alert", {"n": 3})
    assert await member.quiet() == []


async def test_a_person_s_events_keep_one_order_whichever_process_sends_them(
    a_and_b: tuple[Peer, Peer], connect: Connect, user: Person
) -> None:
    a, b = a_and_b
    on_a = await connect(a.url, token=user.token)
    on_b = await connect(b.url, token=user.token)
    _, ready = await on_a.until_ready()
    await on_b.until_ready()

    sends = [peer.emit("note", {"n": n}, user_id=user.id) for n in range(20) for peer in (a, b)]
    sent = await asyncio.gather(*sends)

    expected = list(range(ready["seq"] + 1, ready["seq"] + 41))
    assert sorted(s for s in sent if s is not None) == expected
    for client in (on_a, on_b):
        assert [(await client.next())[1]["seq"] for _ in range(40)] == expected


async def test_a_client_reconnecting_to_the_other_process_gets_what_it_missed(
    a_and_b: tuple[Peer, Peer], connect: Connect, user: Person
) -> None:
    a, b = a_and_b
    first = await connect(a.url, token=user.token)
    _, ready = await first.until_ready()
    await first.close()
    sent = [await a.emit("note", {"n": n}, user_id=user.id) for n in range(3)]

    again = await connect(b.url, token=user.token, last_seq=ready["seq"])
    replayed, ready_again = await again.until_ready()

    assert replayed == [("note", {"seq": s, "data": {"n": n}}) for n, s in enumerate(sent)]
    assert ready_again["seq"] == sent[-1]
