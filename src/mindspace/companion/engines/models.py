"""Language-model engines: any OpenAI-compatible chat-completions endpoint (OpenAI, Ollama,
vLLM, llama.cpp's server) and Anthropic's Messages API, both streamed over server-sent events.

Any failure (a refused connection, a timeout, an error status, a stream that breaks or carries
no text) is `EngineUnavailable`, so the conversation falls back to the scripted engine. What a
model writes is never trusted: the conversation service checks it before the person sees it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import orjson

from mindspace.companion.engines import ChatMessage, EngineReply, EngineRequest, EngineUnavailable
from mindspace.companion.prompts import system_prompt

# Enough history for context without sending a whole conversation every turn.
MAX_HISTORY_MESSAGES = 24
TextOf = Callable[[dict[str, Any]], str | None]


def _messages(request: EngineRequest) -> list[dict[str, str]]:
    recent: list[ChatMessage] = list(request.history)[-MAX_HISTORY_MESSAGES:]
    turns = [{"role": m.role.value, "content": m.content} for m in recent]
    return [*turns, {"role": "user", "content": request.text}]


class _StreamingEngine:
    """Opens a streamed POST, then yields the text of each SSE `data:` event."""

    name: str

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        headers: dict[str, str],
        timeout_s: float,
        max_tokens: int,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.model = model
        self.max_tokens = max_tokens
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers=headers,
            # The read timeout bounds the wait for each chunk, not the whole reply.
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0)),
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _open(self, path: str, body: dict[str, Any]) -> httpx.Response:
        try:
            response = await self._client.send(
                self._client.build_request("POST", path, json=body), stream=True
            )
        except httpx.HTTPError as exc:
            raise EngineUnavailable(f"{self.name}: {exc!r}") from exc
        if response.status_code != 200:
            await response.aclose()
            raise EngineUnavailable(f"{self.name}: HTTP {response.status_code}")
        return response

    async def _chunks(self, response: httpx.Response, text_of: TextOf) -> AsyncIterator[str]:
        produced = False
        try:
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                try:
                    event = orjson.loads(data)
                except orjson.JSONDecodeError as exc:
                    raise EngineUnavailable(f"{self.name}: malformed event") from exc
                if isinstance(event, dict) and "error" in event:
                    raise EngineUnavailable(f"{self.name}: provider error in stream")
                text = text_of(event) if isinstance(event, dict) else None
                if text:
                    produced = True
                    yield text
        except httpx.HTTPError as exc:
            raise EngineUnavailable(f"{self.name}: stream broke: {exc!r}") from exc
        finally:
            await response.aclose()
        if not produced:
            raise EngineUnavailable(f"{self.name}: empty reply")


def _openai_text(event: dict[str, Any]) -> str | None:
    choices = event.get("choices") or []
    delta = choices[0].get("delta", {}) if choices and isinstance(choices[0], dict) else {}
    content = delta.get("content") if isinstance(delta, dict) else None
    return content if isinstance(content, str) else None


class OpenAICompatibleEngine(_StreamingEngine):
    name = "openai"

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 20.0,
        max_tokens: int = 600,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        super().__init__(
            base_url=base_url,
            model=model,
            headers=headers,
            timeout_s=timeout_s,
            max_tokens=max_tokens,
            transport=transport,
        )

    async def start(self, request: EngineRequest) -> EngineReply:
        body = {
            "model": self.model,
            "stream": True,
            "max_tokens": self.max_tokens,
            "temperature": 0.7,
            "messages": [
                {
                    "role": "system",
                    "content": system_prompt(request.persona, request.locale, request.memories),
                },
                *_messages(request),
            ],
        }
        response = await self._open("/chat/completions", body)
        return EngineReply(
            chunks=self._chunks(response, _openai_text), state=request.state, engine=self.name
        )


def _anthropic_text(event: dict[str, Any]) -> str | None:
    if event.get("type") != "content_block_delta":
        return None
    delta = event.get("delta") or {}
    text = delta.get("text") if delta.get("type") == "text_delta" else None
    return text if isinstance(text, str) else None


class AnthropicEngine(_StreamingEngine):
    name = "anthropic"
    API_VERSION = "2023-06-01"

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str = "https://api.anthropic.com",
        timeout_s: float = 20.0,
        max_tokens: int = 600,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(
            base_url=base_url,
            model=model,
            headers={"x-api-key": api_key, "anthropic-version": self.API_VERSION},
            timeout_s=timeout_s,
            max_tokens=max_tokens,
            transport=transport,
        )

    async def start(self, request: EngineRequest) -> EngineReply:
        body = {
            "model": self.model,
            "stream": True,
            "max_tokens": self.max_tokens,
            "system": system_prompt(request.persona, request.locale, request.memories),
            "messages": _messages(request),
        }
        response = await self._open("/v1/messages", body)
        return EngineReply(
            chunks=self._chunks(response, _anthropic_text), state=request.state, engine=self.name
        )
