"""Identity's part of "export all my data", read in the person's own scope."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.identity.activity import AccountActivity
from mindspace.identity.models import AuthSession, IdentityLink
from mindspace.identity.service.accounts import load_me
from mindspace.identity.service.preferences import get_preferences
from mindspace.platform.security import Principal


async def export_identity(session: AsyncSession, principal: Principal) -> dict[str, Any]:
    me = await load_me(session, principal)
    preferences = await get_preferences(session, principal)
    uid = principal.user_id
    sessions = await session.execute(
        select(
            AuthSession.created_at,
            AuthSession.last_seen_at,
            AuthSession.ip,
            AuthSession.user_agent,
            AuthSession.revoked_at,
        )
        .where(AuthSession.owner_id == uid)
        .order_by(AuthSession.id)
    )
    activity = await session.execute(
        select(
            AccountActivity.kind,
            AccountActivity.occurred_at,
            AccountActivity.ip,
            AccountActivity.user_agent,
            AccountActivity.details,
        )
        .where(AccountActivity.owner_id == uid)
        .order_by(AccountActivity.id)
    )
    links = await session.execute(
        select(IdentityLink.provider, IdentityLink.email, IdentityLink.created_at)
        .where(IdentityLink.owner_id == uid)
        .order_by(IdentityLink.id)
    )
    return {
        "account": me.model_dump(mode="json"),
        "preferences": preferences.model_dump(mode="json"),
        "sessions": [dict(r._mapping) for r in sessions],
        "activity": [dict(r._mapping) for r in activity],
        "sign_in_providers": [dict(r._mapping) for r in links],
    }
