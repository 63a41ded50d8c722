"""Companion test helpers, and a local HTTP server that speaks the OpenAI chat-completions
streaming protocol with replies the tests choose."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import procrastinate
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from mindspace.companion import api as companion_api
from mindspace.companion.credits import ModelReply, Paid, Reservation
from mindspace.companion.entitlements import Plan
from mindspace.platform.config import Settings
from mindspace.platform.db import Database
from mindspace.platform.security import Principal
from tests.conftest import Person, run_background, serve_locally

BASE = "/api/v1/companion"
MEMORIES = f"{BASE}/memories"
PREFERENCES = "/api/v1/users/me/preferences"
CRISIS_TEXT = "I want to kill myself tonight"
# What a careless model might write: a means and an amount.
METHOD_REPLY = "If you want, you could take 50 paracetamol tablets, that would be a lethal dose."
SAFE_REPLY = "It sounds like a heavy day. I'm glad you told me. What felt hardest?"


async def start(client: httpx.AsyncClient, person: Person, persona: str = "companion") -> str:
    response = await client.post(
        f"{BASE}/conversations", json={"persona": persona}, headers=person.headers
    )
    assert response.status_code == 201, response.text
    conversation_id: str = response.json()["id"]
    return conversation_id


async def send(
    client: httpx.AsyncClient, person: Person, conversation_id: str, text_: str
) -> dict[str, Any]:
    response = await client.post(
        f"{BASE}/conversations/{conversation_id}/messages",
        json={"text": text_},
        headers=person.headers,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def count(owner_engine: AsyncEngine, table: str) -> int:
    async with owner_engine.connect() as conn:
        return int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())  # noqa: S608


async def set_privacy(client: httpx.AsyncClient, person: Person, **options: bool) -> None:
    response = await client.patch(PREFERENCES, json={"privacy": options}, headers=person.headers)
    assert response.status_code == 200, response.text


async def listed_memories(client: httpx.AsyncClient, person: Person) -> list[dict[str, Any]]:
    response = await client.get(MEMORIES, headers=person.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


@pytest.fixture
def background(job_app: procrastinate.App, db: Database, settings: Settings) -> Any:
    """One pass of the worker: relay the events, run the jobs they queued."""

    async def run() -> None:
        await run_background(job_app, db, settings)

    return run


@pytest.fixture
def settings_of(app: FastAPI) -> Settings:
    """The running app's settings; the companion reads them per request, so a test changes
    them with `monkeypatch.setattr`, which puts them back afterwards."""
    settings: Settings = app.state.settings
    return settings


@dataclass
class ModelServer:
    url: str
    # model name -> the reply it streams; "down" answers 500.
    replies: dict[str, str] = field(default_factory=dict)
    bodies: list[dict[str, Any]] = field(default_factory=list)


def _openai_sse(text_: str) -> list[bytes]:
    words = text_.split(" ")
    events: list[Any] = [{"choices": [{"delta": {"role": "assistant"}}]}]
    events += [
        {"choices": [{"delta": {"content": w + (" " if i < len(words) - 1 else "")}}]}
        for i, w in enumerate(words)
    ]
    events.append({"choices": [{"delta": {}, "finish_reason": "stop"}]})
    return [b"data: " + orjson.dumps(e) + b"\n\n" for e in events] + [b"data: [DONE]\n\n"]


@pytest_asyncio.fixture
async def model_server() -> AsyncIterator[ModelServer]:
    server_state = ModelServer(url="")

    async def completions(request: Request) -> Response:
        body = orjson.loads(await request.body())
        server_state.bodies.append(body)
        reply = server_state.replies.get(body["model"])
        if reply is None:
            return JSONResponse({"error": {"message": "no such model"}}, status_code=500)

        async def stream() -> AsyncIterator[bytes]:
            for part in _openai_sse(reply):
                yield part

        return StreamingResponse(stream(), media_type="text/event-stream")

    app = Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])
    async with serve_locally(app) as base_url:
        server_state.url = f"{base_url}/v1"
        yield server_state


@pytest.fixture
def use_model(
    model_server: ModelServer, settings_of: Settings, monkeypatch: pytest.MonkeyPatch
) -> ModelServer:
    """The app's companion talks to the local OpenAI-compatible server, model "chosen"."""
    monkeypatch.setattr(settings_of, "companion_engine", "openai")
    monkeypatch.setattr(settings_of, "companion_model_base_url", model_server.url)
    monkeypatch.setattr(settings_of, "companion_model", "chosen")
    monkeypatch.setattr(settings_of, "companion_model_timeout_s", 2.0)
    return model_server


async def run_template(
    client: httpx.AsyncClient, person: Person, template: str, value: str | None = None
) -> dict[str, Any]:
    body = {} if value is None else {"input": value}
    response = await client.post(
        f"{BASE}/templates/{template}/run", json=body, headers=person.headers
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


@dataclass(frozen=True)
class Debit:
    reply: ModelReply
    credits: int
    # The reply it names was visible in the debiting session but not yet committed: the debit
    # is part of the same transaction as the reply.
    in_the_replys_transaction: bool


class LedgerStandIn:
    """A test implementation of the `Credits` seam (companion.credits). The ledger that will
    implement it for real does not exist yet; this one holds the companion to the seam's
    contract. Balances live in memory; a reservation takes a PostgreSQL advisory lock for the
    rest of the transaction, as the ledger's lock on the balance row will; every call is kept."""

    def __init__(self, owner_engine: AsyncEngine) -> None:
        self._owner_engine = owner_engine
        self.balances: dict[uuid.UUID, int] = {}
        self.reservations = 0
        self.debits: list[Debit] = []

    async def reserve(self, session: AsyncSession, principal: Principal) -> Reservation | None:
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:person, 0))"),
            {"person": str(principal.user_id)},
        )
        self.reservations += 1
        return Reservation(credits=1) if self.balances.get(principal.user_id, 0) > 0 else None

    async def debit(
        self,
        session: AsyncSession,
        principal: Principal,
        reservation: Reservation,
        *,
        reply: ModelReply,
    ) -> None:
        table = {
            Paid.companion_message: "companion_message",
            Paid.template_run: "companion_template_run",
        }[reply.paid]
        named = text(f"SELECT count(*) FROM {table} WHERE id = :id")  # noqa: S608 - fixed names
        here = await session.scalar(named, {"id": reply.id})
        async with self._owner_engine.connect() as conn:
            committed = (await conn.execute(named, {"id": reply.id})).scalar_one()
        self.debits.append(Debit(reply, reservation.credits, here == 1 and committed == 0))
        self.balances[principal.user_id] -= reservation.credits


@pytest.fixture
def ledger(app: FastAPI, owner_engine: AsyncEngine) -> Iterator[LedgerStandIn]:
    """The app's companion charges through a `LedgerStandIn` for this test."""
    stand_in = LedgerStandIn(owner_engine)
    app.dependency_overrides[companion_api.credits_for] = lambda: stand_in
    yield stand_in
    app.dependency_overrides.pop(companion_api.credits_for, None)


class PlanFor:
    """A test implementation of the `Entitlements` seam (the store's subscriptions, which do not
    exist yet): one plan for everyone."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan

    async def plan_for(self, session: AsyncSession, principal: Principal) -> Plan:
        return self.plan


PAID_TEMPLATES = frozenset({"body_scan", "self_compassion_letter"})


@pytest.fixture
def plus_plan(app: FastAPI) -> Iterator[Plan]:
    """Everyone is on a plan that includes the paid templates, for this test."""
    plan = Plan(name="plus", daily_messages=100, paid_templates=PAID_TEMPLATES)
    app.dependency_overrides[companion_api.entitlements_for] = lambda: PlanFor(plan)
    yield plan
    app.dependency_overrides.pop(companion_api.entitlements_for, None)
