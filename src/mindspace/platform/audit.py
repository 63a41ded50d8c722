"""The append-only audit trail: who did what to whom, from where.

The app role may INSERT and SELECT here, never UPDATE or DELETE (see the platform migration);
a trigger refuses those even for the owner, so the trail survives a compromised API.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, func
from sqlalchemy.dialects.postgresql import INET, JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from mindspace.platform.clock import utc_now
from mindspace.platform.db import Base, Database, DbScope, IdMixin
from mindspace.platform.security import Principal


class AuditRecord(IdMixin, Base):
    __tablename__ = "audit_record"
    __table_args__ = (Index("ix_audit_record_target", "target_type", "target_id"),)

    actor_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    action: Mapped[str] = mapped_column(String(80))
    target_type: Mapped[str | None] = mapped_column(String(40))
    target_id: Mapped[uuid.UUID | None]
    ip: Mapped[str | None] = mapped_column(INET)
    user_agent: Mapped[str | None] = mapped_column(String(400))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # Set here, not by the server: this table is insert-only to the app, so an INSERT ...
    # RETURNING of a server default would need a read the policy does not grant.
    occurred_at: Mapped[datetime] = mapped_column(default=utc_now, server_default=func.now())


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a request came from, for the audit trail and the activity log."""

    ip: str | None = None
    user_agent: str | None = None


def record(
    session: AsyncSession,
    *,
    actor: Principal | None,
    action: str,
    target_type: str | None = None,
    target_id: uuid.UUID | None = None,
    origin: Origin | None = None,
    details: dict[str, Any] | None = None,
) -> AuditRecord:
    """Adds an audit record to the caller's transaction: it commits or vanishes with the act."""
    origin = origin or Origin()
    entry = AuditRecord(
        actor_id=actor.user_id if actor else None,
        action=action,
        target_type=target_type,
        target_id=target_id,
        ip=origin.ip,
        user_agent=(origin.user_agent or "")[:400] or None,
        details=details or {},
    )
    session.add(entry)
    return entry


@asynccontextmanager
async def admin_session(
    db: Database,
    principal: Principal,
    *,
    action: str,
    target_type: str | None = None,
    target_id: uuid.UUID | None = None,
    origin: Origin | None = None,
    details: dict[str, Any] | None = None,
) -> AsyncIterator[AsyncSession]:
    """The only way staff see past row-level security: a transaction that audits its opening."""
    async with db.session(principal, scope=DbScope.admin) as session:
        record(
            session,
            actor=principal,
            action=action,
            target_type=target_type,
            target_id=target_id,
            origin=origin,
            details=details,
        )
        yield session
