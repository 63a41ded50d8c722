"""Facts the companion tells (through the outbox). They carry ids only, never words."""

from __future__ import annotations

import uuid
from typing import ClassVar

from mindspace.platform.outbox import DomainEvent


class ConversationEnded(DomainEvent):
    """A conversation ended, for someone who allows the companion to remember."""

    topic: ClassVar[str] = "companion.conversation_ended"
    conversation_id: uuid.UUID
    owner_id: uuid.UUID
