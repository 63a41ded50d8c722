"""The ceilings every scenario is compared with: bare ASGI callables, no framework at all.

`hello` is C0 (the server and the protocol alone); `primary_key_read` is C_db (C0 plus one
primary-key read through a raw asyncpg pool). Served by uvicorn exactly like the app.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import asyncpg  # type: ignore[import-untyped]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_JSON_HEADERS = [(b"content-type", b"application/json")]
_HELLO = b'{"hello":"world"}'
_READ_SQL = "SELECT id, email, display_name, status FROM user_account WHERE id = $1"
# The app's default pool (MINDSPACE_DATABASE_POOL_SIZE): the ceiling gets no more connections.
_POOL_SIZE = 10


async def _respond(send: Send, body: bytes, status: int = 200) -> None:
    await send({"type": "http.response.start", "status": status, "headers": _JSON_HEADERS})
    await send({"type": "http.response.body", "body": body})


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http":
        await _respond(send, _HELLO)


class PrimaryKeyRead:
    """Reads the seeded row named by BENCH_USER_ID from BENCH_DSN on every request."""

    def __init__(self) -> None:
        self._pool: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            row = await self._pool.fetchrow(_READ_SQL, uuid.UUID(os.environ["BENCH_USER_ID"]))
            if row is None:
                await _respond(send, b'{"error":"seeded row missing"}', status=500)
                return
            body = {
                "id": str(row["id"]),
                "email": row["email"],
                "display_name": row["display_name"],
                "status": row["status"],
            }
            await _respond(send, json.dumps(body).encode())

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._pool = await asyncpg.create_pool(
                    os.environ["BENCH_DSN"], min_size=_POOL_SIZE, max_size=_POOL_SIZE
                )
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self._pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


primary_key_read = PrimaryKeyRead()
