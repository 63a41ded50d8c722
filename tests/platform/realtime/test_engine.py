"""The writer's wait (platform.realtime.engine) behaves exactly as engineio's own poll."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from engineio import async_socket, exceptions, packet

from mindspace.platform.realtime.engine import ENGINEIO_POLL, _poll, use_quick_poll

pytestmark = pytest.mark.asyncio


def _socket(*queued: Any, wait_s: float = 5.0) -> Any:
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for item in queued:
        queue.put_nowait(item)
    server = SimpleNamespace(ping_interval=wait_s / 2, ping_timeout=wait_s / 2)
    return SimpleNamespace(queue=queue, server=server)


async def _both(*queued: Any, wait_s: float = 5.0) -> tuple[Any, Any]:
    outcomes = []
    for poll in (ENGINEIO_POLL, _poll):
        socket = _socket(*queued, wait_s=wait_s)
        try:
            got: Any = await poll(socket)
        except exceptions.QueueEmpty:
            got = "QueueEmpty"
        outcomes.append((got, list(socket.queue._queue), socket.queue._unfinished_tasks))
    return outcomes[0], outcomes[1]


PACKETS = [packet.Packet(packet.MESSAGE, f"4{n}") for n in range(3)]


@pytest.mark.parametrize(
    "queued",
    [
        PACKETS[:1],
        PACKETS,
        [None],
        [*PACKETS[:2], None, PACKETS[2]],
    ],
    ids=["one", "a batch", "closed", "a batch then closed"],
)
async def test_it_takes_what_engineio_takes_and_leaves_what_it_leaves(queued: list[Any]) -> None:
    original, quick = await _both(*queued)
    assert quick == original


async def test_it_waits_for_the_first_packet() -> None:
    socket = _socket()
    waiting = asyncio.create_task(_poll(socket))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    socket.queue.put_nowait(PACKETS[0])
    assert await waiting == [PACKETS[0]]


async def test_nothing_within_the_ping_window_is_queue_empty_as_in_engineio() -> None:
    original, quick = await _both(wait_s=0.05)
    assert quick == original == ("QueueEmpty", [], 0)


async def test_sockets_wait_with_it_once_installed() -> None:
    use_quick_poll()
    assert ENGINEIO_POLL is not _poll
    assert async_socket.AsyncSocket.poll is _poll
