"""Socket.IO fan-out: one event to N connected sockets, delivery latency per socket.

The sockets are raw websocket clients speaking Engine.IO 4 / Socket.IO 5 (open, CONNECT with
the token, ping-pong, EVENT), spread over a few processes, so the clients cost less CPU than
python-socketio's own. Every socket belongs to a staff account, so the app puts it in the
`admin` room at connect; the events come from outside the API process, through Redis, the
way a background job pushes (`worker_realtime`). Each event carries the monotonic clock at
emit time (system-wide on Linux), and every socket records when it got it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import statistics
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from bench.servers import Server
from bench.wrk import BenchError
from mindspace.identity.tokens import MemoryRevocations, TokenService, key_from_pem
from mindspace.platform.ids import new_id
from mindspace.platform.realtime import ADMIN_ROOM, ReplayWindow, worker_realtime
from mindspace.platform.security import Principal, Role

EVENT = "bench.tick"
_CONNECT_TIMEOUT_S = 120.0
_GAP_S = 0.25  # between events, so each fan-out is measured on its own, not behind the last
_DRAIN_S = 30.0  # after the last event, how long a socket may still take to get them all


@dataclass(frozen=True)
class Fanout:
    sockets: int
    events: int
    samples: int
    missing: int  # deliveries that never arrived
    p50_ms: float
    p99_ms: float
    max_ms: float
    connected_rss_mb: float  # the app's, with every socket connected
    app_cpu_ms_per_event: float  # the app's CPU time from first emit to last delivery / events

    TARGET_P99_MS = 100.0

    @property
    def met(self) -> bool:
        return self.missing == 0 and self.p99_ms <= self.TARGET_P99_MS


def tokens_for(key_path: Path, issuer: str, count: int) -> list[str]:
    """Access tokens signed with the app's own key (the app wrote it at start-up) for `count`
    staff accounts; the app checks signature, lifetime and revocation, not the database."""
    service = TokenService(
        [key_from_pem(key_path.read_bytes())],
        issuer=issuer,
        audience="mindspace-api",
        revocations=MemoryRevocations(),
    )
    roles = frozenset({Role.member, Role.admin})
    return [
        service.issue(Principal(user_id=new_id(), roles=roles, session_id=uuid.uuid4()))[0]
        for _ in range(count)
    ]


def measure(
    base_url: str,
    *,
    key_path: Path,
    issuer: str,
    redis_url: str,
    channel: str,
    sockets: int,
    events: int,
    processes: int,
    app: Server,
) -> Fanout:
    tokens = tokens_for(key_path, issuer, sockets)
    ws_url = base_url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    context = multiprocessing.get_context("spawn")
    pipes: list[Connection] = []
    workers = []
    for n in range(processes):
        parent, child = context.Pipe()
        share = tokens[n::processes]
        worker = context.Process(target=_client_process, args=(ws_url, share, events, child))
        worker.start()
        pipes.append(parent)
        workers.append(worker)
    try:
        for pipe in pipes:
            if not pipe.poll(_CONNECT_TIMEOUT_S):
                raise BenchError("realtime clients did not all connect in time")
            status = pipe.recv()
            if status != "connected":
                raise BenchError(f"realtime clients failed: {status}")
        connected_rss_mb = app.rss_mb()
        print(f"  {sockets} sockets connected; emitting {events} events", flush=True)
        cpu_before = app.cpu_s()
        asyncio.run(_emit(redis_url, channel, events))
        for pipe in pipes:
            pipe.send("done")
        for pipe in pipes:
            if not pipe.poll(_DRAIN_S + 10) or pipe.recv() != "drained":
                raise BenchError("realtime clients did not drain")
        cpu_ms = (app.cpu_s() - cpu_before) * 1000
        for pipe in pipes:
            pipe.send("close")
        latencies: list[float] = []
        missing = 0
        for pipe in pipes:
            if not pipe.poll(_CONNECT_TIMEOUT_S):
                raise BenchError("realtime clients did not report")
            got, lost = pipe.recv()
            latencies += got
            missing += lost
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.terminate()
    if not latencies:
        raise BenchError("no realtime event arrived")
    ordered = sorted(latencies)
    return Fanout(
        sockets=sockets,
        events=events,
        samples=len(ordered),
        missing=missing,
        p50_ms=statistics.median(ordered),
        p99_ms=ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        max_ms=ordered[-1],
        connected_rss_mb=connected_rss_mb,
        app_cpu_ms_per_event=cpu_ms / events,
    )


async def _emit(redis_url: str, channel: str, events: int) -> None:
    realtime = worker_realtime(redis_url, channel=channel, window=ReplayWindow())
    try:
        await asyncio.sleep(1.0)  # let every connection finish its catch-up
        # Opens the emitter's Redis connections outside the timed events (nobody is there).
        await realtime.emit_to_room("bench:warm-up", EVENT, {"n": -1, "sent_ns": 0})
        for n in range(events):
            await realtime.emit_to_room(ADMIN_ROOM, EVENT, {"n": n, "sent_ns": time.monotonic_ns()})
            await asyncio.sleep(_GAP_S)
    finally:
        await realtime.aclose()


def _client_process(url: str, tokens: Sequence[str], events: int, pipe: Connection) -> None:
    try:
        latencies, missing = asyncio.run(_clients(url, tokens, events, pipe))
    except Exception as exc:
        pipe.send(f"{type(exc).__name__}: {exc}")
        return
    pipe.send((latencies, missing))


async def _clients(
    url: str, tokens: Sequence[str], events: int, pipe: Connection
) -> tuple[list[float], int]:
    received: list[list[float]] = [[] for _ in tokens]
    sockets = []
    # A few at a time: a thousand handshakes at once would measure the accept queue instead.
    for start in range(0, len(tokens), 25):
        batch = tokens[start : start + 25]
        sockets += await asyncio.gather(*(_open(url, token) for token in batch))
    complete = _Countdown(len(sockets))
    readers = [
        asyncio.create_task(_read(ws, received[n], events, complete))
        for n, ws in enumerate(sockets)
    ]
    pipe.send("connected")
    await asyncio.to_thread(pipe.recv)  # "done": the emitter has finished
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(complete.zero.wait(), _DRAIN_S)
    pipe.send("drained")
    await asyncio.to_thread(pipe.recv)  # "close": the runner has read the app's CPU time
    for reader in readers:
        reader.cancel()
    for ws in sockets:
        await ws.close()
    missing = sum(max(0, events - len(got)) for got in received)
    return [ms for got in received for ms in got], missing


async def _open(url: str, token: str) -> ClientConnection:
    ws = await connect(url, max_size=2**20, compression=None, open_timeout=60)
    opened = await ws.recv()
    if not str(opened).startswith("0"):
        raise BenchError(f"unexpected Engine.IO open: {opened!r}")
    await ws.send("40" + json.dumps({"token": token}))
    while True:
        packet = str(await ws.recv())
        if packet.startswith("44"):
            raise BenchError(f"connection refused: {packet}")
        if packet.startswith('42["ready"'):
            return ws
        if packet == "2":
            await ws.send("3")


class _Countdown:
    """Sockets still waiting for some of their events; `zero` is set when none is."""

    def __init__(self, count: int) -> None:
        self.left = count
        self.zero = asyncio.Event()

    def one_done(self) -> None:
        self.left -= 1
        if self.left <= 0:
            self.zero.set()


async def _read(ws: ClientConnection, got: list[float], events: int, complete: _Countdown) -> None:
    async for raw in ws:
        now = time.monotonic_ns()
        packet = str(raw)
        if packet == "2":
            await ws.send("3")
        elif packet.startswith("42"):
            event, data = _event(packet)
            if event == EVENT:
                got.append((now - data["sent_ns"]) / 1e6)
                if len(got) == events:
                    complete.one_done()


def _event(packet: str) -> tuple[str, dict[str, Any]]:
    event, data = json.loads(packet[2:])
    return event, data
