"""Every identity query. Reads of owned rows start from `readable_*(principal)`; row-level
security stands behind each of them."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.identity.models import AuthSession, RefreshToken, UserAccount
from mindspace.platform.db import ReadConnection, driver_sql
from mindspace.platform.pagination import PageParams, keyset
from mindspace.platform.security import Principal

SESSION_COLUMNS = (
    AuthSession.id,
    AuthSession.created_at,
    AuthSession.last_seen_at,
    AuthSession.expires_at,
    AuthSession.ip,
    AuthSession.user_agent,
)


# What `Me` is made of; read through the driver on the hot GET (see Database.reader).
ME_COLUMNS = (
    UserAccount.id,
    UserAccount.email,
    UserAccount.email_verified_at,
    UserAccount.phone,
    UserAccount.roles,
    UserAccount.display_name,
    UserAccount.bio,
    UserAccount.pronouns,
    UserAccount.country,
    UserAccount.timezone,
    UserAccount.locale,
    UserAccount.theme,
    UserAccount.day_boundary_hour,
    UserAccount.onboarding_step,
    UserAccount.profile_visibility,
    UserAccount.avatar_key,
    UserAccount.created_at,
)
_ME_SQL = driver_sql(select(*ME_COLUMNS).where(UserAccount.id == bindparam("user_id")))


async def read_me(reader: ReadConnection, principal: Principal) -> Mapping[str, Any] | None:
    return await reader.fetchrow(_ME_SQL, principal.user_id)


def readable_sessions(principal: Principal) -> Select[*tuple[Any, ...]]:
    return select(*SESSION_COLUMNS).where(
        AuthSession.owner_id == principal.user_id,
        AuthSession.revoked_at.is_(None),
        AuthSession.expires_at > func.now(),
    )


async def list_sessions(
    session: AsyncSession, principal: Principal, params: PageParams
) -> list[Any]:
    stmt = keyset(readable_sessions(principal), params, AuthSession.id)
    return list((await session.execute(stmt)).all())


async def get_own_session(
    session: AsyncSession, principal: Principal, session_id: uuid.UUID
) -> AuthSession | None:
    stmt = select(AuthSession).where(
        AuthSession.owner_id == principal.user_id,
        AuthSession.id == session_id,
        AuthSession.revoked_at.is_(None),
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def active_session_ids(session: AsyncSession, user_id: uuid.UUID) -> list[uuid.UUID]:
    stmt = select(AuthSession.id).where(
        AuthSession.owner_id == user_id, AuthSession.revoked_at.is_(None)
    )
    return list((await session.execute(stmt)).scalars())


async def revoke_sessions(
    session: AsyncSession, user_id: uuid.UUID, reason: str, *, only: uuid.UUID | None = None
) -> list[uuid.UUID]:
    stmt = (
        update(AuthSession)
        .where(AuthSession.owner_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=func.now(), revoke_reason=reason)
        .returning(AuthSession.id)
    )
    if only is not None:
        stmt = stmt.where(AuthSession.id == only)
    return list((await session.execute(stmt)).scalars())


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> UserAccount | None:
    return await session.get(UserAccount, user_id)


async def find_user_by_email(session: AsyncSession, email: str) -> UserAccount | None:
    stmt = select(UserAccount).where(UserAccount.email == email)
    return (await session.execute(stmt)).scalar_one_or_none()


async def find_refresh_token(
    session: AsyncSession, token_hash: bytes
) -> tuple[RefreshToken, AuthSession] | None:
    stmt = (
        select(RefreshToken, AuthSession)
        .join(AuthSession, AuthSession.id == RefreshToken.session_id)
        .where(RefreshToken.token_hash == token_hash)
        .with_for_update(of=RefreshToken)
    )
    row = (await session.execute(stmt)).first()
    return (row[0], row[1]) if row else None


async def touch_session(session: AsyncSession, auth_session: AuthSession, now: datetime) -> None:
    auth_session.last_seen_at = now
    await session.flush()
