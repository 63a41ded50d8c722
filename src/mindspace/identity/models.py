"""Identity tables: accounts, sign-in sessions and their rotating refresh tokens."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, SmallInteger, String, false, func, text
from sqlalchemy.dialects.postgresql import ARRAY, INET, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mindspace.platform.db import USER_TABLE, Base, IdMixin, OwnedMixin, TimestampMixin
from mindspace.platform.ids import encode


def avatar_path(user_id: uuid.UUID, avatar_key: str | None) -> str | None:
    if avatar_key is None:
        return None
    version = avatar_key.rsplit("/", 1)[-1]
    return f"/api/v1/users/{encode('usr', user_id)}/avatar?v={version}"


class UserAccount(IdMixin, TimestampMixin, Base):
    __tablename__ = USER_TABLE
    __table_args__ = (
        # Emails are stored normalised (see service.normalise_email), so plain uniqueness holds.
        Index("uq_user_account_email", "email", unique=True),
        Index(
            "uq_user_account_phone",
            "phone",
            unique=True,
            postgresql_where=text("phone IS NOT NULL"),
        ),
        Index(
            "ix_user_account_deletion_due_at",
            "deletion_due_at",
            postgresql_where=text("deletion_due_at IS NOT NULL"),
        ),
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
    # E.164 ("+447911123456"), unique where set (uq_user_account_phone, migration 0005). Set
    # only once a code sent to it came back, so a number here is always one the person holds.
    phone: Mapped[str | None] = mapped_column(String(16))
    phone_verified_at: Mapped[datetime | None]
    # Storage key prefix of the current avatar (service.avatar); a new one for every upload.
    avatar_key: Mapped[str | None] = mapped_column(String(200))
    # 'private' or 'public': only public profiles are readable by others (view public_profile).
    profile_visibility: Mapped[str] = mapped_column(String(16), server_default="private")
    suspended_at: Mapped[datetime | None]
    suspension_reason: Mapped[str | None] = mapped_column(String(500))
    # Consecutive wrong passwords (and second-factor codes) since the last success; at
    # service.lockout.MAX_FAILURES the account is locked until `locked_until`.
    failed_logins: Mapped[int] = mapped_column(server_default="0")
    locked_until: Mapped[datetime | None]
    # Set when the person asks to delete their account: they are signed out and hidden at once,
    # and the erasure job removes every row they own once this passes (cancelled by signing in).
    deletion_due_at: Mapped[datetime | None]

    @property
    def avatar_url(self) -> str | None:
        """Where clients fetch the avatar. The version changes with every upload, so a client
        may cache by URL."""
        return avatar_path(self.id, self.avatar_key)


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
    # When this session last proved its person again (fresh password or code): sensitive
    # changes need a recent one (identity.auth.SteppedUpPrincipal).
    stepped_up_at: Mapped[datetime | None]


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


class TotpCredential(IdMixin, OwnedMixin, Base):
    """A person's authenticator-app secret: pending until a first code confirms it."""

    __tablename__ = "totp_credential"

    # One per person: setting up again replaces a pending secret (service.two_factor).
    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{USER_TABLE}.id", ondelete="CASCADE"), unique=True
    )
    # AES-GCM (nonce + ciphertext) under a key derived from the secret key, bound to the owner:
    # a database copy alone cannot produce codes.
    secret_ciphertext: Mapped[bytes] = mapped_column(LargeBinary(128))
    confirmed_at: Mapped[datetime | None]
    # The time step of the last code accepted: a code is good once, never again in its window.
    last_used_counter: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class RecoveryCode(IdMixin, OwnedMixin, Base):
    __tablename__ = "recovery_code"

    # SHA-256 of the code: codes carry 80 random bits, so a fast hash is enough.
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    used_at: Mapped[datetime | None]


class EmailToken(IdMixin, OwnedMixin, Base):
    """A single-use link sent by email: proof of the address (verify_email) or a way back into
    the account (reset_password). Only its SHA-256 is stored."""

    __tablename__ = "email_token"
    __table_args__ = (Index("uq_email_token_token_hash", "token_hash", unique=True),)

    purpose: Mapped[str] = mapped_column(String(20))
    # The address the link went to: a link proves control of that address only, so it stops
    # working if the account's email changes before it is used.
    email: Mapped[str] = mapped_column(String(320))
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    expires_at: Mapped[datetime]
    # Set when the link is used, and when a newer link of the same purpose supersedes it.
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class PhoneOtp(IdMixin, Base):
    """A six-digit code sent by SMS. Keyed by phone, not owned: a sign-in code exists before any
    account does. Only an HMAC of the code is stored, bound to the phone, purpose and person."""

    __tablename__ = "phone_otp"
    __table_args__ = (Index("ix_phone_otp_phone_purpose", "phone", "purpose"),)

    phone: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(16))  # sign_in | verify_phone
    # verify_phone: the signed-in person who asked; the code works for them only.
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey(f"{USER_TABLE}.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    attempts: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime]


class UserPreference(OwnedMixin, TimestampMixin, Base):
    """A person's notification and privacy choices: one row, made on their first change (until
    then, service.preferences answers the defaults)."""

    __tablename__ = "user_preference"

    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{USER_TABLE}.id", ondelete="CASCADE"), primary_key=True
    )
    # {category: {channel: bool}}, only the cells the person set; validated by
    # schemas.NotificationChannels on the way out.
    channels: Mapped[dict[str, dict[str, bool]]] = mapped_column(
        JSONB, server_default=text("'{}'::jsonb")
    )
    allow_ai_memory: Mapped[bool] = mapped_column(server_default=false())
    allow_journal_analysis: Mapped[bool] = mapped_column(server_default=false())
    allow_crisis_outreach: Mapped[bool] = mapped_column(server_default=false())
    allow_journal_memory: Mapped[bool] = mapped_column(server_default=false())
    show_in_community_directory: Mapped[bool] = mapped_column(server_default=false())


class OidcFlow(IdMixin, Base):
    """One sign-in (or linking) round trip through an OpenID Connect provider, started here and
    finished by the callback: single use, ten minutes. Not owned by anyone until it finishes."""

    __tablename__ = "oidc_flow"
    __table_args__ = (Index("uq_oidc_flow_state_hash", "state_hash", unique=True),)

    provider: Mapped[str] = mapped_column(String(40))
    # SHA-256 of the state: the state travels through the browser, the hash stays here.
    state_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    # Both must be known in the clear to finish the flow (ID token check, PKCE exchange).
    nonce: Mapped[str] = mapped_column(String(128))
    code_verifier: Mapped[str] = mapped_column(String(128))
    redirect_uri: Mapped[str] = mapped_column(String(2000))
    # Set when a signed-in person started the flow to link a provider to their account.
    link_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey(f"{USER_TABLE}.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]
    # Set when the provider has vouched for this subject and the account's second factor is
    # awaited: the callback may then come again with the code, without another exchange.
    subject: Mapped[str | None] = mapped_column(String(255))


class IdentityLink(IdMixin, OwnedMixin, Base):
    """An account at an OpenID Connect provider that signs in to this account."""

    __tablename__ = "identity_link"
    __table_args__ = (
        Index("uq_identity_link_provider_subject", "provider", "subject", unique=True),
    )

    provider: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(255))
    # What the provider said the address was when linked: a label for the person, not a proof.
    email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class DataExport(IdMixin, OwnedMixin, Base):
    """A person's request for all their data, built by a job into one archive."""

    __tablename__ = "data_export"

    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    requested_at: Mapped[datetime] = mapped_column(server_default=func.now())
    ready_at: Mapped[datetime | None]
    # The link works once, for the owner only, until then.
    expires_at: Mapped[datetime | None]
    file_key: Mapped[str | None] = mapped_column(String(200))
    download_token_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    downloaded_at: Mapped[datetime | None]
