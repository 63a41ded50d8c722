"""What the notification jobs send through, as the composition root hands it to the worker."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from mindspace.platform.messaging import Channel, Provider
from mindspace.platform.webpush import PushTarget


class LiveChannel(Protocol):
    """The one thing notifications need of realtime: an event to a person's open apps."""

    async def emit_to_user(self, user_id: uuid.UUID, event: str, data: dict[str, Any]) -> int: ...


class PushSender(Protocol):
    async def send(
        self, target: PushTarget, payload: bytes, *, urgency: str = "normal"
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class Channels:
    email: Provider
    sms: Provider
    push: PushSender | None = None
    live: LiveChannel | None = None

    @classmethod
    def from_context(cls, extra: dict[str, Any]) -> Channels:
        """From a job's `additional_context`: the worker's providers, `web_push`, and
        `realtime` once the realtime service is wired in (skipped while it is absent)."""
        providers: dict[Channel, Provider] = extra["providers"]
        return cls(
            email=providers[Channel.email],
            sms=providers[Channel.sms],
            push=extra.get("web_push"),
            live=extra.get("realtime"),
        )
