"""Facts the crisis domain tells the others (through the outbox)."""

from __future__ import annotations

import uuid
from typing import ClassVar

from mindspace.platform.outbox import DomainEvent


class CrisisAlertRaised(DomainEvent):
    """A new alert, or an open one that rose to high risk (`escalated`). Carries no text:
    consumers that need the excerpt read it in their own, staff or system, scope."""

    topic: ClassVar[str] = "crisis.alert_raised"
    alert_id: uuid.UUID
    owner_id: uuid.UUID
    severity: str
    escalated: bool = False
