"""Data rights: export everything (once, for me only, for a while) and delete everything."""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import timedelta

import httpx
import procrastinate
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from mindspace.app import build_storage
from mindspace.identity.models import DataExport, UserAccount
from mindspace.identity.service import data_rights
from mindspace.platform.audit import AuditRecord
from mindspace.platform.clock import utc_now
from mindspace.platform.config import Settings
from mindspace.platform.db import Database, DbScope
from mindspace.platform.messaging import OutboundMessage
from tests.conftest import Person, assert_problem, run_background

EXPORTS = "/api/v1/users/me/exports"


async def _step_up(client: httpx.AsyncClient, person: Person) -> None:
    response = await client.post(
        "/api/v1/auth/step-up", json={"password": person.password}, headers=person.headers
    )
    assert response.status_code == 200, response.text


async def _download_link(db: Database) -> str:
    async with db.session(None, scope=DbScope.system) as session:
        body = (
            await session.execute(
                select(OutboundMessage.body).where(OutboundMessage.purpose == "data_export_ready")
            )
        ).scalar_one()
    match = re.search(r"https?://\S+(/api/v1/users/me/exports/\S+)", body)
    assert match
    return match.group(1)


@pytest.mark.asyncio
async def test_an_export_is_built_in_my_scope_and_downloads_once(
    client: httpx.AsyncClient,
    db: Database,
    user: Person,
    other_user: Person,
    job_app: procrastinate.App,
    settings: Settings,
) -> None:
    await _step_up(client, user)
    response = await client.post(EXPORTS, headers=user.headers)
    assert response.status_code == 202, response.text
    export = response.json()
    assert export["status"] == "pending"
    assert export["id"].startswith("exp_")

    await run_background(job_app, db, settings)

    status = await client.get(f"{EXPORTS}/{export['id']}", headers=user.headers)
    assert status.json()["status"] == "ready"
    link = await _download_link(db)

    assert_problem(await client.get(link, headers=other_user.headers), 404)
    assert_problem(await client.get(link), 401)

    archive = await client.get(link, headers=user.headers)
    assert archive.status_code == 200
    assert archive.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(archive.content)) as zipped:
        identity = json.loads(zipped.read("identity.json"))
    assert identity["account"]["email"] == user.email
    assert other_user.email not in archive.content.decode("latin-1")

    assert_problem(await client.get(link, headers=user.headers), 410, "export-link-invalid")


@pytest.mark.asyncio
async def test_an_export_needs_a_fresh_step_up(client: httpx.AsyncClient, user: Person) -> None:
    assert_problem(await client.post(EXPORTS, headers=user.headers), 403, "step-up-required")
    assert_problem(await client.post(EXPORTS), 401)


@pytest.mark.asyncio
async def test_an_expired_or_wrong_link_is_refused(
    client: httpx.AsyncClient,
    db: Database,
    user: Person,
    job_app: procrastinate.App,
    settings: Settings,
) -> None:
    await _step_up(client, user)
    await client.post(EXPORTS, headers=user.headers)
    await run_background(job_app, db, settings)
    link = await _download_link(db)
    wrong = re.sub(r"token=\S+", "token=" + "x" * 43, link)
    assert_problem(await client.get(wrong, headers=user.headers), 410)
    async with db.session(None, scope=DbScope.system) as session:
        await session.execute(update(DataExport).values(expires_at=utc_now() - timedelta(1)))
    assert_problem(await client.get(link, headers=user.headers), 410)


@pytest.mark.asyncio
async def test_export_ids_are_mine_only(
    client: httpx.AsyncClient, user: Person, other_user: Person
) -> None:
    await _step_up(client, user)
    mine = (await client.post(EXPORTS, headers=user.headers)).json()
    assert_problem(await client.get(f"{EXPORTS}/{mine['id']}", headers=other_user.headers), 404)
    assert (await client.get(EXPORTS, headers=other_user.headers)).json()["items"] == []
    assert_problem(
        await client.get(f"{EXPORTS}/usr_01JD8X4V2Q0000000000000000", headers=user.headers), 404
    )
    response = await client.get(f"{EXPORTS}/{mine['id']}/download", headers=user.headers)
    assert_problem(response, 422)


@pytest.mark.asyncio
async def test_deletion_signs_out_hides_and_erases_after_the_grace_period(
    client: httpx.AsyncClient,
    db: Database,
    app: FastAPI,
    user: Person,
    other_user: Person,
    settings: Settings,
) -> None:
    assert_problem(await client.post("/api/v1/users/me/deletion", headers=user.headers), 403)
    await _step_up(client, user)
    response = await client.post("/api/v1/users/me/deletion", headers=user.headers)
    assert response.status_code == 202, response.text
    assert_problem(await client.get("/api/v1/users/me", headers=user.headers), 401)

    storage = build_storage(settings)
    assert await data_rights.erase_due_accounts(db, storage, owned_files=lambda u: []) == 0
    async with db.session(None, scope=DbScope.system) as session:
        await session.execute(
            update(UserAccount)
            .where(UserAccount.id == user.id)
            .values(deletion_due_at=utc_now() - timedelta(seconds=1))
        )
    assert await data_rights.erase_due_accounts(db, storage, owned_files=lambda u: []) == 1

    async with db.session(None, scope=DbScope.system) as session:
        remaining = (await session.execute(select(UserAccount.id))).scalars().all()
        erased = (
            (
                await session.execute(
                    select(AuditRecord.action).where(AuditRecord.target_id == user.id)
                )
            )
            .scalars()
            .all()
        )
    assert user.id not in remaining
    assert other_user.id in remaining
    assert "user.erased" in erased  # the audit trail outlives the account
    assert_problem(await client.post("/api/v1/users/me/deletion"), 401)


@pytest.mark.asyncio
async def test_signing_in_during_the_grace_period_cancels_the_deletion(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    await _step_up(client, user)
    await client.post("/api/v1/users/me/deletion", headers=user.headers)

    response = await client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": user.password}
    )
    assert response.status_code == 200, response.text
    headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
    me = await client.get("/api/v1/users/me", headers=headers)
    assert me.status_code == 200
    async with db.session(None, scope=DbScope.system) as session:
        account = await session.get(UserAccount, user.id)
    assert account is not None
    assert (account.status, account.deletion_due_at) == ("active", None)
    activity = await client.get("/api/v1/users/me/activity", headers=headers)
    kinds = [item["kind"] for item in activity.json()["items"]]
    assert "deletion_cancelled" in kinds
    assert "deletion_requested" in kinds
