"""notify() to arrival: email over real SMTP, Web Push to a real push service, SMS to a
Twilio-shaped server; the inbox entry and its live push; nothing when the caller rolls back."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from mindspace.identity import service as identity
from mindspace.notifications import service as notifications
from mindspace.notifications.models import (
    DeliveryAttempt,
    Notification,
    NotificationDelivery,
    PushSubscription,
)
from mindspace.notifications.schemas import PushSubscriptionCreate
from mindspace.platform.clock import utc_now
from mindspace.platform.db import Database, DbScope
from tests.conftest import Person, create_user
from tests.notifications.conftest import Background, LiveRecorder, PushService, SmtpServer

Category = notifications.NotificationCategory
# What a reminder may be called by the person who set it: it must stay inside the app.
SECRET = "talk to Dr. Reyes about the panic attacks"


async def notify(db: Database, person: Person, **kwargs: Any) -> uuid.UUID:
    async with db.session(person.principal) as session:
        return notifications.notify(session, user_id=person.id, **kwargs)


def reminder(title: str = SECRET) -> dict[str, Any]:
    return {
        "category": Category.reminders,
        "kind": "reminder_due",
        "data": {"reminder_id": uuid.uuid4(), "reminder_kind": "therapy", "title": title},
    }


async def rows(db: Database, model: Any) -> list[Any]:
    async with db.session(None, scope=DbScope.system) as session:
        return list((await session.execute(select(model).order_by(model.id))).scalars())


async def verified_person(db: Database, app: FastAPI, **overrides: Any) -> Person:
    return await create_user(db, app.state.tokens, email_verified_at=utc_now(), **overrides)


async def security_alert_during_outage(
    db: Database, app: FastAPI, background: Background, smtp: SmtpServer
) -> Person:
    """A person whose security alert's first email attempt has failed: SMTP was down."""
    person = await verified_person(db, app)
    background.email = smtp.provider()
    smtp.stop()
    await notify(db, person, category=Category.security, kind="security_alert")
    await background.run()
    return person


async def subscribe(db: Database, person: Person, push_service: PushService) -> None:
    browser = push_service.browser()
    await notifications.subscribe_push(
        db,
        person.principal,
        subscription=PushSubscriptionCreate.model_validate(browser.subscription()),
        user_agent="test browser",
        push_enabled=True,
        allow_private=True,  # the local push service is on 127.0.0.1
    )


@pytest.mark.asyncio
async def test_a_notification_reaches_the_inbox_and_the_open_app(
    db: Database, app: FastAPI, background: Background
) -> None:
    person = await verified_person(db, app)
    background.live = LiveRecorder()
    notification_id = await notify(db, person, **reminder())
    await background.run()

    (row,) = await rows(db, Notification)
    assert row.id == notification_id
    assert row.owner_id == person.id
    assert (row.kind, row.category, row.title, row.body) == (
        "reminder_due",
        "reminders",
        "Reminder",
        SECRET,
    )
    ((user_id, event, data),) = background.live.events
    assert (user_id, event) == (person.id, "notification.created")
    assert data["id"].startswith("ntf_")
    assert data["body"] == SECRET


@pytest.mark.asyncio
async def test_without_realtime_the_inbox_still_gets_it(
    db: Database, app: FastAPI, background: Background
) -> None:
    person = await verified_person(db, app)
    assert background.live is None
    await notify(db, person, **reminder())
    await background.run()
    assert len(await rows(db, Notification)) == 1


@pytest.mark.asyncio
async def test_a_rolled_back_caller_notifies_no_one(
    db: Database, app: FastAPI, background: Background
) -> None:
    person = await verified_person(db, app)
    with pytest.raises(RuntimeError):
        async with db.session(person.principal) as session:
            notifications.notify(session, user_id=person.id, **reminder())
            raise RuntimeError("the caller failed")
    await background.run()
    assert await rows(db, Notification) == []
    assert await rows(db, NotificationDelivery) == []


@pytest.mark.asyncio
async def test_notify_refuses_data_outside_the_kinds_whitelist(db: Database, user: Person) -> None:
    async with db.session(user.principal) as session:
        with pytest.raises(notifications.InvalidNotification):
            notifications.notify(
                session,
                user_id=user.id,
                category=Category.community,
                kind="community_reply",
                data={"post_id": uuid.uuid4(), "excerpt": "my journal says..."},
            )
        with pytest.raises(notifications.InvalidNotification):
            notifications.notify(
                session, user_id=user.id, category=Category.marketing, kind="reminder_due"
            )
        with pytest.raises(notifications.InvalidNotification):
            notifications.notify(session, user_id=user.id, category=Category.security, kind="nope")
        with pytest.raises(notifications.InvalidNotification):
            notifications.notify(
                session,
                user_id=user.id,
                category="security",  # type: ignore[arg-type]
                kind="security_alert",
            )


@pytest.mark.asyncio
async def test_email_goes_over_smtp_in_the_persons_language_without_the_content(
    db: Database, app: FastAPI, background: Background, smtp: SmtpServer
) -> None:
    person = await verified_person(db, app, locale="es", display_name="Lucía")
    async with db.session(person.principal) as session:
        await identity.update_preferences(
            session,
            person.principal,
            changes=identity_update({"reminders": {"email": True}}),
        )
    background.email = smtp.provider()
    await notify(db, person, **reminder())
    await background.run()

    (message,) = smtp.inbox.messages
    assert message["To"] == person.email
    assert message["Subject"] == "Recordatorio"
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None
    assert html is not None
    text_part, html_part = plain.get_content(), html.get_content()
    assert "Hola, Lucía" in text_part
    assert "Tienes un recordatorio en Mindspace." in text_part
    assert "/reminders" in text_part
    assert '<a href="' in html_part
    for part in (text_part, html_part, str(message["Subject"])):
        for secret in ("Reyes", "panic", "therapy"):
            assert secret not in part
    (delivery,) = await rows(db, NotificationDelivery)
    assert (delivery.channel, delivery.status, delivery.attempts) == ("email", "sent", 1)
    (attempt,) = await rows(db, DeliveryAttempt)
    assert (attempt.outcome, attempt.attempt, attempt.error) == ("sent", 1, None)


def identity_update(channels: dict[str, dict[str, bool]]) -> Any:
    from mindspace.identity.schemas import PreferencesUpdate

    return PreferencesUpdate.model_validate({"channels": channels})


@pytest.mark.asyncio
async def test_an_unverified_email_address_gets_nothing(
    db: Database, app: FastAPI, background: Background, smtp: SmtpServer
) -> None:
    person = await create_user(db, app.state.tokens)  # email not verified
    background.email = smtp.provider()
    await notify(db, person, category=Category.security, kind="security_alert")
    await background.run()
    assert smtp.inbox.messages == []
    assert len(await rows(db, Notification)) == 1


@pytest.mark.asyncio
async def test_push_is_signed_with_vapid_and_shows_no_content(
    db: Database, app: FastAPI, background: Background, push_service: PushService, web_push: Any
) -> None:
    person = await verified_person(db, app)
    await subscribe(db, person, push_service)
    background.push = web_push
    await notify(db, person, **reminder())
    await background.run()

    assert push_service.refused == []
    (payload,) = push_service.received
    assert payload == {
        "title": "Reminder",
        "body": "You have a reminder in Mindspace.",
        "url": "/reminders",
        "tag": "reminder_due",
    }
    assert SECRET not in str(push_service.headers)
    (subscription,) = await rows(db, PushSubscription)
    assert subscription.last_success_at is not None


@pytest.mark.asyncio
async def test_a_push_service_refuses_a_token_signed_by_another_key(
    db: Database, app: FastAPI, background: Background, push_service: PushService, web_push: Any
) -> None:
    person = await verified_person(db, app)
    await subscribe(db, person, push_service)
    background.push = web_push
    push_service.server_public_key = "some-other-servers-key"
    await notify(db, person, **reminder())
    await background.run()

    assert push_service.received == []
    assert push_service.refused == ["unknown application server key"]
    (delivery,) = await rows(db, NotificationDelivery)
    # 401 from the push service: our key is refused; retrying the same request cannot help.
    assert delivery.status == "failed"
    assert "401" in (delivery.last_error or "")


@pytest.mark.asyncio
async def test_a_subscription_the_browser_dropped_is_forgotten(
    db: Database, app: FastAPI, background: Background, push_service: PushService, web_push: Any
) -> None:
    person = await verified_person(db, app)
    await subscribe(db, person, push_service)
    background.push = web_push
    push_service.status = 410
    await notify(db, person, **reminder())
    await background.run()

    assert await rows(db, PushSubscription) == []
    (delivery,) = await rows(db, NotificationDelivery)
    assert delivery.status == "skipped"
    assert await background.waiting_jobs() == []


@pytest.mark.asyncio
async def test_sms_goes_through_the_sms_provider_without_the_content(
    db: Database, app: FastAPI, background: Background, twilio: Any
) -> None:
    person = await verified_person(db, app, phone="+34600111222", phone_verified_at=utc_now())
    await notify(db, person, category=Category.crisis_followup, kind="crisis_followup")
    await background.run()

    (text_,) = twilio.texts
    assert text_["To"] == ["+34600111222"]
    assert text_["Body"][0].startswith("Mindspace: Someone from Mindspace would like to check in")
    (delivery,) = [d for d in await rows(db, NotificationDelivery) if d.channel == "sms"]
    assert delivery.status == "sent"


@pytest.mark.asyncio
async def test_a_channel_switched_off_is_not_used(
    db: Database, app: FastAPI, background: Background, smtp: SmtpServer
) -> None:
    person = await verified_person(db, app)
    async with db.session(person.principal) as session:
        await identity.update_preferences(
            session,
            person.principal,
            changes=identity_update({"community": {"in_app": False, "push": False}}),
        )
    background.email = smtp.provider()
    await notify(
        db,
        person,
        category=Category.community,
        kind="community_reply",
        data={"post_id": uuid.uuid4()},
    )
    await background.run()
    assert await rows(db, Notification) == []
    assert await rows(db, NotificationDelivery) == []
    assert smtp.inbox.messages == []


@pytest.mark.asyncio
async def test_another_domain_may_notify_someone_other_than_the_actor(
    db: Database, app: FastAPI, background: Background
) -> None:
    author = await verified_person(db, app)
    replier = await verified_person(db, app)
    async with db.session(replier.principal) as session:
        notifications.notify(
            session,
            user_id=author.id,
            category=Category.community,
            kind="community_reply",
            data={"post_id": uuid.uuid4()},
        )
    await background.run()
    (row,) = await rows(db, Notification)
    assert row.owner_id == author.id


@pytest.mark.asyncio
async def test_a_rerun_of_the_dispatch_creates_and_sends_nothing_twice(
    db: Database, app: FastAPI, background: Background, smtp: SmtpServer
) -> None:
    from mindspace.notifications import dispatch

    person = await verified_person(db, app)
    background.email = smtp.provider()
    request_id = await notify(db, person, category=Category.security, kind="security_alert")
    await background.run()
    again = await dispatch.dispatch(
        db,
        request_id=request_id,
        user_id=person.id,
        category=Category.security,
        kind="security_alert",
        data={"reason": "other"},
        push_enabled=False,
    )
    assert again.deliveries == []
    assert len(await rows(db, Notification)) == 1
    assert len(await rows(db, NotificationDelivery)) == 1
    assert len(smtp.inbox.messages) == 1


@pytest.mark.asyncio
async def test_an_address_changed_before_sending_is_not_used(
    db: Database, app: FastAPI, background: Background, smtp: SmtpServer, owner_engine: Any
) -> None:
    person = await security_alert_during_outage(db, app, background, smtp)
    async with owner_engine.begin() as conn:
        await conn.execute(
            text("UPDATE user_account SET email = 'new-' || email WHERE id = :id"),
            {"id": person.id},
        )
    smtp.start()
    await background.fast_forward()
    await background.run()
    assert smtp.inbox.messages == []
    (delivery,) = await rows(db, NotificationDelivery)
    assert delivery.status == "skipped"
    assert await background.waiting_jobs() == []
