"""Check-ins over HTTP: create (full and quick), read, list, change, delete."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from mindspace.platform.clock import utc_now
from mindspace.platform.db import Database
from tests.conftest import Person, assert_problem, create_user
from tests.mood.conftest import CHECKINS, count_checkins, post_checkin

pytestmark = pytest.mark.asyncio

FULL = {
    "mood": "happy",
    "score": 8,
    "emotions": ["calm", "grateful", "calm"],
    "energy": 4,
    "sleep_hours": 7.5,
    "activities": ["yoga", "walking"],
    "triggers": ["deadline", "Deadline", "noise"],
    "note": "A good walk by the river.",
    "logged_at": "2026-06-01T08:30:00+01:00",
}
MISSING_CHECKIN = "mci_01JD8X4V2Q0000000000000000"


async def test_a_full_check_in_round_trips(
    client: httpx.AsyncClient, user: Person, owner_engine: AsyncEngine
) -> None:
    created = await post_checkin(client, user, **FULL)
    assert created["id"].startswith("mci_")
    assert created["emotions"] == ["calm", "grateful"]  # repeats dropped
    assert created["triggers"] == ["deadline", "noise"]
    assert created["sleep_hours"] == 7.5
    assert created["note"] == FULL["note"]
    assert datetime.fromisoformat(created["logged_at"]) == datetime(2026, 6, 1, 7, 30, tzinfo=UTC)
    fetched = await client.get(f"{CHECKINS}/{created['id']}", headers=user.headers)
    assert fetched.status_code == 200
    assert fetched.json() == created
    # The note is stored sealed with the person's data key (see test_note_encryption).
    async with owner_engine.connect() as conn:
        stored = await conn.scalar(text("SELECT note FROM mood_checkin"))
    assert FULL["note"].encode() not in stored  # type: ignore[attr-defined]


async def test_a_quick_check_in_is_only_a_score(client: httpx.AsyncClient, user: Person) -> None:
    before = utc_now()
    created = await post_checkin(client, user, score=3)
    assert created["mood"] is None
    assert created["emotions"] == created["activities"] == created["triggers"] == []
    assert created["note"] is None
    assert before - timedelta(seconds=5) <= datetime.fromisoformat(created["logged_at"])


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({}, "/body/score"),
        ({"score": 0}, "/body/score"),
        ({"score": 11}, "/body/score"),
        ({"score": "high"}, "/body/score"),
        ({"score": 5, "mood": "ecstatic"}, "/body/mood"),
        ({"score": 5, "energy": 6}, "/body/energy"),
        ({"score": 5, "sleep_hours": 7.25}, "/body/sleep_hours"),
        ({"score": 5, "sleep_hours": 25}, "/body/sleep_hours"),
        ({"score": 5, "emotions": ["smug"]}, "/body/emotions/0"),
        ({"score": 5, "activities": ["skydiving"]}, "/body/activities/0"),
        ({"score": 5, "triggers": [""]}, "/body/triggers/0"),
        ({"score": 5, "note": "x" * 501}, "/body/note"),
        ({"score": 5, "logged_at": "2026-06-01T08:30:00"}, "/body/logged_at"),
        ({"score": 5, "owner_id": "usr_01JD8X4V2Q0000000000000000"}, "/body/owner_id"),
        (
            {"score": 5, "custom_activities": ["mci_01JD8X4V2Q0000000000000000"]},
            "/body/custom_activities/0",
        ),
    ],
)
async def test_bad_input_is_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, user: Person, db: Database, body: dict[str, Any], pointer: str
) -> None:
    response = await client.post(CHECKINS, json=body, headers=user.headers)
    problem = assert_problem(response, 422)
    assert pointer in {e["pointer"] for e in problem["errors"]}
    assert await count_checkins(db, user) == 0


async def test_future_check_ins_are_refused_back_dated_ones_are_fine(
    client: httpx.AsyncClient, user: Person, db: Database
) -> None:
    future = (utc_now() + timedelta(hours=1)).isoformat()
    problem = assert_problem(
        await client.post(CHECKINS, json={"score": 5, "logged_at": future}, headers=user.headers),
        422,
    )
    assert problem["errors"][0]["pointer"] == "/body/logged_at"
    assert await count_checkins(db, user) == 0
    past = (utc_now() - timedelta(days=40)).isoformat()
    await post_checkin(client, user, score=5, logged_at=past)


async def test_another_persons_activity_cannot_be_used(
    client: httpx.AsyncClient, user: Person, other_user: Person, db: Database
) -> None:
    theirs = await client.post(
        "/api/v1/mood/activities", json={"name": "Pottery"}, headers=other_user.headers
    )
    body = {"score": 5, "custom_activities": [theirs.json()["id"]]}
    problem = assert_problem(await client.post(CHECKINS, json=body, headers=user.headers), 422)
    assert problem["errors"][0]["pointer"] == "/body/custom_activities/0"
    assert await count_checkins(db, user) == 0


async def test_no_token_is_401_everywhere(client: httpx.AsyncClient, user: Person) -> None:
    created = await post_checkin(client, user)
    url = f"{CHECKINS}/{created['id']}"
    for method, path, body in [
        ("POST", CHECKINS, {"score": 5}),
        ("GET", CHECKINS, None),
        ("GET", url, None),
        ("PATCH", url, {"score": 2}),
        ("DELETE", url, None),
    ]:
        response = await client.request(method, path, json=body)
        assert_problem(response, 401)
    fetched = await client.get(url, headers=user.headers)
    assert fetched.json()["score"] == 6


async def test_another_persons_check_in_is_404_and_untouched(
    client: httpx.AsyncClient, user: Person, other_user: Person
) -> None:
    mine = await post_checkin(client, user, score=7)
    url = f"{CHECKINS}/{mine['id']}"
    h = other_user.headers
    assert_problem(await client.get(url, headers=h), 404, "mood-checkin-not-found")
    assert_problem(await client.patch(url, json={"score": 1}, headers=h), 404)
    assert_problem(await client.delete(url, headers=h), 404)
    listed = await client.get(CHECKINS, headers=h)
    assert listed.json()["items"] == []
    assert (await client.get(url, headers=user.headers)).json()["score"] == 7


@pytest.mark.parametrize(
    "checkin_id",
    [
        MISSING_CHECKIN,
        "mact_01JD8X4V2Q0000000000000000",  # another kind's prefix
        "usr_01JD8X4V2Q0000000000000000",
        "mci_not-an-id",
        "garbage",
    ],
)
async def test_unknown_or_wrong_kind_ids_are_404(
    client: httpx.AsyncClient, user: Person, checkin_id: str
) -> None:
    url = f"{CHECKINS}/{checkin_id}"
    assert_problem(await client.get(url, headers=user.headers), 404)
    assert_problem(await client.patch(url, json={"score": 1}, headers=user.headers), 404)
    assert_problem(await client.delete(url, headers=user.headers), 404)


async def test_update_changes_only_what_is_sent_and_null_clears(
    client: httpx.AsyncClient, user: Person
) -> None:
    created = await post_checkin(client, user, **FULL)
    url = f"{CHECKINS}/{created['id']}"
    response = await client.patch(url, json={"score": 4, "note": None}, headers=user.headers)
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated.pop("crisis") is None
    assert (updated["score"], updated["note"], updated["mood"]) == (4, None, "happy")
    assert updated["activities"] == ["yoga", "walking"]
    assert updated["updated_at"] >= created["updated_at"]
    assert (await client.get(url, headers=user.headers)).json() == updated


@pytest.mark.parametrize(
    "body",
    [
        {"score": None},
        {"score": 12},
        {"logged_at": None},
        {"logged_at": "2999-01-01T00:00:00Z"},
        {"mood": "meh"},
        {"id": "mci_01JD8X4V2Q0000000000000000"},
    ],
)
async def test_bad_updates_change_nothing(
    client: httpx.AsyncClient, user: Person, body: dict[str, Any]
) -> None:
    created = await post_checkin(client, user, **FULL)
    url = f"{CHECKINS}/{created['id']}"
    assert_problem(await client.patch(url, json=body, headers=user.headers), 422)
    assert (await client.get(url, headers=user.headers)).json() == created


async def test_delete(client: httpx.AsyncClient, user: Person, db: Database) -> None:
    created = await post_checkin(client, user)
    url = f"{CHECKINS}/{created['id']}"
    response = await client.delete(url, headers=user.headers)
    assert response.status_code == 204
    assert_problem(await client.get(url, headers=user.headers), 404)
    assert_problem(await client.delete(url, headers=user.headers), 404)
    assert await count_checkins(db, user) == 0


async def test_list_pages_newest_first(client: httpx.AsyncClient, user: Person) -> None:
    start = utc_now() - timedelta(days=10)
    for n in range(5):
        await post_checkin(
            client, user, score=n + 1, logged_at=(start + timedelta(days=n)).isoformat()
        )
    first = (await client.get(CHECKINS, params={"limit": 2}, headers=user.headers)).json()
    assert [c["score"] for c in first["items"]] == [5, 4]
    second = await client.get(
        CHECKINS, params={"limit": 2, "cursor": first["next_cursor"]}, headers=user.headers
    )
    third = await client.get(
        CHECKINS, params={"limit": 2, "cursor": second.json()["next_cursor"]}, headers=user.headers
    )
    assert [c["score"] for c in second.json()["items"]] == [3, 2]
    assert [c["score"] for c in third.json()["items"]] == [1]
    assert third.json()["next_cursor"] is None


async def test_list_filters_by_the_persons_local_days(
    client: httpx.AsyncClient, db: Database, app: FastAPI
) -> None:
    # New York, boundary 4: 2026-06-02 runs from 08:00 UTC on the 2nd to 08:00 UTC on the 3rd.
    person = await create_user(
        db, app.state.tokens, timezone="America/New_York", day_boundary_hour=4
    )
    for score, instant in [
        (1, "2026-06-02T07:59:00Z"),  # 03:59 local: still June 1st
        (2, "2026-06-02T08:00:00Z"),
        (3, "2026-06-03T07:59:00Z"),  # 03:59 on the 3rd: still June 2nd
        (4, "2026-06-03T08:00:00Z"),
    ]:
        await post_checkin(client, person, score=score, logged_at=instant)
    response = await client.get(
        CHECKINS, params={"start": "2026-06-02", "end": "2026-06-02"}, headers=person.headers
    )
    assert [c["score"] for c in response.json()["items"]] == [3, 2]
    only_start = await client.get(CHECKINS, params={"start": "2026-06-02"}, headers=person.headers)
    assert [c["score"] for c in only_start.json()["items"]] == [4, 3, 2]


@pytest.mark.parametrize(
    "params",
    [
        {"start": "2026-06-03", "end": "2026-06-02"},
        {"start": "yesterday"},
        {"limit": 0},
        {"limit": 101},
        {"cursor": "not-a-cursor"},
    ],
)
async def test_bad_list_parameters_are_422(
    client: httpx.AsyncClient, user: Person, params: dict[str, Any]
) -> None:
    assert_problem(await client.get(CHECKINS, params=params, headers=user.headers), 422)
