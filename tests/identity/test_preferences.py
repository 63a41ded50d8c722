"""Notification and privacy preferences: defaults, partial updates, the critical-category rule."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from mindspace.identity import service
from mindspace.identity.models import UserPreference
from mindspace.identity.schemas import (
    CRITICAL_CATEGORIES,
    ChannelSwitches,
    NotificationCategory,
    NotificationChannel,
    NotificationChannels,
)
from mindspace.identity.service.preferences import DEFAULT_CHANNELS
from mindspace.platform.db import Database
from tests.conftest import Person, assert_problem

URL = "/api/v1/users/me/preferences"
CATEGORIES = [c.value for c in NotificationCategory]
CHANNELS = [c.value for c in NotificationChannel]


def defaults() -> dict[str, dict[str, bool]]:
    return {
        category.value: {
            channel.value: channel in DEFAULT_CHANNELS[category] for channel in NotificationChannel
        }
        for category in NotificationCategory
    }


def pointers(problem: dict[str, Any]) -> set[str]:
    return {error["pointer"] for error in problem["errors"]}


async def get(client: httpx.AsyncClient, person: Person) -> dict[str, Any]:
    response = await client.get(URL, headers=person.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# --- pure rules -----------------------------------------------------------------------------


def test_the_schema_names_every_category_and_channel() -> None:
    assert list(NotificationChannels.model_fields) == CATEGORIES
    assert list(ChannelSwitches.model_fields) == CHANNELS
    assert set(DEFAULT_CHANNELS) == set(NotificationCategory)


def test_defaults_keep_critical_categories_reachable_and_marketing_off() -> None:
    for category in CRITICAL_CATEGORIES:
        assert DEFAULT_CHANNELS[category], category
    assert DEFAULT_CHANNELS[NotificationCategory.marketing] == frozenset()


# --- GET ------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_defaults_without_any_stored_row(
    client: httpx.AsyncClient, user: Person, db: Database
) -> None:
    body = await get(client, user)
    assert body == {
        "channels": defaults(),
        "privacy": {
            "allow_ai_memory": False,
            "allow_journal_analysis": False,
            "allow_crisis_outreach": False,
            "allow_journal_memory": False,
            "show_in_community_directory": False,
        },
    }
    async with db.session(user.principal) as session:
        assert (await session.execute(select(UserPreference))).first() is None


@pytest.mark.asyncio
async def test_preferences_need_a_token(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get(URL), 401)
    response = await client.patch(URL, json={"privacy": {"allow_ai_memory": True}})
    assert_problem(response, 401)


# --- PATCH ----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_patch_changes_only_the_cells_sent(client: httpx.AsyncClient, user: Person) -> None:
    expected = defaults()
    response = await client.patch(
        URL, headers=user.headers, json={"channels": {"community": {"email": True}}}
    )
    assert response.status_code == 200, response.text
    expected["community"]["email"] = True
    assert response.json()["channels"] == expected

    response = await client.patch(
        URL,
        headers=user.headers,
        json={"channels": {"reminders": {"push": False}}, "privacy": {"allow_ai_memory": True}},
    )
    assert response.status_code == 200, response.text
    expected["reminders"]["push"] = False
    body = await get(client, user)
    assert body["channels"] == expected  # the first change survived the second
    assert body["privacy"] == {
        "allow_ai_memory": True,
        "allow_journal_analysis": False,
        "allow_crisis_outreach": False,
        "allow_journal_memory": False,
        "show_in_community_directory": False,
    }

    response = await client.patch(URL, headers=user.headers, json={})
    assert response.status_code == 200
    assert response.json() == body


@pytest.mark.asyncio
async def test_other_domains_read_them_through_the_service(
    client: httpx.AsyncClient, user: Person, db: Database
) -> None:
    await client.patch(URL, headers=user.headers, json={"channels": {"marketing": {"email": True}}})
    async with db.session(user.principal) as session:
        preferences = await service.get_preferences(session, user.principal)
    assert preferences.allows(NotificationCategory.marketing, NotificationChannel.email)
    assert not preferences.allows(NotificationCategory.marketing, NotificationChannel.sms)
    assert not preferences.privacy.allow_journal_analysis


@pytest.mark.asyncio
@pytest.mark.parametrize("category", ["security", "crisis_followup", "payments"])
async def test_a_critical_category_cannot_be_switched_off_entirely(
    client: httpx.AsyncClient, user: Person, category: str
) -> None:
    all_off = dict.fromkeys(CHANNELS, False)
    response = await client.patch(URL, headers=user.headers, json={"channels": {category: all_off}})
    problem = assert_problem(response, 422, "critical-notifications-required")
    assert pointers(problem) == {f"/body/channels/{category}"}
    assert (await get(client, user))["channels"] == defaults()  # nothing changed

    # One channel left on is fine; switching off that last one later is refused too.
    only_in_app = {**all_off, "in_app": True}
    response = await client.patch(
        URL, headers=user.headers, json={"channels": {category: only_in_app}}
    )
    assert response.status_code == 200, response.text
    assert response.json()["channels"][category] == only_in_app
    response = await client.patch(
        URL, headers=user.headers, json={"channels": {category: {"in_app": False}}}
    )
    assert_problem(response, 422, "critical-notifications-required")
    assert (await get(client, user))["channels"][category] == only_in_app


@pytest.mark.asyncio
async def test_ordinary_categories_can_be_switched_off_entirely(
    client: httpx.AsyncClient, user: Person
) -> None:
    all_off = dict.fromkeys(CHANNELS, False)
    response = await client.patch(
        URL, headers=user.headers, json={"channels": {"community": all_off, "bookings": all_off}}
    )
    assert response.status_code == 200, response.text
    assert response.json()["channels"]["community"] == all_off


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"channels": {"weather": {"email": True}}}, "/body/channels/weather"),
        ({"channels": {"community": {"pigeon": True}}}, "/body/channels/community/pigeon"),
        ({"privacy": {"sell_my_data": True}}, "/body/privacy/sell_my_data"),
        ({"theme": "dark"}, "/body/theme"),
        ({"channels": {"community": {"email": None}}}, "/body/channels/community/email"),
        ({"channels": {"community": None}}, "/body/channels/community"),
        ({"privacy": None}, "/body/privacy"),
        ({"channels": {"community": {"email": "false"}}}, "/body/channels/community/email"),
        ({"privacy": {"allow_ai_memory": 1}}, "/body/privacy/allow_ai_memory"),
        ({"privacy": {"allow_journal_memory": "yes"}}, "/body/privacy/allow_journal_memory"),
        ({"channels": ["email"]}, "/body/channels"),
    ],
)
async def test_bad_input_is_refused_with_a_pointer(
    client: httpx.AsyncClient, user: Person, body: dict[str, Any], pointer: str
) -> None:
    response = await client.patch(URL, headers=user.headers, json=body)
    problem = assert_problem(response, 422, "validation-failed")
    assert pointer in pointers(problem)
    assert (await get(client, user))["channels"] == defaults()


@pytest.mark.asyncio
async def test_each_person_sees_only_their_own(
    client: httpx.AsyncClient, user: Person, other_user: Person, db: Database
) -> None:
    response = await client.patch(
        URL,
        headers=user.headers,
        json={"channels": {"marketing": {"sms": True}}, "privacy": {"allow_ai_memory": True}},
    )
    assert response.status_code == 200

    theirs = await get(client, other_user)
    assert theirs["channels"] == defaults()
    assert theirs["privacy"]["allow_ai_memory"] is False

    # The other person's change does not touch the first person's row either.
    await client.patch(
        URL, headers=other_user.headers, json={"privacy": {"allow_ai_memory": False}}
    )
    assert (await get(client, user))["privacy"]["allow_ai_memory"] is True

    # Row-level security: even an unfiltered query sees only the actor's row.
    async with db.session(other_user.principal) as session:
        owners = set((await session.execute(select(UserPreference.owner_id))).scalars())
    assert owners == {other_user.id}
