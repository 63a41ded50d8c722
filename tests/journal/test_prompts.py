"""Prompts: the curated catalogue, a daily prompt that does not repeat within 30 days, and a
person's own prompts."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from sqlalchemy import update

from mindspace.identity.models import UserAccount
from mindspace.journal import prompts
from mindspace.journal.service import local_day
from mindspace.platform.db import Database, DbScope
from tests.conftest import Person, assert_problem
from tests.journal.conftest import ENTRIES, write_entry

CATALOGUE = "/api/v1/journal/prompts"
CUSTOM = "/api/v1/journal/custom-prompts"
MISSING = "jpr_01JD8X4V2Q0000000000000000"


# --- rules ----------------------------------------------------------------------------------


def test_the_catalogue_has_about_ten_prompts_for_each_theme() -> None:
    by_theme: dict[str, int] = {}
    for prompt in prompts.catalogue():
        by_theme[prompt.theme] = by_theme.get(prompt.theme, 0) + 1
    assert set(by_theme) == {
        "gratitude",
        "cbt_reframing",
        "self_compassion",
        "values",
        "grief",
        "anxiety",
    }
    assert all(n >= 10 for n in by_theme.values())
    assert len({p.id for p in prompts.catalogue()}) == len(prompts.catalogue())


@pytest.mark.parametrize("seed", range(20))
def test_the_daily_prompt_never_repeats_within_30_days(seed: int) -> None:
    person = uuid.UUID(int=seed * 7919 + 1).bytes
    start = date(2025, 1, 1) + timedelta(days=seed * 37)
    days = [prompts.daily_prompt(person, start + timedelta(days=n)).id for n in range(400)]
    for n, prompt_id in enumerate(days):
        assert prompt_id not in days[n + 1 : n + prompts.NO_REPEAT_DAYS], (n, prompt_id)
    assert len(set(days)) == len(prompts.catalogue())  # every prompt comes round


def test_the_daily_prompt_is_stable_per_person_and_day_and_differs_between_people() -> None:
    day = date(2026, 12, 1)
    alice, bob = uuid.uuid4().bytes, uuid.uuid4().bytes
    assert prompts.daily_prompt(alice, day) == prompts.daily_prompt(alice, day)
    sequence = [prompts.daily_prompt(alice, day + timedelta(days=n)) for n in range(30)]
    others = [prompts.daily_prompt(bob, day + timedelta(days=n)) for n in range(30)]
    assert sequence != others


def test_the_local_day_follows_the_timezone_and_the_day_boundary() -> None:
    late = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
    assert local_day(late, timezone="UTC", day_boundary_hour=0) == date(2026, 12, 1)
    assert local_day(late, timezone="Asia/Kolkata", day_boundary_hour=0) == date(2026, 12, 2)
    assert local_day(late, timezone="America/New_York", day_boundary_hour=0) == date(2026, 12, 1)
    # 03:00 on the 2nd in Kolkata, but this person's day starts at 4: still the 1st.
    assert local_day(late - timedelta(hours=2), timezone="Asia/Kolkata", day_boundary_hour=4) == (
        date(2026, 12, 1)
    )


# --- catalogue and daily prompt over HTTP -------------------------------------------------


@pytest.mark.asyncio
async def test_the_catalogue_lists_and_filters(client: httpx.AsyncClient, user: Person) -> None:
    everything = await client.get(CATALOGUE, headers=user.headers)
    assert everything.status_code == 200
    assert len(everything.json()) == len(prompts.catalogue())
    grief = (await client.get(CATALOGUE, params={"theme": "grief"}, headers=user.headers)).json()
    assert grief
    assert {p["theme"] for p in grief} == {"grief"}
    assert_problem(await client.get(CATALOGUE), 401)
    assert_problem(
        await client.get(CATALOGUE, params={"theme": "x" * 41}, headers=user.headers), 422
    )


@pytest.mark.asyncio
async def test_todays_prompt_is_the_persons_for_their_local_day(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    async with db.session(None, scope=DbScope.auth) as session:
        await session.execute(
            update(UserAccount)
            .where(UserAccount.id == user.id)
            .values(timezone="Pacific/Kiritimati")
        )
    response = await client.get(f"{CATALOGUE}/today", headers=user.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    day = local_day(datetime.now(UTC), timezone="Pacific/Kiritimati", day_boundary_hour=0)
    assert body["day"] == day.isoformat()
    assert body["prompt"]["id"] == prompts.daily_prompt(user.id.bytes, day).id
    assert_problem(await client.get(f"{CATALOGUE}/today"), 401)


# --- custom prompts -------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_custom_prompts_crud(client: httpx.AsyncClient, user: Person) -> None:
    created = await client.post(
        CUSTOM, json={"text": "What did I avoid today?"}, headers=user.headers
    )
    assert created.status_code == 201, created.text
    prompt = created.json()
    assert prompt["id"].startswith("jpr_")
    assert (await client.get(f"{CUSTOM}/{prompt['id']}", headers=user.headers)).json() == prompt

    updated = await client.patch(
        f"{CUSTOM}/{prompt['id']}", json={"text": "What did I face today?"}, headers=user.headers
    )
    assert updated.status_code == 200
    assert updated.json()["text"] == "What did I face today?"
    listed = (await client.get(CUSTOM, headers=user.headers)).json()
    assert [p["text"] for p in listed["items"]] == ["What did I face today?"]

    entry = await write_entry(client, user, prompt_id=prompt["id"])
    assert entry["prompt_id"] == prompt["id"]
    by_prompt = await client.get(ENTRIES, params={"prompt_id": prompt["id"]}, headers=user.headers)
    assert [e["id"] for e in by_prompt.json()["items"]] == [entry["id"]]

    assert (
        await client.delete(f"{CUSTOM}/{prompt['id']}", headers=user.headers)
    ).status_code == 204
    assert_problem(await client.get(f"{CUSTOM}/{prompt['id']}", headers=user.headers), 404)
    kept = await client.get(f"{ENTRIES}/{entry['id']}", headers=user.headers)
    assert kept.json()["prompt_id"] is None  # the entry stays, without its prompt


@pytest.mark.asyncio
async def test_custom_prompts_need_a_token(client: httpx.AsyncClient, user: Person) -> None:
    created = await client.post(CUSTOM, json={"text": "x"}, headers=user.headers)
    prompt_id = created.json()["id"]
    assert_problem(await client.post(CUSTOM, json={"text": "x"}), 401)
    assert_problem(await client.get(CUSTOM), 401)
    assert_problem(await client.get(f"{CUSTOM}/{prompt_id}"), 401)
    assert_problem(await client.patch(f"{CUSTOM}/{prompt_id}", json={"text": "y"}), 401)
    assert_problem(await client.delete(f"{CUSTOM}/{prompt_id}"), 401)


@pytest.mark.asyncio
async def test_another_persons_prompt_is_404(
    client: httpx.AsyncClient, user: Person, other_user: Person
) -> None:
    theirs = (
        await client.post(CUSTOM, json={"text": "private"}, headers=other_user.headers)
    ).json()
    url = f"{CUSTOM}/{theirs['id']}"
    assert_problem(await client.get(url, headers=user.headers), 404, "journal-prompt-not-found")
    assert_problem(await client.patch(url, json={"text": "y"}, headers=user.headers), 404)
    assert_problem(await client.delete(url, headers=user.headers), 404)
    assert_problem(await client.get(f"{CUSTOM}/{MISSING}", headers=user.headers), 404)
    assert (await client.get(CUSTOM, headers=user.headers)).json()["items"] == []
    assert (await client.get(url, headers=other_user.headers)).json() == theirs


@pytest.mark.asyncio
@pytest.mark.parametrize("body", [{"text": ""}, {"text": "x" * 501}, {}, {"text": "x", "y": 1}])
async def test_bad_prompt_input_is_422_and_changes_nothing(
    client: httpx.AsyncClient, user: Person, body: dict[str, object]
) -> None:
    assert_problem(await client.post(CUSTOM, json=body, headers=user.headers), 422)
    created = (await client.post(CUSTOM, json={"text": "kept"}, headers=user.headers)).json()
    response = await client.patch(f"{CUSTOM}/{created['id']}", json=body, headers=user.headers)
    assert_problem(response, 422)
    assert (await client.get(f"{CUSTOM}/{created['id']}", headers=user.headers)).json() == created
