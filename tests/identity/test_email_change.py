"""Changing the account's email: a fresh step-up, then the new address must confirm."""

from __future__ import annotations

import httpx
import pytest

from mindspace.identity.models import UserAccount
from mindspace.platform.db import Database, DbScope
from tests.conftest import Person, assert_problem
from tests.identity.test_email_flows import account, activity_kinds, messages, only_token

pytestmark = pytest.mark.asyncio
CHANGE = "/api/v1/auth/email-change"
CONFIRM = "/api/v1/auth/confirm-email-change"


async def _step_up(client: httpx.AsyncClient, person: Person) -> None:
    response = await client.post(
        "/api/v1/auth/step-up", json={"password": person.password}, headers=person.headers
    )
    assert response.status_code == 200, response.text


async def test_the_new_address_confirms_the_change_and_the_old_one_is_told(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    await _step_up(client, user)
    response = await client.post(
        CHANGE, json={"new_email": "New@Example.org"}, headers=user.headers
    )
    assert response.status_code == 202, response.text
    assert (await account(db, user.id)).email == user.email  # nothing changes yet
    assert await messages(db, "email_change_requested", user.email)

    token = await only_token(db, "change_email", "new@example.org")
    confirmed = await client.post(CONFIRM, json={"token": token})
    assert confirmed.status_code == 200, confirmed.text

    changed = await account(db, user.id)
    assert (changed.email, changed.email_verified_at is not None) == ("new@example.org", True)
    assert "email_changed" in await activity_kinds(db, user.id)
    assert await messages(db, "email_changed", user.email)
    assert_problem(await client.post(CONFIRM, json={"token": token}), 400, "link-invalid")


async def test_an_address_that_has_an_account_cannot_be_taken_over(
    client: httpx.AsyncClient, db: Database, user: Person, other_user: Person
) -> None:
    await _step_up(client, user)
    response = await client.post(CHANGE, json={"new_email": other_user.email}, headers=user.headers)
    assert response.status_code == 202  # the same answer as for a free address
    # The link goes to that inbox, whose owner is the only one who can learn the outcome.
    token = await only_token(db, "change_email", other_user.email)
    assert_problem(await client.post(CONFIRM, json={"token": token}), 409, "email-taken")
    assert (await account(db, user.id)).email == user.email
    assert (await account(db, other_user.id)).email == other_user.email


async def test_an_address_claimed_before_confirmation_is_a_conflict(
    client: httpx.AsyncClient, db: Database, user: Person, other_user: Person
) -> None:
    await _step_up(client, user)
    await client.post(CHANGE, json={"new_email": "race@example.org"}, headers=user.headers)
    token = await only_token(db, "change_email", "race@example.org")
    async with db.session(None, scope=DbScope.system) as session:
        other = await session.get(UserAccount, other_user.id)
        assert other is not None
        other.email = "race@example.org"
    assert_problem(await client.post(CONFIRM, json={"token": token}), 409, "email-taken")
    assert (await account(db, user.id)).email == user.email


async def test_a_change_needs_a_token_a_step_up_and_a_valid_address(
    client: httpx.AsyncClient, user: Person
) -> None:
    assert_problem(await client.post(CHANGE, json={"new_email": "x@example.org"}), 401)
    refused = await client.post(CHANGE, json={"new_email": "x@example.org"}, headers=user.headers)
    assert_problem(refused, 403, "step-up-required")
    await _step_up(client, user)
    bad = await client.post(CHANGE, json={"new_email": "not-an-email"}, headers=user.headers)
    assert assert_problem(bad, 422)["errors"][0]["pointer"] == "/body/new_email"
    extra = await client.post(
        CHANGE, json={"new_email": "x@example.org", "verified": True}, headers=user.headers
    )
    assert_problem(extra, 422)
    assert_problem(await client.post(CONFIRM, json={"token": "x" * 43}), 400, "link-invalid")
