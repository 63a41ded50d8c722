from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from mindspace.companion.models import Author, ConversationStatus, MessageKind
from mindspace.companion.safety_state import SafetyState, Trigger
from mindspace.platform.ids import PublicId
from mindspace.platform.pagination import Page
from mindspace.platform.schemas import InputModel, OutputModel
from mindspace.safety.service import CrisisSupport

ConversationId = Annotated[uuid.UUID, PublicId("cnv", "companion conversation")]
MessageId = Annotated[uuid.UUID, PublicId("cmsg", "companion message")]
MemoryId = Annotated[uuid.UUID, PublicId("cmem", "companion memory")]
MESSAGE_MAX_CHARS = 4000


class PersonaOut(OutputModel):
    id: str
    name: str
    description: str
    paid: bool
    available: bool = Field(description="Whether your plan includes it")


class ConversationStart(InputModel):
    persona: Annotated[str, StringConstraints(min_length=1, max_length=40)] = "companion"


class MessageSend(InputModel):
    text: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MESSAGE_MAX_CHARS)
    ]


class ClearRequest(InputModel):
    note: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class ConversationOut(OutputModel):
    id: ConversationId
    persona: str
    status: ConversationStatus
    safety_state: SafetyState
    created_at: datetime
    last_message_at: datetime
    ended_at: datetime | None


class MessageOut(OutputModel):
    id: MessageId
    author: Author
    kind: MessageKind
    content: str
    engine: str | None
    replaced: bool = Field(description="A model's reply was withheld and a safe one sent instead")
    created_at: datetime


class ConversationDetail(ConversationOut):
    messages: Page[MessageOut] = Field(description="Newest first")


class TurnOut(OutputModel):
    conversation: ConversationOut
    message: MessageOut = Field(description="What you sent, as stored")
    replies: list[MessageOut]
    crisis: CrisisSupport | None = None


class TransitionOut(OutputModel):
    before: SafetyState
    after: SafetyState
    trigger: Trigger
    rule: str
    created_at: datetime


class MemoryOut(OutputModel):
    id: MemoryId
    summary: str = Field(description="What the companion remembers, in your own words")
    conversation_id: ConversationId = Field(description="The conversation it came from")
    created_at: datetime
