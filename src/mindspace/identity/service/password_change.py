"""Changing the password from a signed-in, stepped-up session."""

from __future__ import annotations

import uuid

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.identity import activity, passwords, repository
from mindspace.identity.activity import ActivityKind
from mindspace.identity.errors import UserNotFound
from mindspace.identity.models import AuthSession
from mindspace.identity.service import lockout
from mindspace.identity.service.email_flows import refuse_common_password
from mindspace.identity.tokens import TokenService
from mindspace.platform import audit, messaging
from mindspace.platform.audit import Origin
from mindspace.platform.security import Principal


async def change_password(
    session: AsyncSession,
    principal: Principal,
    tokens: TokenService,
    *,
    new_password: str,
    origin: Origin,
) -> int:
    """Sets a new password and signs out every other device: whoever knew the old password is
    out, and the person keeps the session they are using. Returns how many sessions ended.
    The caller must have required a recent step-up."""
    refuse_common_password(new_password, field="new_password")
    user = await repository.get_user(session, principal.user_id)
    if user is None:
        raise UserNotFound()
    user.password_hash = await passwords.hash_password(new_password)
    ended = await _end_other_sessions(session, principal, tokens)
    await lockout.clear_lockout(session, user.id)
    activity.record(
        session,
        user.id,
        ActivityKind.password_changed,
        origin=origin,
        details={"sessions_ended": len(ended)},
    )
    audit.record(
        session,
        actor=principal,
        action="user.password_changed",
        target_type="user",
        target_id=user.id,
        origin=origin,
    )
    if user.email:
        messaging.queue(
            session,
            channel=messaging.Channel.email,
            recipient=user.email,
            purpose="password_changed",
            subject="Your Mindspace password was changed",
            body=(
                f"Hello {user.display_name},\n\n"
                "Your password was just changed from a signed-in device, and every other "
                "device signed in to your account has been signed out.\n\n"
                "If this was not you, use 'Forgot password' to reset it right away and "
                "contact support."
            ),
            user_id=user.id,
        )
    await session.flush()
    return len(ended)


async def _end_other_sessions(
    session: AsyncSession, principal: Principal, tokens: TokenService
) -> list[uuid.UUID]:
    stmt = (
        update(AuthSession)
        .where(AuthSession.owner_id == principal.user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=func.now(), revoke_reason="password_changed")
        .returning(AuthSession.id)
    )
    if principal.session_id is not None:
        stmt = stmt.where(AuthSession.id != principal.session_id)
    ended = list((await session.execute(stmt)).scalars())
    # Their access tokens stop at the next request, not when they expire.
    for session_id in ended:
        await tokens.revocations.revoke(session_id)
    return ended
