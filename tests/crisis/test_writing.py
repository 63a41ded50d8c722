"""Words written outside a conversation (journal entries, mood notes): crisis lines in the answer
to the save whenever the words call for them; the care team told only with the person's consent,
and then only that it happened and its warning signs, never the words."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from mindspace.crisis.models import CrisisAlert
from mindspace.platform.db import Database, DbScope
from mindspace.platform.ids import decode
from tests.conftest import Person, assert_problem, create_user

pytestmark = pytest.mark.asyncio
ENTRIES = "/api/v1/journal/entries"
CHECKINS = "/api/v1/mood/checkins"
PREFERENCES = "/api/v1/users/me/preferences"
DANGER = "I have saved up my pills and tonight I am going to take them all"
CALM = "A long walk by the river, then soup with my sister. A good day."


@pytest_asyncio.fixture
async def person(db: Database, app: FastAPI) -> Person:
    return await create_user(db, app.state.tokens, country="GB")


async def _allow_outreach(client: httpx.AsyncClient, person: Person, allowed: bool = True) -> None:
    response = await client.patch(
        PREFERENCES,
        json={"privacy": {"allow_crisis_outreach": allowed}},
        headers=person.headers,
    )
    assert response.status_code == 200, response.text


async def _alerts(db: Database) -> list[CrisisAlert]:
    async with db.session(None, scope=DbScope.system) as session:
        return list((await session.scalars(select(CrisisAlert))).all())


async def _write(client: httpx.AsyncClient, person: Person, body: str) -> dict[str, Any]:
    response = await client.post(
        ENTRIES, json={"title": "Tonight", "body": f"<p>{body}</p>"}, headers=person.headers
    )
    assert response.status_code == 201, response.text
    entry: dict[str, Any] = response.json()
    return entry


def _lines(saved: dict[str, Any]) -> set[str]:
    return {r["name"] for r in saved["crisis"]["resources"]["resources"]}


async def test_an_entry_in_danger_gets_the_lines_and_nobody_is_told_without_consent(
    client: httpx.AsyncClient, db: Database, person: Person
) -> None:
    saved = await _write(client, person, DANGER)
    assert saved["crisis"]["resources"]["country"] == "GB"
    assert "Samaritans" in _lines(saved)
    assert saved["crisis"]["safety_plan"] == "/api/v1/safety/plan"
    assert saved["body"] == f"<p>{DANGER}</p>"  # saved as written, help beside it
    assert await _alerts(db) == []


async def test_with_consent_the_care_team_learns_the_signs_and_where_never_the_words(
    client: httpx.AsyncClient, db: Database, person: Person, owner_engine: AsyncEngine
) -> None:
    await _allow_outreach(client, person)
    saved = await _write(client, person, DANGER)
    assert saved["crisis"] is not None
    (alert,) = await _alerts(db)
    assert (alert.owner_id, alert.severity, alert.trigger) == (
        person.id,
        "high_risk",
        "journal_entry",
    )
    assert (alert.source_type, alert.source_id) == ("journal_entry", decode("jrn", saved["id"]))
    assert alert.signals
    async with owner_engine.connect() as conn:
        dumped = " ".join(
            str(v) for v in (await conn.execute(text("SELECT * FROM crisis_alert"))).one()
        )
    assert "pills" not in dumped
    assert "tonight" not in dumped

    # A second entry within the cooldown is the same episode, not a second alert.
    await _write(client, person, DANGER)
    (again,) = await _alerts(db)
    assert again.occurrences == 2


async def test_ordinary_words_get_no_lines_and_raise_nothing(
    client: httpx.AsyncClient, db: Database, person: Person
) -> None:
    await _allow_outreach(client, person)
    assert (await _write(client, person, CALM))["crisis"] is None
    assert (await _write(client, person, "This traffic is killing me"))["crisis"] is None
    assert await _alerts(db) == []


async def test_an_edit_that_brings_danger_is_answered_and_one_that_leaves_words_alone_is_not(
    client: httpx.AsyncClient, person: Person
) -> None:
    entry = await _write(client, person, CALM)
    url = f"{ENTRIES}/{entry['id']}"
    edited = await client.patch(url, json={"body": f"<p>{DANGER}</p>"}, headers=person.headers)
    assert edited.status_code == 200, edited.text
    assert "Samaritans" in _lines(edited.json())
    retagged = await client.patch(url, json={"tags": ["night"]}, headers=person.headers)
    assert retagged.json()["crisis"] is None  # the words did not change: asked and answered


async def test_a_refused_save_raises_nothing(
    client: httpx.AsyncClient, db: Database, person: Person, other_user: Person
) -> None:
    await _allow_outreach(client, person)
    too_long = await client.post(
        ENTRIES, json={"title": "t" * 201, "body": DANGER}, headers=person.headers
    )
    assert_problem(too_long, 422)
    theirs = await _write(client, other_user, CALM)
    response = await client.patch(
        f"{ENTRIES}/{theirs['id']}", json={"body": DANGER}, headers=person.headers
    )
    assert_problem(response, 404)
    assert await _alerts(db) == []


async def test_a_mood_note_in_danger_gets_the_lines_and_an_alert_only_with_consent(
    client: httpx.AsyncClient, db: Database, person: Person
) -> None:
    first = await client.post(CHECKINS, json={"score": 1, "note": DANGER}, headers=person.headers)
    assert first.status_code == 201, first.text
    assert "Samaritans" in _lines(first.json())
    assert await _alerts(db) == []

    await _allow_outreach(client, person)
    checkin = await client.post(CHECKINS, json={"score": 5}, headers=person.headers)
    assert checkin.json()["crisis"] is None
    url = f"{CHECKINS}/{checkin.json()['id']}"
    noted = await client.patch(url, json={"note": DANGER}, headers=person.headers)
    assert noted.status_code == 200, noted.text
    assert noted.json()["crisis"]["resources"]["country"] == "GB"
    (alert,) = await _alerts(db)
    assert (alert.trigger, alert.source_id) == ("mood_note", decode("mci", checkin.json()["id"]))


async def test_without_a_country_the_international_directory_is_offered(
    client: httpx.AsyncClient, db: Database, app: FastAPI
) -> None:
    nowhere = await create_user(db, app.state.tokens, country=None)
    saved = await _write(client, nowhere, DANGER)
    assert saved["crisis"]["resources"]["fallback"] is True


async def test_consent_is_a_privacy_option_the_person_can_withdraw(
    client: httpx.AsyncClient, db: Database, person: Person
) -> None:
    await _allow_outreach(client, person)
    await _allow_outreach(client, person, False)
    assert (await _write(client, person, DANGER))["crisis"] is not None
    assert await _alerts(db) == []
    bad = await client.patch(
        PREFERENCES, json={"privacy": {"allow_crisis_outreach": "yes"}}, headers=person.headers
    )
    assert_problem(bad, 422)
