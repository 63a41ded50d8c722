from __future__ import annotations

from typing import Any

import procrastinate

from mindspace.crisis import service
from mindspace.crisis.api import router
from mindspace.crisis.events import CrisisAlertRaised
from mindspace.platform.domains import Domain
from mindspace.platform.outbox import OutboxEvent


async def _tell_contacts(session: Any, event: OutboxEvent) -> None:
    await service.tell_trusted_contacts(session, event)


def subscribe(bus: Any, job_app: procrastinate.App) -> None:
    bus.subscribe(CrisisAlertRaised.topic, _tell_contacts, consumer="crisis.tell_trusted_contacts")


domain = Domain(name="crisis", router=router, export=service.export_crisis, subscribe=subscribe)
