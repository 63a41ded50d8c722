from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Annotated, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import Field, StringConstraints, model_validator

from mindspace.platform.ids import PublicId, UserId
from mindspace.platform.schemas import InputModel, OutputModel, e164

TrustedContactId = Annotated[uuid.UUID, PublicId("tct", "trusted contact")]
CrisisAlertId = Annotated[uuid.UUID, PublicId("cra", "crisis alert")]
ContactNoticeId = Annotated[uuid.UUID, PublicId("ctn", "contact notice")]
ContactName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
Relationship = Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class Severity(enum.StrEnum):
    elevated_concern = "elevated_concern"
    high_risk = "high_risk"


class AlertStatus(enum.StrEnum):
    open = "open"
    assigned = "assigned"
    reviewed = "reviewed"
    resolved = "resolved"


class TrustedContactCreate(InputModel):
    name: ContactName
    relationship: Relationship | None = None
    channel: Literal["email", "sms"]
    address: str = Field(min_length=3, max_length=320, description="An email, or a mobile number")
    notify_in_crisis: bool = Field(
        default=False,
        description="My consent to tell this contact when I may be in danger.",
    )

    @model_validator(mode="after")
    def _address_fits_channel(self) -> TrustedContactCreate:
        self.address = _checked_address(self.channel, self.address)
        return self


class TrustedContactUpdate(InputModel):
    name: ContactName | None = None
    relationship: Relationship | None = None
    channel: Literal["email", "sms"] | None = None
    address: str | None = Field(default=None, min_length=3, max_length=320)
    notify_in_crisis: bool | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> TrustedContactUpdate:
        # A new channel without a new address (or the reverse) could leave an email in the
        # phone column: both change together.
        if (self.channel is None) != (self.address is None):
            raise ValueError("change channel and address together")
        if self.channel is not None and self.address is not None:
            self.address = _checked_address(self.channel, self.address)
        return self


def _checked_address(channel: str, address: str) -> str:
    if channel == "sms":
        return e164(address)
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None


class TrustedContactOut(OutputModel):
    id: TrustedContactId
    name: str
    relationship: str | None
    channel: str
    address: str
    notify_in_crisis: bool
    consented_at: datetime | None
    created_at: datetime


class ContactNoticeOut(OutputModel):
    id: ContactNoticeId
    contact_id: TrustedContactId | None
    contact_name: str
    channel: str
    sent_at: datetime


class CrisisAlertOut(OutputModel):
    """An alert as the queue and its actions show it: everything but the person's words,
    which only the audited view of one alert opens."""

    id: CrisisAlertId
    owner_id: UserId
    severity: Severity
    trigger: str
    signals: list[str]
    source_type: str | None
    source_id: uuid.UUID | None
    occurrences: int
    status: AlertStatus
    assignee_id: UserId | None
    review_note: str | None
    resolution: str | None
    created_at: datetime
    last_seen_at: datetime
    assigned_at: datetime | None
    reviewed_at: datetime | None
    resolved_at: datetime | None


class CrisisAlertDetail(CrisisAlertOut):
    excerpt: str | None = Field(
        description="What the person wrote, for the responder. Null once purged, a fixed "
        "time after the alert is resolved."
    )


class AssignRequest(InputModel):
    assignee_id: UserId | None = Field(default=None, description="Staff member; default: me")


class NoteRequest(InputModel):
    note: Note
