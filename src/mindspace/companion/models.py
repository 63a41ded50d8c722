"""Companion tables. What the person and the companion said, and the engine's memory of a
guided flow (which holds the person's answers), are sealed with the owner's data key
(platform.crypto); only what orders, limits and protects a conversation stays in the clear."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from mindspace.companion.safety_state import SafetyState
from mindspace.platform.db import Base, IdMixin, OwnedMixin, TimestampMixin
from mindspace.safety.service import RiskLevel

# Where each sealed value lives: part of its associated data, so values cannot swap columns.
CONTENT = "companion_message.content"
ENGINE_STATE = "companion_conversation.engine_state"
SUMMARY = "companion_memory.summary"


class ConversationStatus(enum.StrEnum):
    active = "active"
    ended = "ended"


class Author(enum.StrEnum):
    person = "person"
    companion = "companion"


class MessageKind(enum.StrEnum):
    text = "text"  # the person's words
    disclosure = "disclosure"  # what the companion is, said at the start and every 3 hours
    reply = "reply"  # written by an engine (scripted or model), checked when by a model
    crisis = "crisis"  # the safe-messaging crisis response with resources
    safety = "safety"  # a scripted reply while the conversation is in a crisis state


def _one_of(column: str, values: type[enum.StrEnum], name: str) -> CheckConstraint:
    return CheckConstraint(f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")", name=name)


class Conversation(IdMixin, OwnedMixin, TimestampMixin, Base):
    __tablename__ = "companion_conversation"
    __table_args__ = (
        Index("ix_companion_conversation_owner_created", "owner_id", "created_at", "id"),
        _one_of("status", ConversationStatus, "status_known"),
        _one_of("safety_state", SafetyState, "safety_state_known"),
        _one_of("session_level", RiskLevel, "session_level_known"),
    )

    persona: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(10), server_default=ConversationStatus.active.value)
    safety_state: Mapped[str] = mapped_column(String(20), server_default=SafetyState.normal.value)
    # The highest risk level assessed since `context_since`: sticky context for the gate.
    # An explicit step-down (the person is safe, a reviewer cleared it) starts it afresh.
    session_level: Mapped[str] = mapped_column(String(20), server_default=RiskLevel.normal.value)
    context_since: Mapped[datetime | None]
    last_high_risk_at: Mapped[datetime | None]
    disclosed_at: Mapped[datetime]
    last_message_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    engine_state_sealed: Mapped[bytes] = mapped_column(LargeBinary)


class Message(IdMixin, OwnedMixin, Base):
    __tablename__ = "companion_message"
    __table_args__ = (
        Index("ix_companion_message_conversation_created", "conversation_id", "created_at", "id"),
        _one_of("author", Author, "author_known"),
        _one_of("kind", MessageKind, "kind_known"),
    )

    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("companion_conversation.id", ondelete="CASCADE")
    )
    author: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(12))
    # Which engine wrote a reply ("scripted", "openai", "anthropic"); None for the person's.
    engine: Mapped[str | None] = mapped_column(String(20))
    # True when a model's reply was withheld and a safe scripted one sent instead.
    replaced: Mapped[bool] = mapped_column(server_default=false())
    # Whether memory may ever keep it: the person's words, assessed normal, outside a crisis.
    memorable: Mapped[bool] = mapped_column(server_default=false())
    content_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class SafetyTransition(IdMixin, OwnedMixin, Base):
    """Every change of a conversation's safety state, with the rule that made it."""

    __tablename__ = "companion_safety_transition"
    __table_args__ = (
        Index("ix_companion_safety_transition_conversation", "conversation_id", "created_at"),
    )

    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("companion_conversation.id", ondelete="CASCADE")
    )
    before: Mapped[str] = mapped_column(String(20))
    after: Mapped[str] = mapped_column(String(20))
    trigger: Mapped[str] = mapped_column(String(30))
    rule: Mapped[str] = mapped_column(String(120))
    # The reviewer who cleared it; None when the person's own message or word moved it.
    actor_id: Mapped[uuid.UUID | None]
    message_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class MemorySource(enum.StrEnum):
    conversation = "conversation"
    journal_entry = "journal_entry"


class Memory(IdMixin, OwnedMixin, Base):
    """What the companion remembers of one ended conversation, or of one journal entry, while
    the person allows it: a short summary (sealed) and its embedding, for retrieval by
    similarity. A journal entry is the journal's: only its id is kept, and the memory follows
    the entry's events (journal.events), not a foreign key into another domain's table."""

    __tablename__ = "companion_memory"
    __table_args__ = (
        Index("ix_companion_memory_owner_created", "owner_id", "created_at", "id"),
        # For the job that moves memories to the embedder in use.
        Index("ix_companion_memory_embedder_owner", "embedder", "owner_id"),
        UniqueConstraint("conversation_id", name="uq_companion_memory_conversation_id"),
        UniqueConstraint("journal_entry_id", name="uq_companion_memory_journal_entry_id"),
        CheckConstraint(
            "(source = 'conversation' AND conversation_id IS NOT NULL "
            "AND journal_entry_id IS NULL) OR "
            "(source = 'journal_entry' AND journal_entry_id IS NOT NULL "
            "AND conversation_id IS NULL)",
            name="one_source",
        ),
    )

    source: Mapped[str] = mapped_column(String(20))
    conversation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("companion_conversation.id", ondelete="CASCADE")
    )
    journal_entry_id: Mapped[uuid.UUID | None]
    summary_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    embedding: Mapped[list[float]] = mapped_column(ARRAY(Float))
    embedder: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class TemplateRunKind(enum.StrEnum):
    answer = "answer"  # the template's answer, from a model, the cache or its scripted text
    crisis = "crisis"  # the free text assessed high risk: the crisis response instead


class TemplateRun(IdMixin, OwnedMixin, Base):
    """That a person ran a prompt template, and who answered. Neither the person's input nor
    the answer is kept: a run is what counts toward the daily quota, and what an AI credit or
    a crisis alert names."""

    __tablename__ = "companion_template_run"
    __table_args__ = (
        Index("ix_companion_template_run_owner_created", "owner_id", "created_at"),
        _one_of("kind", TemplateRunKind, "kind_known"),
    )

    template: Mapped[str] = mapped_column(String(40))
    version: Mapped[int]
    kind: Mapped[str] = mapped_column(String(10))
    engine: Mapped[str] = mapped_column(String(20))
    cached: Mapped[bool] = mapped_column(server_default=false())
    replaced: Mapped[bool] = mapped_column(server_default=false())
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
