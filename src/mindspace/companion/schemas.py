from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from mindspace.companion.models import (
    Author,
    ConversationStatus,
    MemorySource,
    MessageKind,
    TemplateRunKind,
)
from mindspace.companion.safety_state import SafetyState, Trigger
from mindspace.journal.service import EntryId as JournalEntryId
from mindspace.platform.ids import PublicId
from mindspace.platform.pagination import Page
from mindspace.platform.schemas import InputModel, OutputModel
from mindspace.safety.service import CrisisSupport

ConversationId = Annotated[uuid.UUID, PublicId("cnv", "companion conversation")]
MessageId = Annotated[uuid.UUID, PublicId("cmsg", "companion message")]
MemoryId = Annotated[uuid.UUID, PublicId("cmem", "companion memory")]
TemplateRunId = Annotated[uuid.UUID, PublicId("ctr", "companion template run")]
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
    out_of_credits: bool = Field(
        default=False,
        description="You have no AI credits left, so the free scripted companion answered",
    )


class TransitionOut(OutputModel):
    before: SafetyState
    after: SafetyState
    trigger: Trigger
    rule: str
    created_at: datetime


class MemoryOut(OutputModel):
    id: MemoryId
    summary: str = Field(description="What the companion remembers, in your own words")
    source: MemorySource = Field(description="What it was made from")
    conversation_id: ConversationId | None = Field(
        description="The conversation it came from (source conversation)"
    )
    journal_entry_id: JournalEntryId | None = Field(
        description="The journal entry it came from (source journal_entry); it follows the "
        "entry's edits and goes when the entry does"
    )
    created_at: datetime


class TemplateOptionOut(OutputModel):
    value: str
    label: str


class TemplateInputOut(OutputModel):
    kind: Literal["choice", "text"]
    label: str
    options: list[TemplateOptionOut] = Field(description="What to choose from (kind choice)")
    max_length: int | None = Field(description="The longest text accepted (kind text)")


class TemplateOut(OutputModel):
    id: str
    name: str
    description: str
    version: int
    paid: bool
    available: bool = Field(description="Whether your plan includes it")
    input: TemplateInputOut | None = Field(description="None when the template takes no input")


class TemplateRunRequest(InputModel):
    input: (
        Annotated[
            str,
            StringConstraints(strip_whitespace=True, min_length=1, max_length=MESSAGE_MAX_CHARS),
        ]
        | None
    ) = Field(default=None, description="An option's value, or your text; omitted when none")


class TemplateRunRecord(OutputModel):
    """What is kept of a run: never your input or the answer."""

    id: TemplateRunId
    template: str
    version: int
    kind: TemplateRunKind
    engine: str = Field(description="Who wrote the answer: scripted, or a model engine")
    cached: bool = Field(description="Your earlier answer to the same request, kept for a while")
    replaced: bool = Field(description="A model's answer was withheld and a safe one sent instead")
    created_at: datetime


class TemplateRunOut(TemplateRunRecord):
    content: str
    out_of_credits: bool = Field(
        description="You have no AI credits left, so the free scripted answer was given"
    )
    crisis: CrisisSupport | None = None
