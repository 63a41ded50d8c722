"""Realtime test harness: the real app served by uvicorn on a free port, in this event loop,
and real python-socketio clients talking to it over websockets."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
import pytest_asyncio
import socketio
import uvicorn
from fastapi import FastAPI
from redis.asyncio import Redis

from mindspace.app import create_app
from mindspace.identity.tokens import ACCESS_TOKEN_TYPE, ALGORITHM, TokenService
from mindspace.platform import ids
from mindspace.platform.config import Settings
from mindspace.platform.realtime import Realtime, RoomRegistry
from mindspace.platform.security import Principal
from tests.conftest import free_port, redis_url

REDIS_URL = redis_url()
needs_redis = pytest.mark.skipif(REDIS_URL is None, reason="no Redis reachable")
REPLAY_EVENTS = 50  # a small window, so a gap beyond it is quick to make
GROUP_PREFIX = "grp"
EVENT_WAIT_S = 5.0
SESSION_CHECK_S = 0.5


@dataclass
class LiveServer:
    app: FastAPI
    url: str
    # Who may join which `group:` room on this server: (user id, group id) pairs.
    group_members: set[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=set)

    @property
    def realtime(self) -> Realtime:
        realtime: Realtime = self.app.state.realtime
        return realtime

    @property
    def tokens(self) -> TokenService:
        tokens: TokenService = self.app.state.tokens
        return tokens


@asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[LiveServer]:
    app = create_app(settings)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 20
    while not server.started:
        if task.done() or time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start: {task}")
        await asyncio.sleep(0.02)
    live = LiveServer(app, f"http://127.0.0.1:{port}")
    rooms: RoomRegistry = app.state.realtime_rooms

    async def may_join_group(principal: Principal, group_id: uuid.UUID) -> bool:
        return (principal.user_id, group_id) in live.group_members

    rooms.register("group", may_join_group, id_prefix=GROUP_PREFIX)
    try:
        yield live
    finally:
        server.should_exit = True
        await task


async def delete_keys(url: str, prefix: str) -> None:
    """Our keys only: Redis is shared with other runs (never FLUSHDB)."""
    redis = Redis.from_url(url)
    try:
        async for key in redis.scan_iter(match=f"{prefix}:*", count=500):
            await redis.delete(key)
    finally:
        await redis.aclose()


@pytest_asyncio.fixture(
    scope="module",
    params=[
        "memory",
        pytest.param("redis", marks=[pytest.mark.redis, needs_redis]),
    ],
)
async def live(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[LiveServer]:
    """One server per backend of the replay log: in-process, and Redis (unique channel)."""
    channel = f"mindspace-test-{uuid.uuid4().hex}"
    overrides: dict[str, Any] = {
        "realtime_replay_events": REPLAY_EVENTS,
        "realtime_session_check_seconds": SESSION_CHECK_S,
        "realtime_channel": channel,
        "redis_url": REDIS_URL if request.param == "redis" else None,
    }
    async with serve(settings.model_copy(update=overrides)) as server:
        yield server
    if request.param == "redis" and REDIS_URL:
        await delete_keys(REDIS_URL, channel)


@pytest.fixture
def group_members(live: LiveServer) -> Iterator[set[tuple[uuid.UUID, uuid.UUID]]]:
    yield live.group_members
    live.group_members.clear()


class Client:
    """A real python-socketio client that records every event it receives."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.connect_error: Any = None
        self.sio.on("*", self._record)
        self.sio.on("connect_error", self._refused)

    async def _record(self, event: str, data: Any) -> None:
        await self.events.put((event, data))

    async def _refused(self, data: Any) -> None:
        self.connect_error = data

    async def connect(self, url: str, auth: Any) -> None:
        await self.sio.connect(url, auth=auth, transports=["websocket"], wait_timeout=5)

    async def next(self) -> tuple[str, Any]:
        return await asyncio.wait_for(self.events.get(), EVENT_WAIT_S)

    async def until_ready(self) -> tuple[list[tuple[str, Any]], dict[str, Any]]:
        """Everything before `ready`, and `ready`'s payload."""
        before: list[tuple[str, Any]] = []
        while True:
            event, data = await self.next()
            if event == "ready":
                return before, data
            before.append((event, data))

    async def quiet(self, seconds: float = 0.3) -> list[tuple[str, Any]]:
        """Whatever arrives within `seconds`: [] when nothing was meant for this client."""
        await asyncio.sleep(seconds)
        got = []
        while not self.events.empty():
            got.append(self.events.get_nowait())
        return got

    async def call(self, event: str, data: Any) -> Any:
        return await self.sio.call(event, data, timeout=5)

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()


Connect = Callable[..., Awaitable[Client]]


@pytest_asyncio.fixture
async def connect() -> AsyncIterator[Connect]:
    """`await connect(url, token=…, last_seq=…)`: a connected client, closed after the test."""
    clients: list[Client] = []

    async def open_client(url: str, **auth: Any) -> Client:
        client = Client()
        clients.append(client)
        await client.connect(url, auth)
        return client

    yield open_client
    for client in clients:
        with contextlib.suppress(Exception):
            await client.close()


def expired_token(tokens: TokenService, principal: Principal) -> str:
    """Signed with the app's own key, correct in every way but its lifetime."""
    now = int(time.time())
    claims = {
        "iss": tokens.issuer,
        "aud": tokens.audience,
        "sub": ids.encode("usr", principal.user_id),
        "sid": str(principal.session_id),
        "roles": sorted(r.value for r in principal.roles),
        "iat": now - 3600,
        "nbf": now - 3600,
        "exp": now - 60,
    }
    key = tokens.signing_key
    return jwt.encode(
        claims,
        key.private_key,
        algorithm=ALGORITHM,
        headers={"kid": key.kid, "typ": ACCESS_TOKEN_TYPE},
    )
