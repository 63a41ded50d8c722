"""The identity HTTP surface: registration, sign-in, refresh rotation, sessions and the profile."""

from __future__ import annotations

from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from mindspace.identity.api.accounts import REGISTERED
from mindspace.identity.models import UserAccount
from mindspace.identity.tokens import TokenService
from mindspace.platform import ids
from mindspace.platform.db import Database
from tests.conftest import TEST_PASSWORD, Person, assert_problem, create_user
from tests.identity.conftest import sign_in_device

pytestmark = pytest.mark.asyncio

AUTH = "/api/v1/auth"
ME = "/api/v1/users/me"
NEW_PASSWORD = "a brand new passphrase"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def pointers(problem: dict[str, Any]) -> set[str]:
    return {error["pointer"] for error in problem["errors"]}


def without_instance(problem: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in problem.items() if k != "instance"}


async def login(client: httpx.AsyncClient, email: str, password: str) -> dict[str, Any]:
    response = await client.post(f"{AUTH}/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    pair: dict[str, Any] = response.json()
    return pair


async def assert_signed_out(client: httpx.AsyncClient, access_token: str) -> None:
    response = await client.get(ME, headers=bearer(access_token))
    assert_problem(response, 401, "invalid-token")


async def assert_signed_in(client: httpx.AsyncClient, access_token: str) -> None:
    response = await client.get(ME, headers=bearer(access_token))
    assert response.status_code == 200, response.text


# --- register -------------------------------------------------------------------------------


async def test_register_then_sign_in_with_that_password(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"{AUTH}/register",
        json={"email": "  Noor@Example.ORG ", "password": NEW_PASSWORD, "display_name": "Noor"},
    )
    assert response.status_code == 202, response.text
    assert response.json() == {"detail": REGISTERED}

    pair = await login(client, "noor@example.org", NEW_PASSWORD)
    assert pair["token_type"] == "Bearer"
    assert pair["expires_in"] == 15 * 60
    assert pair["refresh_token"].startswith("rt_")

    me = (await client.get(ME, headers=bearer(pair["access_token"]))).json()
    assert me["email"] == "noor@example.org"  # stored normalised
    assert me["display_name"] == "Noor"
    assert me["roles"] == ["member"]
    assert me["email_verified"] is False
    assert me["id"].startswith("usr_")


async def test_registering_a_taken_email_answers_the_same_and_changes_nothing(
    client: httpx.AsyncClient, user: Person
) -> None:
    fresh = await client.post(
        f"{AUTH}/register",
        json={"email": "someone-new@example.org", "password": NEW_PASSWORD, "display_name": "N"},
    )
    taken = await client.post(
        f"{AUTH}/register",
        json={"email": user.email.upper(), "password": NEW_PASSWORD, "display_name": "Mallory"},
    )
    assert (taken.status_code, taken.json()) == (fresh.status_code, fresh.json())
    assert taken.headers["content-type"] == fresh.headers["content-type"]

    await login(client, user.email, user.password)  # the owner's password still works
    refused = await client.post(
        f"{AUTH}/login", json={"email": user.email, "password": NEW_PASSWORD}
    )
    assert_problem(refused, 401, "invalid-credentials")
    me = (await client.get(ME, headers=user.headers)).json()
    assert me["display_name"] == "Test person"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, {"/body/email", "/body/password", "/body/display_name"}),
        ({"email": "not-an-email", "password": NEW_PASSWORD, "display_name": "A"}, {"/body/email"}),
        ({"email": "a@example.org", "password": "short", "display_name": "A"}, {"/body/password"}),
        (
            {"email": "a@example.org", "password": "x" * 129, "display_name": "A"},
            {"/body/password"},
        ),
        (
            {"email": "a@example.org", "password": NEW_PASSWORD, "display_name": "   "},
            {"/body/display_name"},
        ),
        (
            {"email": "a@example.org", "password": NEW_PASSWORD, "display_name": "A\u0000"},
            {"/body/display_name"},
        ),
        (
            {
                "email": "a@example.org",
                "password": NEW_PASSWORD,
                "display_name": "A",
                "roles": ["admin"],
            },
            {"/body/roles"},
        ),
    ],
    ids=[
        "empty",
        "bad-email",
        "short-password",
        "long-password",
        "blank-name",
        "nul-in-name",
        "unknown-field",
    ],
)
async def test_register_refuses_bad_input(
    client: httpx.AsyncClient, body: dict[str, Any], expected: set[str]
) -> None:
    response = await client.post(f"{AUTH}/register", json=body)
    assert pointers(assert_problem(response, 422, "validation-failed")) == expected


# --- login ----------------------------------------------------------------------------------


async def test_wrong_password_and_unknown_email_are_indistinguishable(
    client: httpx.AsyncClient, user: Person
) -> None:
    wrong_password = await client.post(
        f"{AUTH}/login", json={"email": user.email, "password": "not the password"}
    )
    unknown_email = await client.post(
        f"{AUTH}/login", json={"email": "nobody@example.org", "password": "not the password"}
    )
    first = assert_problem(wrong_password, 401, "invalid-credentials")
    second = assert_problem(unknown_email, 401, "invalid-credentials")
    assert without_instance(first) == without_instance(second)
    assert wrong_password.headers["www-authenticate"] == unknown_email.headers["www-authenticate"]


async def test_login_is_case_insensitive_on_email_and_lists_the_new_session(
    client: httpx.AsyncClient, user: Person
) -> None:
    pair = await login(client, user.email.upper(), TEST_PASSWORD)
    sessions = (await client.get(f"{AUTH}/sessions", headers=bearer(pair["access_token"]))).json()
    assert len(sessions["items"]) == 2  # the fixture's session and this one
    current = [s for s in sessions["items"] if s["current"]]
    assert len(current) == 1
    assert current[0]["ip"] == "127.0.0.1"
    assert current[0]["user_agent"].startswith("python-httpx/")


async def test_a_suspended_account_cannot_sign_in(
    client: httpx.AsyncClient, db: Database, tokens: TokenService
) -> None:
    suspended = await create_user(db, tokens, status="suspended")
    response = await client.post(
        f"{AUTH}/login", json={"email": suspended.email, "password": suspended.password}
    )
    assert_problem(response, 401, "account-unavailable")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, {"/body/email", "/body/password"}),
        ({"email": "not-an-email", "password": "x"}, {"/body/email"}),
        ({"email": "a@example.org", "password": ""}, {"/body/password"}),
        ({"email": "a@example.org", "password": "x", "remember": True}, {"/body/remember"}),
    ],
    ids=["empty", "bad-email", "empty-password", "unknown-field"],
)
async def test_login_refuses_bad_input(
    client: httpx.AsyncClient, body: dict[str, Any], expected: set[str]
) -> None:
    response = await client.post(f"{AUTH}/login", json=body)
    assert pointers(assert_problem(response, 422, "validation-failed")) == expected


# --- refresh --------------------------------------------------------------------------------


async def test_refresh_rotates_the_refresh_token(client: httpx.AsyncClient, user: Person) -> None:
    first = await login(client, user.email, user.password)
    response = await client.post(f"{AUTH}/refresh", json={"refresh_token": first["refresh_token"]})
    assert response.status_code == 200, response.text
    second = response.json()
    assert second["refresh_token"].startswith("rt_")
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    await assert_signed_in(client, second["access_token"])

    # Clients often send their (by now expired or ended) access token along: refresh ignores it.
    third = await client.post(
        f"{AUTH}/refresh",
        json={"refresh_token": second["refresh_token"]},
        headers=bearer("not.a.token"),
    )
    assert third.status_code == 200, third.text


async def test_a_replayed_refresh_token_ends_the_whole_session(
    client: httpx.AsyncClient, db: Database, tokens: TokenService, user: Person
) -> None:
    device = await sign_in_device(db, tokens, user)
    rotated = await client.post(f"{AUTH}/refresh", json={"refresh_token": device.refresh_token})
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()

    replay = await client.post(f"{AUTH}/refresh", json={"refresh_token": device.refresh_token})
    assert_problem(replay, 401, "invalid-token")

    after = await client.post(f"{AUTH}/refresh", json={"refresh_token": new["refresh_token"]})
    assert_problem(after, 401, "invalid-token")
    await assert_signed_out(client, new["access_token"])
    await assert_signed_out(client, device.access_token)
    # Only that session: the person's other device is untouched.
    await assert_signed_in(client, user.token)
    assert user.principal.session_id is not None
    listed = (await client.get(f"{AUTH}/sessions", headers=user.headers)).json()
    assert [s["id"] for s in listed["items"]] == [ids.encode("ses", user.principal.session_id)]


async def test_refresh_refuses_unknown_and_ended_tokens(
    client: httpx.AsyncClient, db: Database, tokens: TokenService, user: Person
) -> None:
    unknown = await client.post(f"{AUTH}/refresh", json={"refresh_token": "rt_" + "x" * 43})
    assert_problem(unknown, 401, "invalid-token")

    device = await sign_in_device(db, tokens, user)
    assert (await client.post(f"{AUTH}/logout", headers=device.headers)).status_code == 204
    ended = await client.post(f"{AUTH}/refresh", json={"refresh_token": device.refresh_token})
    assert_problem(ended, 401, "invalid-token")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, {"/body/refresh_token"}),
        ({"refresh_token": "short"}, {"/body/refresh_token"}),
        ({"refresh_token": 12345678901}, {"/body/refresh_token"}),
        ({"refresh_token": "rt_" + "x" * 43, "session_id": "ses_x"}, {"/body/session_id"}),
    ],
    ids=["missing", "too-short", "not-a-string", "unknown-field"],
)
async def test_refresh_refuses_bad_input(
    client: httpx.AsyncClient, body: dict[str, Any], expected: set[str]
) -> None:
    response = await client.post(f"{AUTH}/refresh", json=body)
    assert pointers(assert_problem(response, 422, "validation-failed")) == expected


# --- logout ---------------------------------------------------------------------------------


async def test_logout_ends_this_session_at_once_and_no_other(
    client: httpx.AsyncClient, db: Database, tokens: TokenService, user: Person
) -> None:
    await assert_signed_in(client, user.token)  # verified once, so now in the token cache
    laptop = await sign_in_device(db, tokens, user)

    response = await client.post(f"{AUTH}/logout", headers=user.headers)
    assert response.status_code == 204
    assert response.content == b""

    await assert_signed_out(client, user.token)
    await assert_signed_in(client, laptop.access_token)
    listed = (await client.get(f"{AUTH}/sessions", headers=laptop.headers)).json()
    assert [s["id"] for s in listed["items"]] == [ids.encode("ses", laptop.session_id)]


async def test_logout_everywhere_ends_every_session_of_the_person_only(
    client: httpx.AsyncClient, db: Database, tokens: TokenService, user: Person, other_user: Person
) -> None:
    laptop = await sign_in_device(db, tokens, user)
    response = await client.post(f"{AUTH}/logout-everywhere", headers=user.headers)
    assert response.status_code == 204

    await assert_signed_out(client, user.token)
    await assert_signed_out(client, laptop.access_token)
    refreshed = await client.post(f"{AUTH}/refresh", json={"refresh_token": laptop.refresh_token})
    assert_problem(refreshed, 401, "invalid-token")
    await assert_signed_in(client, other_user.token)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", f"{AUTH}/logout"),
        ("POST", f"{AUTH}/logout-everywhere"),
        ("GET", f"{AUTH}/sessions"),
        ("DELETE", f"{AUTH}/sessions/ses_01JD8X4V2Q0000000000000000"),
        ("GET", ME),
        ("PATCH", ME),
    ],
)
async def test_routes_for_signed_in_people_need_a_token(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    body = {"bio": "hello"} if method == "PATCH" else None
    response = await client.request(method, path, json=body)
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"] == "Bearer"

    basic = await client.request(method, path, json=body, headers={"Authorization": "Basic eDp5"})
    assert_problem(basic, 401, "unauthenticated")


# --- sessions -------------------------------------------------------------------------------


async def test_sessions_lists_only_own_live_sessions_and_marks_the_current_one(
    client: httpx.AsyncClient, db: Database, tokens: TokenService, user: Person, other_user: Person
) -> None:
    assert user.principal.session_id is not None
    phone = await sign_in_device(db, tokens, user)
    ended = await sign_in_device(db, tokens, user)
    await client.post(f"{AUTH}/logout", headers=ended.headers)
    await sign_in_device(db, tokens, other_user)

    response = await client.get(f"{AUTH}/sessions", headers=user.headers)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    # Newest first; the ended session and other people's sessions are not shown.
    assert [s["id"] for s in items] == [
        ids.encode("ses", phone.session_id),
        ids.encode("ses", user.principal.session_id),
    ]
    assert [s["current"] for s in items] == [False, True]
    assert response.json()["next_cursor"] is None


async def test_sessions_are_paginated(
    client: httpx.AsyncClient, db: Database, tokens: TokenService, user: Person
) -> None:
    devices = [await sign_in_device(db, tokens, user) for _ in range(2)]
    first = (await client.get(f"{AUTH}/sessions?limit=2", headers=user.headers)).json()
    assert [s["id"] for s in first["items"]] == [
        ids.encode("ses", d.session_id) for d in reversed(devices)
    ]
    assert first["next_cursor"]
    second = (
        await client.get(
            f"{AUTH}/sessions",
            params={"limit": 2, "cursor": first["next_cursor"]},
            headers=user.headers,
        )
    ).json()
    assert [s["current"] for s in second["items"]] == [True]
    assert second["next_cursor"] is None


@pytest.mark.parametrize(
    ("query", "expected"),
    [("limit=0", "/query/limit"), ("limit=101", "/query/limit"), ("limit=x", "/query/limit")],
)
async def test_sessions_refuses_bad_paging(
    client: httpx.AsyncClient, user: Person, query: str, expected: str
) -> None:
    response = await client.get(f"{AUTH}/sessions?{query}", headers=user.headers)
    assert pointers(assert_problem(response, 422, "validation-failed")) == {expected}


async def test_a_bad_cursor_is_refused(client: httpx.AsyncClient, user: Person) -> None:
    response = await client.get(f"{AUTH}/sessions?cursor=not-a-cursor", headers=user.headers)
    assert_problem(response, 422, "invalid-cursor")


async def test_revoking_one_of_my_sessions_ends_it_at_once(
    client: httpx.AsyncClient, db: Database, tokens: TokenService, user: Person
) -> None:
    lost_phone = await sign_in_device(db, tokens, user)
    await assert_signed_in(client, lost_phone.access_token)

    response = await client.delete(
        f"{AUTH}/sessions/{ids.encode('ses', lost_phone.session_id)}", headers=user.headers
    )
    assert response.status_code == 204

    await assert_signed_out(client, lost_phone.access_token)
    refreshed = await client.post(
        f"{AUTH}/refresh", json={"refresh_token": lost_phone.refresh_token}
    )
    assert_problem(refreshed, 401, "invalid-token")
    await assert_signed_in(client, user.token)
    again = await client.delete(
        f"{AUTH}/sessions/{ids.encode('ses', lost_phone.session_id)}", headers=user.headers
    )
    assert_problem(again, 404, "session-not-found")


async def test_another_persons_session_is_not_found_and_keeps_working(
    client: httpx.AsyncClient, user: Person, other_user: Person
) -> None:
    assert other_user.principal.session_id is not None
    theirs = ids.encode("ses", other_user.principal.session_id)
    response = await client.delete(f"{AUTH}/sessions/{theirs}", headers=user.headers)
    assert_problem(response, 404, "session-not-found")
    await assert_signed_in(client, other_user.token)
    listed = (await client.get(f"{AUTH}/sessions", headers=other_user.headers)).json()
    assert [s["id"] for s in listed["items"]] == [theirs]


@pytest.mark.parametrize(
    "session_id",
    ["ses_nope", "usr_01JD8X4V2Q0000000000000000", "01JD8X4V2Q0000000000000000", "ses_" + "!" * 26],
)
async def test_a_malformed_session_id_is_not_found(
    client: httpx.AsyncClient, user: Person, session_id: str
) -> None:
    response = await client.delete(f"{AUTH}/sessions/{session_id}", headers=user.headers)
    assert_problem(response, 404, "not-found")


# --- users/me -------------------------------------------------------------------------------


async def test_me_shows_my_profile(client: httpx.AsyncClient, user: Person) -> None:
    response = await client.get(ME, headers=user.headers)
    assert response.status_code == 200, response.text
    me = response.json()
    assert me["id"] == ids.encode("usr", user.id)
    assert me["email"] == user.email
    assert me["roles"] == ["member"]
    assert me["timezone"] == "UTC"
    assert me["day_boundary_hour"] == 4
    assert "password_hash" not in me
    assert "status" not in me


async def test_update_me_changes_what_was_sent_and_nothing_else(
    client: httpx.AsyncClient, user: Person
) -> None:
    response = await client.patch(
        ME, json={"timezone": "Europe/London", "day_boundary_hour": 0}, headers=user.headers
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert (updated["timezone"], updated["day_boundary_hour"]) == ("Europe/London", 0)
    assert updated["display_name"] == "Test person"

    again = (await client.get(ME, headers=user.headers)).json()
    assert again == updated


async def test_bio_can_be_set_and_cleared(client: httpx.AsyncClient, user: Person) -> None:
    set_ = await client.patch(ME, json={"bio": "Walks at dawn."}, headers=user.headers)
    assert set_.json()["bio"] == "Walks at dawn."
    cleared = await client.patch(ME, json={"bio": None}, headers=user.headers)
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["bio"] is None
    assert (await client.get(ME, headers=user.headers)).json()["bio"] is None


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"timezone": "Mars/Olympus"}, "/body/timezone"),
        ({"timezone": "../../etc/passwd"}, "/body/timezone"),
        ({"timezone": "Europe"}, "/body/timezone"),  # a folder of the tz database, not a zone
        ({"timezone": "Etc"}, "/body/timezone"),
        ({"timezone": None}, "/body/timezone"),
        ({"day_boundary_hour": 24}, "/body/day_boundary_hour"),
        ({"day_boundary_hour": -1}, "/body/day_boundary_hour"),
        ({"display_name": None}, "/body/display_name"),
        ({"display_name": ""}, "/body/display_name"),
        ({"display_name": "Ann\u0000"}, "/body/display_name"),  # PostgreSQL cannot store NUL
        ({"bio": "a\u0000b"}, "/body/bio"),
        ({"pronouns": "\u0000"}, "/body/pronouns"),
        ({"theme": "neon"}, "/body/theme"),
        ({"country": "gb"}, "/body/country"),
        ({"locale": "english"}, "/body/locale"),
        ({"bio": "x" * 1001}, "/body/bio"),
        ({"roles": ["admin"]}, "/body/roles"),
        ({"email": "new@example.org"}, "/body/email"),
    ],
)
async def test_update_me_refuses_bad_input_and_changes_nothing(
    client: httpx.AsyncClient, user: Person, body: dict[str, Any], pointer: str
) -> None:
    before = (await client.get(ME, headers=user.headers)).json()
    response = await client.patch(ME, json={"bio": "changed", **body}, headers=user.headers)
    assert pointers(assert_problem(response, 422, "validation-failed")) == {pointer}
    assert (await client.get(ME, headers=user.headers)).json() == before


async def test_roles_cannot_be_mass_assigned(client: httpx.AsyncClient, user: Person) -> None:
    response = await client.patch(ME, json={"roles": ["admin", "super"]}, headers=user.headers)
    assert_problem(response, 422, "validation-failed")
    me = (await client.get(ME, headers=user.headers)).json()
    assert me["roles"] == ["member"]


async def test_me_is_my_own(client: httpx.AsyncClient, user: Person, other_user: Person) -> None:
    await client.patch(ME, json={"bio": "mine"}, headers=user.headers)
    theirs = (await client.get(ME, headers=other_user.headers)).json()
    assert theirs["id"] == ids.encode("usr", other_user.id)
    assert theirs["bio"] is None


# --- JWKS -----------------------------------------------------------------------------------


async def test_jwks_publishes_the_p256_key_that_verifies_access_tokens(
    client: httpx.AsyncClient, tokens: TokenService, user: Person
) -> None:
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200, response.text
    keys = response.json()["keys"]
    kid = jwt.get_unverified_header(user.token)["kid"]
    (published,) = [k for k in keys if k["kid"] == kid]
    assert (published["kty"], published["crv"], published["alg"]) == ("EC", "P-256", "ES256")
    assert "d" not in published  # never the private part

    key = jwt.PyJWK(published)
    assert isinstance(key.key, ec.EllipticCurvePublicKey)
    assert key.key.curve.name == "secp256r1"
    claims = jwt.decode(
        user.token, key, algorithms=["ES256"], audience=tokens.audience, issuer=tokens.issuer
    )
    assert claims["sub"] == ids.encode("usr", user.id)
    assert claims["sid"] == str(user.principal.session_id)
    assert jwt.get_unverified_header(user.token)["typ"] == "at+jwt"


async def test_me_shows_the_verified_phone(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    assert (await client.get("/api/v1/users/me", headers=user.headers)).json()["phone"] is None
    async with db.session(user.principal) as session:
        account = await session.get(UserAccount, user.id)
        assert account is not None
        account.phone = "+447911123456"
    me = await client.get("/api/v1/users/me", headers=user.headers)
    assert me.json()["phone"] == "+447911123456"
