"""Phone sign-in and sign-up by SMS code, and adding a number to an account."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pyotp
import pytest
from sqlalchemy import func, select, update

from mindspace.identity.activity import AccountActivity
from mindspace.identity.models import PhoneOtp, UserAccount
from mindspace.identity.tokens import TokenService
from mindspace.platform import ids
from mindspace.platform.clock import utc_now
from mindspace.platform.db import Database, DbScope
from mindspace.platform.messaging import OutboundMessage
from tests.conftest import Person, assert_problem, create_user

pytestmark = pytest.mark.asyncio

START = "/api/v1/auth/phone/start"
VERIFY = "/api/v1/auth/phone/verify"
ME_START = "/api/v1/users/me/phone/start"
ME_VERIFY = "/api/v1/users/me/phone/verify"
ME = "/api/v1/users/me"
TYPED = "+44 7911 123456"  # as a person types it
PHONE = "+447911123456"  # as it is stored
OTHER_PHONE = "+447400123456"


async def texts(db: Database, phone: str, purpose: str = "otp_sign_in") -> list[str]:
    """The codes texted to `phone` for `purpose`, oldest first."""
    async with db.session(None, scope=DbScope.system) as session:
        stmt = (
            select(OutboundMessage.body)
            .where(
                OutboundMessage.channel == "sms",
                OutboundMessage.recipient == phone,
                OutboundMessage.purpose == purpose,
            )
            .order_by(OutboundMessage.created_at, OutboundMessage.id)
        )
        bodies = list((await session.execute(stmt)).scalars())
    codes = []
    for body in bodies:
        found = re.search(r"\b(\d{6})\b", body)
        assert found, body
        codes.append(found.group(1))
    return codes


async def last_code(db: Database, phone: str, purpose: str = "otp_sign_in") -> str:
    codes = await texts(db, phone, purpose)
    assert codes, f"no {purpose} text to {phone}"
    return codes[-1]


async def age_codes(db: Database, phone: str, by: timedelta) -> None:
    """Moves the codes for `phone` into the past, as if `by` had gone by since they were sent."""
    async with db.session(None, scope=DbScope.system) as session:
        await session.execute(
            update(PhoneOtp)
            .where(PhoneOtp.phone == phone)
            .values(created_at=PhoneOtp.created_at - by, expires_at=PhoneOtp.expires_at - by)
        )


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def sign_in(client: httpx.AsyncClient, db: Database, phone: str) -> dict[str, Any]:
    response = await client.post(START, json={"phone": phone})
    assert response.status_code == 202, response.text
    code = await last_code(db, phone)
    response = await client.post(VERIFY, json={"phone": phone, "code": code})
    assert response.status_code == 200, response.text
    pair: dict[str, Any] = response.json()
    return pair


async def step_up(client: httpx.AsyncClient, person: Person) -> None:
    response = await client.post(
        "/api/v1/auth/step-up", json={"password": person.password}, headers=person.headers
    )
    assert response.status_code == 200, response.text


async def with_phone(db: Database, tokens: TokenService, phone: str, **kw: Any) -> Person:
    return await create_user(db, tokens, phone=phone, phone_verified_at=utc_now(), **kw)


async def account(db: Database, user_id: uuid.UUID) -> UserAccount:
    async with db.session(None, scope=DbScope.system) as session:
        found = await session.get(UserAccount, user_id)
    assert found is not None
    return found


async def activity(db: Database, user_id: uuid.UUID) -> list[tuple[str, dict[str, Any]]]:
    async with db.session(None, scope=DbScope.system) as session:
        stmt = (
            select(AccountActivity.kind, AccountActivity.details)
            .where(AccountActivity.owner_id == user_id)
            .order_by(AccountActivity.id)
        )
        return [(kind, details) for kind, details in (await session.execute(stmt)).all()]


# --- sign-in and sign-up ----------------------------------------------------------------------


async def test_a_new_number_signs_up_a_phone_only_account(
    client: httpx.AsyncClient, db: Database
) -> None:
    response = await client.post(START, json={"phone": TYPED, "purpose": "sign_in"})
    assert response.status_code == 202, response.text
    assert response.json()["expires_in"] == 600
    assert response.json()["resend_after"] == 60
    (code,) = await texts(db, PHONE)

    response = await client.post(VERIFY, json={"phone": TYPED, "code": code})
    assert response.status_code == 200, response.text
    pair = response.json()
    assert pair["token_type"] == "Bearer"
    assert pair["refresh_token"].startswith("rt_")

    me = (await client.get(ME, headers=bearer(pair["access_token"]))).json()
    assert me["display_name"] == "Friend"
    assert me["email"] is None
    created = await account(db, ids.decode("usr", me["id"]))
    assert created.phone == PHONE
    assert created.phone_verified_at is not None
    assert created.password_hash is None
    assert await activity(db, created.id) == [
        ("signed_in", {"method": "phone", "new_account": True, "two_factor": False})
    ]


async def test_a_known_number_signs_in_to_its_account(
    client: httpx.AsyncClient, db: Database, tokens: TokenService
) -> None:
    person = await with_phone(db, tokens, PHONE)
    pair = await sign_in(client, db, PHONE)
    me = (await client.get(ME, headers=bearer(pair["access_token"]))).json()
    assert me["id"] == ids.encode("usr", person.id)
    assert ("signed_in", {"method": "phone", "two_factor": False}) in await activity(db, person.id)
    async with db.session(None, scope=DbScope.system) as session:
        holders = await session.scalar(
            select(func.count()).select_from(UserAccount).where(UserAccount.phone == PHONE)
        )
    assert holders == 1


async def test_asking_for_a_code_answers_the_same_for_known_and_unknown_numbers(
    client: httpx.AsyncClient, db: Database, tokens: TokenService
) -> None:
    await with_phone(db, tokens, PHONE)
    known = await client.post(START, json={"phone": PHONE})
    unknown = await client.post(START, json={"phone": OTHER_PHONE})
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    assert len(await texts(db, PHONE)) == len(await texts(db, OTHER_PHONE)) == 1


async def test_a_code_works_once(client: httpx.AsyncClient, db: Database) -> None:
    await sign_in(client, db, PHONE)
    code = await last_code(db, PHONE)
    response = await client.post(VERIFY, json={"phone": PHONE, "code": code})
    assert_problem(response, 400, "invalid-code")


async def test_an_expired_code_is_refused(client: httpx.AsyncClient, db: Database) -> None:
    await client.post(START, json={"phone": PHONE})
    code = await last_code(db, PHONE)
    await age_codes(db, PHONE, timedelta(minutes=10, seconds=1))
    response = await client.post(VERIFY, json={"phone": PHONE, "code": code})
    assert_problem(response, 400, "invalid-code")


async def test_a_code_is_bound_to_its_number(client: httpx.AsyncClient, db: Database) -> None:
    await client.post(START, json={"phone": PHONE})
    code = await last_code(db, PHONE)
    response = await client.post(VERIFY, json={"phone": OTHER_PHONE, "code": code})
    assert_problem(response, 400, "invalid-code")


async def test_four_wrong_tries_still_leave_the_right_code_working(
    client: httpx.AsyncClient, db: Database
) -> None:
    await client.post(START, json={"phone": PHONE})
    code = await last_code(db, PHONE)
    for left in (4, 3, 2, 1):
        response = await client.post(VERIFY, json={"phone": PHONE, "code": wrong(code)})
        assert f"{left} tries left" in assert_problem(response, 400, "invalid-code")["detail"]
    response = await client.post(VERIFY, json={"phone": PHONE, "code": code})
    assert response.status_code == 200, response.text


async def test_five_wrong_tries_spend_the_code_even_for_the_right_one(
    client: httpx.AsyncClient, db: Database
) -> None:
    await client.post(START, json={"phone": PHONE})
    code = await last_code(db, PHONE)
    for _ in range(5):
        response = await client.post(VERIFY, json={"phone": PHONE, "code": wrong(code)})
        assert_problem(response, 400, "invalid-code")
    response = await client.post(VERIFY, json={"phone": PHONE, "code": code})
    assert "new code" in assert_problem(response, 400, "invalid-code")["detail"]


async def test_a_resend_waits_a_minute_and_retires_the_old_code(
    client: httpx.AsyncClient, db: Database
) -> None:
    await client.post(START, json={"phone": PHONE})
    response = await client.post(START, json={"phone": PHONE})
    assert_problem(response, 429, "rate-limited")
    assert 1 <= int(response.headers["retry-after"]) <= 60
    assert len(await texts(db, PHONE)) == 1

    await age_codes(db, PHONE, timedelta(seconds=61))
    response = await client.post(START, json={"phone": PHONE})
    assert response.status_code == 202, response.text
    old, new = await texts(db, PHONE)
    if old != new:  # one in a million they are equal, and then there is nothing to show
        response = await client.post(VERIFY, json={"phone": PHONE, "code": old})
        assert_problem(response, 400, "invalid-code")
    response = await client.post(VERIFY, json={"phone": PHONE, "code": new})
    assert response.status_code == 200, response.text


async def test_parallel_requests_send_one_text(client: httpx.AsyncClient, db: Database) -> None:
    responses = await asyncio.gather(*(client.post(START, json={"phone": PHONE}) for _ in range(5)))
    assert sorted(r.status_code for r in responses) == [202, 429, 429, 429, 429]
    assert len(await texts(db, PHONE)) == 1


async def test_a_number_gets_at_most_ten_texts_a_day(
    client: httpx.AsyncClient, db: Database
) -> None:
    for _ in range(10):
        response = await client.post(START, json={"phone": PHONE})
        assert response.status_code == 202, response.text
        await age_codes(db, PHONE, timedelta(minutes=2))  # past the resend cooldown
    response = await client.post(START, json={"phone": PHONE})
    assert_problem(response, 429, "rate-limited")
    assert int(response.headers["retry-after"]) > 60 * 60
    assert len(await texts(db, PHONE)) == 10


async def test_one_address_gets_at_most_thirty_texts_a_day(
    client: httpx.AsyncClient, db: Database
) -> None:
    for n in range(30):
        response = await client.post(START, json={"phone": f"+447911123{n:03d}"})
        assert response.status_code == 202, response.text
    response = await client.post(START, json={"phone": "+447911123999"})
    assert_problem(response, 429, "rate-limited")
    assert await texts(db, "+447911123999") == []


async def test_a_suspended_account_cannot_sign_in_by_phone(
    client: httpx.AsyncClient, db: Database, tokens: TokenService
) -> None:
    await with_phone(db, tokens, PHONE, status="suspended")
    await client.post(START, json={"phone": PHONE})
    code = await last_code(db, PHONE)
    response = await client.post(VERIFY, json={"phone": PHONE, "code": code})
    assert_problem(response, 401, "account-unavailable")


async def test_two_factor_holds_for_phone_sign_in_too(
    client: httpx.AsyncClient, db: Database, tokens: TokenService
) -> None:
    person = await with_phone(db, tokens, PHONE)
    await step_up(client, person)
    setup = await client.post("/api/v1/users/me/2fa/setup", headers=person.headers)
    assert setup.status_code == 200, setup.text
    totp = pyotp.TOTP(setup.json()["secret"])
    confirmed = await client.post(
        "/api/v1/users/me/2fa/confirm", json={"code": totp.now()}, headers=person.headers
    )
    assert confirmed.status_code == 200, confirmed.text
    recovery_code = confirmed.json()["recovery_codes"][0]

    await client.post(START, json={"phone": PHONE})
    code = await last_code(db, PHONE)
    response = await client.post(VERIFY, json={"phone": PHONE, "code": code})
    assert_problem(response, 401, "two-factor-required")
    # The text code was not spent by asking for the second factor.
    response = await client.post(
        VERIFY, json={"phone": PHONE, "code": code, "recovery_code": recovery_code}
    )
    assert response.status_code == 200, response.text


# --- adding a number to an account ------------------------------------------------------------


async def test_adding_a_number_then_signing_in_with_it(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    await step_up(client, user)
    response = await client.post(ME_START, json={"phone": TYPED}, headers=user.headers)
    assert response.status_code == 202, response.text
    code = await last_code(db, PHONE, "otp_verify_phone")
    response = await client.post(
        ME_VERIFY, json={"phone": TYPED, "code": code}, headers=user.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["phone"] == PHONE
    assert response.json()["phone_verified_at"]
    assert ("phone_changed", {"ending": "56", "had_phone": False}) in await activity(db, user.id)

    pair = await sign_in(client, db, PHONE)
    me = (await client.get(ME, headers=bearer(pair["access_token"]))).json()
    assert me["id"] == ids.encode("usr", user.id)


async def test_adding_a_number_needs_a_recent_step_up(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    response = await client.post(ME_START, json={"phone": PHONE}, headers=user.headers)
    assert_problem(response, 403, "step-up-required")
    assert await texts(db, PHONE, "otp_verify_phone") == []


async def test_a_fresh_phone_sign_in_may_change_the_number(
    client: httpx.AsyncClient, db: Database
) -> None:
    pair = await sign_in(client, db, PHONE)
    response = await client.post(
        ME_START, json={"phone": OTHER_PHONE}, headers=bearer(pair["access_token"])
    )
    assert response.status_code == 202, response.text


async def test_a_sign_in_code_does_not_verify_a_number_and_back(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    await step_up(client, user)
    await client.post(START, json={"phone": PHONE})
    await client.post(ME_START, json={"phone": PHONE}, headers=user.headers)
    sign_in_code = await last_code(db, PHONE, "otp_sign_in")
    verify_code = await last_code(db, PHONE, "otp_verify_phone")
    if sign_in_code == verify_code:  # one in a million: nothing to tell apart
        pytest.skip("the two random codes happen to be equal")

    response = await client.post(
        ME_VERIFY, json={"phone": PHONE, "code": sign_in_code}, headers=user.headers
    )
    assert_problem(response, 400, "invalid-code")
    response = await client.post(VERIFY, json={"phone": PHONE, "code": verify_code})
    assert_problem(response, 400, "invalid-code")

    response = await client.post(
        ME_VERIFY, json={"phone": PHONE, "code": verify_code}, headers=user.headers
    )
    assert response.status_code == 200, response.text


async def test_a_code_sent_for_one_person_does_not_work_for_another(
    client: httpx.AsyncClient, db: Database, user: Person, other_user: Person
) -> None:
    await step_up(client, user)
    await client.post(ME_START, json={"phone": PHONE}, headers=user.headers)
    code = await last_code(db, PHONE, "otp_verify_phone")
    response = await client.post(
        ME_VERIFY, json={"phone": PHONE, "code": code}, headers=other_user.headers
    )
    assert_problem(response, 400, "invalid-code")
    assert (await account(db, other_user.id)).phone is None


async def test_another_persons_number_is_a_conflict(
    client: httpx.AsyncClient, db: Database, tokens: TokenService, user: Person
) -> None:
    holder = await with_phone(db, tokens, PHONE)
    await step_up(client, user)
    # Asking says nothing: only whoever holds the number learns it is taken.
    response = await client.post(ME_START, json={"phone": PHONE}, headers=user.headers)
    assert response.status_code == 202, response.text
    code = await last_code(db, PHONE, "otp_verify_phone")
    response = await client.post(
        ME_VERIFY, json={"phone": PHONE, "code": code}, headers=user.headers
    )
    problem = assert_problem(response, 409, "phone-taken")
    assert str(holder.id) not in str(problem)
    assert ids.encode("usr", holder.id) not in str(problem)
    assert (await account(db, user.id)).phone is None
    assert (await account(db, holder.id)).phone == PHONE


async def test_people_see_only_the_codes_they_asked_for(
    client: httpx.AsyncClient, db: Database, user: Person, other_user: Person
) -> None:
    await step_up(client, user)
    await client.post(ME_START, json={"phone": PHONE}, headers=user.headers)
    await client.post(START, json={"phone": OTHER_PHONE})
    query = select(PhoneOtp.phone, PhoneOtp.purpose)  # deliberately unfiltered
    async with db.session(user.principal) as session:
        assert (await session.execute(query)).all() == [(PHONE, "verify_phone")]
    for principal in (other_user.principal, None):
        async with db.session(principal) as session:
            assert (await session.execute(query)).all() == []
    async with db.session(None, scope=DbScope.auth) as session:
        assert len((await session.execute(query)).all()) == 2


@pytest.mark.parametrize("path", [ME_START, ME_VERIFY])
async def test_the_account_routes_need_a_token(
    client: httpx.AsyncClient, db: Database, path: str
) -> None:
    response = await client.post(path, json={"phone": PHONE, "code": "123456"})
    assert_problem(response, 401)


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "phone",
    [
        "07911 123456",  # no country code
        "+44 12",  # too short to be possible
        "+44 7700 900123",  # reserved for drama: not a real number
        "+44 20 7031 3000",  # a landline cannot take a text
        "+44 909 879 0000",  # premium rate: the SMS-pumping fraud target
        "call me",
        "",
        "+" + "1" * 40,
    ],
)
async def test_a_number_that_cannot_take_a_text_is_refused(
    client: httpx.AsyncClient, db: Database, user: Person, phone: str
) -> None:
    await step_up(client, user)
    for path, body, headers in (
        (START, {"phone": phone}, {}),
        (VERIFY, {"phone": phone, "code": "123456"}, {}),
        (ME_START, {"phone": phone}, user.headers),
        (ME_VERIFY, {"phone": phone, "code": "123456"}, user.headers),
    ):
        response = await client.post(path, json=body, headers=headers)
        problem = assert_problem(response, 422, "validation-failed")
        assert [e["pointer"] for e in problem["errors"]] == ["/body/phone"], path
    async with db.session(None, scope=DbScope.system) as session:
        assert await session.scalar(select(func.count()).select_from(OutboundMessage)) == 0


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"phone": PHONE, "code": "12345"}, "/body/code"),
        ({"phone": PHONE, "code": "١٢٣٤٥٦"}, "/body/code"),  # digits, but not ASCII ones
        ({"phone": PHONE}, "/body/code"),
        ({"phone": PHONE, "code": "123456", "user_id": "usr_x"}, "/body/user_id"),
    ],
)
async def test_a_malformed_code_is_refused(
    client: httpx.AsyncClient, db: Database, body: dict[str, str], pointer: str
) -> None:
    problem = assert_problem(await client.post(VERIFY, json=body), 422, "validation-failed")
    assert [e["pointer"] for e in problem["errors"]] == [pointer]


async def test_the_public_route_sends_sign_in_codes_only(
    client: httpx.AsyncClient, db: Database
) -> None:
    response = await client.post(START, json={"phone": PHONE, "purpose": "verify_phone"})
    problem = assert_problem(response, 422, "validation-failed")
    assert [e["pointer"] for e in problem["errors"]] == ["/body/purpose"]
