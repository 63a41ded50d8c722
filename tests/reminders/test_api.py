"""The reminders API: each route's happy path, 401, 404 for what is not mine, 422 for bad input
(and nothing changed)."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from mindspace.platform.db import Database
from mindspace.platform.ids import encode, new_id
from mindspace.reminders.service import export_reminders
from tests.conftest import Person, assert_problem, create_user
from tests.reminders.conftest import DAILY_20, REMINDERS, make_reminder

pytestmark = pytest.mark.asyncio


def _local(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def _mine(client: httpx.AsyncClient, person: Person) -> list[dict[str, Any]]:
    response = await client.get(REMINDERS, headers=person.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


# --- create ---------------------------------------------------------------------------------


async def test_a_reminder_fires_at_its_local_time_in_my_profiles_zone(
    client: httpx.AsyncClient, db: Database, app: FastAPI
) -> None:
    person = await create_user(db, app.state.tokens, timezone="Asia/Kolkata")
    created = await make_reminder(client, person)

    assert created["id"].startswith("rem_")
    assert created["timezone"] == "Asia/Kolkata"
    assert created["enabled"] is True
    assert created["schedule"] == DAILY_20
    upcoming = [_local(t) for t in created["upcoming"]]
    assert len(upcoming) == 5
    assert all(
        t.time() == time(20) and t.utcoffset() == ZoneInfo("Asia/Kolkata").utcoffset(t)
        for t in upcoming
    )
    assert _local(created["next_fire_at"]) == upcoming[0]
    assert created["next_fire_at"].endswith("Z") or created["next_fire_at"].endswith("+00:00")


async def test_weekly_and_rrule_schedules_with_an_explicit_zone(
    client: httpx.AsyncClient, user: Person
) -> None:
    weekly = await make_reminder(
        client,
        user,
        kind="meditation",
        title="Morning sit",
        timezone="America/New_York",
        schedule={"type": "weekly", "days": ["fri", "mon", "wed", "mon"], "time": "07:30"},
    )
    assert weekly["schedule"]["days"] == ["mon", "wed", "fri"]
    assert {_local(t).strftime("%a %H:%M") for t in weekly["upcoming"]} <= {
        "Mon 07:30",
        "Wed 07:30",
        "Fri 07:30",
    }

    monthly = await make_reminder(
        client,
        user,
        kind="journal",
        title="Monthly review",
        timezone="Europe/Berlin",
        schedule={"type": "rrule", "rrule": "FREQ=MONTHLY;BYDAY=1SU;BYHOUR=10;BYMINUTE=0"},
    )
    # The start it was read from is shown: midnight today, Berlin time.
    assert monthly["schedule"]["start"].endswith("T00:00:00")
    for shown in monthly["upcoming"]:
        at = _local(shown)
        assert (at.strftime("%a %H:%M"), at.day <= 7) == ("Sun 10:00", True)


async def test_a_paused_reminder_can_be_created(client: httpx.AsyncClient, user: Person) -> None:
    created = await make_reminder(client, user, enabled=False)
    assert (created["enabled"], created["next_fire_at"], created["upcoming"]) == (False, None, [])


async def test_creating_needs_a_sign_in(client: httpx.AsyncClient) -> None:
    body = {"kind": "habit", "title": "Water", "schedule": DAILY_20}
    assert_problem(await client.post(REMINDERS, json=body), 401)


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"kind": "nag"}, "/body/kind"),
        ({"title": ""}, "/body/title"),
        ({"title": "x" * 81}, "/body/title"),
        ({"timezone": "Mars/Olympus"}, "/body/timezone"),
        ({"timezone": "Europe"}, "/body/timezone"),
        ({"schedule": {"type": "daily", "time": "24:00"}}, "/body/schedule/daily/time"),
        (
            {"schedule": {"type": "weekly", "days": [], "time": "07:30"}},
            "/body/schedule/weekly/days",
        ),
        (
            {"schedule": {"type": "weekly", "days": ["funday"], "time": "07:30"}},
            "/body/schedule/weekly/days/0",
        ),
        ({"schedule": {"type": "monthly"}}, "/body/schedule"),
        (
            {"schedule": {"type": "rrule", "rrule": "FREQ=DAILY", "start": "2026-12-01T09:00Z"}},
            "/body/schedule/rrule/start",
        ),
        (
            {"schedule": {"type": "rrule", "rrule": "FREQ=DAILY", "start": "1999-12-01T09:00"}},
            "/body/schedule/rrule/start",
        ),
        ({"owner_id": "usr_01JD8X4V2Q0000000000000000"}, "/body/owner_id"),
    ],
)
async def test_bad_input_is_a_422_at_the_field_and_creates_nothing(
    client: httpx.AsyncClient, user: Person, body: dict[str, Any], pointer: str
) -> None:
    full = {"kind": "habit", "title": "Water", "schedule": DAILY_20, **body}
    problem = assert_problem(await client.post(REMINDERS, json=full, headers=user.headers), 422)
    assert pointer in [e["pointer"] for e in problem["errors"]], problem
    assert await _mine(client, user) == []


@pytest.mark.parametrize(
    ("rule", "says"),
    [
        ("FREQ=HOURLY", "too frequent"),
        ("FREQ=MINUTELY", "too frequent"),
        ("FREQ=SECONDLY", "too frequent"),
        ("FREQ=DAILY;BYMINUTE=0,5,10", "15 minutes"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=31", "never fires"),
        ("FREQ=DAILY;BYHOUR=99", "not a valid RRULE"),
        ("this is not a rule", "NAME=VALUE"),
    ],
)
async def test_a_rule_a_reminder_cannot_use_is_a_422_at_the_rule(
    client: httpx.AsyncClient, user: Person, rule: str, says: str
) -> None:
    body = {"kind": "custom", "title": "Rule", "schedule": {"type": "rrule", "rrule": rule}}
    response = await client.post(REMINDERS, json=body, headers=user.headers)
    problem = assert_problem(response, 422, "invalid-schedule")
    assert problem["errors"][0]["pointer"] == "/body/schedule/rrule"
    assert says in problem["errors"][0]["detail"]
    assert await _mine(client, user) == []


# --- list and get ---------------------------------------------------------------------------


async def test_list_is_mine_newest_first_in_pages(
    client: httpx.AsyncClient, user: Person, other_user: Person
) -> None:
    ids = [(await make_reminder(client, user, title=f"R{i}"))["id"] for i in range(5)]
    await make_reminder(client, other_user)

    first = await client.get(REMINDERS, params={"limit": 2}, headers=user.headers)
    assert first.status_code == 200
    page = first.json()
    seen = [r["id"] for r in page["items"]]
    while page["next_cursor"]:
        response = await client.get(
            REMINDERS, params={"limit": 2, "cursor": page["next_cursor"]}, headers=user.headers
        )
        page = response.json()
        seen += [r["id"] for r in page["items"]]
    assert seen == ids[::-1]


async def test_list_needs_a_sign_in_and_a_valid_cursor(
    client: httpx.AsyncClient, user: Person
) -> None:
    assert_problem(await client.get(REMINDERS), 401)
    bad = await client.get(REMINDERS, params={"cursor": "!!!"}, headers=user.headers)
    assert_problem(bad, 422, "invalid-cursor")
    assert_problem(await client.get(REMINDERS, params={"limit": 0}, headers=user.headers), 422)


async def test_get_shows_my_reminder(client: httpx.AsyncClient, user: Person) -> None:
    created = await make_reminder(client, user)
    response = await client.get(f"{REMINDERS}/{created['id']}", headers=user.headers)
    assert response.status_code == 200
    assert response.json() == created


def _foreign_ids(theirs: str) -> list[str]:
    return [
        theirs,  # someone else's
        encode("rem", new_id()),  # nobody's
        theirs.replace("rem_", "usr_"),  # the wrong kind
        "rem_not-a-ulid",
    ]


async def test_get_answers_404_for_what_is_not_mine(
    client: httpx.AsyncClient, user: Person, other_user: Person
) -> None:
    theirs = (await make_reminder(client, other_user))["id"]
    for rid in _foreign_ids(theirs):
        assert_problem(await client.get(f"{REMINDERS}/{rid}", headers=user.headers), 404)
    assert_problem(await client.get(f"{REMINDERS}/{theirs}"), 401)


# --- update ---------------------------------------------------------------------------------


async def test_a_new_schedule_moves_the_next_firing(
    client: httpx.AsyncClient, user: Person
) -> None:
    created = await make_reminder(client, user, timezone="Europe/London")
    response = await client.patch(
        f"{REMINDERS}/{created['id']}",
        json={"title": "Morning check-in", "schedule": {"type": "daily", "time": "07:15"}},
        headers=user.headers,
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["title"] == "Morning check-in"
    assert all(_local(t).strftime("%H:%M") == "07:15" for t in updated["upcoming"])
    assert updated["next_fire_at"] != created["next_fire_at"]

    moved = await client.patch(
        f"{REMINDERS}/{created['id']}", json={"timezone": "Asia/Tokyo"}, headers=user.headers
    )
    tokyo = moved.json()
    assert tokyo["timezone"] == "Asia/Tokyo"
    assert all(_local(t).strftime("%H:%M %z") == "07:15 +0900" for t in tokyo["upcoming"])


async def test_a_title_change_keeps_the_schedule(client: httpx.AsyncClient, user: Person) -> None:
    created = await make_reminder(client, user)
    response = await client.patch(
        f"{REMINDERS}/{created['id']}", json={"kind": "journal"}, headers=user.headers
    )
    assert response.json()["kind"] == "journal"
    assert response.json()["next_fire_at"] == created["next_fire_at"]


@pytest.mark.parametrize(
    "body",
    [
        {"title": None},
        {"schedule": None},
        {"timezone": "Nowhere/Land"},
        {"schedule": {"type": "rrule", "rrule": "FREQ=HOURLY"}},
        {"enabled": False},
        {"title": "ok", "schedule": {"type": "rrule", "rrule": "FREQ=DAILY;BYMINUTE=1,2"}},
    ],
)
async def test_a_bad_update_is_a_422_and_changes_nothing(
    client: httpx.AsyncClient, user: Person, body: dict[str, Any]
) -> None:
    created = await make_reminder(client, user)
    response = await client.patch(f"{REMINDERS}/{created['id']}", json=body, headers=user.headers)
    assert_problem(response, 422)
    assert (
        await client.get(f"{REMINDERS}/{created['id']}", headers=user.headers)
    ).json() == created


async def test_update_answers_404_for_what_is_not_mine(
    client: httpx.AsyncClient, user: Person, other_user: Person
) -> None:
    theirs = await make_reminder(client, other_user)
    for rid in _foreign_ids(theirs["id"]):
        response = await client.patch(
            f"{REMINDERS}/{rid}", json={"title": "mine now"}, headers=user.headers
        )
        assert_problem(response, 404)
    assert_problem(await client.patch(f"{REMINDERS}/{theirs['id']}", json={"title": "x"}), 401)
    after = await client.get(f"{REMINDERS}/{theirs['id']}", headers=other_user.headers)
    assert after.json() == theirs


# --- pause, resume, delete ------------------------------------------------------------------


async def test_pause_stops_firing_and_resume_starts_from_now(
    client: httpx.AsyncClient, user: Person
) -> None:
    created = await make_reminder(client, user)
    url = f"{REMINDERS}/{created['id']}"
    paused = (await client.post(f"{url}/pause", headers=user.headers)).json()
    assert (paused["enabled"], paused["next_fire_at"], paused["upcoming"]) == (False, None, [])
    again = await client.post(f"{url}/pause", headers=user.headers)
    assert again.json()["enabled"] is False

    resumed = (await client.post(f"{url}/resume", headers=user.headers)).json()
    assert resumed["enabled"] is True
    assert resumed["next_fire_at"] == created["next_fire_at"]
    assert resumed["upcoming"] == created["upcoming"]

    # A schedule changed while paused takes effect on resume.
    await client.post(f"{url}/pause", headers=user.headers)
    changed = await client.patch(
        url, json={"schedule": {"type": "daily", "time": "06:00"}}, headers=user.headers
    )
    assert changed.json()["next_fire_at"] is None
    resumed = (await client.post(f"{url}/resume", headers=user.headers)).json()
    assert all(_local(t).strftime("%H:%M") == "06:00" for t in resumed["upcoming"])


async def test_pause_and_resume_answer_401_and_404(
    client: httpx.AsyncClient, user: Person, other_user: Person
) -> None:
    theirs = await make_reminder(client, other_user)
    for action in ("pause", "resume"):
        assert_problem(await client.post(f"{REMINDERS}/{theirs['id']}/{action}"), 401)
        for rid in _foreign_ids(theirs["id"]):
            response = await client.post(f"{REMINDERS}/{rid}/{action}", headers=user.headers)
            assert_problem(response, 404)
    after = await client.get(f"{REMINDERS}/{theirs['id']}", headers=other_user.headers)
    assert after.json()["enabled"] is True


async def test_delete_removes_only_mine(
    client: httpx.AsyncClient, user: Person, other_user: Person
) -> None:
    mine = await make_reminder(client, user)
    theirs = await make_reminder(client, other_user)
    assert_problem(await client.delete(f"{REMINDERS}/{mine['id']}"), 401)
    for rid in _foreign_ids(theirs["id"]):
        assert_problem(await client.delete(f"{REMINDERS}/{rid}", headers=user.headers), 404)

    response = await client.delete(f"{REMINDERS}/{mine['id']}", headers=user.headers)
    assert response.status_code == 204
    assert_problem(await client.get(f"{REMINDERS}/{mine['id']}", headers=user.headers), 404)
    assert_problem(await client.delete(f"{REMINDERS}/{mine['id']}", headers=user.headers), 404)
    assert len(await _mine(client, other_user)) == 1


# --- export ---------------------------------------------------------------------------------


async def test_my_export_holds_my_reminders_only(
    client: httpx.AsyncClient, db: Database, user: Person, other_user: Person
) -> None:
    mine = await make_reminder(client, user, title="Mine")
    await make_reminder(client, other_user, title="Theirs")
    async with db.session(user.principal) as session:
        exported = await export_reminders(session, user.principal)
    assert [r["title"] for r in exported["reminders"]] == ["Mine"]
    assert exported["reminders"][0]["schedule"] == mine["schedule"]


async def test_the_api_documents_every_answer_and_the_downtime_rule(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/openapi.json")).json()
    paths = {p: ops for p, ops in spec["paths"].items() if p.startswith(REMINDERS)}
    assert set(paths) == {
        REMINDERS,
        f"{REMINDERS}/{{reminder_id}}",
        f"{REMINDERS}/{{reminder_id}}/pause",
        f"{REMINDERS}/{{reminder_id}}/resume",
    }
    for path, ops in paths.items():
        for method, op in ops.items():
            documented = set(op["responses"])
            assert {"401", "422"} <= documented, (method, path)
            if "{reminder_id}" in path:
                assert "404" in documented, (method, path)
    assert "fires once" in paths[REMINDERS]["post"]["description"]


async def test_erasing_an_account_erases_its_reminders(
    client: httpx.AsyncClient, owner_engine: AsyncEngine, user: Person, other_user: Person
) -> None:
    await make_reminder(client, user)
    await make_reminder(client, other_user)
    async with owner_engine.begin() as conn:
        await conn.execute(text("DELETE FROM user_account WHERE id = :id"), {"id": user.id})
        owners = (await conn.execute(text("SELECT owner_id FROM reminder"))).scalars().all()
    assert owners == [other_user.id]
