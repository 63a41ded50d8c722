"""Public profiles and a person's own activity log."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, String, Uuid, column, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.identity.activity import AccountActivity
from mindspace.identity.errors import ProfileNotFound
from mindspace.identity.schemas import AccountActivityOut, PublicProfile
from mindspace.platform.pagination import Page, PageParams, keyset, page
from mindspace.platform.security import Principal

# A view (see migration 0008): the four public columns of active accounts whose owner made
# them public. It is the only way the app reads another person's account row.
public_profile = table(
    "public_profile",
    column("id", Uuid()),
    column("display_name", String()),
    column("bio", String()),
    column("pronouns", String()),
)


async def get_public_profile(
    session: AsyncSession, principal: Principal | None, *, user_id: uuid.UUID
) -> PublicProfile:
    """Anyone may read a public profile, signed in or not. A private, suspended or unknown
    account answers the same 404, so the answer reveals nothing about who exists."""
    stmt = select(public_profile).where(public_profile.c.id == user_id)
    row = (await session.execute(stmt)).first()
    if row is None:
        raise ProfileNotFound()
    return PublicProfile.model_validate(dict(row._mapping))


def readable_activity(principal: Principal) -> Select[Any]:
    return select(
        AccountActivity.id,
        AccountActivity.kind,
        AccountActivity.ip,
        AccountActivity.user_agent,
        AccountActivity.occurred_at,
        AccountActivity.details,
    ).where(AccountActivity.owner_id == principal.user_id)


async def list_activity(
    session: AsyncSession, principal: Principal, params: PageParams
) -> Page[AccountActivityOut]:
    """The person's own account activity, newest first."""
    stmt = keyset(
        readable_activity(principal), params, AccountActivity.occurred_at, AccountActivity.id
    )
    rows = (await session.execute(stmt)).all()
    items = [AccountActivityOut.model_validate(dict(r._mapping)) for r in rows]
    return page(items, params, key=lambda item: (item.occurred_at, item.id))
