"""Facts the journal tells (through the outbox). They carry ids only, never entry text."""

from __future__ import annotations

import uuid
from typing import ClassVar

from mindspace.platform.outbox import DomainEvent


class EntryWritten(DomainEvent):
    """An entry's words were created or changed by someone who allows analysis."""

    topic: ClassVar[str] = "journal.entry_written"
    entry_id: uuid.UUID
    owner_id: uuid.UUID
