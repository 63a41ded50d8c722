"""Notifications' background tasks. Each defers the next step only after its own transaction
committed, and every step is idempotent (see dispatch.py)."""

from __future__ import annotations

import logging
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

import procrastinate
from procrastinate import JobContext
from procrastinate.exceptions import AlreadyEnqueued

from mindspace.identity.service import NotificationCategory
from mindspace.notifications import dispatch
from mindspace.notifications.channels import Channels
from mindspace.notifications.events import (
    REMINDER_DUE_TOPIC,
    BroadcastQueued,
    NotificationRequested,
)
from mindspace.notifications.kinds import InvalidNotification, validate
from mindspace.notifications.schemas import NotificationOut
from mindspace.platform import jobs
from mindspace.platform.config import Settings
from mindspace.platform.outbox import OutboxEvent
from mindspace.platform.relay import EventBus

log = logging.getLogger(__name__)
blueprint = procrastinate.Blueprint()
LIVE_EVENT = "notification.created"
NAMESPACE = "notifications"
SWEEP_GRACE = timedelta(minutes=5)


def _task(context: JobContext, name: str) -> procrastinate.tasks.Task[Any, Any, Any]:
    # Through the running app, not this module's objects: the task names carry the namespace
    # the composition root gave them.
    return context.app.tasks[f"{NAMESPACE}:{name}"]


async def _defer(
    context: JobContext, name: str, *, lock: str, when: datetime | None = None, **args: Any
) -> None:
    task = _task(context, name)
    try:
        await task.configure(queueing_lock=lock, schedule_at=when).defer_async(**args)
    except AlreadyEnqueued:
        pass  # that step is already waiting to run


async def _push_live(channels: Channels, user_id: uuid.UUID, notification: NotificationOut) -> None:
    if channels.live is None:
        return
    try:
        await channels.live.emit_to_user(user_id, LIVE_EVENT, notification.model_dump(mode="json"))
    except Exception:
        # The inbox has it; an open app that missed the push sees it on its next fetch.
        log.warning("live notification push failed", exc_info=True)


def _settings(context: JobContext) -> Settings:
    settings: Settings = context.additional_context["settings"]
    return settings


@blueprint.task(name="dispatch", pass_context=True, retry=jobs.DEFAULT_RETRY)
async def dispatch_notification(
    context: JobContext,
    request_id: str,
    user_id: str,
    category: str,
    kind: str,
    data: dict[str, Any],
) -> None:
    channels = Channels.from_context(context.additional_context)
    owner = uuid.UUID(user_id)
    done = await dispatch.dispatch(
        jobs.job_database(context),
        request_id=uuid.UUID(request_id),
        user_id=owner,
        category=NotificationCategory(category),
        kind=kind,
        data=data,
        push_enabled=channels.push is not None,
    )
    for delivery_id in done.deliveries:
        await _defer(
            context, "deliver", lock=f"deliver:{delivery_id}", delivery_id=str(delivery_id)
        )
    for channel, when in done.held.items():
        await _defer(
            context,
            "release_held",
            lock=f"release:{owner}:{channel}",
            when=when,
            owner_id=user_id,
            channel=channel,
        )
    if done.notification is not None:
        await _push_live(channels, owner, done.notification)


@blueprint.task(name="deliver", pass_context=True, retry=jobs.DEFAULT_RETRY)
async def deliver(context: JobContext, delivery_id: str) -> None:
    sent = await dispatch.deliver(
        jobs.job_database(context),
        Channels.from_context(context.additional_context),
        delivery_id=uuid.UUID(delivery_id),
        base_url=_settings(context).public_base_url,
    )
    if sent.retry is not None:
        # Recorded already; raising hands the delivery to procrastinate's backoff.
        raise dispatch.DeliveryFailed(str(sent.retry)) from sent.retry


@blueprint.task(name="release_held", pass_context=True, retry=jobs.DEFAULT_RETRY)
async def release_held(context: JobContext, owner_id: str, channel: str) -> None:
    released = await dispatch.release_held(
        jobs.job_database(context), owner_id=uuid.UUID(owner_id), channel=channel
    )
    for delivery_id in released.deliveries:
        await _defer(
            context, "deliver", lock=f"deliver:{delivery_id}", delivery_id=str(delivery_id)
        )
    if released.later is not None:
        await _defer(
            context,
            "release_held",
            lock=f"release:{owner_id}:{channel}",
            when=released.later,
            owner_id=owner_id,
            channel=channel,
        )


@blueprint.task(name="broadcast", pass_context=True, retry=jobs.DEFAULT_RETRY)
async def broadcast(context: JobContext, broadcast_id: str) -> None:
    settings = _settings(context)
    channels = Channels.from_context(context.additional_context)
    batch = await dispatch.broadcast_batch(
        jobs.job_database(context),
        broadcast_id=uuid.UUID(broadcast_id),
        batch_size=settings.broadcast_batch_size,
    )
    for user_id, notification in batch.created:
        await _push_live(channels, user_id, notification)
    if not batch.finished:
        # The throttle: the next batch waits its turn behind other jobs.
        task = _task(context, "broadcast")
        await task.configure(
            queueing_lock=f"broadcast:{broadcast_id}",
            schedule_in={"seconds": settings.broadcast_pause_s},
        ).defer_async(broadcast_id=broadcast_id)


@blueprint.periodic(cron="*/5 * * * *")
@blueprint.task(name="sweep", pass_context=True, retry=jobs.DEFAULT_RETRY)
async def sweep(context: JobContext, timestamp: int) -> None:
    """The safety net: re-queues deliveries whose job was lost, so nothing waits forever."""
    stranded = await dispatch.find_stranded(jobs.job_database(context), grace=SWEEP_GRACE)
    for delivery_id in stranded.deliveries:
        await _defer(
            context, "deliver", lock=f"deliver:{delivery_id}", delivery_id=str(delivery_id)
        )
    for owner_id, channel in stranded.held:
        await _defer(
            context,
            "release_held",
            lock=f"release:{owner_id}:{channel}",
            owner_id=str(owner_id),
            channel=channel,
        )


def _requested(event: OutboxEvent) -> dict[str, Any]:
    return {"request_id": str(event.id), **event.payload}


def _reminder_due(event: OutboxEvent) -> dict[str, Any]:
    """reminders.reminder_due {reminder_id, owner_id, kind, title}, as a reminder_due
    notification. A payload outside the whitelist raises: the relay keeps the event, with the
    error, rather than drop a reminder silently."""
    payload = event.payload
    data = {
        "reminder_id": payload["reminder_id"],
        "reminder_kind": _slug(str(payload.get("kind") or "")),
        "title": str(payload.get("title") or "")[:200] or "Reminder",
    }
    category = NotificationCategory.reminders
    try:
        clean = validate(category, "reminder_due", data)
    except InvalidNotification:
        log.error("reminder_due event outside the whitelist", extra={"event_id": str(event.id)})
        raise
    return {
        "request_id": str(event.id),
        "user_id": str(uuid.UUID(str(payload["owner_id"]))),
        "category": category.value,
        "kind": "reminder_due",
        "data": clean,
    }


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_")[:32]
    return slug if slug[:1].isalpha() else "other"


def subscribe(bus: EventBus, job_app: procrastinate.App) -> None:
    dispatch_task = f"{NAMESPACE}:dispatch"
    bus.subscribe(
        NotificationRequested.topic,
        jobs.defer_on(job_app, dispatch_task, _requested),
        consumer="notifications.dispatch_requested",
    )
    bus.subscribe(
        REMINDER_DUE_TOPIC,
        jobs.defer_on(job_app, dispatch_task, _reminder_due),
        consumer="notifications.dispatch_reminder",
    )
    bus.subscribe(
        BroadcastQueued.topic,
        jobs.defer_on(
            job_app, f"{NAMESPACE}:broadcast", lambda e: {"broadcast_id": e.payload["broadcast_id"]}
        ),
        consumer="notifications.broadcast",
    )
