"""Quiet hours and push subscriptions over HTTP."""

from __future__ import annotations

import base64
import os
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from mindspace.notifications.models import NotificationSettings, PushSubscription
from mindspace.platform.db import Database, DbScope
from tests.conftest import Person, assert_problem

QUIET = "/api/v1/notifications/quiet-hours"
SUBS = "/api/v1/notifications/push/subscriptions"


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def subscription(endpoint: str = "https://push.example.net/send/abc") -> dict[str, Any]:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    raw = key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return {
        "endpoint": endpoint,
        "expirationTime": None,
        "keys": {"p256dh": b64(raw), "auth": b64(os.urandom(16))},
    }


async def stored_subscriptions(db: Database) -> list[PushSubscription]:
    async with db.session(None, scope=DbScope.system) as session:
        return list((await session.execute(select(PushSubscription))).scalars())


async def stored_quiet_hours(db: Database) -> list[NotificationSettings]:
    async with db.session(None, scope=DbScope.system) as session:
        return list((await session.execute(select(NotificationSettings))).scalars())


# --- quiet hours ------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_quiet_hours_are_off_until_set_and_read_in_the_profile_zone(
    client: httpx.AsyncClient, user: Person
) -> None:
    response = await client.get(QUIET, headers=user.headers)
    assert response.json() == {"start": None, "end": None, "timezone": "UTC"}
    await client.patch("/api/v1/users/me", json={"timezone": "Europe/Madrid"}, headers=user.headers)
    changed = await client.put(QUIET, json={"start": "22:00", "end": "07:30"}, headers=user.headers)
    assert changed.status_code == 200, changed.text
    assert changed.json() == {"start": "22:00:00", "end": "07:30:00", "timezone": "Europe/Madrid"}
    off = await client.put(QUIET, json={"start": None, "end": None}, headers=user.headers)
    assert off.json()["start"] is None


@pytest.mark.asyncio
async def test_quiet_hours_need_a_signed_in_person(client: httpx.AsyncClient, db: Database) -> None:
    assert_problem(await client.get(QUIET), 401)
    assert_problem(await client.put(QUIET, json={"start": "22:00", "end": "07:00"}), 401)
    assert await stored_quiet_hours(db) == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "body",
    [
        {"start": "22:00"},
        {"start": "22:00", "end": None},
        {"start": "22:00", "end": "22:00"},
        {"start": "25:00", "end": "07:00"},
        {"start": "22:00+02:00", "end": "07:00"},
        {"start": "22:00", "end": "07:00", "timezone": "UTC"},
        {"start": "night", "end": "day"},
    ],
)
async def test_bad_quiet_hours_are_refused_and_change_nothing(
    client: httpx.AsyncClient, db: Database, user: Person, body: dict[str, Any]
) -> None:
    await client.put(QUIET, json={"start": "23:00", "end": "06:00"}, headers=user.headers)
    response = await client.put(QUIET, json=body, headers=user.headers)
    assert_problem(response, 422)
    (row,) = await stored_quiet_hours(db)
    assert (row.quiet_start.isoformat(), row.quiet_end.isoformat()) == ("23:00:00", "06:00:00")  # type: ignore[union-attr]


# --- push -------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_push_config_says_whether_push_is_on(client: httpx.AsyncClient, user: Person) -> None:
    response = await client.get("/api/v1/notifications/push/config", headers=user.headers)
    assert response.json() == {"enabled": False, "public_key": None}
    assert_problem(await client.get("/api/v1/notifications/push/config"), 401)


@pytest.mark.asyncio
async def test_without_vapid_a_subscription_is_refused(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    response = await client.post(SUBS, json=subscription(), headers=user.headers)
    assert_problem(response, 422, "push-not-configured")
    assert await stored_subscriptions(db) == []


@pytest.mark.asyncio
@pytest.mark.usefixtures("push_enabled")
async def test_subscribe_list_and_unsubscribe(
    client: httpx.AsyncClient, db: Database, user: Person, web_push: Any
) -> None:
    config = await client.get("/api/v1/notifications/push/config", headers=user.headers)
    assert config.json() == {"enabled": True, "public_key": web_push.public_key}

    body = subscription()
    created = await client.post(
        SUBS, json=body, headers={**user.headers, "User-Agent": "Firefox test"}
    )
    assert created.status_code == 201, created.text
    sub_id = created.json()["id"]
    assert sub_id.startswith("psb_")
    # The browser sends its subscription again (new keys after a refresh): one row, updated.
    body["keys"]["auth"] = b64(os.urandom(16))
    again = await client.post(SUBS, json=body, headers=user.headers)
    assert again.json()["id"] == sub_id
    (row,) = await stored_subscriptions(db)
    assert (row.endpoint, row.auth, row.owner_id) == (
        body["endpoint"],
        body["keys"]["auth"],
        user.id,
    )

    listed = await client.get(SUBS, headers=user.headers)
    assert [s["id"] for s in listed.json()] == [sub_id]
    deleted = await client.delete(f"{SUBS}/{sub_id}", headers=user.headers)
    assert deleted.status_code == 204
    assert await stored_subscriptions(db) == []


@pytest.mark.asyncio
@pytest.mark.usefixtures("push_enabled")
async def test_a_browser_that_changes_hands_moves_its_endpoint(
    client: httpx.AsyncClient, db: Database, user: Person, other_user: Person
) -> None:
    body = subscription()
    await client.post(SUBS, json=body, headers=user.headers)
    moved = await client.post(SUBS, json=body, headers=other_user.headers)
    assert moved.status_code == 201
    (row,) = await stored_subscriptions(db)
    assert row.owner_id == other_user.id
    assert (await client.get(SUBS, headers=user.headers)).json() == []


@pytest.mark.asyncio
@pytest.mark.usefixtures("push_enabled")
async def test_push_routes_need_a_signed_in_person_and_hide_others_subscriptions(
    client: httpx.AsyncClient, db: Database, user: Person, other_user: Person
) -> None:
    created = await client.post(SUBS, json=subscription(), headers=other_user.headers)
    sub_id = created.json()["id"]
    assert_problem(await client.post(SUBS, json=subscription("https://push.example.net/x")), 401)
    assert_problem(await client.get(SUBS), 401)
    assert_problem(await client.delete(f"{SUBS}/{sub_id}"), 401)
    response = await client.delete(f"{SUBS}/{sub_id}", headers=user.headers)
    assert_problem(response, 404, "push-subscription-not-found")
    assert len(await stored_subscriptions(db)) == 1


@pytest.mark.asyncio
@pytest.mark.usefixtures("push_enabled")
@pytest.mark.parametrize(
    "change",
    [
        {"endpoint": "not a url"},
        {"endpoint": "ftp://push.example.net/x"},
        {"endpoint": "http://push.example.net/x"},
        {"endpoint": "https://127.0.0.1:6379/x"},
        {"endpoint": "https://169.254.169.254/latest/meta-data"},
        {"endpoint": "https://[::1]/x"},
        {"endpoint": "https://localhost/x"},
        {"endpoint": "https://redis.internal/x"},
        {"endpoint": "https://10.0.0.8/x"},
        {"keys": {"p256dh": "short", "auth": "AAAAAAAAAAAAAAAAAAAAAA"}},
        {"keys": {"p256dh": "!" * 87}},
        {"extra": True},
    ],
)
async def test_bad_subscriptions_are_refused_and_store_nothing(
    client: httpx.AsyncClient, db: Database, user: Person, change: dict[str, Any]
) -> None:
    body = subscription()
    if "keys" in change:
        body["keys"] = {**body["keys"], **change.pop("keys")}
    body.update(change)
    response = await client.post(SUBS, json=body, headers=user.headers)
    assert_problem(response, 422)
    assert await stored_subscriptions(db) == []
    assert_problem(await client.delete(f"{SUBS}/nope", headers=user.headers), 404)
