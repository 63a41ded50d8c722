"""Admin broadcasts: audited, queued as a job, sent in throttled batches, one inbox entry per
recipient even when the job runs again; staff only."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from mindspace.identity import service as identity
from mindspace.notifications import dispatch
from mindspace.notifications.models import Broadcast, Notification
from mindspace.platform.audit import AuditRecord
from mindspace.platform.db import Database, DbScope
from mindspace.platform.security import Role
from tests.conftest import Person, assert_problem, create_user
from tests.notifications.conftest import Background, LiveRecorder
from tests.notifications.test_delivery import identity_update

URL = "/api/v1/admin/notifications/broadcasts"


def body(**segment: Any) -> dict[str, Any]:
    return {
        "category": "product_updates",
        "title": "New: breathing exercises",
        "body": "Find them under Meditate.",
        "segment": segment or {"kind": "all"},
    }


async def inbox_owners(db: Database) -> list[Any]:
    async with db.session(None, scope=DbScope.system) as session:
        stmt = select(Notification.owner_id, Notification.title).order_by(Notification.owner_id)
        return list((await session.execute(stmt)).all())


@pytest.mark.asyncio
async def test_a_broadcast_reaches_everyone_once_in_batches(
    client: httpx.AsyncClient,
    db: Database,
    app: FastAPI,
    admin: Person,
    background: Background,
) -> None:
    people = [await create_user(db, app.state.tokens) for _ in range(4)]
    background.settings = background.settings.model_copy(
        update={"broadcast_batch_size": 2, "broadcast_pause_s": 30}
    )
    background.live = LiveRecorder()
    response = await client.post(URL, json=body(), headers=admin.headers)
    assert response.status_code == 202, response.text
    created = response.json()
    assert created["id"].startswith("nbc_")
    assert created["status"] == "queued"

    await background.run()
    # Throttled: one batch went, the next waits its turn.
    (waiting,) = await background.waiting_jobs()
    assert waiting["task_name"] == "notifications:broadcast"
    assert waiting["in_future"]
    assert len(await inbox_owners(db)) == 2

    for _ in range(3):
        await background.fast_forward()
        await background.run()
    owners = {o for o, _ in await inbox_owners(db)}
    assert owners == {p.id for p in [*people, admin]}
    assert len(await inbox_owners(db)) == 5
    assert len(background.live.events) == 5

    status = await client.get(f"{URL}/{created['id']}", headers=admin.headers)
    assert status.json()["status"] == "done"
    assert status.json()["recipients"] == 5
    async with db.session(None, scope=DbScope.system) as session:
        actions = (await session.execute(select(AuditRecord.action))).scalars().all()
    assert "notification.broadcast" in actions


@pytest.mark.asyncio
async def test_a_rerun_of_a_batch_gives_no_one_a_second_copy(
    db: Database, app: FastAPI, admin: Person, client: httpx.AsyncClient
) -> None:
    await create_user(db, app.state.tokens)
    response = await client.post(URL, json=body(), headers=admin.headers)
    async with db.session(None, scope=DbScope.system) as session:
        (broadcast,) = (await session.execute(select(Broadcast))).scalars().all()
    first = await dispatch.broadcast_batch(db, broadcast_id=broadcast.id, batch_size=10)
    assert len(first.created) == 2
    async with db.session(None, scope=DbScope.system) as session:
        # As if the job died after its batch committed and ran again from the old cursor.
        row = await session.get(Broadcast, broadcast.id)
        assert row is not None
        row.status, row.cursor = "sending", None
    again = await dispatch.broadcast_batch(db, broadcast_id=broadcast.id, batch_size=10)
    assert again.created == []
    assert len(await inbox_owners(db)) == 2
    assert response.status_code == 202


@pytest.mark.asyncio
async def test_a_segment_by_role_or_country_and_consent_for_marketing(
    db: Database, app: FastAPI, admin: Person, client: httpx.AsyncClient, background: Background
) -> None:
    expert = await create_user(db, app.state.tokens, roles=(Role.member, Role.expert))
    spanish = await create_user(db, app.state.tokens, country="ES")
    opted_in = await create_user(db, app.state.tokens, country="ES")
    async with db.session(opted_in.principal) as session:
        await identity.update_preferences(
            session, opted_in.principal, changes=identity_update({"marketing": {"in_app": True}})
        )
    await client.post(URL, json=body(kind="role", role="expert"), headers=admin.headers)
    marketing = {**body(kind="country", country="ES"), "category": "marketing"}
    await client.post(URL, json=marketing, headers=admin.headers)
    await background.run()
    owners = [o for o, _ in await inbox_owners(db)]
    # Marketing is opt-in: the Spanish member who never opted in gets nothing.
    assert sorted(owners) == sorted([expert.id, opted_in.id])
    assert spanish.id not in owners


@pytest.mark.asyncio
async def test_members_may_not_broadcast(
    client: httpx.AsyncClient, db: Database, user: Person, admin: Person
) -> None:
    assert_problem(await client.post(URL, json=body(), headers=user.headers), 403)
    assert_problem(await client.post(URL, json=body()), 401)
    created = await client.post(URL, json=body(), headers=admin.headers)
    path = f"{URL}/{created.json()['id']}"
    assert_problem(await client.get(path, headers=user.headers), 403)
    assert_problem(await client.get(path), 401)
    async with db.session(None, scope=DbScope.system) as session:
        assert len((await session.execute(select(Broadcast))).scalars().all()) == 1


@pytest.mark.asyncio
async def test_an_unknown_broadcast_is_not_found(client: httpx.AsyncClient, admin: Person) -> None:
    response = await client.get(f"{URL}/nbc_01JD8X4V2Q0000000000000000", headers=admin.headers)
    assert_problem(response, 404, "broadcast-not-found")
    assert_problem(
        await client.get(f"{URL}/ntf_01JD8X4V2Q0000000000000000", headers=admin.headers), 404
    )


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "bad",
    [
        {"segment": {"kind": "role"}},
        {"segment": {"kind": "country", "country": "spain"}},
        {"segment": {"kind": "all", "role": "expert"}},
        {"category": "payments"},
        {"title": ""},
        {"body": "x" * 1001},
        {"extra": 1},
    ],
)
async def test_bad_broadcasts_are_refused_and_queue_nothing(
    client: httpx.AsyncClient, db: Database, admin: Person, bad: dict[str, Any]
) -> None:
    response = await client.post(URL, json={**body(), **bad}, headers=admin.headers)
    assert_problem(response, 422)
    async with db.session(None, scope=DbScope.system) as session:
        assert (await session.execute(select(Broadcast))).scalars().all() == []
