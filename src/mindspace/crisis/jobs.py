"""The crisis domain's background work: putting a new alert in front of staff at once."""

from __future__ import annotations

import uuid

import procrastinate
from procrastinate import JobContext

from mindspace.crisis import service
from mindspace.crisis.events import CrisisAlertRaised
from mindspace.platform import jobs
from mindspace.platform.outbox import OutboxEvent
from mindspace.platform.realtime import Realtime
from mindspace.platform.relay import EventBus

blueprint = procrastinate.Blueprint()


@blueprint.task(name="announce_alert", pass_context=True, retry=jobs.DEFAULT_RETRY)
async def announce_alert(context: JobContext, alert_id: str) -> None:
    realtime: Realtime | None = context.additional_context.get("realtime")
    if realtime is not None:
        await service.announce_to_staff(
            jobs.job_database(context), realtime, alert_id=uuid.UUID(alert_id)
        )


def subscribe(bus: EventBus, job_app: procrastinate.App) -> None:
    bus.subscribe(
        CrisisAlertRaised.topic,
        service.tell_trusted_contacts,
        consumer="crisis.tell_trusted_contacts",
    )
    bus.subscribe(
        CrisisAlertRaised.topic,
        jobs.defer_on(job_app, "crisis:announce_alert", _alert_id),
        consumer="crisis.announce_alert",
    )


def _alert_id(event: OutboxEvent) -> dict[str, str]:
    return {"alert_id": jobs.event_uuid(event, "alert_id")}
