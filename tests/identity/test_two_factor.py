"""Step-up, TOTP two-factor with recovery codes, and password change from a signed-in session."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pyotp
import pytest
from sqlalchemy import func, select, update

from mindspace.identity.activity import AccountActivity
from mindspace.identity.models import AuthSession, TotpCredential, UserAccount
from mindspace.identity.service.step_up import STEP_UP_WINDOW
from mindspace.identity.service.two_factor import RECOVERY_CODE_COUNT, SecretBox
from mindspace.identity.tokens import TokenService
from mindspace.platform.clock import utc_now
from mindspace.platform.db import Database, DbScope
from mindspace.platform.messaging import OutboundMessage
from tests.conftest import TEST_PASSWORD, Person, assert_problem
from tests.identity.conftest import sign_in_device

pytestmark = pytest.mark.asyncio

AUTH = "/api/v1/auth"
ME = "/api/v1/users/me"
TWO_FA = f"{ME}/2fa"
NEW_PASSWORD = "lanterns over the quiet bay"


# --- helpers ----------------------------------------------------------------------------------


async def set_stepped_up(db: Database, session_id: uuid.UUID | None, when: datetime) -> None:
    """Marks a session stepped up without paying for argon2 (the route has its own tests)."""
    async with db.session(None, scope=DbScope.system) as session:
        await session.execute(
            update(AuthSession).where(AuthSession.id == session_id).values(stepped_up_at=when)
        )


async def stepped_up(db: Database, person: Person) -> Person:
    await set_stepped_up(db, person.principal.session_id, utc_now())
    return person


async def forget_last_code(db: Database, user_id: uuid.UUID) -> None:
    """Lets the current time step's code be used again: tests need more codes than the ±1
    window offers within one run."""
    async with db.session(None, scope=DbScope.system) as session:
        await session.execute(
            update(TotpCredential)
            .where(TotpCredential.owner_id == user_id)
            .values(last_used_counter=None)
        )


async def enable_two_factor(
    client: httpx.AsyncClient, db: Database, person: Person
) -> tuple[str, list[str]]:
    await stepped_up(db, person)
    setup = await client.post(f"{TWO_FA}/setup", headers=person.headers)
    assert setup.status_code == 200, setup.text
    secret: str = setup.json()["secret"]
    confirm = await client.post(
        f"{TWO_FA}/confirm", json={"code": pyotp.TOTP(secret).now()}, headers=person.headers
    )
    assert confirm.status_code == 200, confirm.text
    codes: list[str] = confirm.json()["recovery_codes"]
    return secret, codes


def next_code(secret: str) -> str:
    """The next time step's code: still inside the ±1 window, and not yet spent."""
    return pyotp.TOTP(secret).at(time.time() + 30)


async def login(client: httpx.AsyncClient, person: Person, **extra: Any) -> httpx.Response:
    return await client.post(
        f"{AUTH}/login", json={"email": person.email, "password": person.password, **extra}
    )


async def activity_kinds(db: Database, user_id: uuid.UUID) -> list[str]:
    async with db.session(None, scope=DbScope.system) as session:
        stmt = select(AccountActivity.kind).where(AccountActivity.owner_id == user_id)
        return list((await session.execute(stmt.order_by(AccountActivity.id))).scalars())


async def emails(db: Database, purpose: str, recipient: str) -> list[OutboundMessage]:
    async with db.session(None, scope=DbScope.system) as session:
        stmt = select(OutboundMessage).where(
            OutboundMessage.purpose == purpose, OutboundMessage.recipient == recipient
        )
        return list((await session.execute(stmt)).scalars())


async def failed_logins(db: Database, user_id: uuid.UUID) -> int:
    async with db.session(None, scope=DbScope.system) as session:
        stmt = select(UserAccount.failed_logins).where(UserAccount.id == user_id)
        return int((await session.execute(stmt)).scalar_one())


def pointers(problem: dict[str, Any]) -> set[str]:
    return {error["pointer"] for error in problem["errors"]}


# --- step-up ----------------------------------------------------------------------------------


async def test_step_up_with_the_password_opens_sensitive_routes_for_five_minutes(
    client: httpx.AsyncClient, user: Person
) -> None:
    refused = await client.post(f"{TWO_FA}/setup", headers=user.headers)
    assert_problem(refused, 403, "step-up-required")

    response = await client.post(
        f"{AUTH}/step-up", json={"password": TEST_PASSWORD}, headers=user.headers
    )
    assert response.status_code == 200, response.text
    until = datetime.fromisoformat(response.json()["stepped_up_until"])
    assert abs((until - utc_now() - STEP_UP_WINDOW).total_seconds()) < 30

    allowed = await client.post(f"{TWO_FA}/setup", headers=user.headers)
    assert allowed.status_code == 200, allowed.text


async def test_an_old_step_up_has_expired(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    await set_stepped_up(db, user.principal.session_id, utc_now() - timedelta(minutes=6))
    response = await client.post(f"{TWO_FA}/setup", headers=user.headers)
    assert_problem(response, 403, "step-up-required")


async def test_a_wrong_password_does_not_step_up_and_counts_as_a_failure(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    response = await client.post(
        f"{AUTH}/step-up", json={"password": "not the password"}, headers=user.headers
    )
    assert_problem(response, 403, "step-up-failed")
    assert await failed_logins(db, user.id) == 1  # persisted although the request failed
    refused = await client.post(f"{TWO_FA}/setup", headers=user.headers)
    assert_problem(refused, 403, "step-up-required")


async def test_a_step_up_belongs_to_the_session_that_made_it(
    client: httpx.AsyncClient, db: Database, tokens: TokenService, user: Person, other_user: Person
) -> None:
    laptop = await sign_in_device(db, tokens, user)
    await set_stepped_up(db, laptop.session_id, utc_now())
    await stepped_up(db, other_user)

    refused = await client.post(f"{TWO_FA}/setup", headers=user.headers)
    assert_problem(refused, 403, "step-up-required")
    allowed = await client.post(f"{TWO_FA}/setup", headers=laptop.headers)
    assert allowed.status_code == 200, allowed.text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", f"{AUTH}/step-up"),
        ("GET", TWO_FA),
        ("POST", f"{TWO_FA}/setup"),
        ("POST", f"{TWO_FA}/confirm"),
        ("DELETE", TWO_FA),
        ("POST", f"{TWO_FA}/recovery-codes"),
        ("POST", f"{ME}/password"),
    ],
)
async def test_every_route_needs_a_token(client: httpx.AsyncClient, method: str, path: str) -> None:
    body = {"password": TEST_PASSWORD} if method == "POST" else None
    response = await client.request(method, path, json=body)
    assert_problem(response, 401)


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({}, "/body"),
        ({"password": TEST_PASSWORD, "totp_code": "123456"}, "/body"),
        ({"totp_code": "12345"}, "/body/totp_code"),
        ({"totp_code": "abcdef"}, "/body/totp_code"),
        ({"recovery_code": "x" * 65}, "/body/recovery_code"),
        ({"password": ""}, "/body/password"),
        ({"password": TEST_PASSWORD, "remember": True}, "/body/remember"),
    ],
)
async def test_step_up_refuses_bad_input(
    client: httpx.AsyncClient, user: Person, body: dict[str, Any], pointer: str
) -> None:
    response = await client.post(f"{AUTH}/step-up", json=body, headers=user.headers)
    problem = assert_problem(response, 422, "validation-failed")
    assert pointer in pointers(problem)


# --- two-factor -------------------------------------------------------------------------------


async def test_two_factor_from_setup_to_sign_in_to_off(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    await stepped_up(db, user)
    setup = await client.post(f"{TWO_FA}/setup", headers=user.headers)
    assert setup.status_code == 200, setup.text
    secret = setup.json()["secret"]
    assert setup.json()["otpauth_uri"].startswith("otpauth://totp/Mindspace:")
    status = (await client.get(TWO_FA, headers=user.headers)).json()
    assert status == {"enabled": False, "pending": True, "recovery_codes_remaining": 0}

    # Still pending: signing in needs no code yet.
    assert (await login(client, user)).status_code == 200

    confirm = await client.post(
        f"{TWO_FA}/confirm", json={"code": pyotp.TOTP(secret).now()}, headers=user.headers
    )
    assert confirm.status_code == 200, confirm.text
    codes = confirm.json()["recovery_codes"]
    assert len(codes) == len(set(codes)) == RECOVERY_CODE_COUNT
    status = (await client.get(TWO_FA, headers=user.headers)).json()
    assert status == {"enabled": True, "pending": False, "recovery_codes_remaining": 10}
    assert secret not in str(status)

    assert_problem(await login(client, user), 401, "two-factor-required")
    assert_problem(await login(client, user, totp_code="000000"), 401, "two-factor-required")
    assert await failed_logins(db, user.id) == 1  # a wrong code counts like a wrong password

    signed_in = await login(client, user, totp_code=next_code(secret))
    assert signed_in.status_code == 200, signed_in.text
    assert await failed_logins(db, user.id) == 0

    by_recovery = await login(client, user, recovery_code=codes[0].upper())
    assert by_recovery.status_code == 200, by_recovery.text
    again = await login(client, user, recovery_code=codes[0])
    assert_problem(again, 401, "two-factor-required")
    assert (await client.get(TWO_FA, headers=user.headers)).json()[
        "recovery_codes_remaining"
    ] == RECOVERY_CODE_COUNT - 1

    off = await client.delete(TWO_FA, headers=user.headers)
    assert off.status_code == 204, off.text
    assert (await login(client, user)).status_code == 200
    kinds = await activity_kinds(db, user.id)
    assert "two_factor_enabled" in kinds
    assert "two_factor_disabled" in kinds
    assert await emails(db, "two_factor_disabled", user.email)


async def test_a_wrong_password_with_a_right_code_is_just_a_wrong_password(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    secret, _codes = await enable_two_factor(client, db, user)
    response = await client.post(
        f"{AUTH}/login",
        json={"email": user.email, "password": "not it at all", "totp_code": next_code(secret)},
    )
    assert_problem(response, 401, "invalid-credentials")


async def test_a_totp_code_works_only_once(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    secret, _codes = await enable_two_factor(client, db, user)
    code = next_code(secret)
    assert (await login(client, user, totp_code=code)).status_code == 200
    assert_problem(await login(client, user, totp_code=code), 401, "two-factor-required")

    # The code confirmed at setup is spent too.
    await forget_last_code(db, user.id)
    fresh = pyotp.TOTP(secret).now()
    first = await client.post(f"{AUTH}/step-up", json={"totp_code": fresh}, headers=user.headers)
    assert first.status_code == 200, first.text
    replay = await client.post(f"{AUTH}/step-up", json={"totp_code": fresh}, headers=user.headers)
    assert_problem(replay, 403, "step-up-failed")


async def test_step_up_with_a_recovery_code_spends_it(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    _secret, codes = await enable_two_factor(client, db, user)
    await set_stepped_up(db, user.principal.session_id, utc_now() - timedelta(hours=1))
    first = await client.post(
        f"{AUTH}/step-up", json={"recovery_code": codes[3]}, headers=user.headers
    )
    assert first.status_code == 200, first.text
    again = await client.post(
        f"{AUTH}/step-up", json={"recovery_code": codes[3]}, headers=user.headers
    )
    assert_problem(again, 403, "step-up-failed")


async def test_a_totp_code_without_two_factor_does_not_step_up(
    client: httpx.AsyncClient, user: Person
) -> None:
    response = await client.post(
        f"{AUTH}/step-up", json={"totp_code": "123456"}, headers=user.headers
    )
    assert_problem(response, 403, "step-up-failed")


async def test_the_secret_is_stored_encrypted_and_setup_again_replaces_a_pending_one(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    await stepped_up(db, user)
    first = (await client.post(f"{TWO_FA}/setup", headers=user.headers)).json()["secret"]
    second = (await client.post(f"{TWO_FA}/setup", headers=user.headers)).json()["secret"]
    assert first != second
    async with db.session(None, scope=DbScope.system) as session:
        rows = list(
            (
                await session.execute(
                    select(TotpCredential.secret_ciphertext).where(
                        TotpCredential.owner_id == user.id
                    )
                )
            ).scalars()
        )
    assert len(rows) == 1
    assert second.encode() not in rows[0]

    stale = await client.post(
        f"{TWO_FA}/confirm", json={"code": pyotp.TOTP(first).now()}, headers=user.headers
    )
    assert_problem(stale, 422, "invalid-two-factor-code")
    fresh = await client.post(
        f"{TWO_FA}/confirm", json={"code": pyotp.TOTP(second).now()}, headers=user.headers
    )
    assert fresh.status_code == 200, fresh.text


async def test_setup_while_on_is_a_conflict(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    await enable_two_factor(client, db, user)
    response = await client.post(f"{TWO_FA}/setup", headers=user.headers)
    assert_problem(response, 409, "two-factor-already-enabled")


async def test_confirm_needs_a_pending_setup_of_ones_own(
    client: httpx.AsyncClient, db: Database, user: Person, other_user: Person
) -> None:
    await stepped_up(db, user)
    secret = (await client.post(f"{TWO_FA}/setup", headers=user.headers)).json()["secret"]
    # Someone else cannot finish (or even see) this person's setup.
    theirs = await client.post(
        f"{TWO_FA}/confirm", json={"code": pyotp.TOTP(secret).now()}, headers=other_user.headers
    )
    assert_problem(theirs, 409, "two-factor-not-pending")
    status = (await client.get(TWO_FA, headers=other_user.headers)).json()
    assert status == {"enabled": False, "pending": False, "recovery_codes_remaining": 0}


async def test_regenerating_recovery_codes_retires_the_old_ones(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    _secret, old = await enable_two_factor(client, db, user)
    response = await client.post(f"{TWO_FA}/recovery-codes", headers=user.headers)
    assert response.status_code == 200, response.text
    new = response.json()["recovery_codes"]
    assert len(new) == RECOVERY_CODE_COUNT
    assert not set(new) & set(old)
    assert_problem(await login(client, user, recovery_code=old[0]), 401, "two-factor-required")
    assert (await login(client, user, recovery_code=new[0])).status_code == 200


async def test_turning_off_or_regenerating_needs_a_step_up_and_two_factor_on(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    assert_problem(await client.delete(TWO_FA, headers=user.headers), 403, "step-up-required")
    assert_problem(
        await client.post(f"{TWO_FA}/recovery-codes", headers=user.headers),
        403,
        "step-up-required",
    )
    await stepped_up(db, user)
    assert_problem(await client.delete(TWO_FA, headers=user.headers), 409, "two-factor-not-enabled")
    assert_problem(
        await client.post(f"{TWO_FA}/recovery-codes", headers=user.headers),
        409,
        "two-factor-not-enabled",
    )


async def test_another_persons_two_factor_is_untouched(
    client: httpx.AsyncClient, db: Database, user: Person, other_user: Person
) -> None:
    await enable_two_factor(client, db, user)
    await stepped_up(db, other_user)
    assert_problem(
        await client.delete(TWO_FA, headers=other_user.headers), 409, "two-factor-not-enabled"
    )
    status = (await client.get(TWO_FA, headers=user.headers)).json()
    assert status["enabled"] is True


@pytest.mark.parametrize("code", ["12345", "1234567", "abcdef", ""])
async def test_confirm_refuses_a_malformed_code(
    client: httpx.AsyncClient, user: Person, code: str
) -> None:
    response = await client.post(f"{TWO_FA}/confirm", json={"code": code}, headers=user.headers)
    problem = assert_problem(response, 422, "validation-failed")
    assert pointers(problem) == {"/body/code"}


async def test_login_refuses_a_malformed_code(client: httpx.AsyncClient, user: Person) -> None:
    response = await client.post(
        f"{AUTH}/login", json={"email": user.email, "password": "x", "totp_code": "12 34"}
    )
    problem = assert_problem(response, 422, "validation-failed")
    assert pointers(problem) == {"/body/totp_code"}


async def test_a_sealed_secret_opens_only_for_its_owner_and_key() -> None:
    box = SecretBox("one secret key, long enough to matter")
    owner, stranger = uuid.uuid4(), uuid.uuid4()
    sealed = box.seal(b"JBSWY3DPEHPK3PXP", bound_to=owner.bytes)
    assert box.open(sealed, bound_to=owner.bytes) == b"JBSWY3DPEHPK3PXP"
    with pytest.raises(ValueError, match="does not open"):
        box.open(sealed, bound_to=stranger.bytes)
    with pytest.raises(ValueError, match="does not open"):
        SecretBox("another secret key entirely").open(sealed, bound_to=owner.bytes)
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(ValueError, match="does not open"):
        box.open(tampered, bound_to=owner.bytes)


# --- password change --------------------------------------------------------------------------


async def test_changing_the_password_needs_a_step_up(
    client: httpx.AsyncClient, user: Person
) -> None:
    response = await client.post(
        f"{ME}/password", json={"new_password": NEW_PASSWORD}, headers=user.headers
    )
    assert_problem(response, 403, "step-up-required")


async def test_changing_the_password_ends_other_sessions_and_keeps_this_one(
    client: httpx.AsyncClient, db: Database, tokens: TokenService, user: Person
) -> None:
    phone = await sign_in_device(db, tokens, user)
    await stepped_up(db, user)

    response = await client.post(
        f"{ME}/password", json={"new_password": NEW_PASSWORD}, headers=user.headers
    )
    assert response.status_code == 204, response.text

    assert (await client.get(ME, headers=user.headers)).status_code == 200
    assert_problem(await client.get(ME, headers=phone.headers), 401, "invalid-token")
    stale = await client.post(f"{AUTH}/refresh", json={"refresh_token": phone.refresh_token})
    assert_problem(stale, 401, "invalid-token")

    old = await client.post(f"{AUTH}/login", json={"email": user.email, "password": TEST_PASSWORD})
    assert_problem(old, 401, "invalid-credentials")
    new = await client.post(f"{AUTH}/login", json={"email": user.email, "password": NEW_PASSWORD})
    assert new.status_code == 200, new.text

    assert "password_changed" in await activity_kinds(db, user.id)
    assert len(await emails(db, "password_changed", user.email)) == 1
    async with db.session(None, scope=DbScope.system) as session:
        live = (
            await session.execute(
                select(func.count()).where(
                    AuthSession.owner_id == user.id, AuthSession.revoked_at.is_(None)
                )
            )
        ).scalar_one()
    assert live == 2  # this one and the new sign-in


async def test_changing_the_password_leaves_other_people_signed_in(
    client: httpx.AsyncClient, db: Database, user: Person, other_user: Person
) -> None:
    await stepped_up(db, user)
    response = await client.post(
        f"{ME}/password", json={"new_password": NEW_PASSWORD}, headers=user.headers
    )
    assert response.status_code == 204, response.text
    assert (await client.get(ME, headers=other_user.headers)).status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "slug"),
    [
        ({"new_password": "short"}, 422, "validation-failed"),
        ({"new_password": "x" * 129}, 422, "validation-failed"),
        ({}, 422, "validation-failed"),
        ({"new_password": "password123"}, 422, "weak-password"),
    ],
)
async def test_changing_the_password_refuses_bad_input(
    client: httpx.AsyncClient,
    db: Database,
    user: Person,
    body: dict[str, Any],
    status: int,
    slug: str,
) -> None:
    await stepped_up(db, user)
    response = await client.post(f"{ME}/password", json=body, headers=user.headers)
    problem = assert_problem(response, status, slug)
    assert pointers(problem) == {"/body/new_password"}
