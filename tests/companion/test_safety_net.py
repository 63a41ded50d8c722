"""The safety net around every message: the gate runs first, the state moves by its rules and
every change is recorded, a crisis gets the crisis response with local lines and an alert, and
no limit, quota or plan stands in the way of that."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from mindspace.companion.prompts import DISCLOSURE
from mindspace.platform.clock import utc_now
from mindspace.platform.config import Settings
from mindspace.platform.db import Database
from mindspace.platform.ids import decode
from mindspace.safety.service import crisis_resources
from tests.companion.conftest import BASE, CRISIS_TEXT, count, send, start
from tests.conftest import Person, assert_problem, create_user

pytestmark = pytest.mark.asyncio
# Words safe-messaging guidance keeps out of a crisis response.
NEVER_IN_A_CRISIS_REPLY = re.compile(
    r"committed suicide|pills?|overdose|dose|bridge|rope|hang|jump|method", re.IGNORECASE
)


async def _person_in(db: Database, app: FastAPI, country: str | None) -> Person:
    return await create_user(db, app.state.tokens, country=country)


async def _rows(owner_engine: AsyncEngine, sql: str, **params: Any) -> list[dict[str, Any]]:
    async with owner_engine.connect() as conn:
        return [dict(r._mapping) for r in await conn.execute(text(sql), params)]


async def test_an_ordinary_message_gets_the_scripted_companion_and_keeps_its_place(
    client: httpx.AsyncClient, user: Person, owner_engine: AsyncEngine
) -> None:
    conversation = await start(client, user)
    turn = await send(client, user, conversation, "can we do grounding")
    [reply] = turn["replies"]
    assert reply["kind"] == "reply"
    assert reply["engine"] == "scripted"
    assert "5" in reply["content"]  # 5-4-3-2-1: the first step asks for five things
    assert turn["crisis"] is None
    assert turn["conversation"]["safety_state"] == "normal"
    # The engine's place in the flow was stored (sealed) with the conversation.
    following = await send(client, user, conversation, "lamp, door, cup, window, plant")
    assert (
        "4" in following["replies"][0]["content"]
        or "four" in following["replies"][0]["content"].lower()
    )
    assert await count(owner_engine, "companion_safety_transition") == 0


async def test_a_crisis_gets_the_safe_response_local_lines_and_an_alert(
    client: httpx.AsyncClient, db: Database, app: FastAPI, owner_engine: AsyncEngine
) -> None:
    person = await _person_in(db, app, "GB")
    conversation = await start(client, person)
    turn = await send(client, person, conversation, CRISIS_TEXT)

    assert turn["conversation"]["safety_state"] == "high_risk"
    [reply] = turn["replies"]
    assert reply["kind"] == "crisis"
    content = reply["content"]
    assert "116 123" in content  # Samaritans
    assert "85258" in content  # Shout
    assert "999" in content
    assert "grounding" in content
    assert "safety plan" in content
    assert not NEVER_IN_A_CRISIS_REPLY.search(content)
    support = turn["crisis"]
    assert support["resources"] == crisis_resources("GB").model_dump(mode="json")
    assert support["safety_plan"] == "/api/v1/safety/plan"
    assert set(support["offers"]) == {"grounding", "safety_plan"}

    conversation_id = decode("cnv", conversation)
    [alert] = await _rows(owner_engine, "SELECT * FROM crisis_alert")
    assert alert["owner_id"] == person.id
    assert alert["severity"] == "high_risk"
    assert alert["trigger"] == "companion_message"
    assert alert["source_type"] == "companion_conversation"
    assert alert["source_id"] == conversation_id
    assert "explicit_intent" in alert["signals"]
    [transition] = await _rows(owner_engine, "SELECT * FROM companion_safety_transition")
    assert (transition["before"], transition["after"]) == ("normal", "high_risk")
    assert transition["rule"] == "high risk assessed"
    assert transition["message_id"] == decode("cmsg", turn["message"]["id"])
    audits = await _rows(
        owner_engine,
        "SELECT * FROM audit_record WHERE action = 'companion.safety_state' AND target_id = :c",
        c=conversation_id,
    )
    assert audits[0]["details"]["after"] == "high_risk"
    followups = await _rows(
        owner_engine, "SELECT * FROM outbox_event WHERE topic = 'notifications.requested'"
    )
    assert [f["payload"]["kind"] for f in followups] == ["crisis_followup"]


async def test_earlier_messages_are_the_gates_context(
    client: httpx.AsyncClient, user: Person, owner_engine: AsyncEngine
) -> None:
    conversation = await start(client, user)
    first = await send(client, user, conversation, "I lost my job today and my partner left")
    assert first["replies"][0]["kind"] == "reply"
    # Alone a question about bridges is ordinary; after that stressor it is a means question.
    turn = await send(client, user, conversation, "what is the tallest bridge near me")
    assert turn["replies"][0]["kind"] == "crisis"
    assert turn["conversation"]["safety_state"] == "high_risk"
    # In the crisis that follows, another warning sign is a new crisis, not a footnote.
    means = await send(client, user, conversation, "what is the tallest bridge near me")
    assert means["replies"][0]["kind"] == "crisis"
    assert means["conversation"]["safety_state"] == "safety_mode"
    [alert] = await _rows(owner_engine, "SELECT occurrences, signals FROM crisis_alert")
    assert alert["occurrences"] == 2
    assert "means_question" in alert["signals"]


async def test_without_a_country_the_international_directory_is_offered(
    client: httpx.AsyncClient, user: Person
) -> None:
    conversation = await start(client, user)
    turn = await send(client, user, conversation, CRISIS_TEXT)
    assert turn["crisis"]["resources"]["fallback"] is True
    assert turn["crisis"]["resources"]["resources"]


async def test_the_state_escalates_holds_and_steps_down_only_by_its_rules(
    client: httpx.AsyncClient, user: Person, owner_engine: AsyncEngine
) -> None:
    conversation = await start(client, user)
    url = f"{BASE}/conversations/{conversation}"
    assert (await send(client, user, conversation, "I feel so hopeless and like a burden"))[
        "conversation"
    ]["safety_state"] == "elevated_concern"
    assert (await send(client, user, conversation, CRISIS_TEXT))["conversation"][
        "safety_state"
    ] == "high_risk"
    again = await send(client, user, conversation, CRISIS_TEXT)
    assert again["conversation"]["safety_state"] == "safety_mode"
    calm = await send(client, user, conversation, "thanks, that helps a bit")
    assert calm["conversation"]["safety_state"] == "safety_mode"  # a normal message never lowers
    [reply] = calm["replies"]
    assert reply["kind"] == "safety"
    assert reply["engine"] == "scripted"
    assert calm["crisis"]["resources"]["resources"]
    # Safety mode holds the person's word until a quiet period has passed.
    held = await client.post(f"{url}/safe", headers=user.headers)
    assert held.json()["safety_state"] == "safety_mode"
    await _age_high_risk(owner_engine, conversation, hours=13)
    assert (await client.post(f"{url}/safe", headers=user.headers)).json()[
        "safety_state"
    ] == "elevated_concern"
    assert (await client.post(f"{url}/safe", headers=user.headers)).json()[
        "safety_state"
    ] == "normal"

    transitions = (await client.get(f"{url}/safety-transitions", headers=user.headers)).json()
    assert [(t["before"], t["after"], t["trigger"]) for t in transitions] == [
        ("normal", "elevated_concern", "assessed_elevated"),
        ("elevated_concern", "high_risk", "assessed_high"),
        ("high_risk", "safety_mode", "assessed_high"),
        ("safety_mode", "elevated_concern", "person_confirms_safe"),
        ("elevated_concern", "normal", "person_confirms_safe"),
    ]
    assert all(t["rule"] for t in transitions)
    # One episode, one alert: the cooldown updated it.
    [alert] = await _rows(owner_engine, "SELECT occurrences FROM crisis_alert")
    assert alert["occurrences"] == 2


async def _age_high_risk(owner_engine: AsyncEngine, conversation: str, *, hours: int) -> None:
    async with owner_engine.begin() as conn:
        await conn.execute(
            text("UPDATE companion_conversation SET last_high_risk_at = :at WHERE id = :c"),
            {"at": utc_now() - timedelta(hours=hours), "c": decode("cnv", conversation)},
        )


async def test_a_reviewer_clears_a_conversation_audited(
    client: httpx.AsyncClient, user: Person, admin: Person, owner_engine: AsyncEngine
) -> None:
    conversation = await start(client, user)
    await send(client, user, conversation, CRISIS_TEXT)
    url = f"/api/v1/admin/companion/conversations/{conversation}/clear"
    assert_problem(await client.post(url, json={"note": "x"}), 401)
    assert_problem(await client.post(url, json={"note": "x"}, headers=user.headers), 403)
    assert_problem(await client.post(url, json={"note": " "}, headers=admin.headers), 422)
    missing = "/api/v1/admin/companion/conversations/cnv_01JD8X4V2Q0000000000000000/clear"
    assert_problem(await client.post(missing, json={"note": "x"}, headers=admin.headers), 404)
    state = await _rows(owner_engine, "SELECT safety_state FROM companion_conversation")
    assert state == [{"safety_state": "high_risk"}]  # nothing changed by the refusals

    cleared = await client.post(
        url, json={"note": "Spoke with them; safe at home"}, headers=admin.headers
    )
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["safety_state"] == "normal"
    [transition] = await _rows(
        owner_engine,
        "SELECT * FROM companion_safety_transition WHERE trigger = 'reviewer_clears'",
    )
    assert transition["actor_id"] == admin.id
    [opened] = await _rows(
        owner_engine,
        "SELECT * FROM audit_record WHERE action = 'companion.conversation.clear'",
    )
    assert opened["actor_id"] == admin.id
    assert opened["details"]["note"] == "Spoke with them; safe at home"


async def test_confirm_safe_from_normal_changes_nothing(
    client: httpx.AsyncClient, user: Person, owner_engine: AsyncEngine
) -> None:
    conversation = await start(client, user)
    response = await client.post(f"{BASE}/conversations/{conversation}/safe", headers=user.headers)
    assert response.status_code == 200
    assert response.json()["safety_state"] == "normal"
    assert await count(owner_engine, "companion_safety_transition") == 0


async def test_the_disclosure_comes_again_after_three_hours(
    client: httpx.AsyncClient, user: Person, owner_engine: AsyncEngine
) -> None:
    conversation = await start(client, user)
    assert [r["kind"] for r in (await send(client, user, conversation, "hi"))["replies"]] == [
        "reply"
    ]
    async with owner_engine.begin() as conn:
        await conn.execute(
            text("UPDATE companion_conversation SET disclosed_at = now() - interval '3 hours'")
        )
    turn = await send(client, user, conversation, "hi again")
    assert [r["kind"] for r in turn["replies"]] == ["disclosure", "reply"]
    assert turn["replies"][0]["content"] == DISCLOSURE
    assert [r["kind"] for r in (await send(client, user, conversation, "and"))["replies"]] == [
        "reply"
    ]


# The no-paywall rule.


async def test_over_the_daily_quota_a_crisis_is_still_answered(
    client: httpx.AsyncClient,
    user: Person,
    settings_of: Settings,
    monkeypatch: pytest.MonkeyPatch,
    owner_engine: AsyncEngine,
) -> None:
    monkeypatch.setattr(settings_of, "companion_free_daily_messages", 1)
    conversation = await start(client, user)
    await send(client, user, conversation, "hello")
    url = f"{BASE}/conversations/{conversation}/messages"
    refused = await client.post(url, json={"text": "hello again"}, headers=user.headers)
    assert_problem(refused, 429, "companion-daily-quota")
    assert await count(owner_engine, "companion_message") == 3  # nothing from the refusal

    turn = await send(client, user, conversation, CRISIS_TEXT)
    assert turn["replies"][0]["kind"] == "crisis"
    assert turn["crisis"]["resources"]["resources"]
    # In the crisis state that follows, the person is still answered.
    after = await send(client, user, conversation, "I don't know what to do")
    assert after["replies"][0]["kind"] == "safety"


async def test_over_the_rate_limit_a_crisis_is_still_answered(
    client: httpx.AsyncClient,
    user: Person,
    settings_of: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings_of, "companion_rate_limit", "1/minute")
    conversation = await start(client, user)
    await send(client, user, conversation, "hello")
    url = f"{BASE}/conversations/{conversation}/messages"
    assert_problem(await client.post(url, json={"text": "hello again"}, headers=user.headers), 429)
    turn = await send(client, user, conversation, CRISIS_TEXT)
    assert turn["replies"][0]["kind"] == "crisis"
