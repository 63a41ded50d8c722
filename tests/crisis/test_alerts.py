"""Crisis alerts: one per episode, contacts told only with consent and never what was written,
the person shown who was told, and a staff queue that is audited at every step."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import procrastinate
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from mindspace.app import build_event_bus
from mindspace.crisis import service
from mindspace.crisis.models import CrisisAlert
from mindspace.crisis.schemas import Severity
from mindspace.identity.tokens import TokenService
from mindspace.platform import crypto
from mindspace.platform.audit import AuditRecord
from mindspace.platform.clock import utc_now
from mindspace.platform.db import Database, DbScope
from mindspace.platform.ids import encode, new_id
from mindspace.platform.messaging import OutboundMessage
from mindspace.platform.relay import relay_once
from mindspace.platform.security import Role
from tests.conftest import Person, assert_problem, create_user

pytestmark = pytest.mark.asyncio
ALERTS = "/api/v1/admin/crisis-alerts"
EXCERPT = "I wrote my goodbye letters tonight"


async def _raise(db: Database, person: Person, severity: Severity, **extra: Any) -> str:
    vault = crypto.attached_vault(db)
    assert vault is not None
    async with db.session(person.principal) as session:
        alert_id = await service.raise_alert(
            session,
            key=await vault.data_key(session, person.id),
            severity=severity,
            trigger="companion_message",
            signals=extra.pop("signals", ["goodbye"]),
            excerpt=extra.pop("excerpt", EXCERPT),
            **extra,
        )
    return encode("cra", alert_id)


async def _alerts(db: Database) -> list[CrisisAlert]:
    async with db.session(None, scope=DbScope.system) as session:
        return list((await session.scalars(select(CrisisAlert))).all())


async def _messages(db: Database) -> list[OutboundMessage]:
    async with db.session(None, scope=DbScope.system) as session:
        stmt = select(OutboundMessage).where(OutboundMessage.purpose == "crisis_contact")
        return list((await session.scalars(stmt)).all())


async def _contact(
    client: httpx.AsyncClient, person: Person, *, consent: bool, **body: Any
) -> dict[str, Any]:
    payload = {"name": "Sam", "channel": "email", "address": "sam@example.org", **body}
    response = await client.post(
        "/api/v1/trusted-contacts",
        json={**payload, "notify_in_crisis": consent},
        headers=person.headers,
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def _excerpt(client: httpx.AsyncClient, admin: Person, alert_id: str) -> str | None:
    response = await client.get(f"{ALERTS}/{alert_id}", headers=admin.headers)
    assert response.status_code == 200, response.text
    excerpt: str | None = response.json()["excerpt"]
    return excerpt


async def test_signals_within_the_cooldown_update_one_alert(
    db: Database, client: httpx.AsyncClient, user: Person, admin: Person
) -> None:
    first = await _raise(
        db, user, Severity.elevated_concern, signals=["hopelessness"], excerpt="first words"
    )
    again = await _raise(
        db, user, Severity.elevated_concern, signals=["burden"], excerpt="second words"
    )
    assert again == first
    (alert,) = await _alerts(db)
    assert alert.occurrences == 2
    assert alert.signals == ["burden", "hopelessness"]
    assert alert.severity == "elevated_concern"
    assert await _excerpt(client, admin, first) == "first words"  # same level: the first kept

    # Rising to high risk keeps the episode but announces it again, with the newest words.
    escalated = await _raise(db, user, Severity.high_risk, signals=["plan_or_method"])
    assert escalated == first
    (alert,) = await _alerts(db)
    assert (alert.severity, alert.occurrences) == ("high_risk", 3)
    assert await _excerpt(client, admin, first) == EXCERPT


async def test_a_new_episode_after_the_cooldown_or_resolution_is_a_new_alert(
    db: Database, user: Person
) -> None:
    await _raise(db, user, Severity.high_risk)
    async with db.session(None, scope=DbScope.system) as session:
        await session.execute(
            update(CrisisAlert).values(last_seen_at=utc_now() - timedelta(hours=3))
        )
    await _raise(db, user, Severity.high_risk)
    assert len(await _alerts(db)) == 2


async def test_two_signals_at_once_make_one_episode(db: Database, user: Person) -> None:
    """Two conversations at once: the second waits for the first, then joins its alert."""
    vault = crypto.attached_vault(db)
    assert vault is not None
    async with db.session(user.principal) as session:
        key = await vault.data_key(session, user.id)  # made before, as for anyone who talked
    async with db.session(user.principal) as session:
        await service.raise_alert(
            session,
            key=key,
            severity=Severity.high_risk,
            trigger="companion_message",
            signals=["explicit_intent"],
            excerpt=EXCERPT,
        )
        second = asyncio.create_task(_raise(db, user, Severity.high_risk))
        await asyncio.sleep(0.5)
        assert not second.done()  # held until the first is committed
    await second
    (alert,) = await _alerts(db)
    assert alert.occurrences == 2


async def test_high_risk_tells_consenting_contacts_once_and_the_person_sees_it(
    db: Database, client: httpx.AsyncClient, user: Person, job_app: procrastinate.App
) -> None:
    told = await _contact(client, user, consent=True)
    await _contact(client, user, consent=False, name="Kim", address="kim@example.org")
    await _contact(
        client, user, consent=True, name="Ravi", channel="sms", address="+44 7911 123457"
    )
    bus = build_event_bus(job_app)

    await _raise(db, user, Severity.elevated_concern)
    await relay_once(db, bus)
    assert await _messages(db) == []  # concern alone reaches staff, not family

    await _raise(db, user, Severity.high_risk)
    await relay_once(db, bus)
    messages = await _messages(db)
    assert sorted(m.recipient for m in messages) == ["+447911123457", "sam@example.org"]
    for message in messages:
        assert "goodbye" not in message.body.lower()  # never what the person wrote
        assert "Test person" in message.body
        assert "emergency" in message.body

    # Another high-risk episode the same day: no second message to the same people.
    async with db.session(None, scope=DbScope.system) as session:
        await session.execute(update(CrisisAlert).values(status="resolved"))
    await _raise(db, user, Severity.high_risk)
    await relay_once(db, bus)
    assert len(await _messages(db)) == 2

    notices = (await client.get("/api/v1/trusted-contacts/notices", headers=user.headers)).json()
    assert {n["contact_name"] for n in notices["items"]} == {"Sam", "Ravi"}
    assert told["id"] in {n["contact_id"] for n in notices["items"]}


async def test_the_queue_is_for_staff_and_every_look_is_audited(
    db: Database, client: httpx.AsyncClient, user: Person, admin: Person
) -> None:
    alert_id = await _raise(db, user, Severity.high_risk)
    listed = await client.get(ALERTS, params={"status": "open"}, headers=admin.headers)
    assert listed.status_code == 200, listed.text
    (item,) = listed.json()["items"]
    assert (item["id"], item["owner_id"]) == (alert_id, encode("usr", user.id))
    # A list is audited as a list, naming nobody: it shows no one's words.
    assert "excerpt" not in item
    one = await client.get(f"{ALERTS}/{alert_id}", headers=admin.headers)
    assert (one.json()["severity"], one.json()["excerpt"]) == ("high_risk", EXCERPT)
    async with db.session(admin.principal, scope=DbScope.admin) as session:
        actions = set((await session.scalars(select(AuditRecord.action))).all())
    assert {"crisis.alerts.list", "crisis.alert.view"} <= actions


async def test_assign_review_resolve(
    db: Database, client: httpx.AsyncClient, user: Person, admin: Person, app: FastAPI
) -> None:
    alert_id = await _raise(db, user, Severity.high_risk)
    url = f"{ALERTS}/{alert_id}"

    refused = await client.post(
        f"{url}/assign", json={"assignee_id": encode("usr", user.id)}, headers=admin.headers
    )
    assert_problem(refused, 422, "assignee-not-staff")

    tokens: TokenService = app.state.tokens
    colleague = await create_user(db, tokens, roles=(Role.member, Role.admin))
    handed = await client.post(
        f"{url}/assign", json={"assignee_id": encode("usr", colleague.id)}, headers=admin.headers
    )
    assert handed.json()["status"] == "assigned"
    assert handed.json()["assignee_id"] == encode("usr", colleague.id)

    reviewed = await client.post(
        f"{url}/review", json={"note": "Called; safe with family tonight"}, headers=admin.headers
    )
    assert reviewed.json()["status"] == "reviewed"
    resolved = await client.post(
        f"{url}/resolve", json={"note": "Follow-up booked"}, headers=admin.headers
    )
    assert (resolved.json()["status"], resolved.json()["resolution"]) == (
        "resolved",
        "Follow-up booked",
    )
    again = await client.post(f"{url}/resolve", json={"note": "x"}, headers=admin.headers)
    assert_problem(again, 409, "crisis-alert-resolved")

    async with db.session(admin.principal, scope=DbScope.admin) as session:
        trail = (
            await session.execute(
                select(AuditRecord.action, AuditRecord.actor_id).where(
                    AuditRecord.target_type == "crisis_alert"
                )
            )
        ).all()
    assert {
        ("crisis.alert.assign", admin.id),
        ("crisis.alert.review", admin.id),
        ("crisis.alert.resolve", admin.id),
    } <= set(trail)


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("GET", "/{id}", None),
        ("POST", "/{id}/assign", {}),
        ("POST", "/{id}/review", {"note": "n"}),
        ("POST", "/{id}/resolve", {"note": "n"}),
    ],
)
async def test_members_are_refused_and_anonymous_callers_asked_to_sign_in(
    db: Database,
    client: httpx.AsyncClient,
    user: Person,
    method: str,
    suffix: str,
    body: dict[str, Any] | None,
) -> None:
    alert_id = await _raise(db, user, Severity.high_risk)
    url = ALERTS + suffix.format(id=alert_id)
    assert_problem(await client.request(method, url, json=body), 401)
    assert_problem(await client.request(method, url, json=body, headers=user.headers), 403)
    (alert,) = await _alerts(db)
    assert alert.status == "open"


async def test_unknown_alerts_and_bad_input(
    db: Database, client: httpx.AsyncClient, user: Person, admin: Person
) -> None:
    alert_id = await _raise(db, user, Severity.high_risk)
    unknown = f"{ALERTS}/{encode('cra', new_id())}"
    assert_problem(await client.get(unknown, headers=admin.headers), 404, "crisis-alert-not-found")
    assert_problem(await client.get(f"{ALERTS}/usr_nope", headers=admin.headers), 404)
    for body in ({}, {"note": ""}, {"note": "x" * 2001}, {"note": "ok", "status": "resolved"}):
        response = await client.post(
            f"{ALERTS}/{alert_id}/review", json=body, headers=admin.headers
        )
        assert_problem(response, 422)
    bad_filter = await client.get(ALERTS, params={"status": "gone"}, headers=admin.headers)
    assert_problem(bad_filter, 422)
    (alert,) = await _alerts(db)
    assert (alert.status, alert.review_note) == ("open", None)


async def test_my_export_lists_contacts_and_notices_but_not_staff_notes(
    db: Database, client: httpx.AsyncClient, user: Person, admin: Person
) -> None:
    await _contact(client, user, consent=True)
    alert_id = await _raise(db, user, Severity.high_risk)
    await client.post(
        f"{ALERTS}/{alert_id}/review", json={"note": "private note"}, headers=admin.headers
    )
    async with db.session(user.principal) as session:
        exported = await service.export_crisis(session, user.principal)
    assert [c["name"] for c in exported["trusted_contacts"]] == ["Sam"]
    assert len(exported["crisis_alerts"]) == 1
    assert "private note" not in str(exported)
