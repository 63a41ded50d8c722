"""Identity rules: accounts, sign-in, sessions, profiles.

Sign-in flows run before anyone is authenticated, so their sessions are opened in the narrow
`auth` scope: it sees identity's own tables and nothing else.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.identity import activity, passwords, repository
from mindspace.identity.activity import ActivityKind
from mindspace.identity.errors import (
    AccountUnavailable,
    FailedSignIn,
    InvalidCredentials,
    InvalidToken,
    RefreshTokenReused,
    SessionNotFound,
    TwoFactorRequired,
    UserNotFound,
    WrongSecondFactor,
)
from mindspace.identity.events import RegistrationAttempted, UserRegistered
from mindspace.identity.models import AuthSession, RefreshToken, UserAccount, avatar_path
from mindspace.identity.schemas import AuthSessionOut, Me, TokenPair
from mindspace.identity.service import lockout, two_factor
from mindspace.identity.service.two_factor import SecondFactor, SecretBox
from mindspace.identity.tokens import TokenService, hash_refresh_token, new_refresh_token
from mindspace.platform import audit, outbox
from mindspace.platform.audit import Origin
from mindspace.platform.clock import utc_now
from mindspace.platform.db import ReadConnection
from mindspace.platform.ids import new_id
from mindspace.platform.pagination import Page, PageParams, page
from mindspace.platform.ratelimit import RateLimiter
from mindspace.platform.security import Principal, Role

SESSION_LIFETIME = timedelta(days=30)
ACTIVE = "active"
# Asked to be deleted: signed out and hidden, erased when the grace period ends, unless they
# sign in again before then (see service.data_rights).
PENDING_DELETION = "pending_deletion"
SUSPENDED = "suspended"


def announce_new_account(
    session: AsyncSession, user: UserAccount, origin: Origin, *, method: str
) -> None:
    """What every way of creating an account records: the event for other domains and the
    audit trail."""
    outbox.publish(session, UserRegistered(user_id=user.id), owner_id=user.id)
    audit.record(
        session,
        actor=None,
        action="user.registered",
        target_type="user",
        target_id=user.id,
        origin=origin,
        details={"method": method},
    )


def ensure_may_sign_in(user: UserAccount) -> None:
    """Said only after the person proved who they are, so it reveals nothing to a guesser."""
    if user.status not in (ACTIVE, PENDING_DELETION):
        raise AccountUnavailable("This account is suspended. Contact support to restore it.")


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
    verification_base_url: str | None = None,
) -> uuid.UUID | None:
    """Creates an account, or does nothing visible if the email is taken: the answer and the
    time taken are the same either way, so registration cannot be used to probe for accounts.
    Returns the new account's id (None when the email was taken) for internal callers.

    With `verification_base_url` (the HTTP route), a new account is sent a verification link
    and the owner of a taken address is told someone tried it; internal callers send nothing."""
    # Imported here: email_flows builds on this module (it ends sessions on a password reset).
    from mindspace.identity.service import email_flows

    email_flows.refuse_common_password(password, field="password")
    email = normalise_email(email)
    password_hash = await passwords.hash_password(password)  # hashed either way: equal timing
    existing = await repository.find_user_by_email(session, email)
    if existing is not None:
        outbox.publish(
            session,
            RegistrationAttempted(user_id=existing.id),
            owner_id=existing.id,
        )
        if verification_base_url is not None:
            email_flows.send_registration_attempt_notice(
                session, existing, base_url=verification_base_url
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
    announce_new_account(session, user, origin, method="password")
    if verification_base_url is not None:
        await email_flows.send_verification(session, user, base_url=verification_base_url)
    return user.id


async def find_account_id(session: AsyncSession, *, email: str) -> uuid.UUID | None:
    """For internal callers in the system scope (seeding another domain's demo content)."""
    user = await repository.find_user_by_email(session, normalise_email(email))
    return user.id if user else None


async def login(
    session: AsyncSession,
    tokens: TokenService,
    *,
    email: str,
    password: str,
    origin: Origin,
    box: SecretBox,
    totp_code: str | None = None,
    recovery_code: str | None = None,
    limiter: RateLimiter | None = None,
) -> TokenPair:
    """Password sign-in, then the second factor when the account has one.

    Everything past a wrong password (the lock, suspension, two-factor) is said only to
    someone who gave the right one, so none of it helps a guesser. Wrong passwords and codes
    count towards the account lock (service.lockout); `limiter` adds the per-account limit."""
    email = normalise_email(email)
    if limiter is not None:
        await lockout.throttle_sign_in(limiter, email)
    async with passwords.hashing_slot():
        user = await repository.find_user_by_email(session, email)
        # verify_password runs the full argon2 check even when the account does not exist.
        valid = await passwords.verify_password(user.password_hash if user else None, password)
        if user is None:
            raise InvalidCredentials()
        if not valid:
            await lockout.record_failure(session, user, origin=origin)
            raise FailedSignIn()
        lockout.raise_if_locked(user)
        ensure_may_sign_in(user)
        second = await two_factor.check_second_factor(
            session, box, user.id, totp_code=totp_code, recovery_code=recovery_code
        )
        if second is SecondFactor.missing:
            raise TwoFactorRequired(
                "Send totp_code (or recovery_code) with your email and password."
            )
        if second is SecondFactor.invalid:
            await lockout.record_failure(session, user, origin=origin)
            raise WrongSecondFactor("That code is not right, or it was already used.")
        lockout.record_success(user)
        if user.password_hash and passwords.needs_rehash(user.password_hash):
            user.password_hash = await passwords.hash_password(password)
        activity.record(
            session,
            user.id,
            ActivityKind.signed_in,
            origin=origin,
            details={"method": "password", "two_factor": second is SecondFactor.valid},
        )
        return await _start_session(session, tokens, user, origin)


async def _start_session(
    session: AsyncSession,
    tokens: TokenService,
    user: UserAccount,
    origin: Origin,
    *,
    stepped_up: bool = False,
) -> TokenPair:
    """Every sign-in method ends here, fully authenticated."""
    now = utc_now()
    if user.status == PENDING_DELETION:
        # Signing in during the grace period is how a person changes their mind.
        user.status = ACTIVE
        user.deletion_due_at = None
        activity.record(session, user.id, ActivityKind.deletion_cancelled, origin=origin)
    auth_session = AuthSession(
        id=new_id(),
        owner_id=user.id,
        expires_at=now + SESSION_LIFETIME,
        ip=origin.ip,
        user_agent=(origin.user_agent or "")[:400] or None,
        last_seen_at=now,
        stepped_up_at=now if stepped_up else None,
    )
    session.add(auth_session)
    refresh, refresh_hash = new_refresh_token()
    session.add(RefreshToken(owner_id=user.id, session_id=auth_session.id, token_hash=refresh_hash))
    await session.flush()
    return _token_pair(tokens, user, auth_session.id, refresh)


async def start_session(
    session: AsyncSession,
    tokens: TokenService,
    user: UserAccount,
    origin: Origin,
    *,
    stepped_up: bool = False,
) -> TokenPair:
    """A new signed-in session for an account that another sign-in method (phone code, OpenID
    Connect) has just authenticated. The caller has checked the account may sign in.
    `stepped_up`: the method proved the person afresh, as step-up would (service.step_up)."""
    return await _start_session(session, tokens, user, origin, stepped_up=stepped_up)


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


async def end_all_sessions(
    session: AsyncSession, tokens: TokenService, user_id: uuid.UUID, reason: str
) -> list[uuid.UUID]:
    """Ends every session of a person at once: their refresh tokens die with the rows and their
    access tokens stop at the next request (the revocation list), not when they expire."""
    return await _end_sessions(session, tokens, user_id, reason)


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


async def get_me(reader: ReadConnection, principal: Principal) -> Me:
    row = await repository.read_me(reader, principal)
    if row is None:
        raise UserNotFound()
    return _me(row)


async def load_me(session: AsyncSession, principal: Principal) -> Me:
    """`get_me` inside a unit of work (updates, exports), where there is a session already."""
    user = await repository.get_user(session, principal.user_id)
    if user is None:
        raise UserNotFound()
    return _me({c.key: getattr(user, c.key) for c in repository.ME_COLUMNS})


@dataclass(frozen=True, slots=True)
class PersonSummary:
    """What other domains may know of an account: how to address the person, and whether
    they hold a role."""

    user_id: uuid.UUID
    display_name: str
    roles: frozenset[Role]
    active: bool


async def person_summary(session: AsyncSession, *, user_id: uuid.UUID) -> PersonSummary | None:
    """The account as the session's scope sees it (a person sees only themselves; jobs and
    staff see everyone); None when invisible or gone."""
    user = await repository.get_user(session, user_id)
    if user is None:
        return None
    return PersonSummary(
        user_id=user.id,
        display_name=user.display_name,
        roles=frozenset(Role(r) for r in user.roles),
        active=user.status == ACTIVE,
    )


async def update_me(session: AsyncSession, principal: Principal, *, changes: dict[str, Any]) -> Me:
    user = await repository.get_user(session, principal.user_id)
    if user is None:
        raise UserNotFound()
    for field, value in changes.items():
        setattr(user, field, value)
    await session.flush()
    await session.refresh(user)
    return await load_me(session, principal)


def _me(values: Mapping[str, Any]) -> Me:
    return Me.model_validate(
        {
            **values,
            "email_verified": values["email_verified_at"] is not None,
            "avatar_url": avatar_path(values["id"], values["avatar_key"]),
        }
    )
