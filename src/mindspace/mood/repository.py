"""Every mood query. Reads of owned rows start from `readable_*(principal)`; row-level security
stands behind each of them. Hot reads (a check-in, insights) are compiled once to driver SQL."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    Select,
    bindparam,
    cast,
    delete,
    extract,
    func,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.mood.models import MoodActivity, MoodCheckin, MoodSettings
from mindspace.platform.db import ReadConnection, driver_query, driver_sql
from mindspace.platform.pagination import PageParams, keyset
from mindspace.platform.security import Principal

CHECKIN_COLUMNS = (
    MoodCheckin.id,
    MoodCheckin.owner_id,
    MoodCheckin.mood,
    MoodCheckin.score,
    MoodCheckin.emotions,
    MoodCheckin.energy,
    MoodCheckin.sleep_hours,
    MoodCheckin.activities,
    MoodCheckin.custom_activity_ids,
    MoodCheckin.triggers,
    MoodCheckin.note,
    MoodCheckin.logged_at,
    MoodCheckin.created_at,
    MoodCheckin.updated_at,
)
SAMPLE_COLUMNS = (
    MoodCheckin.logged_at,
    MoodCheckin.score,
    MoodCheckin.mood,
    MoodCheckin.activities,
    MoodCheckin.custom_activity_ids,
)


def _checkins_of(owner: ColumnElement[Any] | uuid.UUID, *columns: Any) -> Select[*tuple[Any, ...]]:
    return select(*(columns or CHECKIN_COLUMNS)).where(MoodCheckin.owner_id == owner)


def readable_checkins(principal: Principal, *columns: Any) -> Select[*tuple[Any, ...]]:
    return _checkins_of(principal.user_id, *columns)


def readable_activities(principal: Principal) -> Select[*tuple[Any, ...]]:
    return select(MoodActivity.id, MoodActivity.name, MoodActivity.created_at).where(
        MoodActivity.owner_id == principal.user_id
    )


# $1 owner, $2 id
_CHECKIN_SQL = driver_sql(
    _checkins_of(bindparam("owner_id")).where(MoodCheckin.id == bindparam("checkin_id"))
)
# $1 owner, $2 since, $3 until
_SAMPLES_SQL = driver_sql(
    _checkins_of(bindparam("owner_id"), *SAMPLE_COLUMNS)
    .where(
        MoodCheckin.logged_at >= bindparam("since", type_=MoodCheckin.logged_at.type),
        MoodCheckin.logged_at < bindparam("until", type_=MoodCheckin.logged_at.type),
    )
    .order_by(MoodCheckin.logged_at)
)
# The person's local day in SQL, the same wall-clock rule as days.local_day: it pays here, where
# all of a person's history shrinks to one row per day. $1 zone, $2 boundary hour, $3 owner.
_LOCAL_DAY = cast(
    func.timezone(bindparam("zone"), MoodCheckin.logged_at)
    - literal_column("interval '1 hour'") * bindparam("hours", type_=Integer),
    Date,
)
# Check-ins already placed on the person's calendar: the local day and wall-clock hour come
# from the database in the same pass that reads them, not from a zone conversion per row here.
_LOCAL_SAMPLES = driver_query(
    select(
        _LOCAL_DAY.label("day"),
        cast(
            extract("hour", func.timezone(bindparam("zone"), MoodCheckin.logged_at)), Integer
        ).label("hour"),
        MoodCheckin.score,
        MoodCheckin.mood,
        MoodCheckin.activities,
        MoodCheckin.custom_activity_ids,
    )
    .where(
        MoodCheckin.owner_id == bindparam("o"),
        MoodCheckin.logged_at >= bindparam("since", type_=MoodCheckin.logged_at.type),
        MoodCheckin.logged_at < bindparam("until", type_=MoodCheckin.logged_at.type),
    )
    .order_by(MoodCheckin.logged_at)
)
_DAYS_SQL = driver_sql(
    select(_LOCAL_DAY.label("day")).distinct().where(MoodCheckin.owner_id == bindparam("o"))
)
_NAMES_SQL = driver_sql(
    select(MoodActivity.id, MoodActivity.name).where(MoodActivity.owner_id == bindparam("o"))
)
_SETTINGS_SQL = driver_sql(
    select(MoodSettings.freeze_days_per_month).where(MoodSettings.owner_id == bindparam("o"))
)


async def read_checkin(
    reader: ReadConnection, principal: Principal, checkin_id: uuid.UUID
) -> Mapping[str, Any] | None:
    return await reader.fetchrow(_CHECKIN_SQL, principal.user_id, checkin_id)


async def read_samples(
    reader: ReadConnection, principal: Principal, since: datetime, until: datetime
) -> Sequence[Mapping[str, Any]]:
    return await reader.fetch(_SAMPLES_SQL, principal.user_id, since, until)


async def read_local_samples(
    reader: ReadConnection,
    principal: Principal,
    *,
    zone: str,
    boundary_hour: int,
    since: datetime,
    until: datetime,
) -> Sequence[Mapping[str, Any]]:
    values = {
        "zone": zone,
        "hours": boundary_hour,
        "o": principal.user_id,
        "since": since,
        "until": until,
    }
    return await reader.fetch(_LOCAL_SAMPLES.sql, *_LOCAL_SAMPLES.args(values))


async def read_local_days(
    reader: ReadConnection, principal: Principal, zone: str, boundary_hour: int
) -> list[date]:
    rows = await reader.fetch(_DAYS_SQL, zone, boundary_hour, principal.user_id)
    return [row["day"] for row in rows]


async def read_activity_names(
    reader: ReadConnection, principal: Principal
) -> Sequence[Mapping[str, Any]]:
    return await reader.fetch(_NAMES_SQL, principal.user_id)


async def read_freeze_days(reader: ReadConnection, principal: Principal) -> int:
    row = await reader.fetchrow(_SETTINGS_SQL, principal.user_id)
    return int(row["freeze_days_per_month"]) if row else 0


async def list_checkins(
    session: AsyncSession,
    principal: Principal,
    params: PageParams,
    *,
    since: datetime | None,
    until: datetime | None,
) -> Sequence[Any]:
    stmt = readable_checkins(principal)
    if since is not None:
        stmt = stmt.where(MoodCheckin.logged_at >= since)
    if until is not None:
        stmt = stmt.where(MoodCheckin.logged_at < until)
    stmt = keyset(stmt, params, MoodCheckin.logged_at, MoodCheckin.id)
    return list((await session.execute(stmt)).all())


async def all_checkins(session: AsyncSession, principal: Principal) -> Sequence[Any]:
    stmt = readable_checkins(principal).order_by(MoodCheckin.logged_at, MoodCheckin.id)
    return list((await session.execute(stmt)).all())


async def has_checkins(session: AsyncSession, principal: Principal) -> bool:
    stmt = readable_checkins(principal, MoodCheckin.id).limit(1)
    return (await session.execute(stmt)).first() is not None


async def insert_checkin(
    session: AsyncSession, principal: Principal, values: Mapping[str, Any]
) -> Mapping[Any, Any]:
    stmt = (
        insert(MoodCheckin).values(owner_id=principal.user_id, **values).returning(*CHECKIN_COLUMNS)
    )
    return (await session.execute(stmt)).mappings().one()


async def update_checkin(
    session: AsyncSession, principal: Principal, checkin_id: uuid.UUID, values: Mapping[str, Any]
) -> Mapping[Any, Any] | None:
    """The changed row, or None when the person has no such check-in."""
    stmt = (
        update(MoodCheckin)
        .where(MoodCheckin.owner_id == principal.user_id, MoodCheckin.id == checkin_id)
        .values(**values)
        .returning(*CHECKIN_COLUMNS)
    )
    return (await session.execute(stmt)).mappings().one_or_none()


async def delete_checkin(
    session: AsyncSession, principal: Principal, checkin_id: uuid.UUID
) -> bool:
    stmt = (
        delete(MoodCheckin)
        .where(MoodCheckin.owner_id == principal.user_id, MoodCheckin.id == checkin_id)
        .returning(MoodCheckin.id)
    )
    return (await session.execute(stmt)).first() is not None


async def lock_own_activities(
    session: AsyncSession, principal: Principal, ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """The ids among `ids` that are the person's, locked against deletion until commit, so a
    check-in never ends up naming an activity deleted at the same moment."""
    stmt = (
        select(MoodActivity.id)
        .where(MoodActivity.owner_id == principal.user_id, MoodActivity.id.in_(ids))
        .with_for_update(key_share=True)
    )
    return set((await session.execute(stmt)).scalars())


async def list_activities(session: AsyncSession, principal: Principal) -> Sequence[Any]:
    stmt = readable_activities(principal).order_by(func.lower(MoodActivity.name), MoodActivity.id)
    return list((await session.execute(stmt)).all())


async def insert_activity(
    session: AsyncSession, principal: Principal, *, activity_id: uuid.UUID, name: str
) -> Mapping[Any, Any] | None:
    """None when the person already has an activity of that name (in any case)."""
    stmt = (
        insert(MoodActivity)
        .values(id=activity_id, owner_id=principal.user_id, name=name)
        .on_conflict_do_nothing(
            index_elements=[MoodActivity.owner_id, func.lower(MoodActivity.name)]
        )
        .returning(MoodActivity.id, MoodActivity.name, MoodActivity.created_at)
    )
    return (await session.execute(stmt)).mappings().one_or_none()


async def get_activity_for_update(
    session: AsyncSession, principal: Principal, activity_id: uuid.UUID
) -> MoodActivity | None:
    stmt = (
        select(MoodActivity)
        .where(MoodActivity.owner_id == principal.user_id, MoodActivity.id == activity_id)
        .with_for_update()
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def activity_name_taken(
    session: AsyncSession, principal: Principal, name: str, *, besides: uuid.UUID | None = None
) -> bool:
    stmt = select(MoodActivity.id).where(
        MoodActivity.owner_id == principal.user_id,
        func.lower(MoodActivity.name) == name.lower(),
    )
    if besides is not None:
        stmt = stmt.where(MoodActivity.id != besides)
    return (await session.execute(stmt)).first() is not None


async def forget_activity(
    session: AsyncSession, principal: Principal, activity_id: uuid.UUID
) -> None:
    """Takes a deleted custom activity off every check-in that named it."""
    await session.execute(
        update(MoodCheckin)
        .where(
            MoodCheckin.owner_id == principal.user_id,
            MoodCheckin.custom_activity_ids.contains([activity_id]),
        )
        .values(custom_activity_ids=func.array_remove(MoodCheckin.custom_activity_ids, activity_id))
    )


async def get_settings(session: AsyncSession, principal: Principal) -> int:
    stmt = select(MoodSettings.freeze_days_per_month).where(
        MoodSettings.owner_id == principal.user_id
    )
    value = (await session.execute(stmt)).scalar_one_or_none()
    return int(value) if value is not None else 0


async def put_settings(session: AsyncSession, principal: Principal, *, freeze_days: int) -> None:
    stmt = insert(MoodSettings).values(
        owner_id=principal.user_id, freeze_days_per_month=freeze_days
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[MoodSettings.owner_id],
            set_={"freeze_days_per_month": freeze_days, "updated_at": func.now()},
        )
    )
