"""The human side of the safety net: crisis alerts that staff act on, and the trusted contacts a
person chose to have told when they may be in danger.

Detection lives in `safety`; the domains that hear a person (the companion, the journal when
allowed, the community) call `raise_alert` in their own transaction when it finds high risk,
and `note_concern` for what is below it, so an alert exists if and only if what caused it was
stored. The words an alert keeps are sealed with the person's own data key (see "Alerts").
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from functools import partial
from typing import Any

from sqlalchemy import case, delete, func, or_, select, text, update
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
from mindspace.crisis.models import EXCERPT, ConcernNote, ContactNotice, CrisisAlert, TrustedContact
from mindspace.crisis.schemas import (
    AlertStatus,
    ContactNoticeOut,
    CrisisAlertDetail,
    CrisisAlertOut,
    Severity,
    TrustedContactOut,
)
from mindspace.identity import service as identity
from mindspace.platform import crypto, messaging, outbox
from mindspace.platform.audit import Origin, admin_session
from mindspace.platform.clock import utc_now
from mindspace.platform.crypto import DataKey, DecryptionError, Vault
from mindspace.platform.db import Database, DbScope
from mindspace.platform.ids import new_id
from mindspace.platform.messaging import Channel
from mindspace.platform.outbox import OutboxEvent
from mindspace.platform.pagination import Page, PageParams, keyset, page
from mindspace.platform.realtime import ADMIN_ROOM, Realtime
from mindspace.platform.security import STAFF_ROLES, Principal
from mindspace.safety import service as safety
from mindspace.safety.service import Assessment, CrisisSupport, RiskLevel, Signal

log = logging.getLogger(__name__)
MAX_TRUSTED_CONTACTS = 10
# Signals within this time of an unresolved alert's last signal update that alert: one episode,
# one item in the queue, however many messages it spans.
ALERT_COOLDOWN = timedelta(hours=2)
# However many alerts there are, a contact hears from us at most this often.
CONTACT_COOLDOWN = timedelta(hours=24)
EXCERPT_LENGTH = 280
_RANK = {Severity.elevated_concern: 1, Severity.high_risk: 2}
# The queue's order: high risk first.
_PRIORITY = case({s.value: rank for s, rank in _RANK.items()}, value=CrisisAlert.severity)
_LOCK = text("SELECT pg_advisory_xact_lock(:key)")

# Sustained concern: a human looks (at a lower priority than high risk, and without telling
# anyone's contacts) when a person's own warning signs at elevated concern recur. One such
# message is common on a wellbeing companion ("I feel hopeless today"), is answered by the
# companion's own safety replies, and would bury high risk if each one were queued; two are
# often one thought said twice in back-to-back turns. Three separate messages within a day is
# the concern persisting through the person's day, which is what calls for a check-in. The
# count is the person's, not one conversation's: starting a new conversation must not reset it.
CONCERN_MESSAGES = 3
CONCERN_WINDOW = timedelta(hours=24)
SUSTAINED_CONCERN = "sustained_concern"
# Worry about someone else is not the writer's own warning sign, and these only colour others.
_NOT_OWN = safety.CONTEXT_ONLY_SIGNALS | {Signal.third_party_concern}


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
#
# The excerpt is sealed with the person's own data key (platform.crypto), under its own purpose
# and bound to the alert's row, rather than with a key of the staff's. The process that opens it
# holds the master keys either way, so a staff key would protect nothing more against a thief of
# the database, and it would cost three things the person's key gives for free: one key that
# opens every person's excerpt; a second key to keep and rotate; and erasure that leaves the
# words readable in every backup, where deleting the person's key (the account's cascade) makes
# them unreadable everywhere at once. What keeps staff from reading more than the excerpt is that
# the admin scope still cannot read `user_data_key` (its policy admits the owner and the system
# scope only), and the one path that opens an excerpt is the audited view of that one alert.


async def _lock_person(session: AsyncSession, owner_id: uuid.UUID) -> None:
    # One person's signals one at a time, whichever conversation they come from: two messages
    # at once must not both find no open alert and each open one.
    digest = hashlib.sha256(b"crisis-alert|" + owner_id.bytes).digest()
    await session.execute(_LOCK, {"key": int.from_bytes(digest[:8], "big", signed=True)})


async def _current_alert(session: AsyncSession, owner_id: uuid.UUID) -> CrisisAlert | None:
    """The person's unresolved alert whose last signal is within the cooldown, locked."""
    return await session.scalar(
        select(CrisisAlert)
        .where(
            CrisisAlert.owner_id == owner_id,
            CrisisAlert.status != AlertStatus.resolved,
            CrisisAlert.last_seen_at >= utc_now() - ALERT_COOLDOWN,
        )
        .order_by(CrisisAlert.last_seen_at.desc())
        .limit(1)
        .with_for_update()
    )


def _seal_excerpt(alert: CrisisAlert, key: DataKey, excerpt: str | None) -> None:
    if excerpt is None:
        return  # words staff may not read: whatever the alert already holds stays
    alert.excerpt_sealed = key.seal_text(excerpt[:EXCERPT_LENGTH], purpose=EXCERPT, row_id=alert.id)
    # Whatever plaintext a row still had is older than this: the sealed value is the one.
    alert.legacy_excerpt = None


async def raise_alert(
    session: AsyncSession,
    *,
    key: DataKey,
    severity: Severity,
    trigger: str,
    signals: Sequence[str],
    excerpt: str | None,
    source_type: str | None = None,
    source_id: uuid.UUID | None = None,
    occurrences: int = 1,
) -> uuid.UUID:
    """Records risk for the person whose data key `key` is, in the caller's transaction;
    returns the alert's id. The excerpt is sealed with that key; it is None where staff may
    never see the words (the journal, mood notes).

    Within `ALERT_COOLDOWN` of an unresolved alert's last signal, that alert is updated (more
    occurrences, the union of signals, the higher severity) instead of a new one piling up; a
    rise to high risk is announced again, so contacts are told."""
    owner_id = key.owner_id
    await _lock_person(session, owner_id)
    now = utc_now()
    current = await _current_alert(session, owner_id)
    if current is not None:
        escalated = _RANK[severity] > _RANK[Severity(current.severity)]
        current.occurrences += occurrences
        current.last_seen_at = now
        current.signals = sorted({*current.signals, *signals})
        if escalated:
            current.severity = severity.value
            _seal_excerpt(current, key, excerpt)
            _announce(session, current, escalated=True)
        return current.id
    alert = CrisisAlert(
        id=new_id(),
        owner_id=owner_id,
        severity=severity.value,
        trigger=trigger,
        signals=sorted(set(signals)),
        source_type=source_type,
        source_id=source_id,
        occurrences=occurrences,
        created_at=now,
        last_seen_at=now,
    )
    _seal_excerpt(alert, key, excerpt)
    session.add(alert)
    await session.flush()
    _announce(session, alert, escalated=False)
    return alert.id


def own_warning_signs(assessment: Assessment) -> list[str]:
    """The signals of one message that speak of the writer at elevated concern or above: not
    worry about someone else, not the context-only ones, not what the sentence puts in the
    past (the assessor gives those a lower level)."""
    return sorted(
        {
            e.signal.value
            for e in assessment.evidence
            if e.level.rank >= RiskLevel.elevated_concern.rank and e.signal not in _NOT_OWN
        }
    )


async def note_concern(
    session: AsyncSession,
    *,
    key: DataKey,
    assessment: Assessment,
    excerpt: str,
    source_type: str,
    source_id: uuid.UUID,
) -> uuid.UUID | None:
    """The sustained-concern rule, for a message below high risk (high risk raises its own
    alert). A message with warning signs of the person's own is noted; the
    `CONCERN_MESSAGES`-th such message within `CONCERN_WINDOW` raises an `elevated_concern`
    alert, which staff see below high risk and which tells no trusted contact. While the person
    has an alert within its cooldown, the signs join it instead (one episode, one item in the
    queue). Returns the alert's id when one was raised or updated."""
    signals = own_warning_signs(assessment)
    if not signals:
        return None
    owner_id = key.owner_id
    await _lock_person(session, owner_id)
    raise_it = partial(
        raise_alert,
        session,
        key=key,
        severity=Severity.elevated_concern,
        trigger=SUSTAINED_CONCERN,
        excerpt=excerpt,
        source_type=source_type,
        source_id=source_id,
    )
    if await _current_alert(session, owner_id) is not None:
        return await raise_it(signals=signals)
    now = utc_now()
    session.add(
        ConcernNote(
            owner_id=owner_id,
            signals=signals,
            source_type=source_type,
            source_id=source_id,
            noted_at=now,
        )
    )
    await session.flush()
    in_window = (ConcernNote.owner_id == owner_id, ConcernNote.noted_at >= now - CONCERN_WINDOW)
    noted = (await session.scalars(select(ConcernNote.signals).where(*in_window))).all()
    if len(noted) < CONCERN_MESSAGES:
        return None
    # Counted into the alert, the notes are done with: the next alert needs signs anew.
    await session.execute(delete(ConcernNote).where(ConcernNote.owner_id == owner_id))
    return await raise_it(
        signals=sorted({s for note in noted for s in note}), occurrences=len(noted)
    )


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
            key=await crypto.vault_for(session).data_key(session, principal.user_id),
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
    """The staff queue: high risk before elevated concern, each newest first. No excerpts:
    a list's audit record names no alert, so whose words were read would go unrecorded."""
    async with admin_session(db, principal, action="crisis.alerts.list", origin=origin) as s:
        stmt = select(*repository.ALERT_COLUMNS)
        if status is not None:
            stmt = stmt.where(CrisisAlert.status == status)
        if severity is not None:
            stmt = stmt.where(CrisisAlert.severity == severity)
        stmt = keyset(stmt, params, _PRIORITY, CrisisAlert.created_at, CrisisAlert.id)
        rows = [CrisisAlertOut.model_validate(r) for r in (await s.execute(stmt)).mappings()]
    return page(rows, params, key=lambda a: [_RANK[a.severity], a.created_at, a.id])


async def get_alert(
    db: Database, principal: Principal, vault: Vault, *, alert_id: uuid.UUID, origin: Origin
) -> CrisisAlertDetail:
    """One alert with the excerpt of what the person wrote: the only way to read it. The
    look is audited (and committed) before the words are opened."""
    async with _alert_session(db, principal, "crisis.alert.view", alert_id, origin) as s:
        alert = await _alert(s, alert_id, lock=False)
        out = CrisisAlertOut.model_validate(alert)
        sealed, legacy = alert.excerpt_sealed, alert.legacy_excerpt
    # A leftover from before sealing is newer than any sealed value (see `_seal_excerpt`).
    if legacy is not None:
        return CrisisAlertDetail(**out.model_dump(), excerpt=legacy)
    excerpt = await _open_excerpt(db, vault, owner_id=out.owner_id, alert_id=out.id, sealed=sealed)
    return CrisisAlertDetail(**out.model_dump(), excerpt=excerpt)


async def _open_excerpt(
    db: Database, vault: Vault, *, owner_id: uuid.UUID, alert_id: uuid.UUID, sealed: bytes | None
) -> str | None:
    if sealed is None:
        return None  # purged after resolution
    # The admin scope cannot read data keys, by design. The one key this view needs is read
    # as its owner would read it, on the hot-read path that row-level security confines to
    # that person's rows: narrower than the system scope, which sees every key.
    key = await vault.read_data_key(db.reader(Principal(user_id=owner_id)), owner_id)
    if key is None:
        return None  # the account was erased meanwhile
    try:
        return key.open_text(sealed, purpose=EXCERPT, row_id=alert_id)
    except DecryptionError:
        # The responder still needs the alert itself: the words are lost, not the episode.
        log.error("crisis excerpt does not open", extra={"alert_id": str(alert_id)})
        return None


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


async def _alert(session: AsyncSession, alert_id: uuid.UUID, *, lock: bool = True) -> CrisisAlert:
    alert = await session.get(CrisisAlert, alert_id, with_for_update=lock)
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


# Housekeeping, run by the worker (crisis.jobs).


async def seal_legacy_excerpts(db: Database, vault: Vault, *, batch: int = 200) -> int:
    """Seals every plaintext excerpt left from before revision 0024 (or written by a process
    of the previous release during a rolling deploy) with its owner's data key, and clears
    it; returns how many. Idempotent, and cheap once none is left."""
    total = 0
    while True:
        async with db.session(None, scope=DbScope.system) as session:
            alerts = (
                await session.scalars(
                    select(CrisisAlert)
                    .where(CrisisAlert.legacy_excerpt.is_not(None))
                    .order_by(CrisisAlert.owner_id)
                    .limit(batch)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            keys: dict[uuid.UUID, DataKey] = {}
            for alert in alerts:
                if alert.owner_id not in keys:
                    # Made now for a person who never had anything sealed before.
                    keys[alert.owner_id] = await vault.data_key(session, alert.owner_id)
                _seal_excerpt(alert, keys[alert.owner_id], alert.legacy_excerpt or "")
        if not alerts:
            return total
        total += len(alerts)


async def apply_retention(db: Database, *, excerpt_retention: timedelta) -> tuple[int, int]:
    """Forgets the words of alerts resolved more than `excerpt_retention` ago (the alert and
    its metadata stay) and the concern notes older than the rule's window. Returns (excerpts
    purged, notes pruned)."""
    now = utc_now()
    async with db.session(None, scope=DbScope.system) as session:
        purged = await session.execute(
            update(CrisisAlert)
            .where(
                CrisisAlert.status == AlertStatus.resolved,
                CrisisAlert.resolved_at <= now - excerpt_retention,
                or_(
                    CrisisAlert.excerpt_sealed.is_not(None),
                    CrisisAlert.legacy_excerpt.is_not(None),
                ),
            )
            .values(excerpt_sealed=None, legacy_excerpt=None)
            .execution_options(synchronize_session=False)
        )
        pruned = await session.execute(
            delete(ConcernNote).where(ConcernNote.noted_at < now - CONCERN_WINDOW)
        )
    return _rowcount(purged), _rowcount(pruned)


def _rowcount(result: Any) -> int:
    return int(result.rowcount)


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
    notes = await session.execute(repository.readable_concern_notes(principal))
    return {
        "trusted_contacts": [c.model_dump(mode="json") for c in contacts],
        "contact_notices": [
            ContactNoticeOut.model_validate(n).model_dump(mode="json") for n in notices.mappings()
        ],
        "crisis_alerts": [
            {**row, "id": str(row["id"]), "created_at": row["created_at"].isoformat()}
            for row in alerts.mappings()
        ],
        # The warning signs counted toward the sustained-concern rule, kept at most a day.
        "concern_notes": [
            {"noted_at": row["noted_at"].isoformat(), "signals": row["signals"]}
            for row in notes.mappings()
        ],
    }
