"""Account lockout and per-account throttling of sign-in.

The lock must bound guessing (100 failures in a row), say nothing to a guesser, and never keep
the owner out for good: it ends by itself, is not extended by attempts, and password reset or
phone sign-in clear it.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from mindspace.identity import service
from mindspace.identity.activity import AccountActivity
from mindspace.identity.models import UserAccount
from mindspace.identity.service.lockout import LOCK_DURATION, MAX_FAILURES
from mindspace.platform.clock import utc_now
from mindspace.platform.db import Database, DbScope
from mindspace.platform.messaging import OutboundMessage
from tests.conftest import TEST_PASSWORD, Person, assert_problem
from tests.identity.test_two_factor import enable_two_factor, stepped_up

pytestmark = pytest.mark.asyncio

AUTH = "/api/v1/auth"
WRONG = "definitely not the password"


async def set_counters(
    db: Database, user_id: uuid.UUID, *, failed: int = 0, locked_until: datetime | None = None
) -> None:
    async with db.session(None, scope=DbScope.system) as session:
        await session.execute(
            update(UserAccount)
            .where(UserAccount.id == user_id)
            .values(failed_logins=failed, locked_until=locked_until)
        )


async def counters(db: Database, user_id: uuid.UUID) -> tuple[int, datetime | None]:
    async with db.session(None, scope=DbScope.system) as session:
        row = (
            await session.execute(
                select(UserAccount.failed_logins, UserAccount.locked_until).where(
                    UserAccount.id == user_id
                )
            )
        ).one()
    return row[0], row[1]


async def login(
    client: httpx.AsyncClient, email: str, password: str, **extra: Any
) -> httpx.Response:
    return await client.post(f"{AUTH}/login", json={"email": email, "password": password, **extra})


def without_instance(problem: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in problem.items() if k != "instance"}


async def test_a_wrong_password_is_counted_even_though_the_answer_is_an_error(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    assert_problem(await login(client, user.email, WRONG), 401, "invalid-credentials")
    assert_problem(await login(client, user.email, WRONG), 401, "invalid-credentials")
    assert await counters(db, user.id) == (2, None)


async def test_a_success_resets_the_count(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    await set_counters(db, user.id, failed=MAX_FAILURES - 2)
    assert (await login(client, user.email, TEST_PASSWORD)).status_code == 200
    assert await counters(db, user.id) == (0, None)


async def test_the_hundredth_failure_locks_the_account_and_says_nothing_new(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    await set_counters(db, user.id, failed=MAX_FAILURES - 1)
    unknown = await login(client, "nobody-here@example.org", WRONG)
    hundredth = await login(client, user.email, WRONG)
    # The failure that starts the lock answers exactly like any other wrong password.
    assert without_instance(assert_problem(hundredth, 401, "invalid-credentials")) == (
        without_instance(assert_problem(unknown, 401, "invalid-credentials"))
    )
    _failed, locked_until = await counters(db, user.id)
    assert locked_until is not None
    assert abs((locked_until - utc_now() - LOCK_DURATION).total_seconds()) < 30

    async with db.session(None, scope=DbScope.system) as session:
        kinds = list(
            (
                await session.execute(
                    select(AccountActivity.kind).where(AccountActivity.owner_id == user.id)
                )
            ).scalars()
        )
        mail = list(
            (
                await session.execute(
                    select(OutboundMessage).where(
                        OutboundMessage.recipient == user.email,
                        OutboundMessage.purpose == "account_locked",
                    )
                )
            ).scalars()
        )
    assert kinds == ["account_locked"]
    assert len(mail) == 1
    assert "Forgot password" in mail[0].body


async def test_during_a_lock_only_the_right_password_learns_of_it(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    locked_until = utc_now() + timedelta(minutes=10)
    await set_counters(db, user.id, locked_until=locked_until)

    right = await login(client, user.email, TEST_PASSWORD)
    assert_problem(right, 429, "account-locked")
    assert 1 <= int(right.headers["retry-after"]) <= 600

    wrong = await login(client, user.email, WRONG)
    unknown = await login(client, "nobody-here@example.org", WRONG)
    assert without_instance(assert_problem(wrong, 401, "invalid-credentials")) == (
        without_instance(assert_problem(unknown, 401, "invalid-credentials"))
    )
    # Attempts during the lock neither count nor extend it.
    assert await counters(db, user.id) == (0, locked_until)


async def test_the_lock_ends_by_itself(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    await set_counters(db, user.id, failed=0, locked_until=utc_now() - timedelta(seconds=1))
    assert (await login(client, user.email, TEST_PASSWORD)).status_code == 200
    assert await counters(db, user.id) == (0, None)


async def test_after_a_lock_the_count_starts_again(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    await set_counters(db, user.id, locked_until=utc_now() - timedelta(seconds=1))
    assert_problem(await login(client, user.email, WRONG), 401, "invalid-credentials")
    assert await counters(db, user.id) == (1, None)


async def test_clear_lockout_lets_the_owner_back_in_at_once(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    await set_counters(db, user.id, failed=5, locked_until=utc_now() + timedelta(minutes=10))
    async with db.session(None, scope=DbScope.auth) as session:
        await service.clear_lockout(session, user.id)
    assert await counters(db, user.id) == (0, None)
    assert (await login(client, user.email, TEST_PASSWORD)).status_code == 200


async def test_wrong_two_factor_codes_count_towards_the_lock(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    await enable_two_factor(client, db, user)
    await set_counters(db, user.id, failed=MAX_FAILURES - 1)
    wrong_code = await login(client, user.email, TEST_PASSWORD, totp_code="000000")
    assert_problem(wrong_code, 401, "two-factor-required")
    _failed, locked_until = await counters(db, user.id)
    assert locked_until is not None
    assert_problem(await login(client, user.email, TEST_PASSWORD), 429, "account-locked")


async def test_a_locked_account_cannot_step_up_but_wrong_proofs_still_look_wrong(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    await set_counters(db, user.id, locked_until=utc_now() + timedelta(minutes=10))
    right = await client.post(
        f"{AUTH}/step-up", json={"password": TEST_PASSWORD}, headers=user.headers
    )
    assert_problem(right, 429, "account-locked")
    assert "retry-after" in right.headers
    wrong = await client.post(f"{AUTH}/step-up", json={"password": WRONG}, headers=user.headers)
    assert_problem(wrong, 403, "step-up-failed")


async def test_sign_in_is_limited_per_account_across_addresses(
    client: httpx.AsyncClient, db: Database, user: Person, other_user: Person
) -> None:
    # The per-IP limit is 20 a minute; the account's own limit (10) comes first.
    for _ in range(10):
        assert_problem(await login(client, user.email.upper(), WRONG), 401, "invalid-credentials")
    refused = await login(client, user.email, TEST_PASSWORD)
    assert_problem(refused, 429, "rate-limited")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    # Another account from the same address is not held back.
    assert (await login(client, other_user.email, TEST_PASSWORD)).status_code == 200


async def test_the_per_account_limit_treats_unknown_emails_the_same(
    client: httpx.AsyncClient,
) -> None:
    for _ in range(10):
        assert_problem(await login(client, "ghost@example.org", WRONG), 401, "invalid-credentials")
    assert_problem(await login(client, "ghost@example.org", WRONG), 429, "rate-limited")


async def test_step_up_proofs_are_limited_per_person(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    await stepped_up(db, user)
    for _ in range(10):
        response = await client.post(
            f"{AUTH}/step-up", json={"totp_code": "000000"}, headers=user.headers
        )
        assert_problem(response, 403, "step-up-failed")
    refused = await client.post(
        f"{AUTH}/step-up", json={"totp_code": "111111"}, headers=user.headers
    )
    assert_problem(refused, 429, "rate-limited")
    assert "retry-after" in refused.headers
