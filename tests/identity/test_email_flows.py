"""Email links (verify an address, reset a password), the verified-contact gate, and the refusal
of common passwords."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import select, update

from mindspace.identity.activity import AccountActivity
from mindspace.identity.api.accounts import REGISTERED
from mindspace.identity.api.email_flows import (
    EMAIL_VERIFIED,
    RESET_DONE,
    RESET_SENT,
    VERIFICATION_SENT,
)
from mindspace.identity.auth import VerifiedPrincipal
from mindspace.identity.models import EmailToken, UserAccount
from mindspace.identity.service.email_flows import MAX_RESET_EMAILS_PER_HOUR
from mindspace.identity.tokens import TokenService
from mindspace.platform.clock import utc_now
from mindspace.platform.db import Database, DbScope
from mindspace.platform.errors import install_error_handlers
from mindspace.platform.messaging import OutboundMessage
from mindspace.platform.middleware import RequestContextMiddleware
from tests.conftest import Person, assert_problem, create_user
from tests.identity.conftest import sign_in_device

pytestmark = pytest.mark.asyncio

AUTH = "/api/v1/auth"
ME = "/api/v1/users/me"
NEW_PASSWORD = "lanterns over the quiet bay"
_TOKEN_IN_LINK = re.compile(r"[?&]token=([A-Za-z0-9_\-]+)")


# --- helpers ----------------------------------------------------------------------------------


async def messages(db: Database, purpose: str, recipient: str | None = None) -> list[Any]:
    async with db.session(None, scope=DbScope.system) as session:
        stmt = select(OutboundMessage).where(OutboundMessage.purpose == purpose)
        if recipient is not None:
            stmt = stmt.where(OutboundMessage.recipient == recipient)
        return list((await session.execute(stmt.order_by(OutboundMessage.id))).scalars())


def link_token(message: OutboundMessage) -> str:
    found = _TOKEN_IN_LINK.search(message.body)
    assert found, message.body
    return found.group(1)


async def only_token(db: Database, purpose: str, recipient: str) -> str:
    sent = await messages(db, purpose, recipient)
    assert len(sent) == 1, [m.body for m in sent]
    return link_token(sent[0])


async def expire_links(db: Database, owner_id: Any) -> None:
    async with db.session(None, scope=DbScope.system) as session:
        await session.execute(
            update(EmailToken)
            .where(EmailToken.owner_id == owner_id)
            .values(expires_at=utc_now() - timedelta(minutes=1))
        )


async def account(db: Database, user_id: Any) -> UserAccount:
    async with db.session(None, scope=DbScope.system) as session:
        found = await session.get(UserAccount, user_id)
        assert found is not None
        return found


async def activity_kinds(db: Database, user_id: Any) -> list[str]:
    async with db.session(None, scope=DbScope.system) as session:
        stmt = select(AccountActivity.kind).where(AccountActivity.owner_id == user_id)
        return list((await session.execute(stmt)).scalars())


async def resend(client: httpx.AsyncClient, person: Person) -> httpx.Response:
    return await client.post(f"{AUTH}/verify-email/resend", headers=person.headers)


async def forgot(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post(f"{AUTH}/forgot-password", json={"email": email})


async def reset(client: httpx.AsyncClient, token: str, password: str) -> httpx.Response:
    return await client.post(
        f"{AUTH}/reset-password", json={"token": token, "new_password": password}
    )


def pointers(problem: dict[str, Any]) -> set[str]:
    return {error["pointer"] for error in problem["errors"]}


# --- common passwords -------------------------------------------------------------------------


@pytest.mark.parametrize("password", ["password", "FOOTBALL", "Baseball"])
async def test_registering_with_a_common_password_is_refused(
    client: httpx.AsyncClient, db: Database, password: str
) -> None:
    email = "weak@example.org"
    response = await client.post(
        f"{AUTH}/register", json={"email": email, "password": password, "display_name": "W"}
    )
    problem = assert_problem(response, 422, "weak-password")
    assert pointers(problem) == {"/body/password"}
    assert await messages(db, "verify_email") == []
    async with db.session(None, scope=DbScope.system) as session:
        assert (await session.execute(select(UserAccount.id))).first() is None


# --- email verification -----------------------------------------------------------------------


async def test_registering_sends_a_link_that_verifies_the_email(
    client: httpx.AsyncClient, db: Database, app: FastAPI
) -> None:
    response = await client.post(
        f"{AUTH}/register",
        json={"email": "Noor@Example.org", "password": NEW_PASSWORD, "display_name": "Noor"},
    )
    assert response.status_code == 202, response.text
    [message] = await messages(db, "verify_email", "noor@example.org")
    base = app.state.settings.public_base_url.rstrip("/")
    assert f"{base}/verify-email?token=" in message.body
    token = link_token(message)
    assert len(token) >= 22  # at least 128 bits, URL-safe base64
    async with db.session(None, scope=DbScope.system) as session:
        stored = (await session.execute(select(EmailToken.token_hash))).scalars().all()
    assert token.encode() not in stored  # only the hash is kept
    assert message.user_id is not None
    assert (await account(db, message.user_id)).email_verified_at is None

    verified = await client.post(f"{AUTH}/verify-email", json={"token": token})
    assert verified.status_code == 200, verified.text
    assert verified.json() == {"detail": EMAIL_VERIFIED}
    assert (await account(db, message.user_id)).email_verified_at is not None
    assert "email_verified" in await activity_kinds(db, message.user_id)


async def test_registering_a_taken_email_tells_its_owner_and_answers_the_same(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    response = await client.post(
        f"{AUTH}/register",
        json={"email": user.email.upper(), "password": NEW_PASSWORD, "display_name": "M"},
    )
    assert (response.status_code, response.json()) == (202, {"detail": REGISTERED})
    [notice] = await messages(db, "registration_attempt", user.email)
    assert "already has one" in notice.body
    assert await messages(db, "verify_email") == []


async def test_a_verification_link_works_once(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    assert (await resend(client, user)).status_code == 202
    token = await only_token(db, "verify_email", user.email)
    first = await client.post(f"{AUTH}/verify-email", json={"token": token})
    assert first.status_code == 200, first.text
    again = await client.post(f"{AUTH}/verify-email", json={"token": token})
    assert_problem(again, 400, "link-invalid")
    me = (await client.get(ME, headers=user.headers)).json()
    assert me["email_verified"] is True


async def test_an_expired_verification_link_is_refused(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    await resend(client, user)
    token = await only_token(db, "verify_email", user.email)
    await expire_links(db, user.id)
    response = await client.post(f"{AUTH}/verify-email", json={"token": token})
    assert_problem(response, 410, "link-expired")
    assert (await account(db, user.id)).email_verified_at is None


async def test_an_unknown_verification_token_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{AUTH}/verify-email", json={"token": "x" * 43})
    assert_problem(response, 400, "link-invalid")


async def test_a_link_for_an_address_the_account_no_longer_has_is_refused(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    await resend(client, user)
    token = await only_token(db, "verify_email", user.email)
    async with db.session(None, scope=DbScope.system) as session:
        await session.execute(
            update(UserAccount).where(UserAccount.id == user.id).values(email="new@example.org")
        )
    response = await client.post(f"{AUTH}/verify-email", json={"token": token})
    assert_problem(response, 400, "link-invalid")


async def test_resending_supersedes_the_previous_link(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    await resend(client, user)
    await resend(client, user)
    older, newer = (link_token(m) for m in await messages(db, "verify_email", user.email))
    assert_problem(await client.post(f"{AUTH}/verify-email", json={"token": older}), 400)
    assert (await client.post(f"{AUTH}/verify-email", json={"token": newer})).status_code == 200


async def test_resending_when_already_verified_sends_nothing(
    client: httpx.AsyncClient, db: Database, tokens: TokenService
) -> None:
    verified = await create_user(db, tokens, email_verified_at=utc_now())
    response = await resend(client, verified)
    assert (response.status_code, response.json()) == (202, {"detail": VERIFICATION_SENT})
    assert await messages(db, "verify_email") == []


async def test_resending_needs_a_signed_in_person(client: httpx.AsyncClient) -> None:
    assert_problem(await client.post(f"{AUTH}/verify-email/resend"), 401)


async def test_resending_is_limited_per_person(
    client: httpx.AsyncClient, user: Person, other_user: Person
) -> None:
    for _ in range(3):
        assert (await resend(client, user)).status_code == 202
    limited = assert_problem(await resend(client, user), 429, "rate-limited")
    assert limited["detail"]
    # Someone else on the same network is not held back by it.
    assert (await resend(client, other_user)).status_code == 202


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, {"/body/token"}),
        ({"token": "short"}, {"/body/token"}),
        ({"token": "y" * 201}, {"/body/token"}),
        ({"token": "x" * 43, "email": "a@example.org"}, {"/body/email"}),
    ],
    ids=["empty", "short", "long", "unknown-field"],
)
async def test_verify_email_refuses_bad_input(
    client: httpx.AsyncClient, body: dict[str, Any], expected: set[str]
) -> None:
    problem = assert_problem(await client.post(f"{AUTH}/verify-email", json=body), 422)
    assert pointers(problem) == expected


# --- the verified-contact gate ----------------------------------------------------------------


@pytest_asyncio.fixture
async def gated_client(app: FastAPI, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    """A tiny app with one route behind VerifiedPrincipal, sharing the real app's database."""
    tiny = FastAPI()
    install_error_handlers(tiny)
    tiny.state.db = app.state.db
    tiny.state.authenticator = app.state.authenticator

    @tiny.post("/reach-out")
    async def reach_out(principal: VerifiedPrincipal) -> dict[str, str]:
        return {"user_id": str(principal.user_id)}

    tiny.add_middleware(RequestContextMiddleware)
    transport = httpx.ASGITransport(app=tiny)
    async with httpx.AsyncClient(transport=transport, base_url="http://tiny") as client:
        yield client


async def test_features_that_reach_others_need_a_verified_email(
    gated_client: httpx.AsyncClient, db: Database, tokens: TokenService, user: Person
) -> None:
    refused = await gated_client.post("/reach-out", headers=user.headers)
    assert_problem(refused, 403, "verification-required")

    verified = await create_user(db, tokens, email_verified_at=utc_now())
    allowed = await gated_client.post("/reach-out", headers=verified.headers)
    assert allowed.status_code == 200, allowed.text
    assert allowed.json() == {"user_id": str(verified.id)}


async def test_a_verified_phone_opens_the_gate_too(
    gated_client: httpx.AsyncClient, db: Database, tokens: TokenService
) -> None:
    by_phone = await create_user(db, tokens, phone="+447700900123", phone_verified_at=utc_now())
    allowed = await gated_client.post("/reach-out", headers=by_phone.headers)
    assert allowed.status_code == 200, allowed.text


async def test_the_gate_asks_for_a_sign_in_first(gated_client: httpx.AsyncClient) -> None:
    assert_problem(await gated_client.post("/reach-out"), 401)


# --- forgotten password -----------------------------------------------------------------------


async def test_forgot_password_answers_the_same_for_known_and_unknown_emails(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    known = await forgot(client, user.email.upper())
    unknown = await forgot(client, "nobody-here@example.org")
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    assert (known.status_code, known.json()) == (202, {"detail": RESET_SENT})
    assert known.headers["content-type"] == unknown.headers["content-type"]
    assert len(await messages(db, "reset_password", user.email)) == 1
    assert len(await messages(db, "reset_password")) == 1


async def test_a_suspended_account_gets_no_reset_link(
    client: httpx.AsyncClient, db: Database, tokens: TokenService
) -> None:
    suspended = await create_user(db, tokens, status="suspended")
    assert (await forgot(client, suspended.email)).status_code == 202
    assert await messages(db, "reset_password") == []


async def test_reset_emails_to_one_account_are_capped(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    for _ in range(MAX_RESET_EMAILS_PER_HOUR + 1):
        assert (await forgot(client, user.email)).status_code == 202
    assert len(await messages(db, "reset_password")) == MAX_RESET_EMAILS_PER_HOUR


async def test_forgot_password_is_limited_per_address(client: httpx.AsyncClient) -> None:
    for _ in range(5):
        assert (await forgot(client, "nobody@example.org")).status_code == 202
    assert_problem(await forgot(client, "nobody@example.org"), 429, "rate-limited")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, {"/body/email"}),
        ({"email": "not-an-email"}, {"/body/email"}),
        ({"email": "a@example.org", "password": "x"}, {"/body/password"}),
    ],
    ids=["empty", "bad-email", "unknown-field"],
)
async def test_forgot_password_refuses_bad_input(
    client: httpx.AsyncClient, body: dict[str, Any], expected: set[str]
) -> None:
    problem = assert_problem(await client.post(f"{AUTH}/forgot-password", json=body), 422)
    assert pointers(problem) == expected


# --- reset password ---------------------------------------------------------------------------


async def test_resetting_the_password_ends_every_session(
    client: httpx.AsyncClient, db: Database, tokens: TokenService, user: Person
) -> None:
    device = await sign_in_device(db, tokens, user)
    async with db.session(None, scope=DbScope.system) as session:
        # Someone has been guessing: the account is locked, which the reset must lift.
        await session.execute(
            update(UserAccount)
            .where(UserAccount.id == user.id)
            .values(failed_logins=100, locked_until=utc_now() + timedelta(hours=1))
        )
    await forgot(client, user.email)
    token = await only_token(db, "reset_password", user.email)

    response = await reset(client, token, NEW_PASSWORD)
    assert response.status_code == 200, response.text
    assert response.json() == {"detail": RESET_DONE}

    for headers in (user.headers, device.headers):
        assert_problem(await client.get(ME, headers=headers), 401, "invalid-token")
    refreshed = await client.post(f"{AUTH}/refresh", json={"refresh_token": device.refresh_token})
    assert_problem(refreshed, 401, "invalid-token")

    old = await client.post(f"{AUTH}/login", json={"email": user.email, "password": user.password})
    assert_problem(old, 401, "invalid-credentials")
    new = await client.post(f"{AUTH}/login", json={"email": user.email, "password": NEW_PASSWORD})
    assert new.status_code == 200, new.text

    assert "password_reset" in await activity_kinds(db, user.id)
    assert len(await messages(db, "password_changed", user.email)) == 1
    # The link reached the address, which verifies it too.
    assert (await account(db, user.id)).email_verified_at is not None
    assert_problem(await reset(client, token, "another fine passphrase"), 400, "link-invalid")


async def test_a_common_new_password_is_refused_and_the_link_still_works(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    await forgot(client, user.email)
    token = await only_token(db, "reset_password", user.email)
    problem = assert_problem(await reset(client, token, "Password1"), 422, "weak-password")
    assert pointers(problem) == {"/body/new_password"}
    assert (await client.get(ME, headers=user.headers)).status_code == 200  # nothing ended
    assert (await reset(client, token, NEW_PASSWORD)).status_code == 200


async def test_an_expired_reset_link_is_refused(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    await forgot(client, user.email)
    token = await only_token(db, "reset_password", user.email)
    await expire_links(db, user.id)
    assert_problem(await reset(client, token, NEW_PASSWORD), 410, "link-expired")
    assert (await client.get(ME, headers=user.headers)).status_code == 200


async def test_a_verification_link_cannot_reset_a_password_nor_the_reverse(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    await resend(client, user)
    await forgot(client, user.email)
    verify_token = await only_token(db, "verify_email", user.email)
    reset_token = await only_token(db, "reset_password", user.email)
    assert_problem(await reset(client, verify_token, NEW_PASSWORD), 400, "link-invalid")
    wrong = await client.post(f"{AUTH}/verify-email", json={"token": reset_token})
    assert_problem(wrong, 400, "link-invalid")
    assert (await client.get(ME, headers=user.headers)).status_code == 200


async def test_an_unknown_reset_token_is_refused(client: httpx.AsyncClient) -> None:
    assert_problem(await reset(client, "z" * 43, NEW_PASSWORD), 400, "link-invalid")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, {"/body/token", "/body/new_password"}),
        ({"token": "x" * 43, "new_password": "short"}, {"/body/new_password"}),
        ({"token": "x" * 43, "new_password": "x" * 129}, {"/body/new_password"}),
        ({"token": "x" * 43, "password": NEW_PASSWORD}, {"/body/new_password", "/body/password"}),
    ],
    ids=["empty", "short-password", "long-password", "wrong-field"],
)
async def test_reset_password_refuses_bad_input(
    client: httpx.AsyncClient, body: dict[str, Any], expected: set[str]
) -> None:
    problem = assert_problem(await client.post(f"{AUTH}/reset-password", json=body), 422)
    assert pointers(problem) == expected


async def test_reset_password_is_limited_per_address(client: httpx.AsyncClient) -> None:
    for _ in range(10):
        assert_problem(await reset(client, "z" * 43, NEW_PASSWORD), 400)
    assert_problem(await reset(client, "z" * 43, NEW_PASSWORD), 429, "rate-limited")
