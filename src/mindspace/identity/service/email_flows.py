"""Links sent by email: verifying an address, resetting a forgotten password; and the refusal
of the most common passwords.

A link carries a random token of 256 bits; only its SHA-256 is stored, so a copy of the
database opens nothing. Each token has one purpose, one address, an expiry, and works once.
Asking for a reset answers the same whether or not the email has an account.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta
from functools import cache
from importlib import resources
from urllib.parse import urlencode

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.identity import activity, passwords, repository
from mindspace.identity.activity import ActivityKind
from mindspace.identity.errors import CommonPassword, EmailTaken, LinkExpired, LinkInvalid
from mindspace.identity.models import EmailToken, UserAccount
from mindspace.identity.service.accounts import ACTIVE, end_all_sessions, normalise_email
from mindspace.identity.service.lockout import record_success
from mindspace.identity.tokens import TokenService
from mindspace.platform import audit, messaging
from mindspace.platform.audit import Origin
from mindspace.platform.clock import utc_now
from mindspace.platform.ids import new_id
from mindspace.platform.messaging import Channel
from mindspace.platform.security import Principal

VERIFY_EMAIL = "verify_email"
RESET_PASSWORD = "reset_password"  # noqa: S105 - a purpose name, not a secret
CHANGE_EMAIL = "change_email"
CHANGE_EMAIL_TTL = timedelta(hours=24)
VERIFY_EMAIL_TTL = timedelta(hours=24)
RESET_PASSWORD_TTL = timedelta(minutes=30)
# Per account, whoever asks: a stranger who knows an address cannot flood its inbox with
# reset links (the per-IP limit alone would not stop many IPs).
MAX_RESET_EMAILS_PER_HOUR = 3


# --- common passwords -------------------------------------------------------------------------


@cache
def _common_passwords() -> frozenset[str]:
    # Loaded on first use, once per process: about 10,000 short strings, well under 1 MB.
    text = (
        resources.files("mindspace.identity")
        .joinpath("data", "common-passwords.txt")
        .read_text(encoding="utf-8")
    )
    return frozenset(line for line in text.splitlines() if line)


def is_common_password(password: str) -> bool:
    return password.lower() in _common_passwords()


def refuse_common_password(password: str, *, field: str) -> None:
    """Raises CommonPassword (422 weak-password, pointing at /body/<field>) for a password on
    the list. Length is the schema's job; there are no composition rules (NIST SP 800-63B)."""
    if is_common_password(password):
        raise CommonPassword(field)


# --- link tokens ------------------------------------------------------------------------------


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _link(base_url: str, path: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/{path}?{urlencode({'token': token})}"


async def _issue(
    session: AsyncSession, user_id: uuid.UUID, email: str, *, purpose: str, ttl: timedelta
) -> str:
    """A new link token for `email`; older unused ones of the same purpose stop working, so
    only the latest email in someone's inbox is live."""
    now = utc_now()
    await session.execute(
        update(EmailToken)
        .where(
            EmailToken.owner_id == user_id,
            EmailToken.purpose == purpose,
            EmailToken.used_at.is_(None),
        )
        .values(used_at=now)
    )
    token = secrets.token_urlsafe(32)
    session.add(
        EmailToken(
            id=new_id(),
            owner_id=user_id,
            purpose=purpose,
            email=email,
            token_hash=_hash(token),
            expires_at=now + ttl,
        )
    )
    return token


async def _redeem(
    session: AsyncSession, token: str, *, purpose: str, to_current_address: bool = True
) -> tuple[EmailToken, UserAccount]:
    """Spends a link token and returns it with its account. Unknown, used, superseded and
    other-purpose tokens are all just invalid; an expired one says so, so the person knows to
    ask for a new link. The row lock makes two concurrent uses of one link succeed once."""
    stmt = (
        select(EmailToken)
        .where(EmailToken.token_hash == _hash(token), EmailToken.purpose == purpose)
        .with_for_update()
    )
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None or row.used_at is not None:
        raise LinkInvalid("This link has already been used or is not one of ours.")
    now = utc_now()
    if row.expires_at <= now:
        raise LinkExpired("Ask for a new link; this one is too old to use.")
    user = await repository.get_user(session, row.owner_id)
    # A link stops working when the account's address changes, except the link that changes it.
    stale = to_current_address and user is not None and user.email != row.email
    if user is None or stale or user.status != ACTIVE:
        raise LinkInvalid("This link no longer matches the account it was sent for.")
    row.used_at = now
    return row, user


# --- email verification -----------------------------------------------------------------------


async def send_verification(session: AsyncSession, user: UserAccount, *, base_url: str) -> None:
    """Queues a verification link to the account's address (in the caller's transaction)."""
    if user.email is None:
        return
    token = await _issue(session, user.id, user.email, purpose=VERIFY_EMAIL, ttl=VERIFY_EMAIL_TTL)
    link = _link(base_url, "verify-email", token)
    messaging.queue(
        session,
        channel=Channel.email,
        recipient=user.email,
        purpose=VERIFY_EMAIL,
        subject="Confirm your email for Mindspace",
        body=(
            f"Hello {user.display_name},\n\n"
            f"Please confirm this is your email address by opening this link:\n{link}\n\n"
            "The link works once and for 24 hours. If you did not create a Mindspace account, "
            "you can ignore this email."
        ),
        user_id=user.id,
    )


def send_registration_attempt_notice(
    session: AsyncSession, user: UserAccount, *, base_url: str
) -> None:
    """Tells the owner of an address that someone tried to register it again; the person
    registering sees the same answer as for a new account."""
    if user.email is None:
        return
    messaging.queue(
        session,
        channel=Channel.email,
        recipient=user.email,
        purpose="registration_attempt",
        subject="Someone tried to create a Mindspace account with your email",
        body=(
            f"Hello {user.display_name},\n\n"
            "Someone just tried to create a new Mindspace account with this email address, "
            "which already has one. If it was you, sign in instead; if you have forgotten your "
            f"password you can reset it at {base_url.rstrip('/')}/forgot-password.\n\n"
            "If it was not you, nothing has changed and you can ignore this email."
        ),
        user_id=user.id,
    )


async def verify_email(session: AsyncSession, *, token: str, origin: Origin) -> None:
    _row, user = await _redeem(session, token, purpose=VERIFY_EMAIL)
    if user.email_verified_at is None:
        user.email_verified_at = utc_now()
        activity.record(session, user.id, ActivityKind.email_verified, origin=origin)
    await session.flush()


async def resend_verification(
    session: AsyncSession, principal: Principal, *, base_url: str
) -> None:
    """Sends a fresh verification link, unless the address is already verified (or the account
    has no email): either way the caller sees the same acceptance."""
    user = await repository.get_user(session, principal.user_id)
    if user is None or user.email is None or user.email_verified_at is not None:
        return
    await send_verification(session, user, base_url=base_url)
    await session.flush()


async def has_verified_contact(session: AsyncSession, principal: Principal) -> bool:
    """Whether the person can be reached and held to account: a verified email or a verified
    phone. Features that reach other people require it."""
    stmt = select(
        or_(UserAccount.email_verified_at.is_not(None), UserAccount.phone_verified_at.is_not(None))
    ).where(UserAccount.id == principal.user_id)
    return bool((await session.execute(stmt)).scalar_one_or_none())


# --- forgotten password -----------------------------------------------------------------------


async def forgot_password(
    session: AsyncSession, *, email: str, base_url: str, origin: Origin
) -> None:
    """Emails a reset link if the address belongs to an active account. Nothing in the answer
    says whether it did."""
    user = await repository.find_user_by_email(session, normalise_email(email))
    if user is None or user.email is None or user.status != ACTIVE:
        return
    recent = await session.execute(
        select(func.count())
        .select_from(EmailToken)
        .where(
            EmailToken.owner_id == user.id,
            EmailToken.purpose == RESET_PASSWORD,
            EmailToken.created_at > func.now() - timedelta(hours=1),
        )
    )
    if recent.scalar_one() >= MAX_RESET_EMAILS_PER_HOUR:
        return
    token = await _issue(
        session, user.id, user.email, purpose=RESET_PASSWORD, ttl=RESET_PASSWORD_TTL
    )
    link = _link(base_url, "reset-password", token)
    messaging.queue(
        session,
        channel=Channel.email,
        recipient=user.email,
        purpose=RESET_PASSWORD,
        subject="Reset your Mindspace password",
        body=(
            f"Hello {user.display_name},\n\n"
            f"Someone (we hope you) asked to reset your password. Choose a new one here:\n"
            f"{link}\n\n"
            "The link works once and for 30 minutes. If you did not ask, ignore this email: "
            "your password stays as it is."
            + (f"\n\nRequested from {origin.ip}." if origin.ip else "")
        ),
        user_id=user.id,
    )
    await session.flush()


async def reset_password(
    session: AsyncSession,
    tokens: TokenService,
    *,
    token: str,
    new_password: str,
    origin: Origin,
) -> None:
    """Sets a new password from a reset link and signs the account out everywhere: whoever
    knew the old password, or held a session, is out."""
    # Checked before the link is spent, so a refused password leaves the link usable.
    refuse_common_password(new_password, field="new_password")
    row, user = await _redeem(session, token, purpose=RESET_PASSWORD)
    user.password_hash = await passwords.hash_password(new_password)
    # Whoever holds the inbox is the owner: a lock from someone guessing the old password ends.
    record_success(user)
    # The link reached this address, which proves it as well as a verification link would.
    if user.email_verified_at is None:
        user.email_verified_at = utc_now()
    await session.execute(
        update(EmailToken)
        .where(
            EmailToken.owner_id == user.id,
            EmailToken.purpose == RESET_PASSWORD,
            EmailToken.used_at.is_(None),
        )
        .values(used_at=func.now())
    )
    ended = await end_all_sessions(session, tokens, user.id, "password_reset")
    activity.record(
        session,
        user.id,
        ActivityKind.password_reset,
        origin=origin,
        details={"sessions_ended": len(ended)},
    )
    audit.record(
        session,
        actor=None,
        action="user.password_reset",
        target_type="user",
        target_id=user.id,
        origin=origin,
    )
    _send_password_changed(session, user, row.email)
    await session.flush()


def _send_password_changed(session: AsyncSession, user: UserAccount, email: str) -> None:
    messaging.queue(
        session,
        channel=Channel.email,
        recipient=email,
        purpose="password_changed",
        subject="Your Mindspace password was changed",
        body=(
            f"Hello {user.display_name},\n\n"
            "Your password was just changed with a reset link, and every device signed in to "
            "your account has been signed out.\n\n"
            "If this was not you, reset your password again right away and contact support."
        ),
        user_id=user.id,
    )


__all__ = [
    "MAX_RESET_EMAILS_PER_HOUR",
    "RESET_PASSWORD",
    "RESET_PASSWORD_TTL",
    "VERIFY_EMAIL",
    "VERIFY_EMAIL_TTL",
    "forgot_password",
    "has_verified_contact",
    "is_common_password",
    "refuse_common_password",
    "resend_verification",
    "reset_password",
    "send_registration_attempt_notice",
    "send_verification",
    "verify_email",
]


# --- email change -----------------------------------------------------------------------------


async def request_email_change(
    session: AsyncSession, principal: Principal, *, new_email: str, base_url: str
) -> None:
    """Sends a confirmation link to the new address; nothing changes until it is opened.

    Whether the address already has an account is not checked here: the person's own scope
    cannot see other accounts (row-level security), and the answer must not tell them anyway.
    Confirming checks it, and only the holder of that inbox ever learns the result."""
    new_email = normalise_email(new_email)
    user = await repository.get_user(session, principal.user_id)
    if user is None or user.email == new_email:
        return
    token = await _issue(session, user.id, new_email, purpose=CHANGE_EMAIL, ttl=CHANGE_EMAIL_TTL)
    messaging.queue(
        session,
        channel=Channel.email,
        recipient=new_email,
        purpose=CHANGE_EMAIL,
        subject="Confirm your new email for Mindspace",
        body=(
            f"Hello {user.display_name},\n\nTo use this address for your Mindspace account, "
            f"open this link:\n{_link(base_url, 'confirm-email-change', token)}\n\n"
            "It works once and for 24 hours. If you did not ask for this, ignore this email."
        ),
        user_id=user.id,
    )
    if user.email:
        messaging.queue(
            session,
            channel=Channel.email,
            recipient=user.email,
            purpose="email_change_requested",
            subject="A change of email was requested for your Mindspace account",
            body=(
                f"Hello {user.display_name},\n\nSomeone signed in to your account asked to "
                "move it to a new email address. Nothing changes unless that address confirms. "
                "If this was not you, change your password and sign out everywhere."
            ),
            user_id=user.id,
        )
    await session.flush()


async def confirm_email_change(session: AsyncSession, *, token: str, origin: Origin) -> None:
    row, user = await _redeem(session, token, purpose=CHANGE_EMAIL, to_current_address=False)
    if await repository.find_user_by_email(session, row.email) is not None:
        raise EmailTaken("That address was claimed by another account in the meantime.")
    old = user.email
    user.email = row.email
    user.email_verified_at = utc_now()
    activity.record(session, user.id, ActivityKind.email_changed, origin=origin)
    audit.record(
        session,
        actor=None,
        action="user.email_changed",
        target_type="user",
        target_id=user.id,
        origin=origin,
    )
    if old:
        messaging.queue(
            session,
            channel=Channel.email,
            recipient=old,
            purpose="email_changed",
            subject="Your Mindspace email was changed",
            body=(
                f"Hello {user.display_name},\n\nYour account now uses a different email "
                "address. If this was not you, contact support right away."
            ),
            user_id=user.id,
        )
    await session.flush()
