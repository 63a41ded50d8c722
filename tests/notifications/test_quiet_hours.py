"""Quiet hours: the window rule across midnight and DST, and what is held until they end."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from sqlalchemy.dialects.postgresql import insert

from mindspace.notifications.models import NotificationDelivery, NotificationSettings
from mindspace.notifications.quiet_hours import quiet_until
from mindspace.platform.db import Database
from tests.notifications.conftest import Background, PushService, SmtpServer
from tests.notifications.test_delivery import (
    Category,
    identity_update,
    notify,
    reminder,
    rows,
    subscribe,
    verified_person,
)

NIGHT = (time(22, 0), time(7, 0))


def at(zone: str, *args: int) -> datetime:
    year, month, day, hour, minute = args
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone))


def test_outside_the_window_nothing_is_held() -> None:
    assert quiet_until(at("Europe/Madrid", 2026, 6, 1, 12, 0), "Europe/Madrid", *NIGHT) is None
    assert quiet_until(at("Europe/Madrid", 2026, 6, 1, 7, 0), "Europe/Madrid", *NIGHT) is None
    assert quiet_until(at("Europe/Madrid", 2026, 6, 1, 21, 59), "Europe/Madrid", *NIGHT) is None


def test_a_window_across_midnight_ends_the_next_morning_local_time() -> None:
    late = at("Europe/Madrid", 2026, 6, 1, 23, 30)
    assert quiet_until(late, "Europe/Madrid", *NIGHT) == at("Europe/Madrid", 2026, 6, 2, 7, 0)
    early = at("Europe/Madrid", 2026, 6, 2, 3, 0)
    assert quiet_until(early, "Europe/Madrid", *NIGHT) == at("Europe/Madrid", 2026, 6, 2, 7, 0)
    start = at("Europe/Madrid", 2026, 6, 1, 22, 0)
    assert quiet_until(start, "Europe/Madrid", *NIGHT) == at("Europe/Madrid", 2026, 6, 2, 7, 0)


def test_the_window_is_read_in_the_persons_zone_not_utc() -> None:
    # 05:00 UTC is 22:00 the evening before in Los Angeles (PDT): quiet there, not in Madrid.
    now = datetime(2026, 6, 2, 5, 0, tzinfo=UTC)
    assert quiet_until(now, "America/Los_Angeles", *NIGHT) == datetime(
        2026, 6, 2, 14, 0, tzinfo=UTC
    )
    assert quiet_until(now, "Europe/Madrid", *NIGHT) is None


def test_a_daytime_window_and_an_empty_one() -> None:
    nap = (time(13, 0), time(15, 0))
    now = at("Asia/Kolkata", 2026, 1, 5, 14, 0)
    assert quiet_until(now, "Asia/Kolkata", *nap) == at("Asia/Kolkata", 2026, 1, 5, 15, 0)
    assert quiet_until(now, "Asia/Kolkata", time(9, 0), time(9, 0)) is None


def test_a_night_when_clocks_go_forward_is_an_hour_shorter() -> None:
    # New York, 8 March 2026: 02:00 EST becomes 03:00 EDT.
    now = at("America/New_York", 2026, 3, 7, 23, 0)
    until = quiet_until(now, "America/New_York", *NIGHT)
    assert until == datetime(2026, 3, 8, 11, 0, tzinfo=UTC)  # 07:00 EDT
    assert until - now == timedelta(hours=7)


def test_a_night_when_clocks_go_back_is_an_hour_longer() -> None:
    # New York, 1 November 2026: 02:00 EDT becomes 01:00 EST.
    now = at("America/New_York", 2026, 10, 31, 23, 0)
    until = quiet_until(now, "America/New_York", *NIGHT)
    assert until == datetime(2026, 11, 1, 12, 0, tzinfo=UTC)  # 07:00 EST
    assert until - now == timedelta(hours=9)


def test_an_end_inside_the_spring_gap_is_never_early() -> None:
    now = at("Europe/Madrid", 2026, 3, 29, 1, 0)  # Madrid jumps 02:00 → 03:00 that night
    until = quiet_until(now, "Europe/Madrid", time(0, 0), time(2, 30))
    assert until is not None
    jump = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 02:00 CET = 03:00 CEST
    assert jump <= until <= jump + timedelta(hours=1)


def test_during_the_repeated_hour_the_window_still_holds() -> None:
    # 01:30 happens twice in New York on 1 November 2026; both are inside 22:00–07:00.
    first = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT
    second = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # 01:30 EST
    for now in (first, second):
        assert quiet_until(now, "America/New_York", *NIGHT) == datetime(
            2026, 11, 1, 12, 0, tzinfo=UTC
        )


async def quiet_now(db: Database, person: Any, zone: str) -> None:
    """Quiet hours around the current time in `zone`."""
    local = datetime.now(ZoneInfo(zone))
    start = (local - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (local + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    async with db.session(person.principal) as session:
        await session.execute(
            insert(NotificationSettings).values(
                owner_id=person.id, quiet_start=start, quiet_end=end
            )
        )


@pytest.mark.asyncio
async def test_during_quiet_hours_non_critical_is_held_and_arrives_as_one_digest(
    db: Database,
    app: FastAPI,
    background: Background,
    smtp: SmtpServer,
    push_service: PushService,
    web_push: Any,
) -> None:
    zone = "Pacific/Auckland"
    person = await verified_person(db, app, timezone=zone)
    await quiet_now(db, person, zone)
    async with db.session(person.principal) as session:
        from mindspace.identity import service as identity

        await identity.update_preferences(
            session, person.principal, changes=identity_update({"community": {"email": True}})
        )
    await subscribe(db, person, push_service)
    background.email, background.push = smtp.provider(), web_push
    for _ in range(3):
        await notify(
            db,
            person,
            category=Category.community,
            kind="community_reply",
            data={"post_id": uuid.uuid4()},
        )
    await background.run()

    assert smtp.inbox.messages == []
    assert push_service.received == []
    held = await rows(db, NotificationDelivery)
    assert {(d.channel, d.status) for d in held} == {("email", "held"), ("push", "held")}
    assert len(held) == 6
    # One release per channel waits for the end of quiet hours, not one per notification.
    waiting = await background.waiting_jobs()
    assert [j["task_name"] for j in waiting] == ["notifications:release_held"] * 2
    assert all(j["in_future"] for j in waiting)

    await background.fast_forward()
    await background.run()

    (email,) = smtp.inbox.messages
    assert email["Subject"] == "3 new notifications"
    assert "You have 3 new notifications in Mindspace." in email.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    (push,) = push_service.received
    assert push["title"] == "3 new notifications"
    statuses = sorted(d.status for d in await rows(db, NotificationDelivery))
    assert statuses == ["digested"] * 6 + ["sent"] * 2
    assert await background.waiting_jobs() == []


@pytest.mark.asyncio
async def test_a_single_held_notification_goes_as_itself(
    db: Database, app: FastAPI, background: Background, push_service: PushService, web_push: Any
) -> None:
    zone = "America/Sao_Paulo"
    person = await verified_person(db, app, timezone=zone)
    await quiet_now(db, person, zone)
    await subscribe(db, person, push_service)
    background.push = web_push
    await notify(db, person, **reminder())
    await background.run()
    assert push_service.received == []
    await background.fast_forward()
    await background.run()
    (push,) = push_service.received
    assert push["title"] == "Reminder"


@pytest.mark.asyncio
async def test_critical_notifications_ignore_quiet_hours(
    db: Database, app: FastAPI, background: Background, smtp: SmtpServer
) -> None:
    zone = "Europe/Madrid"
    person = await verified_person(db, app, timezone=zone)
    await quiet_now(db, person, zone)
    background.email = smtp.provider()
    await notify(db, person, category=Category.security, kind="security_alert")
    await notify(db, person, category=Category.payments, kind="payment_failed")
    await background.run()
    assert sorted(m["Subject"] for m in smtp.inbox.messages) == [
        "A payment did not go through",
        "Security alert",
    ]
