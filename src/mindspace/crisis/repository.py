"""Every read of the crisis domain's rows starts here, from the acting principal; row-level
security stands behind each statement."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select

from mindspace.crisis.models import ConcernNote, ContactNotice, CrisisAlert, TrustedContact
from mindspace.platform.security import Principal

CONTACT_COLUMNS = (
    TrustedContact.id,
    TrustedContact.name,
    TrustedContact.relationship,
    TrustedContact.channel,
    TrustedContact.address,
    TrustedContact.notify_in_crisis,
    TrustedContact.consented_at,
    TrustedContact.created_at,
)
NOTICE_COLUMNS = (
    ContactNotice.id,
    ContactNotice.contact_id,
    ContactNotice.contact_name,
    ContactNotice.channel,
    ContactNotice.sent_at,
)
# Everything the queue shows; never the excerpt, sealed or left over.
ALERT_COLUMNS = (
    CrisisAlert.id,
    CrisisAlert.owner_id,
    CrisisAlert.severity,
    CrisisAlert.trigger,
    CrisisAlert.signals,
    CrisisAlert.source_type,
    CrisisAlert.source_id,
    CrisisAlert.occurrences,
    CrisisAlert.status,
    CrisisAlert.assignee_id,
    CrisisAlert.review_note,
    CrisisAlert.resolution,
    CrisisAlert.created_at,
    CrisisAlert.last_seen_at,
    CrisisAlert.assigned_at,
    CrisisAlert.reviewed_at,
    CrisisAlert.resolved_at,
)


def readable_contacts(principal: Principal) -> Select[*tuple[Any, ...]]:
    return select(*CONTACT_COLUMNS).where(TrustedContact.owner_id == principal.user_id)


def readable_notices(principal: Principal) -> Select[*tuple[Any, ...]]:
    return select(*NOTICE_COLUMNS).where(ContactNotice.owner_id == principal.user_id)


def readable_concern_notes(principal: Principal) -> Select[*tuple[Any, ...]]:
    return (
        select(ConcernNote.noted_at, ConcernNote.signals)
        .where(ConcernNote.owner_id == principal.user_id)
        .order_by(ConcernNote.noted_at)
    )
