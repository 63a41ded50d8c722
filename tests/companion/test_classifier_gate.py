"""The companion's gate with the safety gate's learned layer loaded: a crisis in words no rule
knows gets the crisis response, the lines and the alert, as one the rules know does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from mindspace.platform import embeddings
from mindspace.platform.config import Settings
from mindspace.safety import service as safety
from tests.companion.conftest import send, start
from tests.conftest import Person

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.skipif(
        not embeddings.extra_installed(), reason="needs the `ai` extra (part of `dev`)"
    ),
]
# No rule knows it (tests/safety/test_classifier.py); the learned layer reads it as high risk.
MISSED_BY_THE_RULES = "my heart can stop tonight, I've made sure of it"


@pytest_asyncio.fixture
async def classifier_on(settings: Settings) -> AsyncIterator[None]:
    """What the app's start-up does when embeddings are on, waited for."""
    async with safety.classifier_while_running(
        settings.model_copy(update={"embeddings": "auto"})
    ) as loading:
        await loading
        assert safety.active_classifier() is not None
        yield


async def _alerts(owner_engine: AsyncEngine) -> list[dict[str, Any]]:
    async with owner_engine.connect() as conn:
        rows = await conn.execute(text("SELECT signals, severity FROM crisis_alert"))
        return [dict(r._mapping) for r in rows]


async def test_without_the_layer_the_rules_let_it_through(
    client: httpx.AsyncClient, user: Person, owner_engine: AsyncEngine
) -> None:
    assert safety.active_classifier() is None
    conversation = await start(client, user)
    turn = await send(client, user, conversation, MISSED_BY_THE_RULES)
    assert turn["replies"][0]["kind"] == "reply"
    assert turn["crisis"] is None
    assert await _alerts(owner_engine) == []


@pytest.mark.usefixtures("classifier_on")
async def test_a_crisis_only_the_layer_sees_gets_the_crisis_response(
    client: httpx.AsyncClient, user: Person, owner_engine: AsyncEngine
) -> None:
    conversation = await start(client, user)
    first = await send(client, user, conversation, "work was long today")
    assert first["replies"][0]["kind"] == "reply"

    turn = await send(client, user, conversation, MISSED_BY_THE_RULES)
    [reply] = turn["replies"]
    assert reply["kind"] == "crisis"
    assert turn["crisis"]["resources"]["resources"]
    assert turn["conversation"]["safety_state"] == "high_risk"
    [alert] = await _alerts(owner_engine)
    assert alert["severity"] == "high_risk"
    assert alert["signals"] == ["similar_phrasing"]


@pytest.mark.usefixtures("classifier_on")
async def test_an_indirect_sign_it_finds_after_hopelessness_is_a_crisis(
    client: httpx.AsyncClient, user: Person
) -> None:
    conversation = await start(client, user)
    earlier = await send(
        client, user, conversation, "I feel hopeless, nothing is ever going to change"
    )
    assert earlier["conversation"]["safety_state"] == "elevated_concern"
    turn = await send(client, user, conversation, "I've started handing my things out to friends")
    assert turn["replies"][0]["kind"] == "crisis"
    assert turn["conversation"]["safety_state"] == "high_risk"


@pytest.mark.usefixtures("classifier_on")
async def test_a_denial_gets_an_ordinary_reply(client: httpx.AsyncClient, user: Person) -> None:
    conversation = await start(client, user)
    turn = await send(client, user, conversation, "I'm not done with living, just tired")
    assert turn["replies"][0]["kind"] == "reply"
    assert turn["conversation"]["safety_state"] == "normal"
