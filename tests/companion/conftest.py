"""Companion test helpers, and a local HTTP server that speaks the OpenAI chat-completions
streaming protocol with replies the tests choose."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import procrastinate
import pytest
import pytest_asyncio
import uvicorn
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from mindspace.platform.config import Settings
from mindspace.platform.db import Database
from tests.conftest import Person, free_port, run_background

BASE = "/api/v1/companion"
MEMORIES = f"{BASE}/memories"
PREFERENCES = "/api/v1/users/me/preferences"
CRISIS_TEXT = "I want to kill myself tonight"
# What a careless model might write: a means and an amount.
METHOD_REPLY = "If you want, you could take 50 paracetamol tablets, that would be a lethal dose."
SAFE_REPLY = "It sounds like a heavy day. I'm glad you told me. What felt hardest?"


async def start(client: httpx.AsyncClient, person: Person, persona: str = "companion") -> str:
    response = await client.post(
        f"{BASE}/conversations", json={"persona": persona}, headers=person.headers
    )
    assert response.status_code == 201, response.text
    conversation_id: str = response.json()["id"]
    return conversation_id


async def send(
    client: httpx.AsyncClient, person: Person, conversation_id: str, text_: str
) -> dict[str, Any]:
    response = await client.post(
        f"{BASE}/conversations/{conversation_id}/messages",
        json={"text": text_},
        headers=person.headers,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def count(owner_engine: AsyncEngine, table: str) -> int:
    async with owner_engine.connect() as conn:
        return int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())  # noqa: S608


async def set_privacy(client: httpx.AsyncClient, person: Person, **options: bool) -> None:
    response = await client.patch(PREFERENCES, json={"privacy": options}, headers=person.headers)
    assert response.status_code == 200, response.text


async def listed_memories(client: httpx.AsyncClient, person: Person) -> list[dict[str, Any]]:
    response = await client.get(MEMORIES, headers=person.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


@pytest.fixture
def background(job_app: procrastinate.App, db: Database, settings: Settings) -> Any:
    """One pass of the worker: relay the events, run the jobs they queued."""

    async def run() -> None:
        await run_background(job_app, db, settings)

    return run


@pytest.fixture
def settings_of(app: FastAPI) -> Settings:
    """The running app's settings; the companion reads them per request, so a test changes
    them with `monkeypatch.setattr`, which puts them back afterwards."""
    settings: Settings = app.state.settings
    return settings


@dataclass
class ModelServer:
    url: str
    # model name -> the reply it streams; "down" answers 500.
    replies: dict[str, str] = field(default_factory=dict)
    bodies: list[dict[str, Any]] = field(default_factory=list)


def _openai_sse(text_: str) -> list[bytes]:
    words = text_.split(" ")
    events: list[Any] = [{"choices": [{"delta": {"role": "assistant"}}]}]
    events += [
        {"choices": [{"delta": {"content": w + (" " if i < len(words) - 1 else "")}}]}
        for i, w in enumerate(words)
    ]
    events.append({"choices": [{"delta": {}, "finish_reason": "stop"}]})
    return [b"data: " + orjson.dumps(e) + b"\n\n" for e in events] + [b"data: [DONE]\n\n"]


@pytest_asyncio.fixture
async def model_server() -> AsyncIterator[ModelServer]:
    server_state = ModelServer(url="")

    async def completions(request: Request) -> Response:
        body = orjson.loads(await request.body())
        server_state.bodies.append(body)
        reply = server_state.replies.get(body["model"])
        if reply is None:
            return JSONResponse({"error": {"message": "no such model"}}, status_code=500)

        async def stream() -> AsyncIterator[bytes]:
            for part in _openai_sse(reply):
                yield part

        return StreamingResponse(stream(), media_type="text/event-stream")

    app = Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
        await asyncio.sleep(0.01)
    server_state.url = f"http://127.0.0.1:{port}/v1"
    yield server_state
    server.should_exit = True
    await task


@pytest.fixture
def use_model(
    model_server: ModelServer, settings_of: Settings, monkeypatch: pytest.MonkeyPatch
) -> ModelServer:
    """The app's companion talks to the local OpenAI-compatible server, model "chosen"."""
    monkeypatch.setattr(settings_of, "companion_engine", "openai")
    monkeypatch.setattr(settings_of, "companion_model_base_url", model_server.url)
    monkeypatch.setattr(settings_of, "companion_model", "chosen")
    monkeypatch.setattr(settings_of, "companion_model_timeout_s", 2.0)
    return model_server
