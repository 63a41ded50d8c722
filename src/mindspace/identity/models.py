"""Identity tables: accounts, sign-in sessions and their rotating refresh tokens."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, SmallInteger, String, func, text
from sqlalchemy.dialects.postgresql import ARRAY, INET
from sqlalchemy.orm import Mapped, mapped_column

from mindspace.platform.db import USER_TABLE, Base, IdMixin, OwnedMixin, TimestampMixin


class UserAccount(IdMixin, TimestampMixin, Base):
    __tablename__ = USER_TABLE
    __table_args__ = (
        # Emails are stored normalised (see service.normalise_email), so plain uniqueness holds.
        Index("uq_user_account_email", "email", unique=True),
    )

    email: Mapped[str | None] = mapped_column(String(320))
    email_verified_at: Mapped[datetime | None]
    password_hash: Mapped[str | None] = mapped_column(String(255))
    roles: Mapped[list[str]] = mapped_column(
        ARRAY(String(16)), server_default=text("ARRAY['member']::varchar[]")
    )
    status: Mapped[str] = mapped_column(String(16), server_default="active")
    display_name: Mapped[str] = mapped_column(String(80))
    bio: Mapped[str | None] = mapped_column(String(1000))
    pronouns: Mapped[str | None] = mapped_column(String(40))
    country: Mapped[str | None] = mapped_column(String(2))
    timezone: Mapped[str] = mapped_column(String(64), server_default="UTC")
    locale: Mapped[str] = mapped_column(String(16), server_default="en")
    theme: Mapped[str] = mapped_column(String(16), server_default="system")
    day_boundary_hour: Mapped[int] = mapped_column(SmallInteger, server_default="4")
    onboarding_step: Mapped[int] = mapped_column(SmallInteger, server_default="0")


class AuthSession(IdMixin, OwnedMixin, Base):
    """One signed-in device. Its refresh tokens form one family: reuse of a spent token kills
    the session, and with it every token descended from the same sign-in."""

    __tablename__ = "auth_session"

    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    last_seen_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoke_reason: Mapped[str | None] = mapped_column(String(40))
    ip: Mapped[str | None] = mapped_column(INET)
    user_agent: Mapped[str | None] = mapped_column(String(400))


class RefreshToken(IdMixin, OwnedMixin, Base):
    __tablename__ = "refresh_token"
    __table_args__ = (Index("uq_refresh_token_token_hash", "token_hash", unique=True),)

    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("auth_session.id", ondelete="CASCADE"), index=True
    )
    # SHA-256 of the token: the token has 256 bits of entropy, so a fast hash is enough and a
    # database leak yields nothing usable.
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    used_at: Mapped[datetime | None]
