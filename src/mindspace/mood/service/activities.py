"""The activity list: built-in activities for everyone, plus each person's own."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.mood import repository
from mindspace.mood.errors import ActivityLimitReached, ActivityNameTaken, ActivityNotFound
from mindspace.mood.schemas import Activities, BuiltinActivity, BuiltinActivityOut, CustomActivity
from mindspace.platform.ids import new_id
from mindspace.platform.security import Principal

MAX_CUSTOM_ACTIVITIES = 200


def builtin_name(key: BuiltinActivity) -> str:
    return {"tv": "TV", "self_care": "Self-care"}.get(key.value, key.value.capitalize())


BUILTIN = [BuiltinActivityOut(key=k, name=builtin_name(k)) for k in BuiltinActivity]


async def list_activities(session: AsyncSession, principal: Principal) -> Activities:
    rows = await repository.list_activities(session, principal)
    return Activities(
        builtin=BUILTIN, custom=[CustomActivity.model_validate(r._mapping) for r in rows]
    )


async def create_activity(
    session: AsyncSession, principal: Principal, *, name: str
) -> CustomActivity:
    if len(await repository.list_activities(session, principal)) >= MAX_CUSTOM_ACTIVITIES:
        raise ActivityLimitReached(f"Your list holds up to {MAX_CUSTOM_ACTIVITIES} activities.")
    row = await repository.insert_activity(session, principal, activity_id=new_id(), name=name)
    if row is None:
        raise ActivityNameTaken(f"{name!r} is already on your list.")
    return CustomActivity.model_validate(row)


async def rename_activity(
    session: AsyncSession, principal: Principal, *, activity_id: uuid.UUID, name: str
) -> CustomActivity:
    activity = await repository.get_activity_for_update(session, principal, activity_id)
    if activity is None:
        raise ActivityNotFound()
    if await repository.activity_name_taken(session, principal, name, besides=activity_id):
        raise ActivityNameTaken(f"{name!r} is already on your list.")
    activity.name = name
    await session.flush()
    return CustomActivity.model_validate(activity)


async def delete_activity(
    session: AsyncSession, principal: Principal, *, activity_id: uuid.UUID
) -> None:
    """The activity leaves the list and every check-in that named it; the check-ins stay."""
    activity = await repository.get_activity_for_update(session, principal, activity_id)
    if activity is None:
        raise ActivityNotFound()
    await repository.forget_activity(session, principal, activity_id)
    await session.delete(activity)
    await session.flush()
