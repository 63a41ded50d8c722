"""A reply streamed two ways: Server-Sent Events from the send endpoint (read with httpx's
streaming client) and the same events in the Socket.IO `conversation:<id>` room (read with a
real python-socketio client against the app served by uvicorn)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import orjson
import pytest

from mindspace.platform.config import Settings
from tests.companion.conftest import BASE, CRISIS_TEXT, start
from tests.conftest import Person
from tests.platform.realtime.conftest import Client, serve

pytestmark = pytest.mark.asyncio


def _parse_sse(lines: list[str]) -> list[tuple[str, dict[str, Any]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    name = None
    for line in lines:
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: ") and name:
            events.append((name, orjson.loads(line.removeprefix("data: "))))
            name = None
    return events


def _check_turn(events: list[tuple[str, dict[str, Any]]], text: str) -> dict[str, Any]:
    """The events tell the whole turn, in order; the chunks make up each stored reply."""
    names = [name for name, _ in events]
    assert names[0] == "companion.message"
    assert events[0][1]["content"] == text
    assert names[-1] == "companion.turn.completed"
    turn = events[-1][1]
    for reply in turn["replies"]:
        chunks = [
            data["text"]
            for name, data in events
            if name == "companion.reply.chunk" and data["message"] == reply["id"]
        ]
        assert len(chunks) > 1
        assert "".join(chunks) == reply["content"]
        completed = [d for n, d in events if n == "companion.reply.completed"]
        assert reply in completed
    return turn


async def test_the_reply_streams_as_server_sent_events(
    client: httpx.AsyncClient, user: Person
) -> None:
    conversation = await start(client, user)
    async with client.stream(
        "POST",
        f"{BASE}/conversations/{conversation}/messages",
        json={"text": CRISIS_TEXT},
        headers={**user.headers, "Accept": "text/event-stream"},
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line async for line in response.aiter_lines()]
    turn = _check_turn(_parse_sse(lines), CRISIS_TEXT)
    assert turn["replies"][0]["kind"] == "crisis"
    assert turn["crisis"]["resources"]["resources"]
    # What was streamed is what was stored.
    stored = await client.get(f"{BASE}/conversations/{conversation}", headers=user.headers)
    assert stored.json()["messages"]["items"][0] == turn["replies"][0]


async def test_the_reply_reaches_the_conversation_room_and_only_its_owner(
    settings: Settings, client: httpx.AsyncClient, user: Person, other_user: Person
) -> None:
    overrides = {"redis_url": None, "realtime_channel": f"companion-test-{uuid.uuid4().hex}"}
    conversation = await start(client, user)
    room = f"conversation:{conversation}"
    async with serve(settings.model_copy(update=overrides)) as live:
        mine, theirs = Client(), Client()
        try:
            await mine.connect(live.url, {"token": user.token})
            await theirs.connect(live.url, {"token": other_user.token})
            await mine.until_ready()
            await theirs.until_ready()
            assert (await mine.call("join", {"room": room}))["ok"] is True
            refused = await theirs.call("join", {"room": room})
            assert refused["ok"] is False
            assert refused["error"]["type"] == "room-denied"

            async with httpx.AsyncClient(base_url=live.url) as http:
                response = await http.post(
                    f"{BASE}/conversations/{conversation}/messages",
                    json={"text": "can we do grounding"},
                    headers=user.headers,
                )
            assert response.status_code == 200, response.text
            events: list[tuple[str, Any]] = []
            while not events or events[-1][0] != "companion.turn.completed":
                events.append(await mine.next())
            turn = _check_turn(events, "can we do grounding")
            assert turn == response.json()
            assert await theirs.quiet() == []
        finally:
            await mine.close()
            await theirs.close()
