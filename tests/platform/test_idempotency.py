"""`Idempotency-Key` as a platform piece: which answers are kept (exactly those whose changes
commit), the safety nets around opting in, isolation, the purge job, and every product route
that takes a key replaying its first answer without a second effect."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar, Literal

import httpx
import procrastinate
import pytest
import pytest_asyncio
from fastapi import APIRouter, FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from mindspace.platform import jobs
from mindspace.platform.db import Database, DbScope
from mindspace.platform.errors import AppError, Conflict, install_error_handlers, problem_responses
from mindspace.platform.idempotency import IDEMPOTENCY_ERRORS, Idempotent
from mindspace.platform.middleware import RequestContextMiddleware
from mindspace.platform.outbox import DomainEvent, publish
from mindspace.platform.routing import include_flat
from mindspace.platform.schemas import InputModel
from mindspace.platform.web import CurrentPrincipal, UserSession
from tests.conftest import Person, assert_problem

pytestmark = pytest.mark.asyncio
KEY = "4f9c1e2a-7b3d-4c8e-9a6f-0d2b5e8c1f7a"
OTHER_KEY = "01JD8Y2K7P0W4M9C3V6B1N5X8Q"


class Touched(DomainEvent):
    topic: ClassVar[str] = "testing.touched"
    n: int


class KeptRefusal(Conflict):
    """A refusal that is itself a fact, like a session ended because its token was replayed."""

    type = "testing-kept-refusal"
    title = "Refused, and the refusal counts"
    keeps_changes = True


class PlainRefusal(AppError):
    status = 409
    type = "testing-plain-refusal"
    title = "Refused, nothing changed"


class Thing(InputModel):
    outcome: Literal["made", "kept-refusal", "plain-refusal", "crash"] = "made"


def _router(calls: list[str]) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/things",
        status_code=201,
        responses=problem_responses(KeptRefusal, PlainRefusal, *IDEMPOTENCY_ERRORS),
        dependencies=[Idempotent],
    )
    async def make_thing(
        body: Thing, session: UserSession, principal: CurrentPrincipal
    ) -> dict[str, int]:
        calls.append(body.outcome)
        publish(session, Touched(n=len(calls)), owner_id=principal.user_id)
        if body.outcome == "kept-refusal":
            raise KeptRefusal(f"refusal number {len(calls)}")
        if body.outcome == "plain-refusal":
            raise PlainRefusal()
        if body.outcome == "crash":
            raise RuntimeError("a bug")
        return {"n": len(calls)}

    return router


def _serve(app: FastAPI, router: APIRouter, *, flat: bool = True) -> FastAPI:
    """A small app on the product's database, vault and tokens, built the way create_app is."""
    served = FastAPI()
    install_error_handlers(served)
    if flat:
        include_flat(served.router, router)
    else:
        served.include_router(router)
    served.add_middleware(RequestContextMiddleware)
    for name in ("db", "vault", "settings", "authenticator"):
        setattr(served.state, name, getattr(app.state, name))
    return served


@pytest.fixture
def calls() -> list[str]:
    return []


@pytest_asyncio.fixture
async def things(app: FastAPI, db: Database, calls: list[str]) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_serve(app, _router(calls)), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def _scalar(owner_engine: AsyncEngine, sql: str) -> Any:
    async with owner_engine.connect() as conn:
        return (await conn.execute(text(sql))).scalar_one()


async def _touched(owner_engine: AsyncEngine) -> int:
    return int(
        await _scalar(
            owner_engine, "SELECT count(*) FROM outbox_event WHERE topic = 'testing.touched'"
        )
    )


def _keyed(person: Person, key: str = KEY) -> dict[str, str]:
    return {**person.headers, "Idempotency-Key": key}


async def test_a_success_is_kept_with_its_changes(
    things: httpx.AsyncClient, user: Person, calls: list[str], owner_engine: AsyncEngine
) -> None:
    first = await things.post("/things", json={}, headers=_keyed(user))
    again = await things.post("/things", json={}, headers=_keyed(user))
    assert (first.status_code, first.json()) == (201, {"n": 1})
    assert (again.status_code, again.content) == (201, first.content)
    assert again.headers["idempotent-replayed"] == "true"
    assert calls == ["made"]
    assert await _touched(owner_engine) == 1


async def test_a_refusal_that_keeps_its_changes_is_kept_with_them(
    things: httpx.AsyncClient, user: Person, calls: list[str], owner_engine: AsyncEngine
) -> None:
    body = {"outcome": "kept-refusal"}
    first = await things.post("/things", json=body, headers=_keyed(user))
    again = await things.post("/things", json=body, headers=_keyed(user))
    assert assert_problem(first, 409, "testing-kept-refusal")["detail"] == "refusal number 1"
    assert (again.status_code, again.content) == (409, first.content)
    assert again.headers["content-type"] == "application/problem+json"
    assert again.headers["idempotent-replayed"] == "true"
    assert calls == ["kept-refusal"]
    assert await _touched(owner_engine) == 1


@pytest.mark.parametrize(("outcome", "status"), [("plain-refusal", 409), ("crash", 500)])
async def test_an_answer_that_rolls_back_is_not_kept_so_a_retry_runs_again(
    things: httpx.AsyncClient,
    user: Person,
    calls: list[str],
    owner_engine: AsyncEngine,
    outcome: str,
    status: int,
) -> None:
    for _ in range(2):
        assert_problem(
            await things.post("/things", json={"outcome": outcome}, headers=_keyed(user)), status
        )
    assert calls == [outcome, outcome]
    assert await _touched(owner_engine) == 0
    assert await _scalar(owner_engine, "SELECT count(*) FROM idempotency_record") == 0
    # The key is still free for the request once it succeeds.
    made = await things.post("/things", json={"outcome": outcome}, headers=_keyed(user, OTHER_KEY))
    assert made.status_code == status


async def test_without_a_key_nothing_is_kept(
    things: httpx.AsyncClient, user: Person, calls: list[str], owner_engine: AsyncEngine
) -> None:
    for _ in range(2):
        assert (await things.post("/things", json={}, headers=user.headers)).status_code == 201
    assert calls == ["made", "made"]
    assert await _scalar(owner_engine, "SELECT count(*) FROM idempotency_record") == 0


async def test_a_route_served_without_the_idempotent_route_class_fails_closed(
    app: FastAPI, db: Database, user: Person, owner_engine: AsyncEngine
) -> None:
    """Only include_flat serves Idempotent routes properly; any other way must not silently
    run the request without keeping its answer."""
    calls: list[str] = []
    served = _serve(app, _router(calls), flat=False)
    transport = httpx.ASGITransport(app=served, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        keyed = await client.post("/things", json={}, headers=_keyed(user))
        plain = await client.post("/things", json={}, headers=user.headers)
    assert_problem(keyed, 500, "internal-error")
    assert plain.status_code == 201
    assert await _touched(owner_engine) == 1  # the keyed request's change rolled back


async def test_a_route_that_takes_a_key_must_document_its_problems() -> None:
    router = APIRouter()

    @router.post("/things", responses=problem_responses(), dependencies=[Idempotent])
    async def make_thing() -> None: ...

    with pytest.raises(TypeError, match="IDEMPOTENCY_ERRORS"):
        include_flat(APIRouter(), router)


async def test_a_key_is_the_persons_and_the_database_shows_no_one_elses(
    things: httpx.AsyncClient, db: Database, user: Person, other_user: Person, admin: Person
) -> None:
    mine = await things.post("/things", json={}, headers=_keyed(user))
    theirs = await things.post("/things", json={}, headers=_keyed(other_user))
    assert mine.json() == {"n": 1}
    assert theirs.json() == {"n": 2}  # the same key, another person: it ran
    for person, scope in ((user, DbScope.user), (admin, DbScope.admin)):
        async with db.session(person.principal, scope=scope) as session:
            # Deliberately unfiltered, as a bug would write it.
            owners = (await session.execute(text("SELECT owner_id FROM idempotency_record"))).all()
        assert owners == ([(user.id,)] if person is user else [])  # staff never read them


async def test_the_purge_job_deletes_expired_keys_only(
    things: httpx.AsyncClient,
    db: Database,
    user: Person,
    owner_engine: AsyncEngine,
    job_app: procrastinate.App,
) -> None:
    await things.post("/things", json={}, headers=_keyed(user))
    await things.post("/things", json={}, headers=_keyed(user, OTHER_KEY))
    async with owner_engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE idempotency_record SET expires_at = now() - interval '1 minute' "
                "WHERE key = :key"
            ),
            {"key": KEY},
        )

    await job_app.tasks["operations:purge_idempotency_keys"].defer_async(timestamp=0)
    await job_app.run_worker_async(
        wait=False, install_signal_handlers=False, additional_context=jobs.worker_context(db)
    )
    assert await _scalar(owner_engine, "SELECT array_agg(key) FROM idempotency_record") == [
        OTHER_KEY
    ]


SISTER = {"name": "Asha", "relationship": "sister", "channel": "sms", "address": "+44 7911 123456"}
# Every product route that takes a key today, what it creates, and the table that holds it.
ROUTES = [
    ("/api/v1/companion/conversations", {"persona": "companion"}, "companion_conversation"),
    ("/api/v1/journal/entries", {"title": "A quiet day", "body": "<p>Rain</p>"}, "journal_entry"),
    ("/api/v1/mood/checkins", {"score": 6, "note": "Tired"}, "mood_checkin"),
    (
        "/api/v1/reminders",
        {
            "kind": "mood_checkin",
            "title": "Breathe",
            "schedule": {"type": "daily", "time": "20:00"},
        },
        "reminder",
    ),
    ("/api/v1/trusted-contacts", SISTER, "trusted_contact"),
    ("/api/v1/users/me/exports", None, "data_export"),
    (
        "/api/v1/companion/templates/self_care_ideas/run",
        {"input": "low"},
        "companion_template_run",
    ),
]


@pytest.mark.parametrize(("path", "body", "table"), ROUTES, ids=[r[2] for r in ROUTES])
async def test_every_route_that_takes_a_key_replays_without_a_second_effect(
    client: httpx.AsyncClient,
    user: Person,
    owner_engine: AsyncEngine,
    path: str,
    body: dict[str, Any] | None,
    table: str,
) -> None:
    if table == "data_export":  # an export needs a fresh step-up
        step_up = await client.post(
            "/api/v1/auth/step-up", json={"password": user.password}, headers=user.headers
        )
        assert step_up.status_code == 200, step_up.text
    first = await client.post(path, json=body, headers=_keyed(user))
    again = await client.post(path, json=body, headers=_keyed(user))
    assert first.status_code in (200, 201, 202), first.text
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert again.headers["idempotent-replayed"] == "true"
    assert await _scalar(owner_engine, f"SELECT count(*) FROM {table}") == 1  # noqa: S608
    if body is not None:
        changed = await client.post(path, json={**body, "title": "x"}, headers=_keyed(user))
        assert_problem(changed, 422, "idempotency-key-reused")


async def test_the_routes_that_take_a_key_document_it_and_no_others_do(app: FastAPI) -> None:
    keyed: set[str] = set()
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            headers = [p for p in operation.get("parameters", []) if p["in"] == "header"]
            if not any(p["name"] == "Idempotency-Key" for p in headers):
                continue
            keyed.add(path)
            [parameter] = [p for p in headers if p["name"] == "Idempotency-Key"]
            assert parameter["required"] is False
            assert "Idempotent-Replayed" in parameter["description"]
            assert method == "post"
            assert "in progress" in operation["responses"]["409"]["description"]
            assert "different request" in operation["responses"]["422"]["description"]
    assert keyed == {p for p, _, _ in ROUTES} - {
        "/api/v1/companion/templates/self_care_ideas/run"
    } | {
        "/api/v1/companion/conversations/{cnv_id}/messages",
        "/api/v1/companion/templates/{template_id}/run",
    }
