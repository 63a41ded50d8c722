"""Check-ins: create (a quick one is just a score), read, list by local dates, change, delete."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.crisis import service as crisis
from mindspace.mood import repository
from mindspace.mood.days import ONE_DAY, day_start
from mindspace.mood.errors import CheckinNotFound, InvalidMoodInput
from mindspace.mood.notes import open_note, seal_note
from mindspace.mood.schemas import Checkin, CheckinCreate, CheckinUpdate, SavedCheckin
from mindspace.mood.service._profile import day_rule_in
from mindspace.platform import crypto
from mindspace.platform.clock import utc_now
from mindspace.platform.crypto import DataKey, Vault
from mindspace.platform.db import ReadConnection
from mindspace.platform.ids import new_id
from mindspace.platform.pagination import Page, PageParams, page
from mindspace.platform.security import Principal

# A phone's clock may run a little ahead of ours; "now" from it is still now.
CLOCK_SKEW = timedelta(minutes=2)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
SOURCE_TYPE = "mood_note"  # how a crisis alert names where the words were


def to_checkin(row: Mapping[Any, Any], key: DataKey | None) -> Checkin:
    """`key`: the owner's data key, needed only when the row has a note."""
    note = row["note"]
    sleep = row["sleep_hours"]
    return Checkin(
        id=row["id"],
        mood=row["mood"],
        score=row["score"],
        emotions=row["emotions"],
        energy=row["energy"],
        sleep_hours=float(sleep) if sleep is not None else None,
        activities=row["activities"],
        custom_activities=row["custom_activity_ids"],
        triggers=row["triggers"],
        note=open_note(key, row["id"], note) if note is not None else None,
        logged_at=row["logged_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _check_logged_at(logged_at: datetime) -> None:
    if logged_at > utc_now() + CLOCK_SKEW:
        raise InvalidMoodInput(
            "/body/logged_at", "A check-in can be back-dated, not set in the future.", "future"
        )
    if logged_at < EARLIEST:
        raise InvalidMoodInput("/body/logged_at", "Must be after 2000-01-01.", "too_early")


async def _check_own_activities(
    session: AsyncSession, principal: Principal, ids: Sequence[uuid.UUID]
) -> None:
    if not ids:
        return
    known = await repository.lock_own_activities(session, principal, ids)
    for index, activity_id in enumerate(ids):
        if activity_id not in known:
            raise InvalidMoodInput(
                f"/body/custom_activities/{index}",
                "Not one of your activities; add it first at /mood/activities.",
                "unknown_activity",
            )


async def _writing_key(session: AsyncSession, principal: Principal) -> DataKey:
    return await crypto.vault_for(session).data_key(session, principal.user_id)


async def reading_key(session: AsyncSession, principal: Principal) -> DataKey | None:
    return await crypto.vault_for(session).find_data_key(session, principal.user_id)


def _columns(
    values: Mapping[str, Any], key: DataKey | None, checkin_id: uuid.UUID
) -> dict[str, Any]:
    """Schema field names and values to column values; unset fields are absent. `key` seals
    the note, so it must be given whenever the values carry one."""
    out = dict(values)
    if "custom_activities" in out:
        out["custom_activity_ids"] = out.pop("custom_activities") or []
    for field in ("emotions", "activities", "triggers"):
        if field in out and out[field] is None:
            out[field] = []
    if "note" in out:
        note = out["note"]
        out["note"] = seal_note(key, checkin_id, note) if note and key else None
    return out


async def create_checkin(
    session: AsyncSession, principal: Principal, *, checkin: CheckinCreate
) -> SavedCheckin:
    logged_at = checkin.logged_at or utc_now()
    _check_logged_at(logged_at)
    await _check_own_activities(session, principal, checkin.custom_activities or [])
    fields = {f: getattr(checkin, f) for f in CheckinCreate.model_fields if f != "logged_at"}
    checkin_id = new_id()
    key = await _writing_key(session, principal) if checkin.note else None
    values = _columns(fields, key, checkin_id)
    row = await repository.insert_checkin(
        session, principal, {"id": checkin_id, "logged_at": logged_at, **values}
    )
    return await _saved(session, principal, to_checkin(row, key), checkin.note)


async def get_checkin(
    reader: ReadConnection, principal: Principal, vault: Vault, *, checkin_id: uuid.UUID
) -> Checkin:
    row = await repository.read_checkin(reader, principal, checkin_id)
    if row is None:
        raise CheckinNotFound()
    key = await vault.read_data_key(reader, principal.user_id) if row["note"] else None
    return to_checkin(row, key)


async def list_checkins(
    session: AsyncSession,
    principal: Principal,
    params: PageParams,
    *,
    start: date | None = None,
    end: date | None = None,
) -> Page[Checkin]:
    """Newest first. `start` and `end` are the person's local days, both included."""
    if start is not None and end is not None and start > end:
        raise InvalidMoodInput("/query/start", "Must not be after end.", "range_reversed")
    since = until = None
    if start is not None or end is not None:
        rule = await day_rule_in(session, principal)
        since = day_start(start, rule.zone, rule.boundary_hour) if start else None
        until = day_start(end + ONE_DAY, rule.zone, rule.boundary_hour) if end else None
    rows = await repository.list_checkins(session, principal, params, since=since, until=until)
    key = await reading_key(session, principal) if any(r.note for r in rows) else None
    items = [to_checkin(r._mapping, key) for r in rows]
    return page(items, params, key=lambda c: (c.logged_at, c.id))


async def update_checkin(
    session: AsyncSession,
    principal: Principal,
    *,
    checkin_id: uuid.UUID,
    changes: CheckinUpdate,
) -> SavedCheckin:
    # Attributes, not model_dump(): ids must stay UUIDs, not their public text.
    values = {f: getattr(changes, f) for f in changes.model_fields_set}
    if "logged_at" in values:
        _check_logged_at(values["logged_at"])
    await _check_own_activities(session, principal, values.get("custom_activities") or [])
    # A new note needs the key made if it is not yet; an untouched one only needs opening.
    key = await (_writing_key if values.get("note") else reading_key)(session, principal)
    row = await repository.update_checkin(
        session,
        principal,
        checkin_id,
        {"updated_at": utc_now(), **_columns(values, key, checkin_id)},
    )
    if row is None:
        raise CheckinNotFound()
    return await _saved(session, principal, to_checkin(row, key), values.get("note"))


async def _saved(
    session: AsyncSession, principal: Principal, checkin: Checkin, new_note: str | None
) -> SavedCheckin:
    """The check-in as saved, with crisis lines when a note just written calls for them."""
    support = None
    if new_note:
        support = await crisis.respond_to_writing(
            session, principal, text=new_note, source_type=SOURCE_TYPE, source_id=checkin.id
        )
    fields = {name: getattr(checkin, name) for name in Checkin.model_fields}
    return SavedCheckin(**fields, crisis=support)


async def delete_checkin(
    session: AsyncSession, principal: Principal, *, checkin_id: uuid.UUID
) -> None:
    if not await repository.delete_checkin(session, principal, checkin_id):
        raise CheckinNotFound()
