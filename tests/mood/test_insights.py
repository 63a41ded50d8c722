"""Insights, the streak, charts (JSON and SVG), the CSV and the account export, over HTTP and
against the database."""

from __future__ import annotations

import asyncio
import csv
import io
import random
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI

from mindspace.identity import service as identity_service
from mindspace.identity.seed import seed as seed_identity
from mindspace.mood import repository
from mindspace.mood.days import local_day
from mindspace.mood.seed import DEMO_DAYS, DEMO_MEMBER_EMAIL
from mindspace.mood.seed import seed as seed_mood
from mindspace.mood.service import export_mood
from mindspace.platform.clock import utc_now
from mindspace.platform.db import Database, DbScope
from mindspace.platform.security import Principal
from tests.conftest import Person, assert_problem, create_user
from tests.mood.conftest import count_checkins, insert_checkins, post_checkin

pytestmark = pytest.mark.asyncio

MOOD = "/api/v1/mood"
SVG_NS = "{http://www.w3.org/2000/svg}"


def parse_svg(text: str) -> ET.Element:
    return ET.fromstring(text)  # noqa: S314 - our own server's output, under test


async def london_person(db: Database, app: FastAPI, boundary: int = 4) -> Person:
    return await create_user(
        db, app.state.tokens, timezone="Europe/London", day_boundary_hour=boundary
    )


async def test_insights_in_the_persons_zone_and_day_boundary(
    client: httpx.AsyncClient, db: Database, app: FastAPI
) -> None:
    person = await london_person(db, app)
    # June: London is UTC+1. 01:30 UTC on the 3rd is 02:30 local, so it belongs to June 2nd.
    for score, mood, instant in [
        (8, "happy", "2026-06-01T08:00:00Z"),  # Monday morning
        (6, "neutral", "2026-06-01T19:00:00Z"),  # Monday evening
        (4, "sad", "2026-06-02T12:00:00Z"),  # Tuesday afternoon
        (2, None, "2026-06-03T01:30:00Z"),  # 02:30 Wednesday local: Tuesday's night
        (10, "very_happy", "2026-06-08T09:00:00Z"),  # next Monday
    ]:
        body = {"score": score, "logged_at": instant} | ({"mood": mood} if mood else {})
        await post_checkin(client, person, **body)
    response = await client.get(
        f"{MOOD}/insights",
        params={"start": "2026-06-01", "end": "2026-06-30"},
        headers=person.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["period"] == {
        "start": "2026-06-01",
        "end": "2026-06-30",
        "timezone": "Europe/London",
        "day_boundary_hour": 4,
    }
    assert body["summary"] == {"checkins": 5, "days_checked_in": 3, "mean_score": 6.0}
    assert body["daily"] == [
        {"start": "2026-06-01", "mean_score": 7.0, "checkins": 2},
        {"start": "2026-06-02", "mean_score": 3.0, "checkins": 2},
        {"start": "2026-06-08", "mean_score": 10.0, "checkins": 1},
    ]
    assert body["weekly"] == [
        {"start": "2026-06-01", "mean_score": 5.0, "checkins": 4},
        {"start": "2026-06-08", "mean_score": 10.0, "checkins": 1},
    ]
    assert body["monthly"] == [{"start": "2026-06-01", "mean_score": 6.0, "checkins": 5}]
    moods = {m["mood"]: m["count"] for m in body["distribution"]["moods"]}
    assert moods == {
        "very_happy": 1,
        "happy": 1,
        "neutral": 1,
        "sad": 1,
        "very_sad": 0,
        "anxious": 0,
        "angry": 0,
    }
    assert body["distribution"]["quick_checkins"] == 1
    assert [s["count"] for s in body["distribution"]["scores"]] == [0, 1, 0, 1, 0, 1, 0, 1, 0, 1]
    weekdays = {w["weekday"]: (w["mean_score"], w["checkins"]) for w in body["weekdays"]}
    assert weekdays[1] == (8.0, 3)
    assert weekdays[2] == (3.0, 2)
    assert weekdays[3] == (None, 0)
    buckets = {t["bucket"]: (t["mean_score"], t["checkins"]) for t in body["time_of_day"]}
    assert buckets == {
        "night": (2.0, 1),
        "morning": (9.0, 2),
        "afternoon": (4.0, 1),
        "evening": (6.0, 1),
    }
    assert body["streak"]["total_days"] == 3
    assert body["streak"]["longest"] == 2


async def test_a_planted_activity_association_is_reported_over_two_years(
    client: httpx.AsyncClient, db: Database, app: FastAPI
) -> None:
    person = await london_person(db, app)
    rng = random.Random(11)
    today = local_day(utc_now(), ZoneInfo("Europe/London"), 4)
    rows = []
    for back in range(730):
        day = today - timedelta(days=back)
        yoga, reading = rng.random() < 0.4, rng.random() < 0.4
        score = round(min(10, max(1, rng.gauss(7.0 if yoga else 5.5, 1.2))))
        at = datetime.combine(day, time(12), tzinfo=UTC)
        rows.append((at, score, ["yoga"] * yoga + ["reading"] * reading))
    await insert_checkins(db, person, rows)
    start = (today - timedelta(days=729)).isoformat()
    response = await client.get(
        f"{MOOD}/insights",
        params={"start": start, "end": today.isoformat()},
        headers=person.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["summary"]["days_checked_in"] == 730
    assert body["associations"]["tested"] == 2
    (yoga,) = body["associations"]["reported"]
    assert yoga["activity"] == "yoga"
    assert yoga["name"] == "Yoga"
    assert 1.0 < yoga["difference"] < 2.0
    assert yoga["q_value"] <= 0.05
    assert yoga["summary"].startswith("On days with Yoga your mood averaged 1.")
    assert body["streak"]["current"] in (729, 730)  # today may still be open
    assert body["streak"]["total_days"] == 730


async def test_concurrent_insights_take_turns_and_all_answer(
    client: httpx.AsyncClient, db: Database, app: FastAPI
) -> None:
    """The passes run one at a time (see service.insights): queued ones wait, none fails."""
    person = await london_person(db, app)
    today = local_day(utc_now(), ZoneInfo("Europe/London"), 4)
    rows: list[tuple[datetime, int, list[str]]] = [
        (datetime.combine(today - timedelta(days=back), time(12), tzinfo=UTC), 1 + back % 10, [])
        for back in range(120)
    ]
    await insert_checkins(db, person, rows)
    params = {"start": (today - timedelta(days=119)).isoformat(), "end": today.isoformat()}
    answers = await asyncio.gather(
        *(client.get(f"{MOOD}/insights", params=params, headers=person.headers) for _ in range(6))
    )
    assert [a.status_code for a in answers] == [200] * 6
    assert all(a.json() == answers[0].json() for a in answers)
    assert answers[0].json()["summary"]["days_checked_in"] == 120


async def test_a_custom_activity_association_names_it(
    client: httpx.AsyncClient, db: Database, app: FastAPI
) -> None:
    person = await london_person(db, app)
    created = await client.post(
        f"{MOOD}/activities", json={"name": "Choir"}, headers=person.headers
    )
    choir = created.json()["id"]
    today = local_day(utc_now(), ZoneInfo("Europe/London"), 4)
    for back in range(1, 41):
        at = datetime.combine(today - timedelta(days=back), time(12), tzinfo=UTC)
        sang = back % 2 == 0
        body = {"score": 9 if sang else 4, "logged_at": at.isoformat()}
        await post_checkin(client, person, **body, custom_activities=[choir] if sang else [])
    response = await client.get(
        f"{MOOD}/insights",
        params={"start": (today - timedelta(days=60)).isoformat()},
        headers=person.headers,
    )
    (association,) = response.json()["associations"]["reported"]
    assert (association["activity"], association["name"]) == (choir, "Choir")
    assert association["difference"] == 5.0


async def test_streak_with_freeze_days(
    client: httpx.AsyncClient, db: Database, app: FastAPI
) -> None:
    person = await london_person(db, app)
    today = local_day(utc_now(), ZoneInfo("Europe/London"), 4)
    days_back = [1, 2, 4, 5, 6]  # the day three days ago was missed
    await insert_checkins(
        db,
        person,
        [
            (datetime.combine(today - timedelta(days=b), time(12), tzinfo=UTC), 6, [])
            for b in days_back
        ],
    )
    before = (await client.get(f"{MOOD}/streak", headers=person.headers)).json()
    assert (before["current"], before["longest"], before["total_days"]) == (2, 3, 5)
    await client.patch(
        f"{MOOD}/settings", json={"freeze_days_per_month": 1}, headers=person.headers
    )
    after = (await client.get(f"{MOOD}/streak", headers=person.headers)).json()
    # One missed day needs one freeze of its own month, whichever month it falls in.
    assert after["frozen_days"] == [(today - timedelta(days=3)).isoformat()]
    assert (after["current"], after["longest"], after["freeze_days_per_month"]) == (5, 5, 1)


async def test_local_days_in_sql_match_the_python_rule_at_dst_edges(
    db: Database, app: FastAPI
) -> None:
    person = await create_user(
        db, app.state.tokens, timezone="America/New_York", day_boundary_hour=1
    )
    edges = [
        datetime(2026, 3, 8, 6, 59, tzinfo=UTC),  # 01:59 EST, spring-forward morning
        datetime(2026, 3, 8, 7, 0, tzinfo=UTC),  # 03:00 EDT
        datetime(2026, 11, 1, 4, 59, tzinfo=UTC),  # 00:59 EDT, fall-back morning
        datetime(2026, 11, 1, 5, 30, tzinfo=UTC),  # first 01:30
        datetime(2026, 11, 1, 6, 30, tzinfo=UTC),  # second 01:30
        datetime(2026, 12, 31, 5, 59, tzinfo=UTC),  # 00:59 on New Year's Eve
    ]
    await insert_checkins(db, person, [(e, 5, []) for e in edges])
    zone = ZoneInfo("America/New_York")
    reader = db.reader(person.principal)
    in_sql = await repository.read_local_days(reader, person.principal, zone.key, 1)
    assert sorted(in_sql) == sorted({local_day(e, zone, 1) for e in edges})


@pytest.mark.parametrize(
    "params",
    [
        {"start": "2026-06-02", "end": "2026-06-01"},
        {"start": "2020-01-01", "end": "2026-01-01"},
        {"start": "June"},
        {"end": "2026-13-01"},
    ],
)
async def test_bad_periods_are_422(
    client: httpx.AsyncClient, user: Person, params: dict[str, str]
) -> None:
    for path in ("/insights", "/charts/trend", "/charts/trend.svg"):
        assert_problem(await client.get(MOOD + path, params=params, headers=user.headers), 422)


async def test_no_token_is_401(client: httpx.AsyncClient) -> None:
    for path in (
        "/insights",
        "/streak",
        "/charts/trend",
        "/charts/trend.svg",
        "/charts/year/2026",
        "/charts/year/2026.svg",
        "/export.csv",
    ):
        assert_problem(await client.get(MOOD + path), 401)


async def test_insights_see_only_the_persons_own_check_ins(
    client: httpx.AsyncClient, user: Person, other_user: Person
) -> None:
    await post_checkin(client, user, score=9)
    theirs = (await client.get(f"{MOOD}/insights", headers=other_user.headers)).json()
    assert theirs["summary"] == {"checkins": 0, "days_checked_in": 0, "mean_score": None}
    assert theirs["streak"]["total_days"] == 0
    year = utc_now().year
    grid = (await client.get(f"{MOOD}/charts/year/{year}", headers=other_user.headers)).json()
    assert all(d["mean_score"] is None for d in grid["days"])
    csv_text = (await client.get(f"{MOOD}/export.csv", headers=other_user.headers)).text
    assert csv_text.count("\r\n") == 1  # the header only


async def test_trend_as_json_and_svg(client: httpx.AsyncClient, user: Person) -> None:
    for score, instant in [
        (4, "2026-06-01T12:00:00Z"),
        (8, "2026-06-01T18:00:00Z"),
        (7, "2026-06-09T12:00:00Z"),
    ]:
        await post_checkin(client, user, score=score, logged_at=instant)
    params = {"start": "2026-06-01", "end": "2026-06-30", "granularity": "week"}
    trend = (await client.get(f"{MOOD}/charts/trend", params=params, headers=user.headers)).json()
    assert trend["granularity"] == "week"
    assert trend["points"] == [
        {"start": "2026-06-01", "mean_score": 6.0, "checkins": 2},
        {"start": "2026-06-08", "mean_score": 7.0, "checkins": 1},
    ]
    response = await client.get(f"{MOOD}/charts/trend.svg", params=params, headers=user.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    root = parse_svg(response.text)
    assert root.tag == f"{SVG_NS}svg"
    assert len(root.findall(f"{SVG_NS}circle")) == 2
    assert "<script" not in response.text
    bad = await client.get(
        f"{MOOD}/charts/trend", params={"granularity": "hour"}, headers=user.headers
    )
    assert_problem(bad, 422)


async def test_year_in_pixels_as_json_and_svg(client: httpx.AsyncClient, user: Person) -> None:
    await post_checkin(client, user, score=3, logged_at="2024-02-29T12:00:00Z")
    await post_checkin(client, user, score=5, logged_at="2024-02-29T13:00:00Z")
    grid = (await client.get(f"{MOOD}/charts/year/2024", headers=user.headers)).json()
    assert grid["year"] == 2024
    assert len(grid["days"]) == 366
    cells = {d["day"]: d["mean_score"] for d in grid["days"]}
    assert cells["2024-02-29"] == 4.0
    assert sum(v is not None for v in cells.values()) == 1
    response = await client.get(f"{MOOD}/charts/year/2024.svg", headers=user.headers)
    assert response.headers["content-type"].startswith("image/svg+xml")
    rects = parse_svg(response.text).findall(f"{SVG_NS}rect")
    assert len(rects) == 366
    assert_problem(await client.get(f"{MOOD}/charts/year/1999", headers=user.headers), 422)
    assert_problem(await client.get(f"{MOOD}/charts/year/soon.svg", headers=user.headers), 422)


async def test_user_text_never_reaches_the_svg(client: httpx.AsyncClient, user: Person) -> None:
    evil = '<script>alert(1)</script>"><g onload="x">'
    made = await client.post(f"{MOOD}/activities", json={"name": evil[:40]}, headers=user.headers)
    await post_checkin(
        client,
        user,
        score=5,
        note=evil,
        triggers=[evil[:40]],
        custom_activities=[made.json()["id"]],
    )
    for path in ("/charts/trend.svg", f"/charts/year/{utc_now().year}.svg"):
        text = (await client.get(MOOD + path, headers=user.headers)).text
        parse_svg(text)  # well-formed
        assert "script" not in text
        assert "onload" not in text


async def test_csv_export_quotes_and_defuses_formulas(
    client: httpx.AsyncClient, user: Person
) -> None:
    choir = await client.post(f"{MOOD}/activities", json={"name": "@choir"}, headers=user.headers)
    await post_checkin(
        client,
        user,
        score=7,
        mood="happy",
        emotions=["calm", "proud"],
        energy=3,
        sleep_hours=6.5,
        activities=["yoga"],
        custom_activities=[choir.json()["id"]],
        triggers=["-cold", "news, again"],
        note='=HYPERLINK("http://x","y")\nline "two", ok',
        logged_at="2026-06-01T01:30:00Z",
    )
    await post_checkin(
        client, user, score=2, note="+1 for trying", logged_at="2026-06-02T12:00:00Z"
    )
    response = await client.get(f"{MOOD}/export.csv", headers=user.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 2
    first, second = rows
    assert first["note"] == '\'=HYPERLINK("http://x","y")\nline "two", ok'
    assert first["triggers"] == "'-cold; news, again"
    assert first["activities"] == "Yoga; @choir"  # joined text starts with Yoga: harmless
    assert first["local_day"] == "2026-05-31"  # 01:30 UTC with the default boundary of 4
    assert (first["mood"], first["score"], first["emotions"]) == ("happy", "7", "calm; proud")
    assert (first["energy"], first["sleep_hours"]) == ("3", "6.5")
    assert second["note"] == "'+1 for trying"
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@"))


async def test_the_account_export_holds_mood_data(
    client: httpx.AsyncClient, user: Person, other_user: Person, db: Database
) -> None:
    created = await post_checkin(client, user, score=7, note="mine")
    await post_checkin(client, other_user, score=1, note="theirs")
    await client.post(f"{MOOD}/activities", json={"name": "Choir"}, headers=user.headers)
    async with db.session(user.principal) as session:
        exported = await export_mood(session, user.principal)
    assert [c["id"] for c in exported["checkins"]] == [created["id"]]
    assert exported["checkins"][0]["note"] == "mine"
    assert [a["name"] for a in exported["custom_activities"]] == ["Choir"]
    assert exported["settings"] == {"freeze_days_per_month": 0}


async def test_demo_check_ins_are_seeded_once(db: Database) -> None:
    await seed_identity(db)
    lines = await seed_mood(db)
    assert lines == await seed_mood(db)
    assert DEMO_MEMBER_EMAIL in lines[0]
    async with db.session(None, scope=DbScope.system) as session:
        member = await identity_service.find_account_id(session, email=DEMO_MEMBER_EMAIL)
    assert member is not None
    person = Person(member, DEMO_MEMBER_EMAIL, "", Principal(user_id=member), "")
    assert await count_checkins(db, person) == DEMO_DAYS


async def test_openapi_documents_every_mood_route(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    paths = {p for p in schema["paths"] if p.startswith("/api/v1/mood")}
    assert {
        "/api/v1/mood/checkins",
        "/api/v1/mood/checkins/{checkin_id}",
        "/api/v1/mood/activities",
        "/api/v1/mood/activities/{activity_id}",
        "/api/v1/mood/settings",
        "/api/v1/mood/insights",
        "/api/v1/mood/streak",
        "/api/v1/mood/charts/trend",
        "/api/v1/mood/charts/trend.svg",
        "/api/v1/mood/charts/year/{year}",
        "/api/v1/mood/charts/year/{year}.svg",
        "/api/v1/mood/export.csv",
    } == paths
    svg = schema["paths"]["/api/v1/mood/charts/trend.svg"]["get"]["responses"]
    assert "image/svg+xml" in svg["200"]["content"]
    assert "401" in svg
