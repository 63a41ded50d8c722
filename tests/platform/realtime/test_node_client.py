"""The official JavaScript client (socket.io-client from npm, under Node.js) against the app:
what browsers and the mobile app will run. Skipped where Node.js or the package is missing."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from mindspace.platform import ids
from mindspace.platform.ids import new_id
from mindspace.platform.realtime import room_name
from tests.conftest import ROOT, Person
from tests.platform.realtime.conftest import GROUP_PREFIX, LiveServer

pytestmark = pytest.mark.asyncio
CLIENT_VERSION = "4.8.4"
NODE_DIR = ROOT / ".mindspace" / f"node-socket.io-client-{CLIENT_VERSION}"
SCRIPT = """
const { io } = require(process.env.SIO_CLIENT);
const say = (event, data) => console.log(JSON.stringify({ event, data }));
const socket = io(process.env.URL, {
  transports: ["websocket"], auth: JSON.parse(process.env.AUTH), reconnection: false,
});
socket.onAny(say);
socket.on("connect_error", (err) => {
  say("connect_error", { message: err.message, data: err.data });
  process.exit(0);
});
socket.on("ready", async () => {
  say("joined", await socket.emitWithAck("join", { room: process.env.ROOM }));
});
setTimeout(() => process.exit(0), 20000);
"""


@pytest.fixture(scope="session")
def socketio_client_js() -> Path:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("Node.js is not installed")
    package = NODE_DIR / "node_modules" / "socket.io-client"
    if not package.exists():
        installed = subprocess.run(  # noqa: S603 - npm by path, a fixed package and version
            [
                npm,
                "install",
                "--prefix",
                str(NODE_DIR),
                "--no-audit",
                "--no-fund",
                "--silent",
                f"socket.io-client@{CLIENT_VERSION}",
            ],
            capture_output=True,
            timeout=180,
            check=False,
        )
        if installed.returncode != 0:
            pytest.skip(f"npm could not install socket.io-client: {installed.stderr[-500:]!r}")
    return package


@asynccontextmanager
async def node_client(
    package: Path, url: str, auth: dict[str, Any], room: str
) -> AsyncIterator[asyncio.Queue[tuple[str, Any]]]:
    script = NODE_DIR / "client.cjs"
    script.write_text(SCRIPT)
    env = {
        **os.environ,
        "SIO_CLIENT": str(package),
        "URL": url,
        "AUTH": json.dumps(auth),
        "ROOM": room,
    }
    process = await asyncio.create_subprocess_exec(
        str(shutil.which("node")), str(script), env=env, stdout=asyncio.subprocess.PIPE
    )
    events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    async def read() -> None:
        assert process.stdout is not None
        async for line in process.stdout:
            said = json.loads(line)
            await events.put((said["event"], said["data"]))

    reader = asyncio.create_task(read())
    try:
        yield events
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
        reader.cancel()


async def next_event(events: asyncio.Queue[tuple[str, Any]]) -> tuple[str, Any]:
    return await asyncio.wait_for(events.get(), 10)


async def test_the_javascript_client_connects_joins_and_receives(
    live: LiveServer, socketio_client_js: Path, user: Person
) -> None:
    group_id = new_id()
    live.group_members.add((user.id, group_id))
    group = f"group:{ids.encode(GROUP_PREFIX, group_id)}"
    try:
        async with node_client(socketio_client_js, live.url, {"token": user.token}, group) as got:
            event, ready = await next_event(got)
            assert event == "ready"
            assert ready["user"] == ids.encode("usr", user.id)
            assert await next_event(got) == ("joined", {"ok": True, "room": group})

            seq = await live.realtime.emit_to_user(user.id, "note", {"n": 1})
            await live.realtime.emit_to_room(room_name("group", group_id), "post", {"n": 2})

            # One person's events keep their order; a room's are another stream.
            received = dict([await next_event(got), await next_event(got)])
            assert received == {"note": {"seq": seq, "data": {"n": 1}}, "post": {"n": 2}}
    finally:
        live.group_members.clear()


async def test_the_javascript_client_is_told_why_it_was_refused(
    live: LiveServer, socketio_client_js: Path
) -> None:
    auth = {"token": f"not-a-token-{uuid.uuid4()}"}
    async with node_client(socketio_client_js, live.url, auth, "none") as got:
        event, error = await next_event(got)
    assert event == "connect_error"
    assert error["message"] == "unauthenticated"
    assert error["data"]["type"] == "unauthenticated"
