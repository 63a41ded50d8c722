"""Facts reminders tell the other domains (through the outbox)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar

from mindspace.platform.outbox import DomainEvent


class ReminderDue(DomainEvent):
    """A reminder's time has come; notifications decides how to tell the person. Published
    once per firing, in the transaction that moves the reminder to its next occurrence.
    `fire_at` is the occurrence announced (UTC): after downtime, the latest one missed, since
    a reminder that missed several fires once."""

    topic: ClassVar[str] = "reminders.reminder_due"
    reminder_id: uuid.UUID
    owner_id: uuid.UUID
    kind: str
    title: str
    fire_at: datetime
