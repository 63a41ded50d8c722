"""A person's own activities and their mood settings."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Person, assert_problem
from tests.mood.conftest import CHECKINS, post_checkin

pytestmark = pytest.mark.asyncio

ACTIVITIES = "/api/v1/mood/activities"
SETTINGS = "/api/v1/mood/settings"


async def add(client: httpx.AsyncClient, person: Person, name: str) -> str:
    response = await client.post(ACTIVITIES, json={"name": name}, headers=person.headers)
    assert response.status_code == 201, response.text
    activity_id: str = response.json()["id"]
    return activity_id


async def test_builtin_and_own_activities(client: httpx.AsyncClient, user: Person) -> None:
    pottery = await add(client, user, "  Pottery ")
    await add(client, user, "choir")
    listed = (await client.get(ACTIVITIES, headers=user.headers)).json()
    assert {"key": "yoga", "name": "Yoga"} in listed["builtin"]
    assert [a["name"] for a in listed["custom"]] == ["choir", "Pottery"]  # by name, any case
    assert pottery in {a["id"] for a in listed["custom"]}
    created = await post_checkin(client, user, score=7, custom_activities=[pottery])
    assert created["custom_activities"] == [pottery]


async def test_names_are_unique_per_person_ignoring_case(
    client: httpx.AsyncClient, user: Person, other_user: Person
) -> None:
    await add(client, user, "Pottery")
    taken = await client.post(ACTIVITIES, json={"name": "pottery"}, headers=user.headers)
    assert_problem(taken, 409, "mood-activity-name-taken")
    await add(client, other_user, "Pottery")  # someone else's list is theirs
    listed = (await client.get(ACTIVITIES, headers=user.headers)).json()
    assert [a["name"] for a in listed["custom"]] == ["Pottery"]


async def test_rename_and_delete(client: httpx.AsyncClient, user: Person) -> None:
    pottery = await add(client, user, "Pottery")
    choir = await add(client, user, "Choir")
    renamed = await client.patch(
        f"{ACTIVITIES}/{pottery}", json={"name": "Ceramics"}, headers=user.headers
    )
    assert renamed.json()["name"] == "Ceramics"
    clash = await client.patch(
        f"{ACTIVITIES}/{pottery}", json={"name": "choir"}, headers=user.headers
    )
    assert_problem(clash, 409)
    checkin = await post_checkin(client, user, custom_activities=[pottery, choir])
    assert (await client.delete(f"{ACTIVITIES}/{pottery}", headers=user.headers)).status_code == 204
    after = (await client.get(f"{CHECKINS}/{checkin['id']}", headers=user.headers)).json()
    assert after["custom_activities"] == [choir]  # the check-in stays, without the activity
    assert_problem(await client.delete(f"{ACTIVITIES}/{pottery}", headers=user.headers), 404)


async def test_another_persons_activity_is_404(
    client: httpx.AsyncClient, user: Person, other_user: Person
) -> None:
    pottery = await add(client, user, "Pottery")
    h = other_user.headers
    assert_problem(
        await client.patch(f"{ACTIVITIES}/{pottery}", json={"name": "x"}, headers=h), 404
    )
    assert_problem(await client.delete(f"{ACTIVITIES}/{pottery}", headers=h), 404)
    wrong_kind = "mci_01JD8X4V2Q0000000000000000"
    assert_problem(await client.delete(f"{ACTIVITIES}/{wrong_kind}", headers=user.headers), 404)
    listed = (await client.get(ACTIVITIES, headers=user.headers)).json()
    assert [a["name"] for a in listed["custom"]] == ["Pottery"]


@pytest.mark.parametrize(
    "body", [{}, {"name": ""}, {"name": "   "}, {"name": "x" * 41}, {"name": 3}]
)
async def test_bad_activity_names_are_422(
    client: httpx.AsyncClient, user: Person, body: dict[str, object]
) -> None:
    assert_problem(await client.post(ACTIVITIES, json=body, headers=user.headers), 422)
    pottery = await add(client, user, "Pottery")
    assert_problem(
        await client.patch(f"{ACTIVITIES}/{pottery}", json=body, headers=user.headers), 422
    )
    listed = (await client.get(ACTIVITIES, headers=user.headers)).json()
    assert [a["name"] for a in listed["custom"]] == ["Pottery"]


async def test_settings_default_and_change(client: httpx.AsyncClient, user: Person) -> None:
    assert (await client.get(SETTINGS, headers=user.headers)).json() == {"freeze_days_per_month": 0}
    changed = await client.patch(SETTINGS, json={"freeze_days_per_month": 2}, headers=user.headers)
    assert changed.json() == {"freeze_days_per_month": 2}
    again = await client.patch(SETTINGS, json={"freeze_days_per_month": 1}, headers=user.headers)
    assert again.json() == {"freeze_days_per_month": 1}
    assert (await client.get(SETTINGS, headers=user.headers)).json() == {"freeze_days_per_month": 1}


@pytest.mark.parametrize(
    "body", [{}, {"freeze_days_per_month": 3}, {"freeze_days_per_month": -1}, {"other": 1}]
)
async def test_bad_settings_are_422_and_change_nothing(
    client: httpx.AsyncClient, user: Person, body: dict[str, object]
) -> None:
    await client.patch(SETTINGS, json={"freeze_days_per_month": 1}, headers=user.headers)
    assert_problem(await client.patch(SETTINGS, json=body, headers=user.headers), 422)
    assert (await client.get(SETTINGS, headers=user.headers)).json() == {"freeze_days_per_month": 1}


async def test_no_token_is_401(client: httpx.AsyncClient, user: Person) -> None:
    pottery = await add(client, user, "Pottery")
    for method, path, body in [
        ("GET", ACTIVITIES, None),
        ("POST", ACTIVITIES, {"name": "x"}),
        ("PATCH", f"{ACTIVITIES}/{pottery}", {"name": "x"}),
        ("DELETE", f"{ACTIVITIES}/{pottery}", None),
        ("GET", SETTINGS, None),
        ("PATCH", SETTINGS, {"freeze_days_per_month": 1}),
    ]:
        assert_problem(await client.request(method, path, json=body), 401)
    listed = (await client.get(ACTIVITIES, headers=user.headers)).json()
    assert [a["name"] for a in listed["custom"]] == ["Pottery"]
