"""Step-up: a signed-in session proves its person again before a sensitive change.

A stolen access token (or an unlocked, unattended phone) is then not enough to change the
password, the email or the phone, or to export everything. The proof lasts STEP_UP_WINDOW on
the session that gave it, and on no other.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.identity import passwords, repository
from mindspace.identity.errors import InvalidToken, StepUpFailed, StepUpRequired, UserNotFound
from mindspace.identity.models import AuthSession
from mindspace.identity.schemas import SteppedUp
from mindspace.identity.service import lockout
from mindspace.identity.service.two_factor import SecondFactor, SecretBox, check_second_factor
from mindspace.platform.audit import Origin
from mindspace.platform.clock import utc_now
from mindspace.platform.security import Principal

STEP_UP_WINDOW = timedelta(minutes=5)


async def step_up(
    session: AsyncSession,
    principal: Principal,
    box: SecretBox,
    *,
    password: str | None = None,
    totp_code: str | None = None,
    recovery_code: str | None = None,
    origin: Origin,
) -> SteppedUp:
    """Checks a fresh password or code and marks the current session as stepped up. Wrong
    proofs count towards the account lock, like wrong passwords at sign-in."""
    user = await repository.get_user(session, principal.user_id)
    if user is None:
        raise UserNotFound()
    if password is not None:
        valid = await passwords.verify_password(user.password_hash, password)
    else:
        result = await check_second_factor(
            session, box, user.id, totp_code=totp_code, recovery_code=recovery_code
        )
        valid = result is SecondFactor.valid
    if not valid:
        await lockout.record_failure(session, user, origin=origin)
        raise StepUpFailed()
    lockout.raise_if_locked(user)
    lockout.record_success(user)
    return await mark_stepped_up(session, principal)


async def mark_stepped_up(session: AsyncSession, principal: Principal) -> SteppedUp:
    """For a sign-in method that has just proved the person another way (a phone code)."""
    now = utc_now()
    stmt = (
        update(AuthSession)
        .where(
            AuthSession.id == principal.session_id,
            AuthSession.owner_id == principal.user_id,
            AuthSession.revoked_at.is_(None),
        )
        .values(stepped_up_at=now)
        .returning(AuthSession.id)
    )
    if principal.session_id is None or (await session.execute(stmt)).first() is None:
        raise InvalidToken("This session has ended. Sign in again.")
    return SteppedUp(stepped_up_until=now + STEP_UP_WINDOW)


async def require_recent_step_up(session: AsyncSession, principal: Principal) -> None:
    """Raises StepUpRequired unless this session stepped up within STEP_UP_WINDOW."""
    stmt = select(AuthSession.stepped_up_at).where(
        AuthSession.id == principal.session_id,
        AuthSession.owner_id == principal.user_id,
        AuthSession.revoked_at.is_(None),
    )
    stepped_up_at = (await session.execute(stmt)).scalar_one_or_none()
    if stepped_up_at is None or stepped_up_at <= utc_now() - STEP_UP_WINDOW:
        raise StepUpRequired(
            "Confirm your password or a two-factor code at /api/v1/auth/step-up, then retry "
            "within 5 minutes."
        )
