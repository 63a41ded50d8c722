"""Crisis alerts for the humans who respond, and the trusted contacts a person chose."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String, false, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mindspace.platform.clock import utc_now
from mindspace.platform.db import USER_TABLE, Base, IdMixin, OwnedMixin, TimestampMixin


class TrustedContact(IdMixin, OwnedMixin, TimestampMixin, Base):
    __tablename__ = "trusted_contact"

    name: Mapped[str] = mapped_column(String(80))
    relationship: Mapped[str | None] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(8))  # email | sms
    address: Mapped[str] = mapped_column(String(320))
    # The person's consent, per contact, to tell this contact when they may be in danger.
    notify_in_crisis: Mapped[bool] = mapped_column(default=False, server_default=false())
    consented_at: Mapped[datetime | None]


# The purpose an alert's excerpt is sealed under (part of its associated data, with the row and
# the owner): a ciphertext from any other column or domain does not open as an excerpt.
EXCERPT = "crisis_alert.excerpt"


class CrisisAlert(IdMixin, OwnedMixin, Base):
    """One episode of risk for one person, for staff to assign, review and resolve. Repeated
    signals within the cooldown update the open alert instead of piling up new ones."""

    __tablename__ = "crisis_alert"
    __table_args__ = (Index("ix_crisis_alert_queue", "status", "created_at"),)

    severity: Mapped[str] = mapped_column(String(20))  # elevated_concern | high_risk
    # companion_message, sustained_concern, journal_entry, …
    trigger: Mapped[str] = mapped_column(String(30))
    signals: Mapped[list[str]] = mapped_column(JSONB, default=list, server_default="[]")
    # A short excerpt of what the person wrote, for the responder only: sealed with the person's
    # own data key (see `service` for why that key), opened only in the audited detail view,
    # and set to null a fixed time after the alert is resolved (`purge_resolved_excerpts`).
    excerpt_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Plaintext written before revision 0024 (or by a process of the release before it, during
    # a rolling deploy). `seal_legacy_excerpts` seals it into `excerpt_sealed` and clears it;
    # nothing else reads it. The column goes in a later release, once no row holds a value.
    legacy_excerpt: Mapped[str | None] = mapped_column("excerpt", String(280))
    source_type: Mapped[str | None] = mapped_column(String(30))
    source_id: Mapped[uuid.UUID | None]
    occurrences: Mapped[int] = mapped_column(default=1, server_default="1")
    status: Mapped[str] = mapped_column(String(12), default="open", server_default="open")
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey(f"{USER_TABLE}.id", ondelete="SET NULL")
    )
    review_note: Mapped[str | None] = mapped_column(String(2000))
    resolution: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(default=utc_now, server_default=func.now())
    last_seen_at: Mapped[datetime] = mapped_column(default=utc_now, server_default=func.now())
    assigned_at: Mapped[datetime | None]
    reviewed_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]


class ContactNotice(IdMixin, OwnedMixin, Base):
    """That a trusted contact was told, so the person can see it happened."""

    __tablename__ = "contact_notice"

    alert_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("crisis_alert.id", ondelete="CASCADE"), index=True
    )
    contact_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("trusted_contact.id", ondelete="SET NULL"), index=True
    )
    contact_name: Mapped[str] = mapped_column(String(80))
    channel: Mapped[str] = mapped_column(String(8))
    sent_at: Mapped[datetime] = mapped_column(default=utc_now, server_default=func.now())
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")


class ConcernNote(IdMixin, OwnedMixin, Base):
    """One message in which the person showed warning signs of their own at elevated concern,
    below high risk: the evidence the sustained-concern rule counts. No words, only when and
    which signals; kept until it is counted into an alert or falls out of the rule's window."""

    __tablename__ = "crisis_concern_note"
    __table_args__ = (Index("ix_crisis_concern_note_owner_noted", "owner_id", "noted_at"),)

    signals: Mapped[list[str]] = mapped_column(JSONB, default=list, server_default="[]")
    source_type: Mapped[str | None] = mapped_column(String(30))
    source_id: Mapped[uuid.UUID | None]
    noted_at: Mapped[datetime] = mapped_column(default=utc_now, server_default=func.now())
