"""The inbox over HTTP: list (newest first, cursor, unread filter), unread count, mark read,
mark all read, delete; each with 401, another person's notification (404) and bad input."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from mindspace.notifications.models import Notification
from mindspace.platform.clock import utc_now
from mindspace.platform.db import Database, DbScope
from mindspace.platform.ids import encode, new_id
from tests.conftest import Person, assert_problem

BASE = "/api/v1/notifications"


async def add(db: Database, person: Person, *, n: int = 1, read: bool = False) -> list[uuid.UUID]:
    """Inbox entries made directly (the delivery path has its own tests)."""
    ids = []
    async with db.session(person.principal) as session:
        for i in range(n):
            ids.append(new_id())
            session.add(
                Notification(
                    id=ids[-1],
                    owner_id=person.id,
                    category="community",
                    kind="community_reply",
                    title=f"New reply {i}",
                    body="Someone replied to your post.",
                    data={"post_id": str(uuid.uuid4())},
                    link="/community",
                    read_at=utc_now() if read else None,
                )
            )
    return ids


def ntf(value: uuid.UUID) -> str:
    return encode("ntf", value)


async def unread_in_db(db: Database, person: Person) -> int:
    async with db.session(None, scope=DbScope.system) as session:
        stmt = select(func.count()).where(
            Notification.owner_id == person.id, Notification.read_at.is_(None)
        )
        return int((await session.execute(stmt)).scalar_one())


@pytest.mark.asyncio
async def test_the_inbox_lists_newest_first_in_pages(
    client: httpx.AsyncClient, db: Database, user: Person, other_user: Person
) -> None:
    ids = await add(db, user, n=5)
    await add(db, other_user, n=2)
    first = await client.get(BASE, params={"limit": 3}, headers=user.headers)
    assert first.status_code == 200, first.text
    body = first.json()
    assert [i["id"] for i in body["items"]] == [ntf(i) for i in reversed(ids[2:])]
    item = body["items"][0]
    assert set(item) == {
        "id",
        "category",
        "kind",
        "title",
        "body",
        "data",
        "link",
        "created_at",
        "read_at",
    }
    second = await client.get(
        BASE, params={"limit": 3, "cursor": body["next_cursor"]}, headers=user.headers
    )
    assert [i["id"] for i in second.json()["items"]] == [ntf(i) for i in reversed(ids[:2])]
    assert second.json()["next_cursor"] is None


@pytest.mark.asyncio
async def test_the_unread_filter_and_count(
    client: httpx.AsyncClient, db: Database, user: Person, other_user: Person
) -> None:
    unread = await add(db, user, n=2)
    await add(db, user, n=3, read=True)
    await add(db, other_user, n=4)
    listed = await client.get(BASE, params={"unread": "true"}, headers=user.headers)
    assert [i["id"] for i in listed.json()["items"]] == [ntf(i) for i in reversed(unread)]
    count = await client.get(f"{BASE}/unread-count", headers=user.headers)
    assert count.json() == {"unread": 2}


@pytest.mark.asyncio
async def test_mark_read_then_all_read(
    client: httpx.AsyncClient, db: Database, user: Person, other_user: Person
) -> None:
    ids = await add(db, user, n=3)
    theirs = await add(db, other_user, n=1)
    one = await client.post(f"{BASE}/{ntf(ids[0])}/read", headers=user.headers)
    assert one.status_code == 200, one.text
    assert one.json()["read_at"] is not None
    again = await client.post(f"{BASE}/{ntf(ids[0])}/read", headers=user.headers)
    assert again.json()["read_at"] == one.json()["read_at"]  # reading twice keeps the first time
    assert await unread_in_db(db, user) == 2

    everything = await client.post(f"{BASE}/read-all", headers=user.headers)
    assert everything.json() == {"marked": 2}
    assert await unread_in_db(db, user) == 0
    assert await unread_in_db(db, other_user) == 1
    assert theirs


@pytest.mark.asyncio
async def test_delete_removes_only_that_notification(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    ids = await add(db, user, n=2)
    response = await client.delete(f"{BASE}/{ntf(ids[0])}", headers=user.headers)
    assert response.status_code == 204
    listed = await client.get(BASE, headers=user.headers)
    assert [i["id"] for i in listed.json()["items"]] == [ntf(ids[1])]
    gone = await client.delete(f"{BASE}/{ntf(ids[0])}", headers=user.headers)
    assert_problem(gone, 404, "notification-not-found")


ROUTES: list[tuple[str, str]] = [
    ("GET", BASE),
    ("GET", f"{BASE}/unread-count"),
    ("POST", f"{BASE}/read-all"),
    ("POST", f"{BASE}/{{id}}/read"),
    ("DELETE", f"{BASE}/{{id}}"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_every_inbox_route_needs_a_signed_in_person(
    client: httpx.AsyncClient, db: Database, user: Person, method: str, path: str
) -> None:
    (notification_id,) = await add(db, user)
    response = await client.request(method, path.format(id=ntf(notification_id)))
    assert_problem(response, 401)
    assert await unread_in_db(db, user) == 1


@pytest.mark.asyncio
@pytest.mark.parametrize(("method", "path"), ROUTES[3:])
async def test_another_persons_notification_is_not_found(
    client: httpx.AsyncClient,
    db: Database,
    user: Person,
    other_user: Person,
    method: str,
    path: str,
) -> None:
    (theirs,) = await add(db, other_user)
    response = await client.request(method, path.format(id=ntf(theirs)), headers=user.headers)
    assert_problem(response, 404, "notification-not-found")
    async with db.session(other_user.principal) as session:
        row = await session.get(Notification, theirs)
    assert row is not None
    assert row.read_at is None


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("POST", f"{BASE}/not-an-id/read", 404),
        ("DELETE", f"{BASE}/usr_01JD8X4V2Q0000000000000000", 404),
        ("GET", f"{BASE}?limit=0", 422),
        ("GET", f"{BASE}?limit=101", 422),
        ("GET", f"{BASE}?cursor=%%%garbage", 422),
        ("GET", f"{BASE}?cursor=WyJ4Il0", 422),  # a well-formed cursor of the wrong type
        ("GET", f"{BASE}?unread=maybe", 422),
    ],
)
async def test_bad_input_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, db: Database, user: Person, method: str, path: str, status: int
) -> None:
    await add(db, user, n=2)
    response = await client.request(method, path, headers=user.headers)
    body: dict[str, Any] = assert_problem(response, status)
    assert body
    assert await unread_in_db(db, user) == 2
