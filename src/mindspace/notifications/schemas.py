from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Annotated, Any, Literal

from pydantic import AnyHttpUrl, Field, StringConstraints, field_validator, model_validator

from mindspace.identity.service import NotificationCategory
from mindspace.platform.ids import PublicId
from mindspace.platform.schemas import InputModel, OutputModel
from mindspace.platform.security import Role

NotificationId = Annotated[uuid.UUID, PublicId("ntf", "notification")]
PushSubscriptionId = Annotated[uuid.UUID, PublicId("psb", "push subscription")]
BroadcastId = Annotated[uuid.UUID, PublicId("nbc", "notification broadcast")]
# Unpadded base64url, as browsers give PushSubscription keys.
_B64 = r"^[A-Za-z0-9_-]+={0,2}$"


class NotificationOut(OutputModel):
    id: NotificationId
    category: str
    kind: str
    title: str
    body: str
    data: dict[str, Any] = Field(description="Ids to open what the notification is about")
    link: str = Field(description="Where in the app it leads")
    created_at: datetime
    read_at: datetime | None


class UnreadCount(OutputModel):
    unread: int


class MarkedRead(OutputModel):
    marked: int = Field(description="How many notifications were unread and now are read")


class QuietHours(OutputModel):
    start: time | None = Field(description="Local time quiet hours begin (None: no quiet hours)")
    end: time | None
    timezone: str = Field(description="The profile's timezone the times are read in")


class QuietHoursUpdate(InputModel):
    """Both times, or both null to turn quiet hours off. The window may cross midnight."""

    start: time | None
    end: time | None

    @field_validator("start", "end")
    @classmethod
    def _wall_clock(cls, value: time | None) -> time | None:
        if value is not None and value.tzinfo is not None:
            raise ValueError("a local time without an offset, such as 22:00")
        return value.replace(second=0, microsecond=0) if value else None

    @model_validator(mode="after")
    def _both_or_neither(self) -> QuietHoursUpdate:
        if (self.start is None) != (self.end is None):
            raise ValueError("give both start and end, or neither")
        if self.start is not None and self.start == self.end:
            raise ValueError("start and end must differ")
        return self


class PushKeys(InputModel):
    p256dh: Annotated[str, StringConstraints(min_length=80, max_length=200, pattern=_B64)]
    auth: Annotated[str, StringConstraints(min_length=16, max_length=100, pattern=_B64)]


class PushSubscriptionCreate(InputModel):
    """The browser's `PushSubscription.toJSON()`."""

    endpoint: AnyHttpUrl = Field(max_length=2048)
    keys: PushKeys
    expirationTime: int | None = None


class PushSubscriptionOut(OutputModel):
    id: PushSubscriptionId
    created_at: datetime
    last_success_at: datetime | None


class PushConfig(OutputModel):
    enabled: bool
    public_key: str | None = Field(description="applicationServerKey for pushManager.subscribe")


class Segment(InputModel):
    kind: Literal["all", "role", "country"]
    role: Role | None = None
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = None

    @model_validator(mode="after")
    def _matches_kind(self) -> Segment:
        if (self.kind == "role") != (self.role is not None):
            raise ValueError("role is required for, and only for, a role segment")
        if (self.kind == "country") != (self.country is not None):
            raise ValueError("country is required for, and only for, a country segment")
        return self


BroadcastCategory = Literal["product_updates", "marketing", "community", "security"]


class BroadcastCreate(InputModel):
    category: BroadcastCategory
    title: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    body: Annotated[str, StringConstraints(min_length=1, max_length=1000)]
    segment: Segment

    def category_enum(self) -> NotificationCategory:
        return NotificationCategory(self.category)


class BroadcastOut(OutputModel):
    id: BroadcastId
    category: str
    title: str
    segment: dict[str, Any]
    status: str = Field(description="queued, sending or done")
    recipients: int = Field(description="People who have received it so far")
    created_at: datetime
    finished_at: datetime | None
