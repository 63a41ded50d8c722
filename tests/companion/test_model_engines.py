"""The model engines against real HTTP servers on local ports that speak each provider's
streaming protocol (OpenAI chat completions, Anthropic messages), including the ways a provider
fails: an error status, a refused connection, a stall, a stream that breaks or is empty."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
import pytest_asyncio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from mindspace.companion.engines import (
    ChatMessage,
    EngineRequest,
    EngineUnavailable,
    FallbackEngine,
    Role,
    collect,
)
from mindspace.companion.engines.models import AnthropicEngine, OpenAICompatibleEngine
from mindspace.companion.engines.scripted import ScriptedEngine, respond
from tests.conftest import free_port, serve_locally

pytestmark = pytest.mark.asyncio
WORDS = ["It sounds ", "like a hard ", "day. ", "I'm here."]


def _sse(events: list[Any]) -> list[bytes]:
    return [b"data: " + (e if isinstance(e, bytes) else orjson.dumps(e)) + b"\n\n" for e in events]


def _openai_events(model: str) -> list[Any]:
    chunks: list[Any] = [{"choices": [{"delta": {"role": "assistant"}}]}]
    chunks += [{"choices": [{"delta": {"content": w}}]} for w in WORDS]
    if model == "breaks":
        return [*chunks[:2], b"{not json"]
    if model == "empty":
        return [chunks[0], b"[DONE]"]
    if model == "error-in-stream":
        return [chunks[0], {"error": {"message": "overloaded"}}]
    return [*chunks, {"choices": [{"delta": {}, "finish_reason": "stop"}]}, b"[DONE]"]


def _anthropic_events(model: str) -> list[Any]:
    events: list[Any] = [
        {"type": "message_start", "message": {"id": "msg_1"}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text"}},
    ]
    events += [
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": w}}
        for w in WORDS
    ]
    if model == "error-in-stream":
        return [*events[:3], {"type": "error", "error": {"type": "overloaded_error"}}]
    return [*events, {"type": "content_block_stop"}, {"type": "message_stop"}]


class Provider:
    """What the local provider received, for the assertions."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []

    async def _handle(self, request: Request, events_for: Any) -> Response:
        body = orjson.loads(await request.body())
        self.bodies.append(body)
        self.headers.append(dict(request.headers))
        model = body["model"]
        if model == "http-500":
            return JSONResponse({"error": {"message": "boom"}}, status_code=500)
        if model == "stall":
            await asyncio.sleep(1.5)  # well past the client's read timeout

        async def stream() -> AsyncIterator[bytes]:
            for part in _sse(events_for(model)):
                yield part

        return StreamingResponse(stream(), media_type="text/event-stream")

    async def openai(self, request: Request) -> Response:
        return await self._handle(request, _openai_events)

    async def anthropic(self, request: Request) -> Response:
        return await self._handle(request, _anthropic_events)


@pytest_asyncio.fixture
async def provider() -> AsyncIterator[tuple[Provider, str]]:
    state = Provider()
    app = Starlette(
        routes=[
            Route("/v1/chat/completions", state.openai, methods=["POST"]),
            Route("/v1/messages", state.anthropic, methods=["POST"]),
        ]
    )
    async with serve_locally(app) as base_url:
        yield state, base_url


def _request(text: str = "I had a rough day") -> EngineRequest:
    history = [
        ChatMessage(Role.user, "hello"),
        ChatMessage(Role.assistant, "Hello, how are you feeling?"),
    ]
    return EngineRequest(history=history, text=text, persona="companion", locale="en-GB")


async def test_openai_compatible_streams_the_reply_with_prompt_and_history(
    provider: tuple[Provider, str],
) -> None:
    state, url = provider
    engine = OpenAICompatibleEngine(base_url=f"{url}/v1", model="ok", api_key="sk-local")
    reply = await engine.start(_request())
    chunks = [c async for c in reply.chunks]
    await engine.aclose()
    assert chunks == WORDS
    assert reply.engine == "openai"
    body = state.bodies[0]
    assert body["stream"] is True
    assert body["messages"][0]["role"] == "system"
    assert "never a licensed therapist" in body["messages"][0]["content"]
    assert [m["content"] for m in body["messages"][1:]] == [
        "hello",
        "Hello, how are you feeling?",
        "I had a rough day",
    ]
    assert state.headers[0]["authorization"] == "Bearer sk-local"


async def test_anthropic_streams_text_deltas_with_the_system_prompt(
    provider: tuple[Provider, str],
) -> None:
    state, url = provider
    engine = AnthropicEngine(base_url=url, model="ok", api_key="local-key")
    reply = await engine.start(_request())
    assert await collect(reply) == "".join(WORDS)
    await engine.aclose()
    assert "AI wellbeing companion" in state.bodies[0]["system"]
    assert state.headers[0]["x-api-key"] == "local-key"
    assert state.headers[0]["anthropic-version"] == AnthropicEngine.API_VERSION


@pytest.mark.parametrize("model", ["http-500", "stall"])
async def test_a_failing_provider_is_unavailable_before_anything_is_sent(
    provider: tuple[Provider, str], model: str
) -> None:
    _, url = provider
    engine = OpenAICompatibleEngine(base_url=f"{url}/v1", model=model, timeout_s=0.5)
    with pytest.raises(EngineUnavailable):
        await collect(await engine.start(_request()))
    await engine.aclose()


@pytest.mark.parametrize(
    ("kind", "model"),
    [
        ("openai", "breaks"),
        ("openai", "empty"),
        ("openai", "error-in-stream"),
        ("anthropic", "error-in-stream"),
    ],
)
async def test_a_bad_stream_is_unavailable(
    provider: tuple[Provider, str], kind: str, model: str
) -> None:
    _, url = provider
    engine = (
        OpenAICompatibleEngine(base_url=f"{url}/v1", model=model)
        if kind == "openai"
        else AnthropicEngine(base_url=url, model=model, api_key="k")
    )
    with pytest.raises(EngineUnavailable):
        await collect(await engine.start(_request()))
    await engine.aclose()


async def test_a_refused_connection_falls_back_to_the_scripted_companion() -> None:
    dead = OpenAICompatibleEngine(base_url=f"http://127.0.0.1:{free_port()}/v1", model="ok")
    engine = FallbackEngine(dead, ScriptedEngine())
    reply = await engine.start(_request("grounding"))
    assert await collect(reply) == respond("grounding", {})[0]
    assert reply.engine == "scripted"
    assert reply.state["flow"] == "grounding"
    await dead.aclose()


async def test_a_stream_that_breaks_midway_is_finished_by_the_scripted_companion(
    provider: tuple[Provider, str],
) -> None:
    _, url = provider
    model = OpenAICompatibleEngine(base_url=f"{url}/v1", model="breaks")
    engine = FallbackEngine(model, ScriptedEngine())
    reply = await engine.start(_request("I feel lonely"))
    text = await collect(reply)
    await model.aclose()
    assert text.startswith("".join(WORDS[:1]))
    assert "lost my train of thought" in text
    assert respond("I feel lonely", {})[0] in text
    assert reply.engine == "scripted"  # so no credit is charged for it
