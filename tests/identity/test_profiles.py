"""Public profiles (visible only when their person made them public) and the own activity log."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from mindspace.identity import activity
from mindspace.identity.activity import AccountActivity, ActivityKind
from mindspace.identity.models import UserAccount
from mindspace.identity.tokens import TokenService
from mindspace.platform import ids
from mindspace.platform.audit import Origin
from mindspace.platform.clock import utc_now
from mindspace.platform.db import Database
from mindspace.platform.ids import new_id
from tests.conftest import Person, assert_problem, create_user
from tests.identity.conftest import sign_in_device

pytestmark = pytest.mark.asyncio

USERS = "/api/v1/users"
ACTIVITY = "/api/v1/users/me/activity"


def profile_url(person_id: Any) -> str:
    return f"{USERS}/{ids.encode('usr', person_id)}"


def without_instance(problem: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in problem.items() if k != "instance"}


@pytest_asyncio.fixture
async def public_person(db: Database, app: FastAPI) -> Person:
    return await create_user(
        db,
        app.state.tokens,
        display_name="Asha",
        bio="Learning to breathe.",
        pronouns="she/her",
        profile_visibility="public",
    )


# --- public profiles --------------------------------------------------------------------------


async def test_a_public_profile_shows_only_public_fields(
    client: httpx.AsyncClient, user: Person, public_person: Person
) -> None:
    response = await client.get(profile_url(public_person.id), headers=user.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "id": ids.encode("usr", public_person.id),
        "display_name": "Asha",
        "bio": "Learning to breathe.",
        "pronouns": "she/her",
    }


async def test_public_means_public_no_sign_in_needed(
    client: httpx.AsyncClient, public_person: Person
) -> None:
    response = await client.get(profile_url(public_person.id))
    assert response.status_code == 200, response.text
    assert response.json()["display_name"] == "Asha"


async def test_a_bad_token_is_refused_rather_than_treated_as_anonymous(
    client: httpx.AsyncClient, public_person: Person
) -> None:
    response = await client.get(
        profile_url(public_person.id), headers={"Authorization": "Bearer not-a-token"}
    )
    assert_problem(response, 401)


async def test_a_private_profile_answers_exactly_like_an_unknown_one(
    client: httpx.AsyncClient, user: Person, other_user: Person
) -> None:
    private = await client.get(profile_url(other_user.id), headers=user.headers)
    unknown = await client.get(profile_url(new_id()), headers=user.headers)
    private_body = assert_problem(private, 404, "profile-not-found")
    unknown_body = assert_problem(unknown, 404, "profile-not-found")
    assert without_instance(private_body) == without_instance(unknown_body)


async def test_a_private_profile_is_hidden_from_its_own_person_too(
    client: httpx.AsyncClient, user: Person
) -> None:
    # The public view shows what everyone sees; /users/me is where a person sees themselves.
    response = await client.get(profile_url(user.id), headers=user.headers)
    assert_problem(response, 404, "profile-not-found")


async def test_a_suspended_persons_public_profile_is_hidden(
    db: Database, client: httpx.AsyncClient, tokens: TokenService, user: Person
) -> None:
    suspended = await create_user(db, tokens, profile_visibility="public", status="suspended")
    response = await client.get(profile_url(suspended.id), headers=user.headers)
    assert_problem(response, 404, "profile-not-found")


@pytest.mark.parametrize(
    "bad_id", ["nobody", "usr_123", "ses_01JD8X4V2Q0000000000000000", "usr_" + "!" * 26]
)
async def test_a_malformed_or_wrong_kind_id_is_not_found(
    client: httpx.AsyncClient, user: Person, bad_id: str
) -> None:
    response = await client.get(f"{USERS}/{bad_id}", headers=user.headers)
    assert_problem(response, 404)


async def test_making_a_profile_public_and_private_again(
    client: httpx.AsyncClient, user: Person, other_user: Person
) -> None:
    me = (await client.get(f"{USERS}/me", headers=user.headers)).json()
    assert me["profile_visibility"] == "private"

    response = await client.patch(
        f"{USERS}/me", headers=user.headers, json={"profile_visibility": "public", "bio": "Hi"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["profile_visibility"] == "public"
    seen = await client.get(profile_url(user.id), headers=other_user.headers)
    assert seen.status_code == 200, seen.text
    assert seen.json()["bio"] == "Hi"

    await client.patch(f"{USERS}/me", headers=user.headers, json={"profile_visibility": "private"})
    hidden = await client.get(profile_url(user.id), headers=other_user.headers)
    assert_problem(hidden, 404, "profile-not-found")


@pytest.mark.parametrize("value", ["friends", None, 1])
async def test_profile_visibility_must_be_private_or_public(
    client: httpx.AsyncClient, user: Person, value: Any
) -> None:
    response = await client.patch(
        f"{USERS}/me", headers=user.headers, json={"profile_visibility": value}
    )
    body = assert_problem(response, 422)
    assert {e["pointer"] for e in body["errors"]} == {"/body/profile_visibility"}


async def test_the_app_still_cannot_read_other_accounts_directly(
    db: Database, user: Person, public_person: Person
) -> None:
    async with db.session(user.principal) as session:
        # Unfiltered on purpose: the public profile view must not widen the table itself.
        seen = set((await session.execute(select(UserAccount.id))).scalars())
    assert seen == {user.id}


async def test_the_view_exposes_only_public_columns_and_runs_as_its_owner(
    owner_engine: AsyncEngine, db: Database
) -> None:
    async with owner_engine.connect() as conn:
        columns = set(
            (
                await conn.execute(
                    text(
                        "SELECT column_name FROM information_schema.columns "
                        "WHERE table_name = 'public_profile'"
                    )
                )
            ).scalars()
        )
        options = (
            await conn.execute(
                text("SELECT coalesce(reloptions, '{}') FROM pg_class WHERE relname = :name"),
                {"name": "public_profile"},
            )
        ).scalar_one()
    assert columns == {"id", "display_name", "bio", "pronouns"}
    assert not any(o.startswith("security_invoker=true") for o in options)
    assert "security_barrier=true" in options


# --- the activity log -------------------------------------------------------------------------


async def test_signing_in_shows_in_my_activity_log(client: httpx.AsyncClient, user: Person) -> None:
    response = await client.post(
        "/api/v1/auth/login",
        json={"email": user.email, "password": user.password},
        headers={"User-Agent": "PhoneApp/1.0"},
    )
    assert response.status_code == 200, response.text

    page = await client.get(ACTIVITY, headers=user.headers)
    assert page.status_code == 200, page.text
    body = page.json()
    assert body["next_cursor"] is None
    [entry] = body["items"]
    assert entry["kind"] == "signed_in"
    assert entry["id"].startswith("act_")
    assert entry["user_agent"] == "PhoneApp/1.0"
    assert entry["ip"]
    assert entry["details"]["method"] == "password"
    assert entry["occurred_at"]


async def test_a_replayed_refresh_token_warns_in_the_activity_log(
    db: Database, client: httpx.AsyncClient, tokens: TokenService, user: Person
) -> None:
    device = await sign_in_device(db, tokens, user)
    refresh = {"refresh_token": device.refresh_token}
    assert (await client.post("/api/v1/auth/refresh", json=refresh)).status_code == 200
    assert_problem(await client.post("/api/v1/auth/refresh", json=refresh), 401)

    items = (await client.get(ACTIVITY, headers=user.headers)).json()["items"]
    assert [i["kind"] for i in items] == ["refresh_token_reused"]


async def test_the_activity_log_is_newest_first_across_pages(
    db: Database, client: httpx.AsyncClient, user: Person
) -> None:
    now = utc_now()
    async with db.session(user.principal) as session:
        for minutes, kind in enumerate(["signed_in", "password_changed", "email_changed"]):
            session.add(
                AccountActivity(
                    id=new_id(),
                    owner_id=user.id,
                    kind=kind,
                    details={},
                    occurred_at=now - timedelta(minutes=10 - minutes),
                )
            )
    # Recorded later but dated earlier: the order follows when it happened.
    async with db.session(user.principal) as session:
        session.add(
            AccountActivity(
                id=new_id(),
                owner_id=user.id,
                kind="new_device",
                details={},
                occurred_at=now - timedelta(hours=1),
            )
        )

    kinds: list[str] = []
    cursor: str | None = None
    for _ in range(3):
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        body = (await client.get(ACTIVITY, headers=user.headers, params=params)).json()
        kinds += [i["kind"] for i in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert kinds == ["email_changed", "password_changed", "signed_in", "new_device"]


async def test_my_activity_log_holds_only_my_own_activity(
    db: Database, client: httpx.AsyncClient, user: Person, other_user: Person
) -> None:
    async with db.session(other_user.principal) as session:
        activity.record(
            session, other_user.id, ActivityKind.signed_in, origin=Origin(ip="192.0.2.7")
        )
    async with db.session(user.principal) as session:
        activity.record(session, user.id, ActivityKind.password_changed)

    mine = (await client.get(ACTIVITY, headers=user.headers)).json()["items"]
    theirs = (await client.get(ACTIVITY, headers=other_user.headers)).json()["items"]
    assert [i["kind"] for i in mine] == ["password_changed"]
    assert [(i["kind"], i["ip"]) for i in theirs] == [("signed_in", "192.0.2.7")]


async def test_the_activity_log_needs_a_sign_in(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get(ACTIVITY), 401)


@pytest.mark.parametrize(
    ("params", "pointer"),
    [({"limit": 0}, "/query/limit"), ({"limit": 101}, "/query/limit"), ({"bogus": 1}, None)],
)
async def test_the_activity_log_refuses_bad_paging(
    client: httpx.AsyncClient, user: Person, params: dict[str, Any], pointer: str | None
) -> None:
    response = await client.get(ACTIVITY, headers=user.headers, params=params)
    if pointer is None:  # unknown query parameters are ignored, as everywhere
        assert response.status_code == 200, response.text
        return
    body = assert_problem(response, 422)
    assert {e["pointer"] for e in body["errors"]} == {pointer}


async def test_a_forged_cursor_is_refused(client: httpx.AsyncClient, user: Person) -> None:
    response = await client.get(ACTIVITY, headers=user.headers, params={"cursor": "garbage!"})
    assert_problem(response, 422, "invalid-cursor")
