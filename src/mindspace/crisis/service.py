"""The human side of the safety net: crisis alerts that staff act on, and the trusted contacts a
person chose to have told when they may be in danger.

Detection lives in `safety`; the domains that hear a person (the companion, the journal when
allowed, the community) call `raise_alert` in their own transaction when it finds risk, so an
alert exists if and only if what caused it was stored.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.crisis import repository
from mindspace.crisis.errors import (
    AlertAlreadyResolved,
    AssigneeNotStaff,
    CrisisAlertNotFound,
    TooManyTrustedContacts,
    TrustedContactNotFound,
)
from mindspace.crisis.events import CrisisAlertRaised
from mindspace.crisis.models import ContactNotice, CrisisAlert, TrustedContact
from mindspace.crisis.schemas import (
    AlertStatus,
    ContactNoticeOut,
    CrisisAlertOut,
    Severity,
    TrustedContactOut,
)
from mindspace.identity import service as identity
from mindspace.platform import messaging, outbox
from mindspace.platform.audit import Origin, admin_session
from mindspace.platform.clock import utc_now
from mindspace.platform.db import Database, DbScope
from mindspace.platform.messaging import Channel
from mindspace.platform.outbox import OutboxEvent
from mindspace.platform.pagination import Page, PageParams, keyset, page
from mindspace.platform.realtime import ADMIN_ROOM, Realtime
from mindspace.platform.security import STAFF_ROLES, Principal
from mindspace.safety import service as safety
from mindspace.safety.service import CrisisSupport, RiskLevel

MAX_TRUSTED_CONTACTS = 10
# Signals within this time of an unresolved alert's last signal update that alert: one episode,
# one item in the queue, however many messages it spans.
ALERT_COOLDOWN = timedelta(hours=2)
# However many alerts there are, a contact hears from us at most this often.
CONTACT_COOLDOWN = timedelta(hours=24)
EXCERPT_LENGTH = 280
_RANK = {Severity.elevated_concern: 1, Severity.high_risk: 2}


# Trusted contacts: the person's own.


async def list_contacts(session: AsyncSession, principal: Principal) -> list[TrustedContactOut]:
    rows = await session.execute(
        repository.readable_contacts(principal).order_by(TrustedContact.created_at)
    )
    return [TrustedContactOut.model_validate(row) for row in rows.mappings()]


async def get_contact(
    session: AsyncSession, principal: Principal, *, contact_id: uuid.UUID
) -> TrustedContactOut:
    return TrustedContactOut.model_validate(await _contact(session, principal, contact_id))


async def add_contact(
    session: AsyncSession,
    principal: Principal,
    *,
    name: str,
    channel: str,
    address: str,
    relationship: str | None = None,
    notify_in_crisis: bool = False,
) -> TrustedContactOut:
    count = await session.scalar(
        select(func.count()).select_from(repository.readable_contacts(principal).subquery())
    )
    if (count or 0) >= MAX_TRUSTED_CONTACTS:
        raise TooManyTrustedContacts(f"Up to {MAX_TRUSTED_CONTACTS} contacts.")
    contact = TrustedContact(
        owner_id=principal.user_id,
        name=name,
        relationship=relationship,
        channel=channel,
        address=address,
        notify_in_crisis=notify_in_crisis,
        consented_at=utc_now() if notify_in_crisis else None,
    )
    session.add(contact)
    await session.flush()
    await session.refresh(contact)
    return TrustedContactOut.model_validate(contact)


async def update_contact(
    session: AsyncSession,
    principal: Principal,
    *,
    contact_id: uuid.UUID,
    changes: dict[str, Any],
) -> TrustedContactOut:
    contact = await _contact(session, principal, contact_id)
    consent = changes.pop("notify_in_crisis", None)
    for field, value in changes.items():
        setattr(contact, field, value)
    if consent is not None and consent != contact.notify_in_crisis:
        contact.notify_in_crisis = consent
        contact.consented_at = utc_now() if consent else None
    await session.flush()
    await session.refresh(contact)
    return TrustedContactOut.model_validate(contact)


async def remove_contact(
    session: AsyncSession, principal: Principal, *, contact_id: uuid.UUID
) -> None:
    await session.delete(await _contact(session, principal, contact_id))


async def list_notices(
    session: AsyncSession, principal: Principal, *, params: PageParams
) -> Page[ContactNoticeOut]:
    """Every time we told one of my contacts, newest first: the person always knows."""
    stmt = keyset(repository.readable_notices(principal), params, ContactNotice.id)
    rows = [ContactNoticeOut.model_validate(r) for r in (await session.execute(stmt)).mappings()]
    return page(rows, params, key=lambda n: [n.id])


async def _contact(
    session: AsyncSession, principal: Principal, contact_id: uuid.UUID
) -> TrustedContact:
    contact = await session.scalar(
        select(TrustedContact).where(
            TrustedContact.owner_id == principal.user_id, TrustedContact.id == contact_id
        )
    )
    if contact is None:
        raise TrustedContactNotFound()
    return contact


# Alerts: raised by the domains that hear a person, acted on by staff.


async def raise_alert(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    severity: Severity,
    trigger: str,
    signals: Sequence[str],
    excerpt: str | None,
    source_type: str | None = None,
    source_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Records risk for `owner_id` in the caller's transaction; returns the alert's id.
    `excerpt` is None where staff may never see the words (the journal, mood notes).

    Within `ALERT_COOLDOWN` of an unresolved alert's last signal, that alert is updated (more
    occurrences, the union of signals, the higher severity) instead of a new one piling up; a
    rise to high risk is announced again, so contacts are told."""
    now = utc_now()
    current = await session.scalar(
        select(CrisisAlert)
        .where(
            CrisisAlert.owner_id == owner_id,
            CrisisAlert.status != AlertStatus.resolved,
            CrisisAlert.last_seen_at >= now - ALERT_COOLDOWN,
        )
        .order_by(CrisisAlert.last_seen_at.desc())
        .limit(1)
        .with_for_update()
    )
    if current is not None:
        escalated = _RANK[severity] > _RANK[Severity(current.severity)]
        current.occurrences += 1
        current.last_seen_at = now
        current.signals = sorted({*current.signals, *signals})
        if escalated:
            current.severity = severity.value
            current.excerpt = (excerpt or "")[:EXCERPT_LENGTH]
            _announce(session, current, escalated=True)
        return current.id
    alert = CrisisAlert(
        owner_id=owner_id,
        severity=severity.value,
        trigger=trigger,
        signals=sorted(set(signals)),
        excerpt=(excerpt or "")[:EXCERPT_LENGTH],
        source_type=source_type,
        source_id=source_id,
        created_at=now,
        last_seen_at=now,
    )
    session.add(alert)
    await session.flush()
    _announce(session, alert, escalated=False)
    return alert.id


async def respond_to_writing(
    session: AsyncSession,
    principal: Principal,
    *,
    text: str,
    source_type: str,
    source_id: uuid.UUID,
) -> CrisisSupport | None:
    """For words written outside a conversation (a journal entry, a mood note), in the request
    that saves them: high risk gets the lines for the person's country in the same response.
    The care team hears of it only when the person allowed crisis outreach, and then learns the
    warning signs and where, never the words. Otherwise the assessment is kept nowhere: it runs
    in memory, for the person alone."""
    assessment = await safety.assess_off_loop(text)
    if assessment.level is not RiskLevel.high_risk:
        return None
    preferences = await identity.get_preferences(session, principal)
    if preferences.privacy.allow_crisis_outreach:
        await raise_alert(
            session,
            owner_id=principal.user_id,
            severity=Severity.high_risk,
            trigger=source_type,
            signals=[s.value for s in assessment.signals],
            excerpt=None,
            source_type=source_type,
            source_id=source_id,
        )
    me = await identity.load_me(session, principal)
    return safety.crisis_support(me.country)


def _announce(session: AsyncSession, alert: CrisisAlert, *, escalated: bool) -> None:
    event = CrisisAlertRaised(
        alert_id=alert.id, owner_id=alert.owner_id, severity=alert.severity, escalated=escalated
    )
    outbox.publish(session, event, owner_id=alert.owner_id)


async def announce_to_staff(db: Database, realtime: Realtime, *, alert_id: uuid.UUID) -> None:
    """Pushes the alert to every connected staff member (`admin` room). What is pushed is
    enough to triage; the excerpt stays in the audited queue."""
    async with db.session(None, scope=DbScope.system) as session:
        alert = await session.get(CrisisAlert, alert_id)
        if alert is None or alert.status == AlertStatus.resolved:
            return
        summary = CrisisAlertOut.model_validate(alert).model_dump(
            mode="json",
            include={"id", "owner_id", "severity", "trigger", "signals", "occurrences", "status"},
        )
    await realtime.emit_to_room(ADMIN_ROOM, "crisis_alert", summary)


async def tell_trusted_contacts(session: AsyncSession, event: OutboxEvent) -> None:
    """The relay's consumer of `crisis.alert_raised` (system scope): at high risk, queue a
    message to each contact the person consented to, at most once per contact per
    `CONTACT_COOLDOWN`, and record a notice the person can see."""
    raised = CrisisAlertRaised.model_validate(event.payload)
    if raised.severity != Severity.high_risk:
        return
    person = await identity.person_summary(session, user_id=raised.owner_id)
    if person is None or not person.active:
        return
    since = utc_now() - CONTACT_COOLDOWN
    recently_told = select(ContactNotice.contact_id).where(
        ContactNotice.owner_id == raised.owner_id,
        ContactNotice.sent_at >= since,
        ContactNotice.contact_id.is_not(None),
    )
    contacts = (
        await session.scalars(
            select(TrustedContact).where(
                TrustedContact.owner_id == raised.owner_id,
                TrustedContact.notify_in_crisis.is_(True),
                TrustedContact.id.not_in(recently_told),
            )
        )
    ).all()
    for contact in contacts:
        subject, body = _contact_message(contact, person.display_name)
        messaging.queue(
            session,
            channel=Channel(contact.channel),
            recipient=contact.address,
            purpose="crisis_contact",
            subject=subject,
            body=body,
        )
        session.add(
            ContactNotice(
                owner_id=raised.owner_id,
                alert_id=raised.alert_id,
                contact_id=contact.id,
                contact_name=contact.name,
                channel=contact.channel,
            )
        )


def _contact_message(contact: TrustedContact, person: str) -> tuple[str | None, str]:
    """Says that the person may need support, and nothing of what they wrote."""
    if contact.channel == Channel.sms:
        return None, (
            f"Mindspace: {person} listed you as someone they trust and may be going through a "
            "very hard time. Please reach out to them today. If you think they are in "
            "immediate danger, call your local emergency number."
        )
    return "Someone you know may need support", (
        f"Hello {contact.name},\n\n"
        f"{person} added you in Mindspace as someone they trust, and asked us to let you know "
        "if they might be going through a very difficult time. Now may be one of those times."
        f"\n\nIf you can, please reach out to {person} today. A call or a message to say you "
        "are there can matter a lot; you don't need to have the right words.\n\n"
        "If you think they are in immediate danger, call your local emergency number.\n\n"
        f"We sent this because {person} chose to allow it. We never share what they wrote."
    )


async def list_alerts(
    db: Database,
    principal: Principal,
    *,
    params: PageParams,
    origin: Origin,
    status: AlertStatus | None = None,
    severity: Severity | None = None,
) -> Page[CrisisAlertOut]:
    """The staff queue, newest first."""
    async with admin_session(db, principal, action="crisis.alerts.list", origin=origin) as s:
        stmt = select(*repository.ALERT_COLUMNS)
        if status is not None:
            stmt = stmt.where(CrisisAlert.status == status)
        if severity is not None:
            stmt = stmt.where(CrisisAlert.severity == severity)
        stmt = keyset(stmt, params, CrisisAlert.created_at, CrisisAlert.id)
        rows = [CrisisAlertOut.model_validate(r) for r in (await s.execute(stmt)).mappings()]
    return page(rows, params, key=lambda a: [a.created_at, a.id])


async def get_alert(
    db: Database, principal: Principal, *, alert_id: uuid.UUID, origin: Origin
) -> CrisisAlertOut:
    async with _alert_session(db, principal, "crisis.alert.view", alert_id, origin) as s:
        return CrisisAlertOut.model_validate(await _alert(s, alert_id))


async def assign_alert(
    db: Database,
    principal: Principal,
    *,
    alert_id: uuid.UUID,
    assignee_id: uuid.UUID | None,
    origin: Origin,
) -> CrisisAlertOut:
    assignee = assignee_id or principal.user_id
    async with _alert_session(
        db, principal, "crisis.alert.assign", alert_id, origin, {"assignee": str(assignee)}
    ) as s:
        alert = await _open_alert(s, alert_id)
        person = await identity.person_summary(s, user_id=assignee)
        if person is None or not person.active or not person.roles & STAFF_ROLES:
            raise AssigneeNotStaff()
        alert.assignee_id = assignee
        alert.assigned_at = utc_now()
        if alert.status == AlertStatus.open:
            alert.status = AlertStatus.assigned
        return await _refreshed(s, alert)


async def review_alert(
    db: Database, principal: Principal, *, alert_id: uuid.UUID, note: str, origin: Origin
) -> CrisisAlertOut:
    async with _alert_session(db, principal, "crisis.alert.review", alert_id, origin) as s:
        alert = await _open_alert(s, alert_id)
        alert.review_note = note
        alert.reviewed_at = utc_now()
        alert.status = AlertStatus.reviewed
        if alert.assignee_id is None:
            alert.assignee_id, alert.assigned_at = principal.user_id, alert.reviewed_at
        return await _refreshed(s, alert)


async def resolve_alert(
    db: Database, principal: Principal, *, alert_id: uuid.UUID, note: str, origin: Origin
) -> CrisisAlertOut:
    async with _alert_session(db, principal, "crisis.alert.resolve", alert_id, origin) as s:
        alert = await _open_alert(s, alert_id)
        alert.resolution = note
        alert.resolved_at = utc_now()
        alert.status = AlertStatus.resolved
        return await _refreshed(s, alert)


def _alert_session(
    db: Database,
    principal: Principal,
    action: str,
    alert_id: uuid.UUID,
    origin: Origin,
    details: dict[str, Any] | None = None,
) -> AbstractAsyncContextManager[AsyncSession]:
    return admin_session(
        db,
        principal,
        action=action,
        target_type="crisis_alert",
        target_id=alert_id,
        origin=origin,
        details=details,
    )


async def _alert(session: AsyncSession, alert_id: uuid.UUID) -> CrisisAlert:
    alert = await session.get(CrisisAlert, alert_id, with_for_update=True)
    if alert is None:
        raise CrisisAlertNotFound()
    return alert


async def _open_alert(session: AsyncSession, alert_id: uuid.UUID) -> CrisisAlert:
    alert = await _alert(session, alert_id)
    if alert.status == AlertStatus.resolved:
        raise AlertAlreadyResolved()
    return alert


async def _refreshed(session: AsyncSession, alert: CrisisAlert) -> CrisisAlertOut:
    await session.flush()
    await session.refresh(alert)
    return CrisisAlertOut.model_validate(alert)


async def export_crisis(session: AsyncSession, principal: Principal) -> dict[str, Any]:
    """My part of the data export: my contacts and whom we told. Alerts are staff records
    about me; their existence is shown, the responders' notes are not."""
    contacts = await list_contacts(session, principal)
    notices = await session.execute(repository.readable_notices(principal))
    alerts = await session.execute(
        select(CrisisAlert.id, CrisisAlert.severity, CrisisAlert.created_at, CrisisAlert.status)
        .where(CrisisAlert.owner_id == principal.user_id)
        .order_by(CrisisAlert.created_at)
    )
    return {
        "trusted_contacts": [c.model_dump(mode="json") for c in contacts],
        "contact_notices": [
            ContactNoticeOut.model_validate(n).model_dump(mode="json") for n in notices.mappings()
        ],
        "crisis_alerts": [
            {**row, "id": str(row["id"]), "created_at": row["created_at"].isoformat()}
            for row in alerts.mappings()
        ],
    }
