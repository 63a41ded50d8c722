"""A person's own account activity: sign-ins, new devices, password and email changes,
token-reuse alerts. Written in the same transaction as the act it describes."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, func, text
from sqlalchemy.dialects.postgresql import INET, JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from mindspace.platform.audit import Origin
from mindspace.platform.clock import utc_now
from mindspace.platform.db import Base, IdMixin, OwnedMixin
from mindspace.platform.ids import new_id


class ActivityKind(enum.StrEnum):  # auto(): each value is the member name
    signed_in = enum.auto()
    new_device = enum.auto()
    signed_out_everywhere = enum.auto()
    password_changed = enum.auto()
    password_reset = enum.auto()
    email_changed = enum.auto()
    email_verified = enum.auto()
    phone_changed = enum.auto()
    refresh_token_reused = enum.auto()
    two_factor_enabled = enum.auto()
    two_factor_disabled = enum.auto()
    provider_linked = enum.auto()
    provider_unlinked = enum.auto()
    account_locked = enum.auto()
    suspended = enum.auto()
    restored = enum.auto()
    export_requested = enum.auto()
    deletion_requested = enum.auto()
    deletion_cancelled = enum.auto()
    roles_changed = enum.auto()


class AccountActivity(IdMixin, OwnedMixin, Base):
    __tablename__ = "account_activity"
    # "My activity", newest first, is a keyset over (occurred_at, id) within one owner.
    __table_args__ = (
        Index(
            "ix_account_activity_owner_recent",
            "owner_id",
            text("occurred_at DESC"),
            text("id DESC"),
        ),
    )

    kind: Mapped[str] = mapped_column(String(40))
    ip: Mapped[str | None] = mapped_column(INET)
    user_agent: Mapped[str | None] = mapped_column(String(400))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(default=utc_now, server_default=func.now())


def record(
    session: AsyncSession,
    user_id: uuid.UUID,
    kind: ActivityKind,
    *,
    origin: Origin | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    origin = origin or Origin()
    session.add(
        AccountActivity(
            id=new_id(),
            owner_id=user_id,
            kind=kind.value,
            ip=origin.ip,
            user_agent=(origin.user_agent or "")[:400] or None,
            details=details or {},
        )
    )
