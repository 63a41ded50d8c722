"""Every read of the crisis domain's rows starts here, from the acting principal; row-level
security stands behind each statement."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select

from mindspace.crisis.models import ContactNotice, CrisisAlert, TrustedContact
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
ALERT_COLUMNS = tuple(CrisisAlert.__table__.columns)


def readable_contacts(principal: Principal) -> Select[*tuple[Any, ...]]:
    return select(*CONTACT_COLUMNS).where(TrustedContact.owner_id == principal.user_id)


def readable_notices(principal: Principal) -> Select[*tuple[Any, ...]]:
    return select(*NOTICE_COLUMNS).where(ContactNotice.owner_id == principal.user_id)
