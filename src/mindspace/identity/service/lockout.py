"""Account lockout: a bound on password guessing that an attacker cannot turn against the owner.

- Every wrong password (or second-factor code) for an existing account counts; a success
  resets the count. At MAX_FAILURES in a row the account is locked for LOCK_DURATION.
- The lock is revealed only to someone who gave the right password: a wrong password during a
  lock answers exactly like any wrong password, so the lock is no oracle for guessers.
- The lock expires by itself, attempts during it neither count nor extend it, and the count
  starts again from zero, so keeping a person out takes a fresh hundred failures every time
  (and the per-account rate limit makes that slow). Password reset and phone sign-in do not
  go through the lock at all and clear it (`clear_lockout`), so the owner always has a way in.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from datetime import datetime, timedelta

from sqlalchemy import case, func, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from mindspace.identity import activity
from mindspace.identity.activity import ActivityKind
from mindspace.identity.errors import AccountLocked
from mindspace.identity.models import UserAccount
from mindspace.platform import audit, messaging
from mindspace.platform.audit import Origin
from mindspace.platform.clock import utc_now
from mindspace.platform.ratelimit import RateLimiter

MAX_FAILURES = 100
LOCK_DURATION = timedelta(minutes=15)
# Per account (by normalised email), on top of the per-IP limit on the route: a botnet spread
# over many addresses still gets only this many guesses a minute at one person.
ACCOUNT_SIGN_IN_LIMIT = "10/minute"


def lock_seconds_left(user: UserAccount, now: datetime | None = None) -> int | None:
    """Seconds until the lock ends, or None when the account is not locked."""
    if user.locked_until is None:
        return None
    left = (user.locked_until - (now or utc_now())).total_seconds()
    return math.ceil(left) if left > 0 else None


def raise_if_locked(user: UserAccount) -> None:
    """Call only after the password (or code) was found right: see the module docstring."""
    left = lock_seconds_left(user)
    if left is not None:
        raise AccountLocked(left)


async def throttle_sign_in(limiter: RateLimiter, email: str) -> None:
    """Counts a sign-in attempt against the account's limit, known account or not (so the
    limit reveals nothing). The key is a hash: the limiter's store never holds an email."""
    key = hashlib.sha256(email.encode()).hexdigest()[:32]
    await limiter.hit(ACCOUNT_SIGN_IN_LIMIT, "sign-in-account", key)


async def record_failure(session: AsyncSession, user: UserAccount, *, origin: Origin) -> None:
    """Counts one failure, atomically (parallel guesses cannot slip past the limit), and
    starts the lock at the limit. During a lock nothing changes."""
    reaches_limit = UserAccount.failed_logins + 1 >= MAX_FAILURES
    stmt = (
        update(UserAccount)
        .where(
            UserAccount.id == user.id,
            or_(UserAccount.locked_until.is_(None), UserAccount.locked_until <= func.now()),
        )
        .values(
            failed_logins=case((reaches_limit, 0), else_=UserAccount.failed_logins + 1),
            locked_until=case((reaches_limit, func.now() + LOCK_DURATION), else_=None),
        )
        .returning(UserAccount.failed_logins, UserAccount.locked_until)
        .execution_options(synchronize_session=False)
    )
    row = (await session.execute(stmt)).first()
    if row is None:
        return  # locked: attempts during a lock neither count nor extend it
    failed_logins, locked_until = row
    set_committed_value(user, "failed_logins", failed_logins)
    set_committed_value(user, "locked_until", locked_until)
    if locked_until is not None:
        _announce_lock(session, user, locked_until, origin)


def _announce_lock(
    session: AsyncSession, user: UserAccount, locked_until: datetime, origin: Origin
) -> None:
    details = {"locked_until": locked_until.isoformat(), "failures": MAX_FAILURES}
    activity.record(session, user.id, ActivityKind.account_locked, origin=origin, details=details)
    audit.record(
        session,
        actor=None,
        action="user.locked",
        target_type="user",
        target_id=user.id,
        origin=origin,
        details=details,
    )
    if user.email:
        minutes = int(LOCK_DURATION.total_seconds() // 60)
        messaging.queue(
            session,
            channel=messaging.Channel.email,
            recipient=user.email,
            purpose="account_locked",
            subject="Sign-in to your Mindspace account is paused",
            body=(
                f"There were {MAX_FAILURES} failed attempts to sign in to your account, so we "
                f"paused password sign-in for {minutes} minutes.\n\n"
                "If this was you, you can wait, or use 'Forgot password' to reset your "
                "password and sign in straight away.\n"
                "If it was not you, your account is safe: nobody got in. Resetting your "
                "password (and turning on two-factor authentication) keeps it that way."
            ),
            user_id=user.id,
        )


def record_success(user: UserAccount) -> None:
    if user.failed_logins or user.locked_until is not None:
        user.failed_logins = 0
        user.locked_until = None


async def clear_lockout(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Ends any lock and forgets past failures: for flows that proved the person another way
    (password reset, phone sign-in, a password change)."""
    await session.execute(
        update(UserAccount)
        .where(
            UserAccount.id == user_id,
            or_(UserAccount.failed_logins > 0, UserAccount.locked_until.is_not(None)),
        )
        .values(failed_logins=0, locked_until=None)
    )
