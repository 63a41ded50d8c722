"""The companion's reply engines: one interface, a scripted CBT engine that needs no network,
and adapters for hosted or local language models.

An engine only writes replies. It never decides safety: the conversation service runs the
safety gate before any engine sees a message, and checks every model reply before it is sent.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Role(enum.StrEnum):
    user = "user"
    assistant = "assistant"


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class EngineRequest:
    """What an engine needs for one reply. `state` is the engine's own memory of the
    conversation (the scripted engine's place in a guided flow), stored by the caller."""

    history: Sequence[ChatMessage]
    text: str
    persona: str = "companion"
    locale: str = "en"
    state: dict[str, Any] = field(default_factory=dict)
    # Summaries of past conversations the person let the companion keep, most relevant first.
    memories: Sequence[str] = ()


@dataclass(slots=True)
class EngineReply:
    """A reply under way: its chunks as they are produced, and the engine state to store once
    it is complete."""

    chunks: AsyncIterator[str]
    state: dict[str, Any]
    engine: str  # which engine wrote it (a fallback changes it): model replies cost credits


class EngineUnavailable(RuntimeError):
    """The engine could not answer (timeout, provider error, malformed stream); the caller
    falls back to the scripted engine."""


class Engine(Protocol):
    name: str

    async def start(self, request: EngineRequest) -> EngineReply:
        """Begins a reply. A provider that cannot be reached raises `EngineUnavailable` here,
        before anything reached the person; a stream that breaks later raises it from the
        chunk iterator."""
        ...


async def collect(reply: EngineReply) -> str:
    return "".join([chunk async for chunk in reply.chunks])


class FallbackEngine:
    """A model engine backed by the scripted one: when the model cannot be reached, or its
    stream breaks, the person still gets an answer."""

    def __init__(self, primary: Engine, fallback: Engine) -> None:
        self.primary = primary
        self.fallback = fallback
        self.name = primary.name

    async def start(self, request: EngineRequest) -> EngineReply:
        try:
            reply = await self.primary.start(request)
        except EngineUnavailable as exc:
            log.warning("companion engine unavailable, using fallback", extra={"error": str(exc)})
            return await self.fallback.start(request)
        guarded = EngineReply(chunks=reply.chunks, state=reply.state, engine=reply.engine)
        guarded.chunks = self._guard(reply.chunks, request, guarded)
        return guarded

    async def _guard(
        self, chunks: AsyncIterator[str], request: EngineRequest, reply: EngineReply
    ) -> AsyncIterator[str]:
        sent = False
        try:
            async for chunk in chunks:
                sent = True
                yield chunk
        except EngineUnavailable as exc:
            log.warning("companion stream broke, using fallback", extra={"error": str(exc)})
            if sent:
                yield "\n\nSorry, I lost my train of thought for a moment. "
            rescue = await self.fallback.start(request)
            reply.state, reply.engine = rescue.state, rescue.engine
            async for chunk in rescue.chunks:
                yield chunk
