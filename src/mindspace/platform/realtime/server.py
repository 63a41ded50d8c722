"""The Socket.IO server (python-socketio, ASGI) and `Realtime`, the emission API.

The protocol a client speaks:
- connect with `auth: {token, last_seq?}`: the access token is checked like a bearer token
  (signature, expiry, revocation); without one, or with a bad one, the connection is refused
  with `{message, data: {type: "unauthenticated", detail}}`.
- the server then puts the connection in `user:<id>` (and `admin` for staff), sends what the
  person missed after `last_seq` (or `resync` when that is older than the replay window), and
  ends with `ready {seq}`. Events for the person are `{seq, data}`; the client keeps the
  highest `seq` it has applied, sends it as `last_seq` when it reconnects, and ignores an
  event whose `seq` is not above it (an event can arrive twice at the reconnect boundary,
  never out of order). Order holds within a person's events, whichever process sent them;
  room events are not numbered, and not ordered against a person's.
- `join` / `leave` with `{room: "group:grp_01J…"}`, with an acknowledgement:
  `{ok: true, room}` or `{ok: false, room, error: {type, detail}}`.
- the token is checked again every `session_check_seconds`: once it has expired or its session
  was signed out, the server sends `session_ended` and disconnects. The client refreshes its
  token and connects again with its `last_seq`, losing nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import engineio
import orjson
import socketio
from redis.asyncio import Redis

from mindspace.platform.errors import AppError
from mindspace.platform.ids import encode
from mindspace.platform.realtime.engine import use_quick_poll
from mindspace.platform.realtime.replay import (
    MemoryStreams,
    RedisStreams,
    ReplayWindow,
    UserStreams,
)
from mindspace.platform.realtime.rooms import (
    ADMIN_ROOM,
    RoomRefused,
    RoomRegistry,
    is_user_room,
    user_room,
)
from mindspace.platform.security import Authenticator, Principal

log = logging.getLogger(__name__)
NAMESPACE = "/"
# Events the server itself sends, and Socket.IO's own: a domain event may not take these names.
RESERVED_EVENTS = frozenset(
    {
        "ready",
        "resync",
        "session_ended",
        "connect",
        "connect_error",
        "disconnect",
        "disconnecting",
        "message",
    }
)
MAX_ROOMS_PER_CONNECTION = 100
_CONNECTED_WAIT_S = 5.0
# Set on a person's events published by the Lua script, so that no Socket.IO process takes
# them for its own echo and every one of them, the emitter's included, delivers them.
_STREAM_HOST_ID = "mindspace-user-stream"


class _Emitter(Protocol):
    async def emit(self, event: str, data: Any, *, room: str, namespace: str) -> None: ...


class Realtime:
    """What domains and jobs use to push to connected clients (`app.state.realtime`, and
    `context.additional_context["realtime"]` in a job)."""

    def __init__(
        self,
        streams: UserStreams,
        emitter: _Emitter | None,
        *,
        owned: Sequence[Callable[[], Awaitable[None]]] = (),
    ) -> None:
        self._streams = streams
        self._emitter = emitter
        self._owned = owned  # closes what this object opened (a worker's Redis clients)

    async def emit_to_user(self, user_id: uuid.UUID, event: str, data: dict[str, Any]) -> int:
        """Sends `{seq, data}` to every connection of the person and keeps it for replay;
        returns the sequence number. `data` must be JSON-ready (public ids, ISO times)."""
        _check_event(event)
        delivery = await self._streams.append(user_id, event, data)
        if not self._streams.delivers and self._emitter is not None:
            await self._emitter.emit(
                event, delivery.envelope(), room=user_room(user_id), namespace=NAMESPACE
            )
        return delivery.seq

    async def emit_to_room(self, room: str, event: str, data: dict[str, Any]) -> None:
        """Sends `data` as it is to whoever is in the room now; nothing is kept for replay."""
        _check_event(event)
        if is_user_room(room):
            raise ValueError("a person's events go through emit_to_user, which numbers them")
        if self._emitter is not None:
            await self._emitter.emit(event, data, room=room, namespace=NAMESPACE)

    async def aclose(self) -> None:
        for close in self._owned:
            await close()


def _check_event(event: str) -> None:
    if event in RESERVED_EVENTS or not event:
        raise ValueError(f"{event!r} is reserved for the realtime protocol")


def _socketio_frame(user_id: uuid.UUID, event: str) -> tuple[str, str]:
    """python-socketio's pub/sub message for an emit to the person's room, split around the
    payload so Redis can put the sequence number in (see replay._APPEND)."""
    head = '{"method":"emit","event":' + orjson.dumps(event).decode() + ',"data":['
    tail = (
        '],"binary":false,"namespace":"/","room":'
        + orjson.dumps(user_room(user_id)).decode()
        + ',"skip_sid":null,"callback":null,"host_id":"'
        + _STREAM_HOST_ID
        + '"}'
    )
    return head, tail


def worker_realtime(redis_url: str | None, *, channel: str, window: ReplayWindow) -> Realtime:
    """For processes without the Socket.IO server (workers): with Redis, a write-only manager
    that reaches every API process; without it, nobody can be reached from here."""
    if redis_url is None:
        log.warning("no REDIS_URL: realtime events from this process reach no client")
        return Realtime(MemoryStreams(window), None)
    redis = Redis.from_url(redis_url)
    streams = RedisStreams(
        redis, key_prefix=f"{channel}:user", window=window, channel=channel, frame=_socketio_frame
    )
    manager = socketio.AsyncRedisManager(redis_url, channel=channel, write_only=True)

    async def close_manager() -> None:
        if manager.redis is not None:
            await manager.redis.aclose()

    return Realtime(streams, manager, owned=(redis.aclose, close_manager))


class _Holding:
    """Keeps a connection out of its person's room while it catches up, and notes that it
    missed something there, so catching up can look again (see RealtimeServer._catch_up).
    Mixed into the python-socketio managers: every emit asks them for a room's members."""

    _held: dict[str, bool]

    def hold(self, sid: str) -> None:
        self._held[sid] = False

    def missed_since_asked(self, sid: str) -> bool:
        missed = self._held.get(sid, False)
        self._held[sid] = False
        return missed

    def release(self, sid: str) -> None:
        self._held.pop(sid, None)

    def get_participants(self, namespace: str, room: Any) -> Iterator[tuple[str, str]]:
        held = self._held
        for sid, eio_sid in super().get_participants(namespace, room):  # type: ignore[misc]
            if sid in held and isinstance(room, str) and is_user_room(room):
                held[sid] = True
                continue
            yield sid, eio_sid


class _InTurn(socketio.AsyncManager):  # type: ignore[misc]
    """Sends to a room's members in turn. python-socketio starts a task per member and waits
    for them all, but a send only puts the packet on the member's queue: measured on a
    fan-out to 1,000 sockets, the tasks were about a quarter of the CPU. Placed under the
    pub/sub manager in the class order, so events from other processes take this path too."""

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        room = to or room
        if callback is not None or namespace not in self.rooms:
            await super().emit(event, data, namespace, room, skip_sid, callback, **kwargs)
            return
        args = list(data) if isinstance(data, tuple) else [] if data is None else [data]
        skip = skip_sid if isinstance(skip_sid, list) else [skip_sid]
        encoded = self.server.packet_class(
            socketio.packet.EVENT, namespace=namespace, data=[event, *args]
        ).encode()
        frames = [
            engineio.packet.Packet(engineio.packet.MESSAGE, part)
            for part in (encoded if isinstance(encoded, list) else [encoded])
        ]
        send = self.server.eio.send_packet
        for sid, eio_sid in self.get_participants(namespace, room):
            if sid not in skip:
                for frame in frames:
                    await send(eio_sid, frame)


class _HoldingManager(_Holding, _InTurn):
    def __init__(self) -> None:
        super().__init__()
        self._held = {}


class _HoldingRedisManager(_Holding, socketio.AsyncRedisManager, _InTurn):  # type: ignore[misc]
    def __init__(self, url: str, *, channel: str) -> None:
        super().__init__(url, channel=channel)
        self._held = {}


@dataclass
class _Connection:
    principal: Principal
    token: str
    last_seq: int | None
    rooms: set[str] = field(default_factory=set)


class RealtimeServer:
    """The Socket.IO server of one API process. Built with the app; `start` gives it the
    authenticator once the app's lifespan has one, `close` ends it."""

    def __init__(
        self,
        *,
        redis_url: str | None,
        channel: str,
        window: ReplayWindow,
        cors_origins: list[str],
        session_check_seconds: float = 60.0,
    ) -> None:
        self._session_check_s = session_check_seconds
        use_quick_poll()
        self.rooms = RoomRegistry()  # nothing can be joined until `start`
        self._redis = Redis.from_url(redis_url) if redis_url else None
        self._manager: _HoldingManager | _HoldingRedisManager
        streams: UserStreams
        if redis_url and self._redis is not None:
            self._manager = _HoldingRedisManager(redis_url, channel=channel)
            streams = RedisStreams(
                self._redis,
                key_prefix=f"{channel}:user",
                window=window,
                channel=channel,
                frame=_socketio_frame,
            )
        else:
            self._manager = _HoldingManager()
            streams = MemoryStreams(window)
        self._streams = streams
        self.sio = socketio.AsyncServer(
            async_mode="asgi",
            client_manager=self._manager,
            # None: same origin only; browsers elsewhere need the origin in CORS_ORIGINS.
            cors_allowed_origins=cors_origins or None,
            # Clients only send join and leave; nothing large is ever accepted.
            max_http_buffer_size=16 * 1024,
            logger=False,
            engineio_logger=False,
        )
        self.asgi = socketio.ASGIApp(self.sio, socketio_path=None)
        self.realtime = Realtime(streams, self.sio)
        self._authenticator: Authenticator | None = None
        self._connections: dict[str, _Connection] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.sio.on("connect", self._connect)
        self.sio.on("disconnect", self._disconnect)
        self.sio.on("join", self._join)
        self.sio.on("leave", self._leave)

    def start(self, authenticator: Authenticator, rooms: RoomRegistry) -> None:
        self._authenticator = authenticator
        self.rooms = rooms
        # Subscribe to the Redis channel now rather than at the first connection, so that
        # room events from other processes reach this one from the start.
        if not self.sio.manager_initialized:
            self.sio.manager_initialized = True
            self._manager.initialize()
        self._spawn(self._recheck_sessions())

    async def close(self) -> None:
        pending = list(self._tasks)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await self.sio.shutdown()
        listener = getattr(self._manager, "thread", None)
        if isinstance(listener, asyncio.Task):
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        manager_redis = getattr(self._manager, "redis", None)
        if manager_redis is not None:
            await manager_redis.aclose()
        if self._redis is not None:
            await self._redis.aclose()

    async def _authenticate(self, token: str) -> Principal:
        if self._authenticator is None:
            raise RuntimeError("RealtimeServer.start was not called")
        return await self._authenticator.authenticate(token)

    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        if not isinstance(token, str) or not token:
            raise _refused("Send your access token in the handshake: auth = {token: …}.")
        last_seq = auth.get("last_seq")
        if last_seq is not None and (
            not isinstance(last_seq, int) or isinstance(last_seq, bool) or last_seq < 0
        ):
            raise socketio.exceptions.ConnectionRefusedError(
                "last_seq must be a non-negative integer",
                {"type": "invalid-last-seq", "detail": "Send the last seq you applied, or none."},
            )
        try:
            principal = await self._authenticate(token)
        except AppError as exc:
            raise _refused(exc.detail or exc.title) from None
        self._connections[sid] = _Connection(principal, token, last_seq)
        self._spawn(self._catch_up(sid))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _recheck_sessions(self) -> None:
        """Private events must stop when the session does, not when the socket happens to
        drop: an expired or signed-out token is disconnected within one interval."""
        while True:
            await asyncio.sleep(self._session_check_s)
            for sid, connection in list(self._connections.items()):
                try:
                    await self._authenticate(connection.token)
                except AppError as exc:
                    await self._send(sid, "session_ended", {"detail": exc.detail or exc.title})
                    await self.sio.disconnect(sid)
                except Exception:
                    log.exception("realtime session check failed")

    async def _disconnect(self, sid: str, reason: Any = None) -> None:
        self._connections.pop(sid, None)
        self._manager.release(sid)

    async def _catch_up(self, sid: str) -> None:
        """Rooms, missed events, then `ready`, without losing or reordering an event that
        arrives meanwhile: while this runs the connection is held out of its person's room,
        and if anything was sent there since the last look, it looks again."""
        connection = self._connections.get(sid)
        if connection is None or not await self._connected(sid):
            return
        user_id = connection.principal.user_id
        self._manager.hold(sid)
        try:
            await self.sio.enter_room(sid, user_room(user_id))
            if connection.principal.is_staff:
                await self.sio.enter_room(sid, ADMIN_ROOM)
            cursor = connection.last_seq
            while True:
                self._manager.missed_since_asked(sid)
                missed = await self._streams.missed(user_id, cursor)
                if missed.resync:
                    await self._send(sid, "resync", {"seq": missed.current})
                for delivery in missed.events:
                    await self._send(sid, delivery.event, delivery.envelope())
                cursor = missed.current
                if not self._manager.missed_since_asked(sid):
                    break
        except Exception:
            # Redis gone, most likely: better no connection than one that silently misses.
            log.exception("realtime catch-up failed", extra={"user_id": str(user_id)})
            await self.sio.disconnect(sid)
            return
        finally:
            self._manager.release(sid)
        await self._send(sid, "ready", {"seq": cursor, "user": encode("usr", user_id)})

    async def _connected(self, sid: str) -> bool:
        """The CONNECT answer leaves only after the connect handler returns, and nothing may
        reach the client before it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _CONNECTED_WAIT_S
        while not self._manager.is_connected(sid, NAMESPACE):
            if sid not in self._connections or loop.time() > deadline:
                return False
            await asyncio.sleep(0.001)
        return True

    async def _send(self, sid: str, event: str, data: dict[str, Any]) -> None:
        # The connection is in this process: no need to tell the others through Redis.
        await self.sio.emit(event, data, to=sid, ignore_queue=True)

    async def _join(self, sid: str, data: Any) -> dict[str, Any]:
        asked = data.get("room") if isinstance(data, dict) else None
        try:
            connection = await self._current(sid)
            room = self.rooms.parse(asked)
            if room.name not in connection.rooms:
                if len(connection.rooms) >= MAX_ROOMS_PER_CONNECTION:
                    raise RoomRefused("too-many-rooms", "Leave a room before joining another.")
                if not await self.rooms.allows(connection.principal, room):
                    raise RoomRefused("room-denied", "You cannot join this room.")
                await self.sio.enter_room(sid, room.name)
                connection.rooms.add(room.name)
        except RoomRefused as refused:
            return {"ok": False, "room": asked, "error": refused.payload()}
        return {"ok": True, "room": asked}

    async def _leave(self, sid: str, data: Any) -> dict[str, Any]:
        asked = data.get("room") if isinstance(data, dict) else None
        try:
            connection = await self._current(sid)
            room = self.rooms.parse(asked)
        except RoomRefused as refused:
            return {"ok": False, "room": asked, "error": refused.payload()}
        if room.name in connection.rooms:
            await self.sio.leave_room(sid, room.name)
            connection.rooms.discard(room.name)
        return {"ok": True, "room": asked}

    async def _current(self, sid: str) -> _Connection:
        """The connection, with its token checked again: a session signed out or expired
        since the connect joins nothing more."""
        connection = self._connections.get(sid)
        if connection is None:
            raise RoomRefused("not-connected", "Connect before joining rooms.")
        try:
            await self._authenticate(connection.token)
        except AppError:
            raise RoomRefused(
                "unauthenticated", "This session has ended. Sign in again and reconnect."
            ) from None
        return connection


def _refused(detail: str) -> Exception:
    error: Exception = socketio.exceptions.ConnectionRefusedError(
        "unauthenticated", {"type": "unauthenticated", "detail": detail}
    )
    return error
