"""Facts the notifications domain tells itself through the outbox: what `notify()` and a
broadcast leave in the caller's transaction, turned into jobs only once it committed."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from mindspace.platform.outbox import DomainEvent


class NotificationRequested(DomainEvent):
    topic: ClassVar[str] = "notifications.requested"
    user_id: uuid.UUID
    category: str
    kind: str
    data: dict[str, Any]


class BroadcastQueued(DomainEvent):
    topic: ClassVar[str] = "notifications.broadcast_queued"
    broadcast_id: uuid.UUID


# Published by the reminders domain; consumed by name, so neither imports the other.
REMINDER_DUE_TOPIC = "reminders.reminder_due"
