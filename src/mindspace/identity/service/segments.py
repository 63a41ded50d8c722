"""Groups of accounts other domains address at once (an admin broadcast): ids only."""

from __future__ import annotations

import uuid

from sqlalchemy import any_, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.identity.models import UserAccount
from mindspace.identity.service.accounts import ACTIVE
from mindspace.platform.security import Role


async def list_account_ids(
    session: AsyncSession,
    *,
    limit: int,
    after: uuid.UUID | None = None,
    role: Role | None = None,
    country: str | None = None,
) -> list[uuid.UUID]:
    """Active accounts in id order, `limit` at a time after `after` (keyset, so a caller can
    walk everyone in batches and resume where it stopped). Needs the system or admin scope."""
    stmt = select(UserAccount.id).where(UserAccount.status == ACTIVE)
    if after is not None:
        stmt = stmt.where(UserAccount.id > after)
    if role is not None:
        stmt = stmt.where(literal(role.value) == any_(UserAccount.roles))
    if country is not None:
        stmt = stmt.where(UserAccount.country == country)
    rows = await session.execute(stmt.order_by(UserAccount.id).limit(limit))
    return list(rows.scalars())
