"""Staff see background jobs whose retries ran out and can send one round again (audited)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import procrastinate
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import select, text

from mindspace.platform import jobs
from mindspace.platform.audit import AuditRecord
from mindspace.platform.db import Database, DbScope
from tests.conftest import Person, assert_problem

FAILED = "/api/v1/admin/jobs/failed"
blueprint = procrastinate.Blueprint()
outcomes: list[str] = []
provider = {"up": False}


@blueprint.task(name="fragile", retry=False)
async def fragile(attempt_note: str) -> None:
    outcomes.append(attempt_note)
    if not provider["up"]:
        raise ConnectionError("the provider is down")


@pytest_asyncio.fixture(scope="module")
async def _module_fragile_app(app: FastAPI) -> AsyncIterator[procrastinate.App]:
    job_app = jobs.build_app(app.state.db.engine.url, {"testing_ops": blueprint})
    async with job_app.open_async():
        yield job_app


@pytest_asyncio.fixture
async def fragile_app(
    db: Database, _module_fragile_app: procrastinate.App
) -> AsyncIterator[procrastinate.App]:
    yield _module_fragile_app
    outcomes.clear()
    provider["up"] = False


async def _run(job_app: procrastinate.App, db: Database) -> None:
    await job_app.run_worker_async(
        wait=False, install_signal_handlers=False, additional_context=jobs.worker_context(db)
    )


async def _ran_job(job_app: procrastinate.App, db: Database, note: str = "first") -> int:
    """A job that really ran: while the provider is down its task raises and, without
    retries, fails for good."""
    job_id = await job_app.tasks["testing_ops:fragile"].defer_async(attempt_note=note)
    await _run(job_app, db)
    return job_id


async def _status(db: Database, job_id: int) -> str:
    async with db.session(None, scope=DbScope.system) as session:
        status = await session.scalar(
            text("SELECT status FROM procrastinate_jobs WHERE id = :id"), {"id": job_id}
        )
    return str(status)


async def _audit(db: Database, action: str) -> list[AuditRecord]:
    async with db.session(None, scope=DbScope.system) as session:
        stmt = select(AuditRecord).where(AuditRecord.action == action)
        return list((await session.execute(stmt)).scalars())


@pytest.mark.asyncio
async def test_staff_list_failed_jobs_and_retry_one(
    client: httpx.AsyncClient,
    db: Database,
    admin: Person,
    fragile_app: procrastinate.App,
) -> None:
    job_id = await _ran_job(fragile_app, db)
    provider["up"] = True
    succeeded = await _ran_job(fragile_app, db, "fine")
    assert outcomes == ["first", "fine"]

    listed = await client.get(FAILED, headers=admin.headers)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert [j["id"] for j in body["items"]] == [job_id]  # the succeeded one is not listed
    (job,) = body["items"]
    assert job["task_name"] == "testing_ops:fragile"
    assert job["status"] == "failed"
    assert job["args"] == {"attempt_note": "first"}
    assert job["failed_at"] is not None
    assert body["next_cursor"] is None
    assert succeeded != job_id

    retried = await client.post(
        f"/api/v1/admin/jobs/{job_id}/retry",
        json={"reason": "provider is back"},
        headers=admin.headers,
    )
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "todo"
    await _run(fragile_app, db)
    assert outcomes == ["first", "fine", "first"]
    assert await _status(db, job_id) == "succeeded"
    (audit,) = await _audit(db, "job.retry")
    assert audit.actor_id == admin.id
    assert audit.details == {"job_id": job_id, "reason": "provider is back"}
    assert len(await _audit(db, "job.list_failed")) == 1


@pytest.mark.asyncio
async def test_failed_jobs_come_in_pages(
    client: httpx.AsyncClient, db: Database, admin: Person, fragile_app: procrastinate.App
) -> None:
    ids = [await _ran_job(fragile_app, db) for _ in range(3)]

    first = (await client.get(FAILED, params={"limit": 2}, headers=admin.headers)).json()
    assert [j["id"] for j in first["items"]] == [ids[2], ids[1]]
    second = await client.get(
        FAILED, params={"limit": 2, "cursor": first["next_cursor"]}, headers=admin.headers
    )
    assert [j["id"] for j in second.json()["items"]] == [ids[0]]
    assert second.json()["next_cursor"] is None

    by_task = await client.get(
        FAILED, params={"task": "identity:build_export"}, headers=admin.headers
    )
    assert by_task.json()["items"] == []


@pytest.mark.asyncio
async def test_failed_jobs_need_staff(
    client: httpx.AsyncClient, user: Person, db: Database, fragile_app: procrastinate.App
) -> None:
    job_id = await _ran_job(fragile_app, db)
    assert_problem(await client.get(FAILED), 401)
    assert_problem(await client.get(FAILED, headers=user.headers), 403, "forbidden")
    retry = f"/api/v1/admin/jobs/{job_id}/retry"
    assert_problem(await client.post(retry, json={"reason": "x"}), 401)
    assert_problem(
        await client.post(retry, json={"reason": "x"}, headers=user.headers), 403, "forbidden"
    )
    assert await _status(db, job_id) == "failed"
    assert await _audit(db, "job.retry") == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 101}, {"cursor": "not-a-cursor"}, {"task": "DROP TABLE"}],
)
async def test_bad_listing_parameters_are_refused(
    client: httpx.AsyncClient, admin: Person, params: dict[str, str | int]
) -> None:
    assert_problem(await client.get(FAILED, params=params, headers=admin.headers), 422)


@pytest.mark.asyncio
async def test_only_failed_jobs_can_be_retried(
    client: httpx.AsyncClient, db: Database, admin: Person, fragile_app: procrastinate.App
) -> None:
    provider["up"] = True
    succeeded = await _ran_job(fragile_app, db)
    assert await _status(db, succeeded) == "succeeded"
    for job_id in (succeeded, 999_999_999, "abc", "-1", "0", "1e3"):
        response = await client.post(
            f"/api/v1/admin/jobs/{job_id}/retry", json={"reason": "why"}, headers=admin.headers
        )
        assert_problem(response, 404)
    assert await _status(db, succeeded) == "succeeded"
    assert await _audit(db, "job.retry") == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "body", [{}, {"reason": ""}, {"reason": "x" * 501}, {"reason": "ok", "status": "todo"}, None]
)
async def test_a_retry_without_a_valid_reason_changes_nothing(
    client: httpx.AsyncClient,
    db: Database,
    admin: Person,
    fragile_app: procrastinate.App,
    body: dict[str, object] | None,
) -> None:
    job_id = await _ran_job(fragile_app, db)
    response = await client.post(
        f"/api/v1/admin/jobs/{job_id}/retry", json=body, headers=admin.headers
    )
    assert_problem(response, 422)
    assert await _status(db, job_id) == "failed"
    assert await _audit(db, "job.retry") == []
