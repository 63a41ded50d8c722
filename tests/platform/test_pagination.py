"""Cursor pagination: opaque cursors that survive the round trip, refuse tampering, and walk a
list exactly once, newest first (over GET /api/v1/auth/sessions)."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from ulid import ULID

from mindspace.identity.models import AuthSession
from mindspace.platform.clock import utc_now
from mindspace.platform.db import Database, DbScope
from mindspace.platform.ids import decode, new_id
from mindspace.platform.pagination import MAX_LIMIT, InvalidCursor, decode_cursor, encode_cursor
from tests.conftest import Person, assert_problem

SESSIONS = "/api/v1/auth/sessions"


# The codec, without I/O


@pytest.mark.parametrize(
    "values",
    [
        [uuid.UUID("01935c8e-1b2a-7c3d-8e4f-5a6b7c8d9e0f")],
        [datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), uuid.UUID(int=2**127 + 5)],
        [datetime(2025, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=5, minutes=30))), 7],
        ["text with / and + and unicode é", 3.5, None],
        [-1, 0, 2**40],
    ],
)
def test_a_cursor_survives_the_round_trip(values: list[Any]) -> None:
    cursor = encode_cursor(values)
    assert decode_cursor(cursor, len(values)) == values
    # Safe in a query string as is: no padding, no characters that need escaping.
    assert all(c.isalnum() or c in "-_" for c in cursor)


def test_a_round_tripped_datetime_keeps_its_instant_and_offset() -> None:
    moment = datetime(2025, 3, 30, 1, 30, tzinfo=timezone(timedelta(hours=-7)))
    (back,) = decode_cursor(encode_cursor([moment]), 1)
    assert back == moment
    assert back.utcoffset() == moment.utcoffset()


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "!!!not base64!!!",
        "",
        base64.urlsafe_b64encode(b"not json").decode(),
        base64.urlsafe_b64encode(b'{"u": "x"}').decode(),  # not a list
        base64.urlsafe_b64encode(b'[{"u": "not-a-uuid"}]').decode(),
        base64.urlsafe_b64encode(b'[{"t": "yesterday"}]').decode(),
        base64.urlsafe_b64encode(b"[[1, 2]]").decode(),  # nested values are never made
        base64.urlsafe_b64encode(b'[{"x": 1}]').decode(),
    ],
)
def test_garbage_is_refused_as_an_invalid_cursor(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, 1)


def test_a_cursor_of_another_shape_is_refused() -> None:
    cursor = encode_cursor([new_id(), utc_now()])
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, 1)
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, 3)


# Through the HTTP API


async def _add_sessions(
    db: Database, owner: uuid.UUID, count: int, *, newest: datetime
) -> list[uuid.UUID]:
    """`count` live sessions for `owner`, one second apart, the last made at `newest`; their
    ids are minted at their creation time, as new_id() would have minted them then."""
    made = []
    async with db.session(None, scope=DbScope.auth) as session:
        for age in range(count, 0, -1):
            created = newest - timedelta(seconds=age - 1)
            session_id = ULID.from_datetime(created).to_uuid()
            session.add(
                AuthSession(
                    id=session_id,
                    owner_id=owner,
                    created_at=created,
                    last_seen_at=created,
                    expires_at=utc_now() + timedelta(days=1),
                    user_agent=f"device {count - age}",
                )
            )
            made.append(session_id)
    return made


async def _walk(
    client: httpx.AsyncClient, person: Person, limit: int
) -> tuple[list[dict[str, Any]], list[int]]:
    items: list[dict[str, Any]] = []
    sizes: list[int] = []
    cursor: str | None = None
    for _ in range(50):  # a bound, in case a broken cursor loops
        params: dict[str, str | int] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        response = await client.get(SESSIONS, params=params, headers=person.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"items", "next_cursor"}
        items.extend(body["items"])
        sizes.append(len(body["items"]))
        cursor = body["next_cursor"]
        if cursor is None:
            return items, sizes
    raise AssertionError("pagination never ended")


@pytest.mark.asyncio
async def test_walking_every_page_sees_each_item_once_newest_first(
    client: httpx.AsyncClient, db: Database, user: Person, other_user: Person
) -> None:
    an_hour_ago = utc_now() - timedelta(hours=1)
    made = await _add_sessions(db, user.id, 25, newest=an_hour_ago)
    theirs = await _add_sessions(db, other_user.id, 5, newest=an_hour_ago)
    assert user.principal.session_id is not None
    expected = {user.principal.session_id, *made}

    items, sizes = await _walk(client, user, limit=10)

    assert sizes == [10, 10, 6]
    seen = [decode("ses", item["id"]) for item in items]
    assert len(seen) == len(set(seen))
    assert set(seen) == expected
    assert not set(seen) & {other_user.principal.session_id, *theirs}
    # Newest first: the session signed in just now, then the older ones, most recent first.
    assert seen[0] == user.principal.session_id
    assert items[0]["current"] is True
    assert not any(item["current"] for item in items[1:])
    assert seen[1:] == list(reversed(made))
    created = [datetime.fromisoformat(item["created_at"]) for item in items]
    assert created == sorted(created, reverse=True)


@pytest.mark.asyncio
async def test_a_page_as_large_as_the_list_has_no_next_cursor(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    await _add_sessions(db, user.id, 9, newest=utc_now() - timedelta(minutes=5))
    _, sizes = await _walk(client, user, limit=10)
    assert sizes == [10]
    _, sizes = await _walk(client, user, limit=5)
    assert sizes == [5, 5]


@pytest.mark.asyncio
async def test_the_default_page_is_bounded(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    await _add_sessions(db, user.id, 25, newest=utc_now() - timedelta(minutes=5))
    response = await client.get(SESSIONS, headers=user.headers)
    assert response.status_code == 200
    body = response.json()
    assert 1 <= len(body["items"]) <= MAX_LIMIT
    assert body["next_cursor"] is not None  # 26 sessions do not fit the default page


@pytest.mark.asyncio
async def test_another_persons_list_is_not_reachable_with_their_cursor(
    client: httpx.AsyncClient, db: Database, user: Person, other_user: Person
) -> None:
    await _add_sessions(db, other_user.id, 4, newest=utc_now() - timedelta(minutes=5))
    first = await client.get(SESSIONS, params={"limit": 2}, headers=other_user.headers)
    their_cursor = first.json()["next_cursor"]
    assert their_cursor is not None
    response = await client.get(
        SESSIONS, params={"limit": 10, "cursor": their_cursor}, headers=user.headers
    )
    assert response.status_code == 200
    ids = {decode("ses", item["id"]) for item in response.json()["items"]}
    assert ids <= {user.principal.session_id}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "eyJub3QiOiAiYSBsaXN0In0",  # base64url of a JSON object
        base64.urlsafe_b64encode(b'[{"u": "01935c8e"}]').decode().rstrip("="),
        encode_cursor([uuid.UUID(int=1), uuid.UUID(int=2)]),  # well formed, wrong shape here
    ],
)
async def test_a_bad_cursor_is_a_422_problem(
    client: httpx.AsyncClient, user: Person, cursor: str
) -> None:
    response = await client.get(SESSIONS, params={"cursor": cursor}, headers=user.headers)
    body = assert_problem(response, 422, "invalid-cursor")
    assert "first page" in body["detail"]


@pytest.mark.asyncio
async def test_a_tampered_cursor_is_a_422_problem(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    await _add_sessions(db, user.id, 3, newest=utc_now() - timedelta(minutes=5))
    first = await client.get(SESSIONS, params={"limit": 1}, headers=user.headers)
    cursor = first.json()["next_cursor"]
    assert cursor is not None
    for tampered in (cursor[:-3], cursor[: len(cursor) // 2] + "~~" + cursor[len(cursor) // 2 :]):
        response = await client.get(SESSIONS, params={"cursor": tampered}, headers=user.headers)
        assert_problem(response, 422)


@pytest.mark.asyncio
async def test_an_overlong_cursor_is_a_422_problem(client: httpx.AsyncClient, user: Person) -> None:
    response = await client.get(SESSIONS, params={"cursor": "A" * 600}, headers=user.headers)
    body = assert_problem(response, 422, "validation-failed")
    assert [e["pointer"] for e in body["errors"]] == ["/query/cursor"]


@pytest.mark.asyncio
@pytest.mark.parametrize("limit", [0, -1, MAX_LIMIT + 1, 10_000])
async def test_a_limit_out_of_bounds_is_a_422_problem(
    client: httpx.AsyncClient, user: Person, limit: int
) -> None:
    response = await client.get(SESSIONS, params={"limit": limit}, headers=user.headers)
    body = assert_problem(response, 422, "validation-failed")
    assert [e["pointer"] for e in body["errors"]] == ["/query/limit"]


@pytest.mark.asyncio
@pytest.mark.parametrize("limit", [1, MAX_LIMIT])
async def test_the_limit_bounds_themselves_are_accepted(
    client: httpx.AsyncClient, user: Person, limit: int
) -> None:
    response = await client.get(SESSIONS, params={"limit": limit}, headers=user.headers)
    assert response.status_code == 200, response.text
    assert len(response.json()["items"]) == 1


@pytest.mark.asyncio
async def test_listing_needs_a_token(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get(SESSIONS, params={"cursor": "garbage"}), 401)
