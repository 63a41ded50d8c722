"""Opt-in analysis: computed by a job after the entry committed, numbers only, and gone when the
person withdraws the permission."""

from __future__ import annotations

import httpx
import procrastinate
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from mindspace.app import build_event_bus
from mindspace.journal.analysis import analyse, emotions
from mindspace.platform.config import Settings
from mindspace.platform.db import Database
from mindspace.platform.relay import relay_once
from tests.conftest import Person, assert_problem, run_background, run_jobs
from tests.journal.conftest import ENTRIES, write_entry

PREFERENCES = "/api/v1/users/me/preferences"
SAD_ENTRY = "<p>I feel so lonely tonight, miserable and tearful about Bartholomew.</p>"
ENTRY_WORDS = ("lonely", "tonight", "miserable", "tearful", "bartholomew")


async def _allow(client: httpx.AsyncClient, person: Person, allowed: bool) -> None:
    response = await client.patch(
        PREFERENCES,
        json={"privacy": {"allow_journal_analysis": allowed}},
        headers=person.headers,
    )
    assert response.status_code == 200, response.text


async def _stored(owner_engine: AsyncEngine, person: Person) -> list[str]:
    async with owner_engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT t::text FROM journal_entry_analysis t WHERE owner_id = :o"),
            {"o": person.id},
        )
        return [r[0] for r in rows]


def _analysis_url(entry: dict[str, object]) -> str:
    return f"{ENTRIES}/{entry['id']}/analysis"


# --- the rules, without I/O -------------------------------------------------------------


def test_sentiment_and_emotions_follow_the_words() -> None:
    low = analyse("I feel so lonely and hopeless, I cried all night.")
    high = analyse("What a wonderful day, I am grateful and calm.")
    assert low.compound < 0 < high.compound
    assert low.emotions["loneliness"] > 0
    assert low.emotions["sadness"] > 0
    assert high.emotions["gratitude"] > 0
    assert high.emotions["calm"] > 0


def test_negated_feelings_do_not_count() -> None:
    assert emotions("I am not lonely and never afraid")["loneliness"] == 0
    assert emotions("I am not lonely and never afraid")["fear"] == 0
    assert emotions("I don't feel happy")["joy"] == 0


def test_phrases_and_stems_match() -> None:
    assert emotions("I was left out again")["loneliness"] > 0
    assert emotions("Everything overwhelms me")["fear"] > 0


def test_the_labels_are_the_lexicons_own_never_the_texts_words() -> None:
    labels = set(emotions("Bartholomew said zyzzyva"))
    assert labels == {
        "joy",
        "sadness",
        "anger",
        "fear",
        "loneliness",
        "gratitude",
        "hope",
        "shame",
        "calm",
    }


# --- through the product --------------------------------------------------------------------


@pytest.mark.asyncio
async def test_nothing_is_analysed_without_permission(
    client: httpx.AsyncClient,
    db: Database,
    app: FastAPI,
    settings: Settings,
    user: Person,
    job_app: procrastinate.App,
    owner_engine: AsyncEngine,
) -> None:
    entry = await write_entry(client, user, body=SAD_ENTRY)
    await run_background(job_app, db, settings)
    assert await _stored(owner_engine, user) == []
    response = await client.get(_analysis_url(entry), headers=user.headers)
    assert_problem(response, 404, "journal-analysis-not-found")


@pytest.mark.asyncio
async def test_an_allowed_analysis_stores_numbers_only_and_goes_when_withdrawn(
    client: httpx.AsyncClient,
    db: Database,
    app: FastAPI,
    settings: Settings,
    user: Person,
    other_user: Person,
    job_app: procrastinate.App,
    owner_engine: AsyncEngine,
) -> None:
    await _allow(client, user, True)
    entry = await write_entry(client, user, title="Tonight", body=SAD_ENTRY)
    await run_background(job_app, db, settings)

    response = await client.get(_analysis_url(entry), headers=user.headers)
    assert response.status_code == 200, response.text
    scores = response.json()
    assert scores["entry_id"] == entry["id"]
    assert scores["sentiment"]["compound"] < 0
    assert scores["emotions"]["loneliness"] > 0
    assert scores["emotions"]["sadness"] > 0

    (stored,) = await _stored(owner_engine, user)
    for word in ENTRY_WORDS:
        assert word not in stored.lower()

    assert_problem(await client.get(_analysis_url(entry)), 401)
    assert_problem(await client.get(_analysis_url(entry), headers=other_user.headers), 404)

    await _allow(client, user, False)
    await run_background(job_app, db, settings)
    assert await _stored(owner_engine, user) == []
    assert_problem(await client.get(_analysis_url(entry), headers=user.headers), 404)


@pytest.mark.asyncio
async def test_an_edit_is_analysed_again(
    client: httpx.AsyncClient,
    db: Database,
    app: FastAPI,
    settings: Settings,
    user: Person,
    job_app: procrastinate.App,
) -> None:
    await _allow(client, user, True)
    entry = await write_entry(client, user, body=SAD_ENTRY)
    await run_background(job_app, db, settings)
    before = (await client.get(_analysis_url(entry), headers=user.headers)).json()
    await client.patch(
        f"{ENTRIES}/{entry['id']}",
        json={"body": "<p>A wonderful, calm and happy day.</p>"},
        headers=user.headers,
    )
    await run_background(job_app, db, settings)
    after = (await client.get(_analysis_url(entry), headers=user.headers)).json()
    assert before["sentiment"]["compound"] < 0 < after["sentiment"]["compound"]


@pytest.mark.asyncio
async def test_a_job_that_runs_after_the_permission_was_withdrawn_stores_nothing(
    client: httpx.AsyncClient,
    db: Database,
    app: FastAPI,
    settings: Settings,
    user: Person,
    job_app: procrastinate.App,
    owner_engine: AsyncEngine,
) -> None:
    await _allow(client, user, True)
    await write_entry(client, user, body=SAD_ENTRY)
    await relay_once(db, build_event_bus(job_app))  # the job is queued...
    await _allow(client, user, False)  # ...then the person changes their mind
    await run_jobs(job_app, db, settings)
    assert await _stored(owner_engine, user) == []
    await run_background(job_app, db, settings)
    assert await _stored(owner_engine, user) == []


@pytest.mark.asyncio
async def test_allowing_analysis_later_analyses_earlier_entries(
    client: httpx.AsyncClient,
    db: Database,
    app: FastAPI,
    settings: Settings,
    user: Person,
    job_app: procrastinate.App,
) -> None:
    first = await write_entry(client, user, body=SAD_ENTRY)
    second = await write_entry(client, user, body="<p>Calm and grateful.</p>")
    await _allow(client, user, True)
    await run_background(job_app, db, settings)
    for entry in (first, second):
        response = await client.get(_analysis_url(entry), headers=user.headers)
        assert response.status_code == 200, response.text


@pytest.mark.asyncio
async def test_a_malformed_entry_id_is_404(client: httpx.AsyncClient, user: Person) -> None:
    assert_problem(await client.get(f"{ENTRIES}/nope/analysis", headers=user.headers), 404)
