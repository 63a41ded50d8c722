"""Small helpers for mood tests: check-ins through the API, or many at once straight into the
database (for insights over long histories)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import func, select

from mindspace.mood.models import MoodCheckin
from mindspace.platform.db import Database
from mindspace.platform.ids import new_id
from tests.conftest import Person

CHECKINS = "/api/v1/mood/checkins"


async def post_checkin(client: httpx.AsyncClient, person: Person, **body: Any) -> dict[str, Any]:
    body.setdefault("score", 6)
    response = await client.post(CHECKINS, json=body, headers=person.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    # Only the answer to a save says whether a note calls for crisis lines (test_crisis_notes);
    # without it, a check-in reads back exactly as it was answered.
    assert created.pop("crisis") is None
    return created


async def insert_checkins(
    db: Database, person: Person, rows: Iterable[tuple[datetime, int, list[str]]]
) -> None:
    """(logged_at, score, built-in activities) for each check-in, in one transaction."""
    async with db.session(person.principal) as session:
        session.add_all(
            MoodCheckin(
                id=new_id(),
                owner_id=person.id,
                score=score,
                activities=activities,
                logged_at=logged_at,
            )
            for logged_at, score, activities in rows
        )


async def count_checkins(db: Database, person: Person) -> int:
    async with db.session(person.principal) as session:
        return int(await session.scalar(select(func.count()).select_from(MoodCheckin)) or 0)


def public(prefix: str, value: uuid.UUID) -> str:
    from mindspace.platform.ids import encode

    return encode(prefix, value)
