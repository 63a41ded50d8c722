"""The safety plan: one per person, only ever seen by its owner."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from mindspace.platform.db import Database
from mindspace.safety import service
from mindspace.safety.models import SafetyPlan
from tests.conftest import Person, assert_problem

URL = "/api/v1/safety/plan"
pytestmark = pytest.mark.asyncio

PLAN: dict[str, Any] = {
    "warning_signs": ["I stop answering messages", "I can't sleep"],
    "coping_steps": ["Walk the dog round the park", "Box breathing for five minutes"],
    "people_and_places": [
        {"name": "The library café"},
        {"name": "Priya", "phone": "+44 7700 900123"},
    ],
    "people_to_ask": [{"name": "Mum", "phone": "+44 7700 900456", "note": "Evenings"}],
    "professionals": [{"name": "Dr Shah (GP)", "phone": "020 7946 0000"}],
    "environment_safety": ["Medicines stay at my sister's"],
    "reasons_for_living": ["My niece", "Finishing the mural"],
}


async def put(client: httpx.AsyncClient, person: Person, body: dict[str, Any]) -> httpx.Response:
    return await client.put(URL, json=body, headers=person.headers)


async def test_a_new_person_has_an_empty_plan(client: httpx.AsyncClient, user: Person) -> None:
    response = await client.get(URL, headers=user.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body.pop("updated_at") is None
    assert all(section == [] for section in body.values())


async def test_the_plan_is_saved_and_read_back(client: httpx.AsyncClient, user: Person) -> None:
    saved = await put(client, user, PLAN)
    assert saved.status_code == 200, saved.text
    read = (await client.get(URL, headers=user.headers)).json()
    assert read == saved.json()
    assert read["updated_at"] is not None
    assert read["people_to_ask"] == [
        {"name": "Mum", "phone": "+44 7700 900456", "note": "Evenings"}
    ]
    assert read["people_and_places"][0] == {"name": "The library café", "phone": None, "note": None}
    assert read["reasons_for_living"] == ["My niece", "Finishing the mural"]


async def test_put_replaces_the_whole_plan(
    client: httpx.AsyncClient, user: Person, db: Database
) -> None:
    await put(client, user, PLAN)
    second = await put(client, user, {"coping_steps": ["Call Priya"]})
    assert second.status_code == 200
    body = second.json()
    assert body["coping_steps"] == ["Call Priya"]
    assert body["warning_signs"] == []
    async with db.session(user.principal) as session:
        rows = (await session.execute(select(SafetyPlan))).scalars().all()
    assert len(rows) == 1  # still one plan per person


async def test_without_a_token_it_is_a_401(client: httpx.AsyncClient, db: Database) -> None:
    assert_problem(await client.get(URL), 401)
    assert_problem(await client.put(URL, json=PLAN), 401)


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"warning_signs": [""]}, "/body/warning_signs/0"),
        ({"warning_signs": ["x" * 501]}, "/body/warning_signs/0"),
        ({"coping_steps": ["step"] * 21}, "/body/coping_steps"),
        ({"people_to_ask": [{"name": "Mum", "phone": "call me"}]}, "/body/people_to_ask/0/phone"),
        ({"people_to_ask": [{"phone": "0123 456"}]}, "/body/people_to_ask/0/name"),
        ({"professionals": ["Dr Shah"]}, "/body/professionals/0"),
        ({"owner_id": "usr_01J0000000000000000000000"}, "/body/owner_id"),
        ({"warning_signs": "not a list"}, "/body/warning_signs"),
    ],
)
async def test_bad_input_is_a_422_and_changes_nothing(
    client: httpx.AsyncClient, user: Person, body: dict[str, Any], pointer: str
) -> None:
    await put(client, user, PLAN)
    problem = assert_problem(await put(client, user, body), 422, "validation-failed")
    assert pointer in {error["pointer"] for error in problem["errors"]}
    after = (await client.get(URL, headers=user.headers)).json()
    assert after["warning_signs"] == PLAN["warning_signs"]


async def test_another_persons_plan_is_never_visible(
    client: httpx.AsyncClient, user: Person, other_user: Person, db: Database
) -> None:
    await put(client, user, PLAN)
    theirs = (await client.get(URL, headers=other_user.headers)).json()
    assert theirs["warning_signs"] == []
    # Their own save does not touch the first person's plan.
    await put(client, other_user, {"coping_steps": ["Music"]})
    mine = (await client.get(URL, headers=user.headers)).json()
    assert mine["coping_steps"] == PLAN["coping_steps"]
    # And the database agrees even for a query that forgets the owner filter.
    async with db.session(other_user.principal) as session:
        owners = set((await session.execute(select(SafetyPlan.owner_id))).scalars())
    assert owners == {other_user.id}


async def test_the_plan_is_part_of_the_data_export(
    client: httpx.AsyncClient, user: Person, db: Database
) -> None:
    async with db.session(user.principal) as session:
        assert await service.export_safety(session, user.principal) == {"safety_plan": None}
    await put(client, user, PLAN)
    async with db.session(user.principal) as session:
        exported = await service.export_safety(session, user.principal)
    assert exported["safety_plan"]["coping_steps"] == PLAN["coping_steps"]
