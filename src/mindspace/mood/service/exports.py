"""A person's mood data leaving the product: a CSV for spreadsheets, and mood's part of the
account data export."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.mood import repository
from mindspace.mood.days import local_day
from mindspace.mood.schemas import Checkin, CustomActivity
from mindspace.mood.service._profile import DayRule, day_rule_in
from mindspace.mood.service.activities import BUILTIN
from mindspace.mood.service.checkins import reading_key, to_checkin
from mindspace.platform.security import Principal

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
CSV_COLUMNS = (
    "id",
    "logged_at_utc",
    "local_day",
    "mood",
    "score",
    "emotions",
    "energy",
    "sleep_hours",
    "activities",
    "triggers",
    "note",
)
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """Text a spreadsheet shows as text: a leading formula character is escaped with '."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _joined(values: Sequence[str]) -> str:
    return safe_cell("; ".join(values))


def write_csv(checkins: Sequence[Checkin], rule: DayRule, names: Mapping[str, str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for c in checkins:
        activities = [names.get(a.value, a.value) for a in c.activities]
        activities += [names[str(i)] for i in c.custom_activities if str(i) in names]
        writer.writerow(
            (
                c.model_dump(mode="json", include={"id"})["id"],
                c.logged_at.isoformat(),
                local_day(c.logged_at, rule.zone, rule.boundary_hour).isoformat(),
                c.mood.value if c.mood else "",
                c.score,
                "; ".join(e.value for e in c.emotions),
                "" if c.energy is None else c.energy,
                "" if c.sleep_hours is None else c.sleep_hours,
                _joined(activities),
                _joined(c.triggers),
                safe_cell(c.note or ""),
            )
        )
    return buffer.getvalue()


async def _everything(
    session: AsyncSession, principal: Principal
) -> tuple[list[Checkin], dict[str, str]]:
    key = await reading_key(session, principal)
    checkins = [
        to_checkin(r._mapping, key) for r in await repository.all_checkins(session, principal)
    ]
    names = {b.key.value: b.name for b in BUILTIN}
    for row in await repository.list_activities(session, principal):
        names[str(row.id)] = row.name
    return checkins, names


async def export_csv(session: AsyncSession, principal: Principal) -> str:
    """Every check-in, oldest first, with activities by name and the person's local day."""
    rule = await day_rule_in(session, principal)
    checkins, names = await _everything(session, principal)
    return await asyncio.to_thread(write_csv, checkins, rule, names)


async def export_mood(session: AsyncSession, principal: Principal) -> dict[str, Any]:
    """Mood's part of "export all my data"."""
    key = await reading_key(session, principal)
    checkins = [
        to_checkin(r._mapping, key).model_dump(mode="json")
        for r in await repository.all_checkins(session, principal)
    ]
    activities = [
        CustomActivity.model_validate(row._mapping).model_dump(mode="json")
        for row in await repository.list_activities(session, principal)
    ]
    settings = {"freeze_days_per_month": await repository.get_settings(session, principal)}
    return {"checkins": checkins, "custom_activities": activities, "settings": settings}
