"""Outbox events to NATS JetStream, for consumers outside this process.

Each event becomes one message on `mindspace.<domain>.<event>` (topic `identity.user_registered`
→ subject `mindspace.identity.user_registered`) with the event id as its `Nats-Msg-Id`. The relay
delivers at least once, so after a crash it may publish an event again; JetStream drops a
re-publish with the same id inside the stream's duplicate window, and a consumer that sees one
later still deduplicates by the `id` in the body, as every consumer of our events must.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

import orjson
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import PubAck, StreamConfig
from nats.js.errors import NotFoundError
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.platform.outbox import OutboxEvent
from mindspace.platform.relay import EventBus, Handler

log = logging.getLogger(__name__)
SUBJECT_PREFIX = "mindspace"
STREAM = "MINDSPACE"
# The relay's consumer name for forwarding (its inbox claims).
CONSUMER = "platform.nats"
# Long enough to cover a relay restarting after a crash; JetStream's own default is 2 minutes.
DUPLICATE_WINDOW = timedelta(minutes=10)
# Other consumers read at their own pace; a week lets one be down for a while and catch up.
MAX_AGE = timedelta(days=7)


class NatsUnavailable(ConnectionError):
    """NATS could not be reached; the relay keeps the event and tries again later."""


def envelope(event: OutboxEvent) -> bytes:
    """The message body: what a consumer needs to act and to deduplicate (`id`)."""
    return orjson.dumps(
        {
            "id": str(event.id),
            "topic": event.topic,
            "occurred_at": event.occurred_at.isoformat(),
            "owner_id": str(event.owner_id) if event.owner_id else None,
            "payload": event.payload,
        }
    )


class NatsPublisher:
    """One connection per process, opened on first use (so a worker starts even while NATS is
    down; its events wait in the outbox) and closed at shutdown."""

    def __init__(
        self,
        url: str,
        *,
        stream: str = STREAM,
        subject_prefix: str = SUBJECT_PREFIX,
        timeout: float = 5.0,
        duplicate_window: timedelta = DUPLICATE_WINDOW,
        max_age: timedelta = MAX_AGE,
    ) -> None:
        self.url = url
        self.stream = stream
        self.subject_prefix = subject_prefix
        self.timeout = timeout
        self.duplicate_window = duplicate_window
        self.max_age = max_age
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._lock = asyncio.Lock()
        self._next_connect = 0.0

    def subject_for(self, topic: str) -> str:
        return f"{self.subject_prefix}.{topic}"

    async def jetstream(self) -> JetStreamContext:
        async with self._lock:
            if self._js is None:
                if time.monotonic() < self._next_connect:
                    # Fail at once while NATS is known to be down: a batch of events must not
                    # wait a connect timeout each.
                    raise NatsUnavailable(f"{self.url} was unreachable moments ago")
                nc = Client()
                try:
                    # nats-py retries a first connection for ever when reconnects are
                    # unlimited: bound it, so the relay records a failure and moves on.
                    await asyncio.wait_for(
                        nc.connect(
                            self.url,
                            connect_timeout=max(1, round(self.timeout)),
                            max_reconnect_attempts=-1,
                            name="mindspace-relay",
                        ),
                        self.timeout,
                    )
                    js = nc.jetstream(timeout=self.timeout)
                    await self._ensure_stream(js)
                except BaseException:
                    self._next_connect = time.monotonic() + self.timeout
                    await nc.close()
                    raise
                self._nc, self._js = nc, js
            return self._js

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        try:
            await js.stream_info(self.stream)
        except NotFoundError:
            # An existing stream keeps its configuration: operators may have tuned it.
            await js.add_stream(
                StreamConfig(
                    name=self.stream,
                    subjects=[f"{self.subject_prefix}.>"],
                    duplicate_window=self.duplicate_window.total_seconds(),
                    max_age=self.max_age.total_seconds(),
                )
            )
            log.info("created JetStream stream", extra={"stream": self.stream})

    async def publish(self, event: OutboxEvent) -> PubAck:
        """Publishes and waits for the stream's acknowledgement; raises when NATS does not
        confirm, so the relay keeps the event and tries again."""
        js = await self.jetstream()
        ack = await js.publish(
            self.subject_for(event.topic),
            envelope(event),
            timeout=self.timeout,
            stream=self.stream,
            headers={"Nats-Msg-Id": str(event.id)},
        )
        if ack.duplicate:
            log.info("JetStream dropped a re-published event", extra={"event_id": str(event.id)})
        return ack

    async def aclose(self) -> None:
        async with self._lock:
            if self._nc is not None:
                await self._nc.drain()
            self._nc, self._js = None, None


def forward_to(bus: EventBus, publisher: NatsPublisher) -> None:
    """Subscribes JetStream publishing to every topic, as one more consumer: an in-process
    consumer that keeps failing does not hold events back from other services."""

    async def forward(session: AsyncSession, event: OutboxEvent) -> None:
        await publisher.publish(event)

    handler: Handler = forward
    bus.subscribe_all(handler, consumer=CONSUMER)
