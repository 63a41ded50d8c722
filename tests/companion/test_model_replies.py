"""The companion with a model engine configured, against a real local HTTP server speaking the
OpenAI chat-completions protocol: what a model writes is checked before the person sees it,
a failing provider falls back to the scripted companion, and in a crisis no model is asked."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from mindspace.platform.db import Database
from tests.companion.conftest import (
    BASE,
    CRISIS_TEXT,
    METHOD_REPLY,
    SAFE_REPLY,
    ModelServer,
    send,
    start,
)
from tests.conftest import Person, create_user

pytestmark = pytest.mark.asyncio


async def test_a_safe_model_reply_is_sent_as_written(
    client: httpx.AsyncClient, user: Person, use_model: ModelServer
) -> None:
    use_model.replies["chosen"] = SAFE_REPLY
    conversation = await start(client, user, persona="coach")
    await send(client, user, conversation, "hello")
    turn = await send(client, user, conversation, "I had a rough day at work")
    [reply] = turn["replies"]
    assert reply == {**reply, "engine": "openai", "kind": "reply", "replaced": False}
    assert reply["content"] == SAFE_REPLY
    body = use_model.bodies[-1]
    assert "coach" in body["messages"][0]["content"]  # the persona's system prompt
    assert body["messages"][-1] == {"role": "user", "content": "I had a rough day at work"}
    assert {"role": "user", "content": "hello"} in body["messages"]


async def test_a_model_reply_with_method_detail_never_reaches_the_person(
    client: httpx.AsyncClient, user: Person, use_model: ModelServer, owner_engine: AsyncEngine
) -> None:
    use_model.replies["chosen"] = METHOD_REPLY
    conversation = await start(client, user)
    async with client.stream(
        "POST",
        f"{BASE}/conversations/{conversation}/messages",
        json={"text": "I had a rough day"},
        headers={**user.headers, "Accept": "text/event-stream"},
    ) as response:
        streamed = (await response.aread()).decode()
    assert use_model.bodies, "the model was asked"
    assert "paracetamol" not in streamed
    assert "lethal" not in streamed
    history = await client.get(f"{BASE}/conversations/{conversation}", headers=user.headers)
    [reply, *_] = history.json()["messages"]["items"]
    assert reply["replaced"] is True
    assert reply["engine"] == "scripted"
    assert "paracetamol" not in reply["content"]
    assert "grounding" in reply["content"]


async def test_a_failing_provider_falls_back_to_the_scripted_companion(
    client: httpx.AsyncClient, user: Person, use_model: ModelServer
) -> None:
    # No reply configured for the model: the server answers 500.
    conversation = await start(client, user)
    turn = await send(client, user, conversation, "can we do grounding")
    [reply] = turn["replies"]
    assert reply["engine"] == "scripted"
    assert reply["replaced"] is False
    assert "5" in reply["content"]
    assert use_model.bodies  # it was tried first


async def test_in_a_crisis_no_model_is_asked(
    client: httpx.AsyncClient, user: Person, use_model: ModelServer
) -> None:
    use_model.replies["chosen"] = SAFE_REPLY
    conversation = await start(client, user)
    crisis = await send(client, user, conversation, CRISIS_TEXT)
    assert crisis["replies"][0]["kind"] == "crisis"
    after = await send(client, user, conversation, "I had a rough day")
    assert after["replies"][0]["kind"] == "safety"
    assert after["replies"][0]["engine"] == "scripted"
    assert use_model.bodies == []


async def test_a_model_reply_that_raises_the_risk_is_replaced(
    client: httpx.AsyncClient, user: Person, use_model: ModelServer
) -> None:
    use_model.replies["chosen"] = "Maybe everyone would be better off without you."
    conversation = await start(client, user)
    turn = await send(client, user, conversation, "I had an okay day")
    [reply] = turn["replies"]
    assert reply["replaced"] is True
    assert "better off" not in reply["content"]


async def test_the_persons_locale_reaches_the_model(
    client: httpx.AsyncClient, db: Database, app: FastAPI, use_model: ModelServer
) -> None:
    use_model.replies["chosen"] = SAFE_REPLY
    person = await create_user(db, app.state.tokens, locale="fr-FR")
    conversation = await start(client, person)
    await send(client, person, conversation, "I had a rough day")
    system = use_model.bodies[-1]["messages"][0]["content"]
    assert "locale (fr-FR)" in system
