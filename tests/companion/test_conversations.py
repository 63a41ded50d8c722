"""Conversations over HTTP: start, list, history, end, delete, and the persona catalogue; for
each, the happy path, no token, another person's conversation and bad input."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from mindspace.companion.prompts import DISCLOSURE
from tests.companion.conftest import BASE, CRISIS_TEXT, count, send, start
from tests.conftest import Person, assert_problem

pytestmark = pytest.mark.asyncio
MISSING = "cnv_01JD8X4V2Q0000000000000000"


async def test_personas_mark_the_paid_ones_unavailable_on_the_free_plan(
    client: httpx.AsyncClient, user: Person
) -> None:
    response = await client.get(f"{BASE}/personas", headers=user.headers)
    assert response.status_code == 200
    personas = {p["id"]: p for p in response.json()}
    assert personas["companion"] == {**personas["companion"], "paid": False, "available": True}
    assert personas["sleep_guide"]["paid"] is True
    assert personas["sleep_guide"]["available"] is False
    assert_problem(await client.get(f"{BASE}/personas"), 401)


async def test_a_conversation_starts_with_the_disclosure(
    client: httpx.AsyncClient, user: Person
) -> None:
    response = await client.post(
        f"{BASE}/conversations", json={"persona": "coach"}, headers=user.headers
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["id"].startswith("cnv_")
    assert body["persona"] == "coach"
    assert body["status"] == "active"
    assert body["safety_state"] == "normal"
    [opening] = body["messages"]["items"]
    assert opening["kind"] == "disclosure"
    assert opening["content"] == DISCLOSURE
    assert "not a therapist" in DISCLOSURE


async def test_starting_refuses_unknown_and_paid_personas_and_changes_nothing(
    client: httpx.AsyncClient, user: Person, owner_engine: AsyncEngine
) -> None:
    unknown = await client.post(
        f"{BASE}/conversations", json={"persona": "freud"}, headers=user.headers
    )
    assert_problem(unknown, 422, "companion-unknown-persona")
    paid = await client.post(
        f"{BASE}/conversations", json={"persona": "sleep_guide"}, headers=user.headers
    )
    assert_problem(paid, 402, "companion-persona-not-included")
    extra = await client.post(
        f"{BASE}/conversations", json={"persona": "coach", "owner_id": "x"}, headers=user.headers
    )
    assert_problem(extra, 422)
    assert_problem(await client.post(f"{BASE}/conversations", json={}), 401)
    assert await count(owner_engine, "companion_conversation") == 0
    assert await count(owner_engine, "companion_message") == 0


async def test_the_list_is_mine_newest_first_with_a_cursor(
    client: httpx.AsyncClient, user: Person, other_user: Person
) -> None:
    ids = [await start(client, user) for _ in range(3)]
    await start(client, other_user)
    first = await client.get(f"{BASE}/conversations?limit=2", headers=user.headers)
    assert first.status_code == 200
    page = first.json()
    assert [c["id"] for c in page["items"]] == ids[::-1][:2]
    rest = await client.get(
        f"{BASE}/conversations", params={"cursor": page["next_cursor"]}, headers=user.headers
    )
    assert [c["id"] for c in rest.json()["items"]] == ids[:1]
    assert rest.json()["next_cursor"] is None
    assert_problem(await client.get(f"{BASE}/conversations"), 401)
    bad = await client.get(f"{BASE}/conversations?cursor=nope", headers=user.headers)
    assert_problem(bad, 422, "invalid-cursor")
    assert_problem(await client.get(f"{BASE}/conversations?limit=0", headers=user.headers), 422)


async def test_history_pages_through_the_messages_newest_first(
    client: httpx.AsyncClient, user: Person
) -> None:
    conversation = await start(client, user)
    await send(client, user, conversation, "hello")
    await send(client, user, conversation, "I'd like to try grounding")
    url = f"{BASE}/conversations/{conversation}"
    first = (await client.get(f"{url}?limit=3", headers=user.headers)).json()
    assert first["id"] == conversation
    contents = [m["content"] for m in first["messages"]["items"]]
    assert contents[1] == "I'd like to try grounding"
    assert [m["author"] for m in first["messages"]["items"]] == ["companion", "person", "companion"]
    rest = await client.get(
        url, params={"cursor": first["messages"]["next_cursor"]}, headers=user.headers
    )
    items = rest.json()["messages"]["items"]
    assert [m["kind"] for m in items] == ["text", "disclosure"]
    assert items[0]["content"] == "hello"


async def test_another_persons_conversation_is_not_found(
    client: httpx.AsyncClient, user: Person, other_user: Person, owner_engine: AsyncEngine
) -> None:
    conversation = await start(client, user)
    url = f"{BASE}/conversations/{conversation}"
    theirs = other_user.headers
    assert_problem(await client.get(url, headers=theirs), 404, "companion-conversation-not-found")
    assert_problem(await client.post(f"{url}/end", headers=theirs), 404)
    assert_problem(await client.delete(url, headers=theirs), 404)
    assert_problem(await client.post(f"{url}/safe", headers=theirs), 404)
    assert_problem(await client.get(f"{url}/safety-transitions", headers=theirs), 404)
    sent = await client.post(f"{url}/messages", json={"text": "hi"}, headers=theirs)
    assert_problem(sent, 404)
    for path in (f"{BASE}/conversations/{MISSING}", f"{BASE}/conversations/jrn_nonsense"):
        assert_problem(await client.get(path, headers=user.headers), 404)
    assert await count(owner_engine, "companion_message") == 1  # the disclosure only


async def test_every_conversation_route_needs_a_token(
    client: httpx.AsyncClient, user: Person
) -> None:
    conversation = await start(client, user)
    url = f"{BASE}/conversations/{conversation}"
    assert_problem(await client.get(url), 401)
    assert_problem(await client.post(f"{url}/end"), 401)
    assert_problem(await client.delete(url), 401)
    assert_problem(await client.post(f"{url}/messages", json={"text": "hi"}), 401)
    assert_problem(await client.post(f"{url}/safe"), 401)
    assert_problem(await client.get(f"{url}/safety-transitions"), 401)


async def test_an_ended_conversation_takes_no_more_messages(
    client: httpx.AsyncClient, user: Person, owner_engine: AsyncEngine
) -> None:
    conversation = await start(client, user)
    url = f"{BASE}/conversations/{conversation}"
    ended = await client.post(f"{url}/end", headers=user.headers)
    assert ended.status_code == 200
    assert ended.json()["status"] == "ended"
    assert ended.json()["ended_at"]
    again = await client.post(f"{url}/end", headers=user.headers)
    assert again.json()["ended_at"] == ended.json()["ended_at"]
    refused = await client.post(f"{url}/messages", json={"text": "hi"}, headers=user.headers)
    assert_problem(refused, 409, "companion-conversation-ended")
    assert await count(owner_engine, "companion_message") == 1
    # Except for a crisis: that is always answered.
    crisis = await send(client, user, conversation, CRISIS_TEXT)
    assert crisis["replies"][0]["kind"] == "crisis"
    assert crisis["conversation"]["status"] == "ended"


async def test_deleting_takes_the_messages_and_transitions_with_it(
    client: httpx.AsyncClient, user: Person, owner_engine: AsyncEngine
) -> None:
    conversation = await start(client, user)
    await send(client, user, conversation, "I feel so hopeless and like a burden")
    assert await count(owner_engine, "companion_safety_transition") == 1
    url = f"{BASE}/conversations/{conversation}"
    assert (await client.delete(url, headers=user.headers)).status_code == 204
    assert_problem(await client.get(url, headers=user.headers), 404)
    for table in ("companion_conversation", "companion_message", "companion_safety_transition"):
        assert await count(owner_engine, table) == 0, table


async def test_a_bad_message_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, user: Person, owner_engine: AsyncEngine
) -> None:
    conversation = await start(client, user)
    url = f"{BASE}/conversations/{conversation}/messages"
    for body in ({"text": "   "}, {"text": "x" * 4001}, {}, {"text": "hi", "engine": "openai"}):
        assert_problem(await client.post(url, json=body, headers=user.headers), 422)
    assert await count(owner_engine, "companion_message") == 1
