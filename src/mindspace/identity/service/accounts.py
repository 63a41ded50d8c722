"""Identity rules: accounts, sign-in, sessions, profiles.

Sign-in flows run before anyone is authenticated, so their sessions are opened in the narrow
`auth` scope: it sees identity's own tables and nothing else.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.identity import activity, passwords, repository
from mindspace.identity.activity import ActivityKind
from mindspace.identity.errors import (
    AccountUnavailable,
    InvalidCredentials,
    InvalidToken,
    RefreshTokenReused,
    SessionNotFound,
    UserNotFound,
)
from mindspace.identity.events import RegistrationAttempted, UserRegistered
from mindspace.identity.models import AuthSession, RefreshToken, UserAccount
from mindspace.identity.schemas import AuthSessionOut, Me, TokenPair
from mindspace.identity.tokens import TokenService, hash_refresh_token, new_refresh_token
from mindspace.platform import audit, outbox
from mindspace.platform.audit import Origin
from mindspace.platform.clock import utc_now
from mindspace.platform.ids import new_id
from mindspace.platform.pagination import Page, PageParams, page
from mindspace.platform.security import Principal, Role

SESSION_LIFETIME = timedelta(days=30)
ACTIVE = "active"
SUSPENDED = "suspended"


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def register(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    display_name: str,
    origin: Origin,
    roles: tuple[Role, ...] = (Role.member,),
) -> uuid.UUID | None:
    """Creates an account, or does nothing visible if the email is taken: the answer and the
    time taken are the same either way, so registration cannot be used to probe for accounts.
    Returns the new account's id (None when the email was taken) for internal callers."""
    email = normalise_email(email)
    password_hash = await passwords.hash_password(password)  # hashed either way: equal timing
    existing = await repository.find_user_by_email(session, email)
    if existing is not None:
        outbox.publish(
            session,
            RegistrationAttempted(user_id=existing.id),
            owner_id=existing.id,
        )
        return None
    user = UserAccount(
        id=new_id(),
        email=email,
        password_hash=password_hash,
        display_name=display_name,
        roles=[r.value for r in roles],
    )
    session.add(user)
    await session.flush()
    outbox.publish(session, UserRegistered(user_id=user.id), owner_id=user.id)
    audit.record(
        session,
        actor=None,
        action="user.registered",
        target_type="user",
        target_id=user.id,
        origin=origin,
    )
    return user.id


async def login(
    session: AsyncSession,
    tokens: TokenService,
    *,
    email: str,
    password: str,
    origin: Origin,
) -> TokenPair:
    user = await repository.find_user_by_email(session, normalise_email(email))
    # verify_password runs the full argon2 check even when the account does not exist.
    valid = await passwords.verify_password(user.password_hash if user else None, password)
    if user is None or not valid:
        raise InvalidCredentials()
    if user.status != ACTIVE:
        raise AccountUnavailable("This account is suspended. Contact support to restore it.")
    if user.password_hash and passwords.needs_rehash(user.password_hash):
        user.password_hash = await passwords.hash_password(password)
    activity.record(
        session, user.id, ActivityKind.signed_in, origin=origin, details={"method": "password"}
    )
    return await _start_session(session, tokens, user, origin)


async def _start_session(
    session: AsyncSession, tokens: TokenService, user: UserAccount, origin: Origin
) -> TokenPair:
    now = utc_now()
    auth_session = AuthSession(
        id=new_id(),
        owner_id=user.id,
        expires_at=now + SESSION_LIFETIME,
        ip=origin.ip,
        user_agent=(origin.user_agent or "")[:400] or None,
        last_seen_at=now,
    )
    session.add(auth_session)
    refresh, refresh_hash = new_refresh_token()
    session.add(RefreshToken(owner_id=user.id, session_id=auth_session.id, token_hash=refresh_hash))
    await session.flush()
    return _token_pair(tokens, user, auth_session.id, refresh)


def _token_pair(
    tokens: TokenService, user: UserAccount, session_id: uuid.UUID, refresh: str
) -> TokenPair:
    principal = Principal(
        user_id=user.id, roles=frozenset(Role(r) for r in user.roles), session_id=session_id
    )
    access, expires_in = tokens.issue(principal)
    return TokenPair(access_token=access, expires_in=expires_in, refresh_token=refresh)


async def refresh(
    session: AsyncSession, tokens: TokenService, *, refresh_token: str, origin: Origin
) -> TokenPair:
    """Rotates the refresh token. A token presented twice means it was stolen (or the client
    is broken): the whole session dies, and the person is told in their activity log."""
    found = await repository.find_refresh_token(session, hash_refresh_token(refresh_token))
    if found is None:
        raise InvalidToken()
    token, auth_session = found
    now = utc_now()
    if token.used_at is not None:
        if auth_session.revoked_at is None:
            await _end_sessions(
                session, tokens, auth_session.owner_id, "refresh_token_reuse", only=auth_session.id
            )
            activity.record(
                session, auth_session.owner_id, ActivityKind.refresh_token_reused, origin=origin
            )
            audit.record(
                session,
                actor=None,
                action="session.refresh_token_reused",
                target_type="session",
                target_id=auth_session.id,
                origin=origin,
            )
        raise RefreshTokenReused("This sign-in has ended for your safety. Please sign in again.")
    if auth_session.revoked_at is not None or auth_session.expires_at <= now:
        raise InvalidToken()
    user = await repository.get_user(session, auth_session.owner_id)
    if user is None or user.status != ACTIVE:
        raise InvalidToken()
    token.used_at = now
    auth_session.last_seen_at = now
    new_token, new_hash = new_refresh_token()
    session.add(RefreshToken(owner_id=user.id, session_id=auth_session.id, token_hash=new_hash))
    await session.flush()
    return _token_pair(tokens, user, auth_session.id, new_token)


async def _end_sessions(
    session: AsyncSession,
    tokens: TokenService,
    user_id: uuid.UUID,
    reason: str,
    *,
    only: uuid.UUID | None = None,
) -> list[uuid.UUID]:
    ended = await repository.revoke_sessions(session, user_id, reason, only=only)
    for session_id in ended:
        await tokens.revocations.revoke(session_id)
    return ended


async def logout(session: AsyncSession, principal: Principal, tokens: TokenService) -> None:
    if principal.session_id is not None:
        await _end_sessions(session, tokens, principal.user_id, "logout", only=principal.session_id)


async def logout_everywhere(
    session: AsyncSession, principal: Principal, tokens: TokenService
) -> int:
    ended = await _end_sessions(session, tokens, principal.user_id, "logout_everywhere")
    activity.record(session, principal.user_id, ActivityKind.signed_out_everywhere)
    return len(ended)


async def list_sessions(
    session: AsyncSession, principal: Principal, params: PageParams
) -> Page[AuthSessionOut]:
    rows = await repository.list_sessions(session, principal, params)
    items = [
        AuthSessionOut.model_validate({**r._mapping, "current": r.id == principal.session_id})
        for r in rows
    ]
    return page(items, params, key=lambda item: (item.id,))


async def revoke_session(
    session: AsyncSession, principal: Principal, tokens: TokenService, *, session_id: uuid.UUID
) -> None:
    if await repository.get_own_session(session, principal, session_id) is None:
        raise SessionNotFound()
    await _end_sessions(session, tokens, principal.user_id, "revoked_by_user", only=session_id)


async def get_me(session: AsyncSession, principal: Principal) -> Me:
    user = await repository.get_user(session, principal.user_id)
    if user is None:
        raise UserNotFound()
    return _me(user)


async def update_me(session: AsyncSession, principal: Principal, *, changes: dict[str, Any]) -> Me:
    user = await repository.get_user(session, principal.user_id)
    if user is None:
        raise UserNotFound()
    for field, value in changes.items():
        setattr(user, field, value)
    await session.flush()
    await session.refresh(user)
    return _me(user)


def _me(user: UserAccount) -> Me:
    return Me.model_validate(
        {
            **{c: getattr(user, c) for c in Me.model_fields if hasattr(user, c)},
            "email_verified": user.email_verified_at is not None,
        }
    )
