"""A message sent twice on a bad connection is one turn: `Idempotency-Key` on the companion's
message send and conversation start, against the real app and PostgreSQL through HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from mindspace.identity.service import avatar, data_rights
from mindspace.platform.config import Settings
from mindspace.platform.db import Database
from tests.companion.conftest import BASE, SAFE_REPLY, _openai_sse, count, start
from tests.conftest import Person, assert_problem, database_dump, serve_locally

pytestmark = pytest.mark.asyncio
KEY = "01JD8X4M0Q6V9K2T7B3N5R8C1A"
OTHER_KEY = "9b2f6c0e-4d1a-4e8b-a7c3-5f0d2e1b8a96"


def _keyed(person: Person, key: str = KEY, **extra: str) -> dict[str, str]:
    return {**person.headers, "Idempotency-Key": key, **extra}


def _messages(conversation: str) -> str:
    return f"{BASE}/conversations/{conversation}/messages"


async def _person_messages(owner_engine: AsyncEngine) -> int:
    async with owner_engine.connect() as conn:
        sent = await conn.execute(
            text("SELECT count(*) FROM companion_message WHERE author = 'person'")
        )
        return int(sent.scalar_one())


async def test_a_retried_message_is_one_turn_and_gets_the_first_reply(
    client: httpx.AsyncClient, user: Person, owner_engine: AsyncEngine
) -> None:
    conversation = await start(client, user)
    body = {"text": "Work has been a lot this week"}
    first = await client.post(_messages(conversation), json=body, headers=_keyed(user))
    messages = await count(owner_engine, "companion_message")
    again = await client.post(_messages(conversation), json=body, headers=_keyed(user))

    assert first.status_code == again.status_code == 200
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert again.headers["content-type"] == first.headers["content-type"]
    assert again.headers["x-request-id"] != first.headers["x-request-id"]
    assert await count(owner_engine, "companion_message") == messages
    assert await _person_messages(owner_engine) == 1
    assert await count(owner_engine, "idempotency_record") == 1


async def test_the_kept_response_commits_in_the_turns_own_transaction(
    client: httpx.AsyncClient, user: Person, owner_engine: AsyncEngine
) -> None:
    conversation = await start(client, user)
    response = await client.post(
        _messages(conversation), json={"text": "hello"}, headers=_keyed(user)
    )
    assert response.status_code == 200
    async with owner_engine.connect() as conn:
        # xmin is the id of the transaction that wrote a row.
        record = (await conn.execute(text("SELECT xmin::text FROM idempotency_record"))).scalar()
        turn = (
            await conn.execute(
                text("SELECT DISTINCT xmin::text FROM companion_message WHERE kind <> 'disclosure'")
            )
        ).scalars()
    assert set(turn) == {record}


async def test_a_streamed_turn_is_replayed_as_the_same_event_stream(
    client: httpx.AsyncClient, user: Person, owner_engine: AsyncEngine
) -> None:
    conversation = await start(client, user)
    headers = _keyed(user, Accept="text/event-stream")
    body = {"text": "I could not sleep again"}
    first = await client.post(_messages(conversation), json=body, headers=headers)
    again = await client.post(_messages(conversation), json=body, headers=headers)
    # The key names one request and its one answer, whatever the retry asks for.
    as_json = await client.post(_messages(conversation), json=body, headers=_keyed(user))

    assert first.headers["content-type"].startswith("text/event-stream")
    assert b"event: companion.turn.completed" in first.content
    assert (again.status_code, again.content) == (200, first.content)
    assert again.headers["content-type"] == first.headers["content-type"]
    assert again.headers["idempotent-replayed"] == "true"
    assert as_json.content == first.content
    assert await _person_messages(owner_engine) == 1


async def test_starting_a_conversation_twice_with_one_key_starts_one(
    client: httpx.AsyncClient, user: Person, owner_engine: AsyncEngine
) -> None:
    url, body = f"{BASE}/conversations", {"persona": "companion"}
    first = await client.post(url, json=body, headers=_keyed(user))
    again = await client.post(url, json=body, headers=_keyed(user))
    other = await client.post(url, json=body, headers=_keyed(user, OTHER_KEY))

    assert first.status_code == again.status_code == other.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert other.json()["id"] != first.json()["id"]
    assert await count(owner_engine, "companion_conversation") == 2


async def test_the_same_key_for_a_different_message_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, user: Person, owner_engine: AsyncEngine
) -> None:
    conversation = await start(client, user)
    elsewhere = await start(client, user)
    url = _messages(conversation)
    await client.post(url, json={"text": "first words"}, headers=_keyed(user))
    before = await count(owner_engine, "companion_message")

    changed = await client.post(url, json={"text": "other words"}, headers=_keyed(user))
    moved = await client.post(
        _messages(elsewhere), json={"text": "first words"}, headers=_keyed(user)
    )
    assert_problem(changed, 422, "idempotency-key-reused")
    assert_problem(moved, 422, "idempotency-key-reused")
    assert await count(owner_engine, "companion_message") == before
    # JSON is compared by value: the same message written differently is the same request.
    respaced = await client.post(
        url,
        content=b'{ "text" :  "first words" }',
        headers=_keyed(user, **{"Content-Type": "application/json"}),
    )
    assert respaced.headers["idempotent-replayed"] == "true"


async def test_identical_requests_at_once_make_one_turn(
    client: httpx.AsyncClient, user: Person, owner_engine: AsyncEngine
) -> None:
    conversation = await start(client, user)
    responses = await asyncio.gather(
        *(
            client.post(_messages(conversation), json={"text": "at once"}, headers=_keyed(user))
            for _ in range(4)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {200, 409}, [r.text for r in responses]
    answered = [r for r in responses if r.status_code == 200]
    assert len([r for r in answered if "idempotent-replayed" not in r.headers]) == 1
    assert len({r.content for r in answered}) == 1
    for refused in (r for r in responses if r.status_code == 409):
        assert assert_problem(refused, 409, "idempotency-key-in-use")
        assert refused.headers["retry-after"] == "1"
    assert await _person_messages(owner_engine) == 1


@dataclass
class GatedModel:
    """An OpenAI-compatible server that holds its reply until the test releases it."""

    url: str = ""
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    calls: int = 0


@pytest_asyncio.fixture
async def gated_model(
    settings_of: Settings, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[GatedModel]:
    gate = GatedModel()

    async def completions(request: Request) -> Response:
        gate.calls += 1
        gate.arrived.set()
        await gate.release.wait()

        async def stream() -> AsyncIterator[bytes]:
            for part in _openai_sse(SAFE_REPLY):
                yield part

        return StreamingResponse(stream(), media_type="text/event-stream")

    app = Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])
    async with serve_locally(app) as base_url:
        gate.url = f"{base_url}/v1"
        monkeypatch.setattr(settings_of, "companion_engine", "openai")
        monkeypatch.setattr(settings_of, "companion_model_base_url", gate.url)
        monkeypatch.setattr(settings_of, "companion_model", "chosen")
        monkeypatch.setattr(settings_of, "companion_model_timeout_s", 10.0)
        yield gate
        gate.release.set()


async def test_a_retry_while_the_first_is_still_thinking_is_told_to_wait_then_replayed(
    client: httpx.AsyncClient, user: Person, owner_engine: AsyncEngine, gated_model: GatedModel
) -> None:
    conversation = await start(client, user)
    body = {"text": "Can we talk about my week?"}
    first = asyncio.create_task(
        client.post(_messages(conversation), json=body, headers=_keyed(user))
    )
    await asyncio.wait_for(gated_model.arrived.wait(), 10)  # the first holds the key

    busy = await client.post(_messages(conversation), json=body, headers=_keyed(user))
    assert_problem(busy, 409, "idempotency-key-in-use")
    assert busy.headers["retry-after"] == "1"

    gated_model.release.set()
    answered = await asyncio.wait_for(first, 10)
    assert answered.status_code == 200, answered.text
    assert answered.json()["replies"][0]["content"] == SAFE_REPLY
    replayed = await client.post(_messages(conversation), json=body, headers=_keyed(user))
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.content == answered.content
    assert gated_model.calls == 1
    assert await _person_messages(owner_engine) == 1


async def test_another_persons_identical_key_is_their_own(
    client: httpx.AsyncClient, user: Person, other_user: Person, owner_engine: AsyncEngine
) -> None:
    mine = await start(client, user)
    theirs = await start(client, other_user)
    body = {"text": "Quixotic marmalade"}
    my_turn = await client.post(_messages(mine), json=body, headers=_keyed(user))
    their_turn = await client.post(_messages(theirs), json=body, headers=_keyed(other_user))

    assert my_turn.status_code == their_turn.status_code == 200
    assert "idempotent-replayed" not in their_turn.headers
    assert their_turn.json()["conversation"]["id"] == theirs
    assert await _person_messages(owner_engine) == 2
    # My key on their conversation: not found, as without a key, and nothing kept.
    records = await count(owner_engine, "idempotency_record")
    assert_problem(
        await client.post(_messages(theirs), json=body, headers=_keyed(user, OTHER_KEY)), 404
    )
    assert await count(owner_engine, "idempotency_record") == records


async def test_an_expired_key_runs_the_request_again(
    client: httpx.AsyncClient, user: Person, owner_engine: AsyncEngine
) -> None:
    conversation = await start(client, user)
    body = {"text": "same words, a day later"}
    await client.post(_messages(conversation), json=body, headers=_keyed(user))
    async with owner_engine.begin() as conn:
        await conn.execute(
            text("UPDATE idempotency_record SET expires_at = now() - interval '1 second'")
        )
    later = await client.post(_messages(conversation), json=body, headers=_keyed(user))

    assert later.status_code == 200
    assert "idempotent-replayed" not in later.headers
    assert await _person_messages(owner_engine) == 2
    async with owner_engine.connect() as conn:
        fresh = (
            await conn.execute(text("SELECT expires_at > now() FROM idempotency_record"))
        ).scalars()
        assert list(fresh) == [True]  # the key now names the new request


async def test_keys_live_as_long_as_the_setting_says(
    client: httpx.AsyncClient,
    user: Person,
    owner_engine: AsyncEngine,
    settings_of: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings_of, "idempotency_ttl_hours", 2)
    conversation = await start(client, user)
    await client.post(_messages(conversation), json={"text": "hi"}, headers=_keyed(user))
    async with owner_engine.connect() as conn:
        lifetime = (
            await conn.execute(text("SELECT expires_at - created_at FROM idempotency_record"))
        ).scalar_one()
    assert lifetime == timedelta(hours=2)


async def _dump(owner_engine: AsyncEngine) -> str:
    async with owner_engine.connect() as conn:
        rows = await conn.execute(text("SELECT t::text FROM idempotency_record t"))
        return "\n".join(r[0] for r in rows)


async def test_a_kept_reply_is_sealed_at_rest(
    client: httpx.AsyncClient, user: Person, owner_engine: AsyncEngine
) -> None:
    conversation = await start(client, user)
    secret = "Zanzibar marmalade"
    turn = await client.post(_messages(conversation), json={"text": secret}, headers=_keyed(user))
    reply = turn.json()["replies"][0]["content"]
    dump = await database_dump(owner_engine)

    assert KEY in dump  # the dump does read the row
    for words in (secret, reply[:40], "companion.turn", '"replies"'):
        assert words.lower() not in dump.lower(), words
        assert words.encode().hex() not in dump, words


async def test_erasing_the_account_takes_its_kept_responses(
    client: httpx.AsyncClient,
    db: Database,
    app: FastAPI,
    user: Person,
    other_user: Person,
    owner_engine: AsyncEngine,
) -> None:
    for person in (user, other_user):
        conversation = await start(client, person)
        await client.post(_messages(conversation), json={"text": "hi"}, headers=_keyed(person))
    async with owner_engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE user_account SET status = 'pending_deletion', "
                "deletion_due_at = now() - interval '1 minute' WHERE id = :id"
            ),
            {"id": user.id},
        )
    await data_rights.erase_due_accounts(db, app.state.storage, owned_files=avatar.avatar_files)
    async with owner_engine.connect() as conn:
        owners = (await conn.execute(text("SELECT owner_id FROM idempotency_record"))).scalars()
        assert list(owners) == [other_user.id]


@pytest.mark.parametrize(
    "key",
    [
        "",
        "too-short",
        "x" * 256,
        "has spaces in the key",
        '"unbalanced-quote-0123456789',
        "semi;colons;are;not;keys",
        "é" * 20,
    ],
)
async def test_a_malformed_key_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, user: Person, owner_engine: AsyncEngine, key: str
) -> None:
    conversation = await start(client, user)
    before = await count(owner_engine, "companion_message")
    response = await client.post(
        _messages(conversation),
        json={"text": "hello"},
        headers=[
            *((name.encode(), value.encode()) for name, value in user.headers.items()),
            (b"Idempotency-Key", key.encode("latin-1")),
        ],
    )
    problem = assert_problem(response, 422, "validation-failed")
    assert [e["pointer"] for e in problem["errors"]] == ["/header/Idempotency-Key"]
    assert await count(owner_engine, "companion_message") == before
    assert await count(owner_engine, "idempotency_record") == 0


async def test_a_quoted_key_is_the_same_key(
    client: httpx.AsyncClient, user: Person, owner_engine: AsyncEngine
) -> None:
    conversation = await start(client, user)
    body = {"text": "hello"}
    await client.post(_messages(conversation), json=body, headers=_keyed(user, f'"{KEY}"'))
    again = await client.post(_messages(conversation), json=body, headers=_keyed(user))
    assert again.headers["idempotent-replayed"] == "true"
    assert await _person_messages(owner_engine) == 1


async def test_no_token_is_401_with_or_without_a_key(
    client: httpx.AsyncClient, user: Person
) -> None:
    conversation = await start(client, user)
    for url, body in ((_messages(conversation), {"text": "hi"}), (f"{BASE}/conversations", {})):
        response = await client.post(url, json=body, headers={"Idempotency-Key": KEY})
        assert_problem(response, 401)


async def test_a_refusal_is_not_kept_so_the_retry_runs_once_its_cause_has_passed(
    client: httpx.AsyncClient,
    user: Person,
    owner_engine: AsyncEngine,
    settings_of: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings_of, "companion_free_daily_messages", 1)
    conversation = await start(client, user)
    await client.post(_messages(conversation), json={"text": "one"}, headers=user.headers)
    body: dict[str, Any] = {"text": "two"}
    refused = await client.post(_messages(conversation), json=body, headers=_keyed(user))
    assert_problem(refused, 429, "companion-daily-quota")
    assert await count(owner_engine, "idempotency_record") == 0

    monkeypatch.setattr(settings_of, "companion_free_daily_messages", 5)
    retried = await client.post(_messages(conversation), json=body, headers=_keyed(user))
    assert retried.status_code == 200
    assert "idempotent-replayed" not in retried.headers
    assert await _person_messages(owner_engine) == 2
