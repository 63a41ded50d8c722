"""A channel that is down: the attempt is recorded, the job waits (backoff) and tries again,
and after recovery exactly one message arrives."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import text

from mindspace.notifications import dispatch
from mindspace.notifications.channels import Channels
from mindspace.notifications.models import DeliveryAttempt, NotificationDelivery
from mindspace.platform.db import Database
from tests.notifications.conftest import Background, PushService, SmtpServer
from tests.notifications.test_delivery import (
    Category,
    notify,
    reminder,
    rows,
    security_alert_during_outage,
    subscribe,
    verified_person,
)


@pytest.mark.asyncio
async def test_smtp_down_then_up_delivers_exactly_one_email(
    db: Database, app: FastAPI, background: Background, smtp: SmtpServer
) -> None:
    person = await security_alert_during_outage(db, app, background, smtp)

    for _ in range(2):  # two retries while the server is still down
        (job,) = await background.waiting_jobs()
        # The retry is scheduled later (backoff), not run again at once.
        assert job["task_name"] == "notifications:deliver"
        assert job["in_future"]
        assert await background.fast_forward() == 1
        await background.run()

    (delivery,) = await rows(db, NotificationDelivery)
    assert (delivery.status, delivery.attempts) == ("pending", 3)
    assert (
        "ConnectionRefused" in (delivery.last_error or "")
        or "connect" in (delivery.last_error or "").lower()
    )
    attempts = await rows(db, DeliveryAttempt)
    assert [(a.attempt, a.outcome) for a in attempts] == [
        (1, "failed"),
        (2, "failed"),
        (3, "failed"),
    ]
    assert smtp.inbox.messages == []

    smtp.start()
    await background.fast_forward()
    await background.run()
    # Nothing left to retry, and running the worker again sends nothing more.
    assert await background.waiting_jobs() == []
    await background.fast_forward()
    await background.run()

    assert len(smtp.inbox.messages) == 1
    assert smtp.inbox.envelopes[0][1] == [person.email]
    (delivery,) = await rows(db, NotificationDelivery)
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 4, None)
    attempts = await rows(db, DeliveryAttempt)
    assert [a.outcome for a in attempts] == ["failed", "failed", "failed", "sent"]


@pytest.mark.asyncio
async def test_a_push_service_outage_is_retried_until_it_is_back(
    db: Database, app: FastAPI, background: Background, push_service: PushService, web_push: Any
) -> None:
    person = await verified_person(db, app)
    await subscribe(db, person, push_service)
    background.push = web_push
    push_service.status = 503
    await notify(db, person, **reminder())
    await background.run()

    (delivery,) = await rows(db, NotificationDelivery)
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert "503" in (delivery.last_error or "")
    assert push_service.received == []

    push_service.status = 201
    await background.fast_forward()
    await background.run()
    await background.fast_forward()
    await background.run()
    assert len(push_service.received) == 1
    (delivery,) = await rows(db, NotificationDelivery)
    assert (delivery.status, delivery.attempts) == ("sent", 2)


@pytest.mark.asyncio
async def test_a_delivery_is_given_up_after_its_last_attempt(
    db: Database, app: FastAPI, background: Background, smtp: SmtpServer, owner_engine: Any
) -> None:
    await security_alert_during_outage(db, app, background, smtp)
    async with owner_engine.begin() as conn:
        # As if every attempt but the last had already failed.
        await conn.execute(
            text("UPDATE notification_delivery SET attempts = :n"),
            {"n": dispatch.MAX_SEND_ATTEMPTS - 1},
        )
    await background.fast_forward()
    await background.run()
    (delivery,) = await rows(db, NotificationDelivery)
    assert delivery.attempts == dispatch.MAX_SEND_ATTEMPTS
    assert delivery.status == "failed"
    assert await background.waiting_jobs() == []


@pytest.mark.asyncio
async def test_two_workers_on_one_delivery_send_it_once(
    db: Database, app: FastAPI, background: Background, smtp: SmtpServer
) -> None:
    person = await verified_person(db, app)
    background.email = smtp.provider()
    await notify(db, person, category=Category.security, kind="security_alert")
    await background.run()
    (delivery,) = await rows(db, NotificationDelivery)
    channels = Channels.from_context(background.context())
    again = await dispatch.deliver(db, channels, delivery_id=delivery.id, base_url="http://x")
    assert again.status == "sent"
    assert again.retry is None
    assert len(smtp.inbox.messages) == 1
    missing = await dispatch.deliver(db, channels, delivery_id=uuid.uuid4(), base_url="http://x")
    assert missing.status is None


@pytest.mark.asyncio
async def test_the_sweep_requeues_a_delivery_whose_job_was_lost(
    db: Database, app: FastAPI, background: Background, smtp: SmtpServer, owner_engine: Any
) -> None:
    person = await verified_person(db, app)
    background.email = smtp.provider()
    request_id = await notify(db, person, category=Category.security, kind="security_alert")
    # The dispatch committed its deliveries, then the worker died before deferring them.
    await dispatch.dispatch(
        db,
        request_id=request_id,
        user_id=person.id,
        category=Category.security,
        kind="security_alert",
        data={"reason": "other"},
        push_enabled=False,
    )
    async with owner_engine.begin() as conn:
        await conn.execute(text("UPDATE outbox_event SET published_at = now()"))
        await conn.execute(
            text("UPDATE notification_delivery SET created_at = now() - interval '10 minutes'")
        )
    await background.run()
    assert smtp.inbox.messages == []

    sweep = background.job_app.tasks["notifications:sweep"]
    for _ in range(2):  # a second sweep finds nothing more to send
        await sweep.defer_async(timestamp=0)
        await background.run()
    assert len(smtp.inbox.messages) == 1
    (delivery,) = await rows(db, NotificationDelivery)
    assert delivery.status == "sent"
