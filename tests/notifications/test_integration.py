"""Where notifications meet the rest of the product: reminders' events, identity's emails
over SMTP, the data export, demo seeding, and the texts themselves."""

from __future__ import annotations

import inspect
import uuid
from typing import ClassVar

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from mindspace.app import build_providers
from mindspace.notifications import templates
from mindspace.notifications.kinds import KINDS
from mindspace.notifications.models import Notification
from mindspace.notifications.seed import seed
from mindspace.platform.config import Settings
from mindspace.platform.db import Database, DbScope
from mindspace.platform.messaging import Channel, DevSink, deliver_pending, queue
from mindspace.platform.outbox import DomainEvent, publish
from mindspace.platform.smtp import SmtpEmail
from tests.conftest import Person
from tests.notifications.conftest import Background, SmtpServer
from tests.notifications.test_delivery import SECRET, notify, reminder, rows, verified_person


class ReminderDue(DomainEvent):
    """The reminders domain's event, as that domain will publish it."""

    topic: ClassVar[str] = "reminders.reminder_due"
    reminder_id: uuid.UUID
    owner_id: uuid.UUID
    kind: str
    title: str


@pytest.mark.asyncio
async def test_a_due_reminder_notifies_its_owner_once(
    db: Database, app: FastAPI, background: Background
) -> None:
    person = await verified_person(db, app)
    reminder_id = uuid.uuid4()
    async with db.session(person.principal) as session:
        publish(
            session,
            ReminderDue(
                reminder_id=reminder_id, owner_id=person.id, kind="Mood check-in", title=SECRET
            ),
            owner_id=person.id,
        )
    await background.run()
    (row,) = await rows(db, Notification)
    assert (row.owner_id, row.kind, row.category, row.body) == (
        person.id,
        "reminder_due",
        "reminders",
        SECRET,
    )
    assert row.data == {
        "reminder_id": str(reminder_id),
        "reminder_kind": "mood_check_in",
        "title": SECRET,
    }


@pytest.mark.asyncio
async def test_identity_emails_go_over_smtp_when_it_is_configured(
    db: Database, settings: Settings, smtp: SmtpServer
) -> None:
    assert isinstance(build_providers(settings)[Channel.email], DevSink)
    configured = settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp.port,
            "smtp_security": "none",
            "smtp_from": "Mindspace <hello@mindspace.test>",
            "smtp_password": SecretStr("unused"),
        }
    )
    providers = build_providers(configured)
    assert isinstance(providers[Channel.email], SmtpEmail)
    async with db.session(None, scope=DbScope.system) as session:
        queue(
            session,
            channel=Channel.email,
            recipient="someone@example.org",
            purpose="verify_email",
            subject="Confirm your email for Mindspace",
            body="Open https://mindspace.test/verify?t=abc to confirm.",
        )
    assert await deliver_pending(db, {Channel.email: providers[Channel.email]}) == 1
    (message,) = smtp.inbox.messages
    assert message["From"] == "Mindspace <hello@mindspace.test>"
    assert message["Subject"] == "Confirm your email for Mindspace"


@pytest.mark.asyncio
async def test_the_export_holds_my_notifications_only(
    client: httpx.AsyncClient,
    db: Database,
    app: FastAPI,
    background: Background,
    other_user: Person,
) -> None:
    from mindspace.notifications.service import export_notifications

    person = await verified_person(db, app)
    await notify(db, person, **reminder("water the plants"))
    await notify(db, other_user, **reminder("not yours"))
    await background.run()
    async with db.session(person.principal) as session:
        exported = await export_notifications(session, person.principal)
    (item,) = exported["notifications"]
    assert item["body"] == "water the plants"
    assert item["id"].startswith("ntf_")
    assert exported["push_subscriptions"] == []
    assert exported["quiet_hours"] is None
    assert client is not None


@pytest.mark.asyncio
async def test_seeding_twice_welcomes_each_account_once(db: Database, user: Person) -> None:
    await seed(db)
    await seed(db)
    (row,) = await rows(db, Notification)
    assert (row.owner_id, row.title) == (user.id, "Welcome to Mindspace")


def test_external_texts_cannot_be_given_a_notifications_data() -> None:
    params = set(inspect.signature(templates.render_external).parameters)
    assert params == {"kind", "locale", "display_name", "link", "settings_link", "count"}
    for name, allowed in templates.EXTERNAL_FIELDS.items():
        assert allowed <= {"count", "display_name", "notice", "link", "settings_link"}, name


@pytest.mark.parametrize("kind", sorted([*KINDS, "digest"]))
@pytest.mark.parametrize("locale", ["en", "es", "es-MX", "fr", None])
def test_every_kind_renders_in_every_language_without_its_data(
    kind: str, locale: str | None
) -> None:
    text = templates.render_external(
        kind,
        locale,
        display_name="Ana",
        link="https://app.test/x",
        settings_link="https://app.test/settings",
        count=3,
    )
    for part in (text.title, text.notice, text.email_subject, text.email_text, text.sms_text):
        assert part
        assert "$" not in part
        assert SECRET not in part
    assert "Ana" in text.email_text
    assert "Ana" not in text.sms_text
    assert "\n" not in text.email_subject


def test_languages_fall_back_to_english() -> None:
    assert templates.language("es-MX") == "es"
    assert templates.language("ES_es.UTF-8") == "es"
    assert templates.language("fr") == "en"
    assert templates.language(None) == "en"
    spanish = templates.render_in_app("security_alert", "es", {"reason": "other"})
    assert spanish.title == "Alerta de seguridad"


def test_a_template_naming_data_outside_the_whitelist_fails_at_load(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    leaky = templates._Texts("Reminder", "Your reminder: $title", "$title")
    monkeypatch.setitem(templates._TEXTS, "reminder_due", {"en": leaky})
    with pytest.raises(AssertionError, match="notice names"):
        templates.check_templates()
