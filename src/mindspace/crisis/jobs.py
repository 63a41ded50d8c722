"""The crisis domain's background work: putting a new alert in front of staff at once, and
keeping the person's words no longer and in no other form than needed."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

import procrastinate
from procrastinate import JobContext

from mindspace.crisis import service
from mindspace.crisis.events import CrisisAlertRaised
from mindspace.platform import jobs
from mindspace.platform.config import Settings
from mindspace.platform.crypto import Vault
from mindspace.platform.outbox import OutboxEvent
from mindspace.platform.realtime import Realtime
from mindspace.platform.relay import EventBus

blueprint = procrastinate.Blueprint()
log = logging.getLogger(__name__)


@blueprint.task(name="announce_alert", pass_context=True, retry=jobs.DEFAULT_RETRY)
async def announce_alert(context: JobContext, alert_id: str) -> None:
    realtime: Realtime | None = context.additional_context.get("realtime")
    if realtime is not None:
        await service.announce_to_staff(
            jobs.job_database(context), realtime, alert_id=uuid.UUID(alert_id)
        )


# Often, so that a rolling deploy's leftovers (a process of the previous release still writing
# plaintext) are sealed within minutes; once none is left, a run is one empty query.
@blueprint.periodic(cron="*/10 * * * *")
@blueprint.task(
    name="seal_legacy_excerpts", queueing_lock="seal_legacy_excerpts", pass_context=True
)
async def seal_legacy_excerpts(context: JobContext, timestamp: int) -> int:
    vault: Vault = context.additional_context["vault"]
    sealed = await service.seal_legacy_excerpts(jobs.job_database(context), vault)
    if sealed:
        log.info("crisis excerpts sealed", extra={"count": sealed})
    return sealed


@blueprint.periodic(cron="23 * * * *")
@blueprint.task(name="apply_retention", queueing_lock="crisis_apply_retention", pass_context=True)
async def apply_retention(context: JobContext, timestamp: int) -> int:
    """Hourly: an excerpt outlives its retention by an hour at most."""
    settings: Settings = context.additional_context["settings"]
    purged, _pruned = await service.apply_retention(
        jobs.job_database(context),
        excerpt_retention=timedelta(days=settings.crisis_excerpt_retention_days),
    )
    return purged


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
