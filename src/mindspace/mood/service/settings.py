from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.mood import repository
from mindspace.mood.schemas import MoodSettings, MoodSettingsUpdate
from mindspace.platform.security import Principal


async def get_settings(session: AsyncSession, principal: Principal) -> MoodSettings:
    """Defaults (no freeze days) until the person changes something; no row is needed."""
    return MoodSettings(freeze_days_per_month=await repository.get_settings(session, principal))


async def update_settings(
    session: AsyncSession, principal: Principal, *, changes: MoodSettingsUpdate
) -> MoodSettings:
    await repository.put_settings(session, principal, freeze_days=changes.freeze_days_per_month)
    return MoodSettings(freeze_days_per_month=changes.freeze_days_per_month)
