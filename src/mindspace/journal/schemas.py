from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated

from pydantic import AwareDatetime, Field, StringConstraints

from mindspace.journal.models import Mood
from mindspace.platform.ids import PublicId
from mindspace.platform.schemas import InputModel, OutputModel
from mindspace.safety.service import CrisisSupport

EntryId = Annotated[uuid.UUID, PublicId("jrn", "journal entry")]
CustomPromptId = Annotated[uuid.UUID, PublicId("jpr", "journal prompt")]
CUSTOM_PROMPT_PREFIX = "jpr_"

# The body as sent, before sanitizing: about 8,000 words of formatted text. Larger requests
# are refused whole (413) before they are read; a body over this is a 422 naming the field.
BODY_MAX_CHARS = 60_000
TITLE_MAX_CHARS = 200
TAG_MAX_CHARS = 40
MAX_TAGS = 20

Title = Annotated[str, StringConstraints(max_length=TITLE_MAX_CHARS)]
Body = Annotated[str, StringConstraints(max_length=BODY_MAX_CHARS)]
Tag = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TAG_MAX_CHARS)
]
Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS)]
PromptRef = Annotated[
    str,
    StringConstraints(max_length=40, pattern=r"^[a-z_]+-\d{2}$|^jpr_[0-9A-Za-z]{26}$"),
    Field(description="A catalogue prompt (`gratitude-03`) or one of your own (`jpr_…`)"),
]


class EntryCreate(InputModel):
    title: Title = Field(default="", description="Plain text, never HTML")
    body: Body = Field(
        default="",
        description="HTML from a rich-text editor; sanitized to p, h1-h3, lists, strong/em/b/i/u, "
        "links (http, https, mailto), blockquote, code/pre and br",
    )
    mood: Mood | None = None
    tags: Tags = Field(default_factory=list)
    prompt_id: PromptRef | None = None
    written_at: AwareDatetime | None = Field(
        default=None, description="When it was written, for back-dating; never in the future"
    )


class EntryUpdate(InputModel):
    """Only the fields sent change; `mood` and `prompt_id` may be set to null."""

    title: Title | None = None
    body: Body | None = None
    mood: Mood | None = None
    tags: Tags | None = None
    prompt_id: PromptRef | None = None
    written_at: AwareDatetime | None = None


class Entry(OutputModel):
    id: EntryId
    title: str
    body: str = Field(description="Sanitized HTML")
    mood: Mood | None
    tags: list[str]
    prompt_id: str | None
    written_at: datetime
    created_at: datetime
    updated_at: datetime


class SavedEntry(Entry):
    crisis: CrisisSupport | None = Field(
        default=None,
        description="Crisis lines for your country, present when the words suggest you may be "
        "in danger",
    )


@dataclass(frozen=True, slots=True)
class EntryFilters:
    written_from: datetime | None = None
    written_to: datetime | None = None
    tag: str | None = None
    mood: Mood | None = None
    prompt_id: str | None = None
    q: str | None = None


class Prompt(OutputModel):
    id: str
    theme: str
    text: str


class DailyPrompt(OutputModel):
    day: date = Field(description="The person's local day (their timezone and day boundary)")
    prompt: Prompt


PromptText = Annotated[str, StringConstraints(min_length=1, max_length=500)]


class CustomPromptCreate(InputModel):
    text: PromptText


class CustomPromptUpdate(InputModel):
    text: PromptText


class CustomPrompt(OutputModel):
    id: CustomPromptId
    text: str
    created_at: datetime
    updated_at: datetime


class Sentiment(OutputModel):
    compound: float = Field(description="VADER compound score, -1 (negative) to 1 (positive)")
    positive: float
    neutral: float
    negative: float


class EntryAnalysis(OutputModel):
    entry_id: EntryId
    sentiment: Sentiment
    emotions: dict[str, float] = Field(description="Label -> share of the entry's words")
    analyser: str
    analysed_at: datetime
