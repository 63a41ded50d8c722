"""Journal tables. Title, body, tags and custom prompt texts are sealed with the owner's data key
(platform.crypto); only what filters and orders entries stays in the clear (when, the mood,
which prompt) plus blind-index terms for search (see search.py)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mindspace.platform.db import Base, IdMixin, OwnedMixin, TimestampMixin


class Mood(enum.StrEnum):
    very_happy = "very_happy"
    happy = "happy"
    neutral = "neutral"
    sad = "sad"
    very_sad = "very_sad"
    anxious = "anxious"
    angry = "angry"


# Where each sealed value lives: part of its associated data, so values cannot swap columns.
TITLE = "journal_entry.title"
BODY = "journal_entry.body"
TAGS = "journal_entry.tags"
PROMPT_TEXT = "journal_prompt.text"


class JournalPrompt(IdMixin, OwnedMixin, TimestampMixin, Base):
    """A prompt a person wrote for themselves."""

    __tablename__ = "journal_prompt"

    text_sealed: Mapped[bytes] = mapped_column(LargeBinary)


class JournalEntry(IdMixin, OwnedMixin, TimestampMixin, Base):
    __tablename__ = "journal_entry"
    __table_args__ = (
        # The list: a person's entries, newest written first.
        Index("ix_journal_entry_owner_written", "owner_id", "written_at", "id"),
        Index("ix_journal_entry_word_index", "word_index", postgresql_using="gin"),
        Index("ix_journal_entry_tag_index", "tag_index", postgresql_using="gin"),
        CheckConstraint(
            "mood IN (" + ", ".join(f"'{m.value}'" for m in Mood) + ")", name="mood_known"
        ),
        CheckConstraint(
            "catalogue_prompt_id IS NULL OR custom_prompt_id IS NULL", name="one_prompt"
        ),
    )

    written_at: Mapped[datetime] = mapped_column(server_default=func.now())
    mood: Mapped[str | None] = mapped_column(String(20))
    catalogue_prompt_id: Mapped[str | None] = mapped_column(String(40))
    custom_prompt_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("journal_prompt.id", ondelete="SET NULL")
    )
    title_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    body_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    tags_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    word_index: Mapped[list[bytes]] = mapped_column(ARRAY(LargeBinary))
    tag_index: Mapped[list[bytes]] = mapped_column(ARRAY(LargeBinary))


class JournalEntryAnalysis(OwnedMixin, Base):
    """Scores derived from one entry, kept only while its owner allows analysis. Numbers and
    our own fixed labels only: never a word of the entry."""

    __tablename__ = "journal_entry_analysis"

    entry_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("journal_entry.id", ondelete="CASCADE"), primary_key=True
    )
    compound: Mapped[float] = mapped_column(Float)
    positive: Mapped[float] = mapped_column(Float)
    neutral: Mapped[float] = mapped_column(Float)
    negative: Mapped[float] = mapped_column(Float)
    emotions: Mapped[dict[str, Any]] = mapped_column(JSONB)
    analyser: Mapped[str] = mapped_column(String(80))
    analysed_at: Mapped[datetime] = mapped_column(server_default=func.now())
