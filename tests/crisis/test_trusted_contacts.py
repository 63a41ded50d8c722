"""Trusted contacts: mine only, validated per channel, consent recorded per contact."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from mindspace.crisis.models import TrustedContact
from mindspace.platform.db import Database, DbScope
from mindspace.platform.ids import encode, new_id
from tests.conftest import Person, assert_problem

pytestmark = pytest.mark.asyncio
CONTACTS = "/api/v1/trusted-contacts"
SISTER = {"name": "Asha", "relationship": "sister", "channel": "sms", "address": "+44 7911 123456"}


async def _add(client: httpx.AsyncClient, person: Person, **body: object) -> dict[str, object]:
    response = await client.post(CONTACTS, json={**SISTER, **body}, headers=person.headers)
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


async def _count(db: Database) -> int:
    async with db.session(None, scope=DbScope.system) as session:
        return int(await session.scalar(select(func.count()).select_from(TrustedContact)) or 0)


async def test_add_list_update_and_remove_a_contact(
    client: httpx.AsyncClient, user: Person
) -> None:
    created = await _add(client, user)
    assert created["address"] == "+447911123456"  # stored as E.164
    assert created["notify_in_crisis"] is False
    assert created["consented_at"] is None
    assert str(created["id"]).startswith("tct_")

    listed = (await client.get(CONTACTS, headers=user.headers)).json()
    assert [c["id"] for c in listed] == [created["id"]]

    url = f"{CONTACTS}/{created['id']}"
    consent = await client.patch(url, json={"notify_in_crisis": True}, headers=user.headers)
    assert consent.status_code == 200, consent.text
    assert consent.json()["notify_in_crisis"] is True
    assert consent.json()["consented_at"] is not None

    moved = await client.patch(
        url, json={"channel": "email", "address": "Asha@Example.org "}, headers=user.headers
    )
    assert moved.json()["address"] == "Asha@example.org"

    withdrawn = await client.patch(url, json={"notify_in_crisis": False}, headers=user.headers)
    assert withdrawn.json()["consented_at"] is None

    assert (await client.delete(url, headers=user.headers)).status_code == 204
    assert_problem(await client.get(url, headers=user.headers), 404, "trusted-contact-not-found")


async def test_contacts_need_a_sign_in(client: httpx.AsyncClient) -> None:
    some = f"{CONTACTS}/{encode('tct', new_id())}"
    for method, url in (("GET", CONTACTS), ("POST", CONTACTS), ("GET", some), ("DELETE", some)):
        response = await client.request(method, url, json=SISTER if method == "POST" else None)
        assert_problem(response, 401)


async def test_another_persons_contact_is_not_found_and_untouched(
    client: httpx.AsyncClient, user: Person, other_user: Person
) -> None:
    theirs = await _add(client, other_user, notify_in_crisis=True)
    url = f"{CONTACTS}/{theirs['id']}"
    assert_problem(await client.get(url, headers=user.headers), 404)
    assert_problem(await client.patch(url, json={"name": "Mine now"}, headers=user.headers), 404)
    assert_problem(await client.delete(url, headers=user.headers), 404)
    assert (await client.get(CONTACTS, headers=user.headers)).json() == []
    still = (await client.get(url, headers=other_user.headers)).json()
    assert (still["name"], still["notify_in_crisis"]) == ("Asha", True)


@pytest.mark.parametrize(
    "body",
    [
        {**SISTER, "address": "not a number"},
        {**SISTER, "address": "+44 20 7946 0958"},  # a landline cannot take a text
        {**SISTER, "channel": "email", "address": "nobody@"},
        {**SISTER, "channel": "pigeon"},
        {**SISTER, "name": ""},
        {**SISTER, "name": "x" * 81},
        {**SISTER, "owner_id": "usr_01JD8X4V2Q0000000000000000"},
        {"name": "Asha"},
    ],
)
async def test_bad_contacts_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, user: Person, db: Database, body: dict[str, object]
) -> None:
    assert_problem(await client.post(CONTACTS, json=body, headers=user.headers), 422)
    assert await _count(db) == 0


async def test_channel_and_address_change_together(client: httpx.AsyncClient, user: Person) -> None:
    created = await _add(client, user)
    url = f"{CONTACTS}/{created['id']}"
    assert_problem(await client.patch(url, json={"channel": "email"}, headers=user.headers), 422)
    assert_problem(
        await client.patch(url, json={"address": "a@example.org"}, headers=user.headers), 422
    )
    assert_problem(await client.get(f"{CONTACTS}/tct_garbage", headers=user.headers), 404)
    assert (await client.get(url, headers=user.headers)).json()["channel"] == "sms"


async def test_there_is_a_limit_on_contacts(client: httpx.AsyncClient, user: Person) -> None:
    for n in range(10):
        await _add(client, user, name=f"Friend {n}")
    response = await client.post(CONTACTS, json=SISTER, headers=user.headers)
    assert_problem(response, 409, "too-many-trusted-contacts")
