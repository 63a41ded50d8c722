"""Everything that runs outside requests: the outbox relay, message delivery and the job
worker. `mindspace worker` runs it alone; `mindspace serve` runs it beside the API."""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

import procrastinate

from mindspace.platform.db import Database
from mindspace.platform.messaging import Channel, Provider, deliver_pending
from mindspace.platform.nats import NatsPublisher
from mindspace.platform.relay import EventBus, OutboxListener, relay_once, run_forever

log = logging.getLogger(__name__)


class BackgroundWorker:
    def __init__(
        self,
        db: Database,
        jobs: procrastinate.App,
        bus: EventBus,
        providers: dict[Channel, Provider],
        *,
        context: dict[str, Any],
        nats: NatsPublisher | None = None,
        concurrency: int = 4,
    ) -> None:
        self.db = db
        self.jobs = jobs
        self.bus = bus
        self.providers = providers
        self.concurrency = concurrency
        self.context = context
        self.nats = nats

    async def run(self) -> None:
        """Runs until cancelled. Each part restarts itself on errors (see relay.run_forever);
        procrastinate retries failed jobs by their task's retry strategy."""
        listener = OutboxListener(self.db.engine.url)
        pumps = [
            functools.partial(relay_once, self.db, self.bus),
            functools.partial(deliver_pending, self.db, self.providers),
        ]
        try:
            async with self.jobs.open_async():
                await asyncio.gather(
                    run_forever(pumps, wakeup=listener),
                    self.jobs.run_worker_async(
                        concurrency=self.concurrency,
                        install_signal_handlers=False,
                        additional_context=self.context,
                    ),
                )
        finally:
            await listener.aclose()
            if self.nats is not None:
                await self.nats.aclose()
            for provider in self.providers.values():
                close = getattr(provider, "aclose", None)
                if close is not None:
                    await close()
            storage = self.context.get("storage")
            if storage is not None:
                await storage.aclose()
