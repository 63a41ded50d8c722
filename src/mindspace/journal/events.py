"""Facts the journal tells (through the outbox). They carry ids only, never entry text.

Told only for people who let something use their entries' words (analysis, or the companion's
memory of journal entries): everyone else's writes cost no event at all. Each consumer checks
its own permission again when it acts, since it may change in between.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from mindspace.platform.outbox import DomainEvent


class EntryWritten(DomainEvent):
    """An entry's words were created or changed."""

    topic: ClassVar[str] = "journal.entry_written"
    entry_id: uuid.UUID
    owner_id: uuid.UUID


class EntryDeleted(DomainEvent):
    """An entry was deleted: whatever was made from its words goes too."""

    topic: ClassVar[str] = "journal.entry_deleted"
    entry_id: uuid.UUID
    owner_id: uuid.UUID
