"""The kinds of notification other domains may send, and the data each may carry.

`data` is whitelisted per kind: a strict model of ids, enums and, for the in-app inbox only,
short labels. Nothing else can reach the notification row, and no field of it reaches email,
push or SMS text at all (templates.render_external takes no data).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from mindspace.identity.service import NotificationCategory as Category

_C = Category
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


class KindData(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoData(KindData):
    pass


class SecurityAlertData(KindData):
    reason: Literal[
        "new_sign_in", "password_changed", "email_changed", "two_factor_changed", "other"
    ] = "other"


class PaymentData(KindData):
    payment_id: uuid.UUID | None = None


class ReminderData(KindData):
    reminder_id: uuid.UUID
    reminder_kind: Slug
    # What the person called the reminder: shown in the inbox, inside the app, only.
    title: Label


class CommunityData(KindData):
    post_id: uuid.UUID


class BookingData(KindData):
    booking_id: uuid.UUID


class AnnouncementData(KindData):
    # Written by staff for everyone: shown in the inbox only.
    title: Label
    body: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    categories: frozenset[Category]
    data: type[KindData]
    # Where in the app the person finds the thing (no ids: a link is no place for them).
    path: str


class InvalidNotification(ValueError):
    """A caller's bug: an unknown kind, a category the kind does not allow, or data outside
    the kind's whitelist. Raised at notify() time, inside the caller's transaction."""


def _kinds(*kinds: Kind) -> dict[str, Kind]:
    return {k.name: k for k in kinds}


KINDS = _kinds(
    Kind("security_alert", frozenset({_C.security}), SecurityAlertData, "/account/security"),
    Kind("crisis_followup", frozenset({_C.crisis_followup}), NoData, "/support"),
    Kind("payment_failed", frozenset({_C.payments}), PaymentData, "/billing"),
    Kind("payment_receipt", frozenset({_C.payments}), PaymentData, "/billing"),
    Kind("reminder_due", frozenset({_C.reminders}), ReminderData, "/reminders"),
    Kind("community_reply", frozenset({_C.community}), CommunityData, "/community"),
    Kind("booking_confirmed", frozenset({_C.bookings}), BookingData, "/bookings"),
    Kind("booking_upcoming", frozenset({_C.bookings}), BookingData, "/bookings"),
    Kind(
        "announcement",
        frozenset({_C.product_updates, _C.marketing, _C.community, _C.security}),
        AnnouncementData,
        "/notifications",
    ),
)
# Not sent by callers: what a person receives when quiet hours end, for what they held.
DIGEST = "digest"


def validate(category: Category, kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """The data as it will be stored (JSON-ready), or InvalidNotification."""
    if not isinstance(category, Category):
        raise InvalidNotification(f"category must be a NotificationCategory, got {category!r}")
    spec = KINDS.get(kind)
    if spec is None:
        raise InvalidNotification(f"unknown notification kind {kind!r}")
    if category not in spec.categories:
        raise InvalidNotification(f"kind {kind!r} is not sent as {category.value!r}")
    try:
        return spec.data.model_validate(data).model_dump(mode="json", exclude_none=True)
    except ValidationError as exc:
        raise InvalidNotification(f"data for {kind!r}: {exc}") from None
