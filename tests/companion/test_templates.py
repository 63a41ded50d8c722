"""Prompt templates over HTTP: the catalogue with what each person's plan includes, runs answered
by the scripted text or a model (vetted like a conversation's replies), free text through the
safety gate first (a crisis gets the lines and an alert, whatever the plan or the limits), and
the same rate limit, daily quota and AI credits as messages."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from mindspace.companion import service, templates
from mindspace.companion.credits import ModelReply, Paid
from mindspace.companion.engines.distortions import BY_SLUG, DISTORTIONS
from mindspace.companion.entitlements import Plan
from mindspace.platform.config import Settings
from mindspace.platform.db import Database, DbScope
from mindspace.platform.ids import decode
from mindspace.safety.service import crisis_resources
from tests.companion.conftest import (
    BASE,
    CRISIS_TEXT,
    METHOD_REPLY,
    SAFE_REPLY,
    LedgerStandIn,
    ModelServer,
    count,
    run_template,
    send,
    start,
)
from tests.conftest import Person, assert_problem, create_user

pytestmark = pytest.mark.asyncio
WORRY = "What if I fail my driving test on Friday and everyone laughs at me"


def _run_url(template: str) -> str:
    return f"{BASE}/templates/{template}/run"


async def _rows(owner_engine: AsyncEngine, sql: str) -> list[dict[str, Any]]:
    async with owner_engine.connect() as conn:
        return [dict(r._mapping) for r in await conn.execute(text(sql))]


# The catalogue.


async def test_the_catalogue_shows_inputs_and_marks_paid_templates_unavailable_on_free(
    client: httpx.AsyncClient, user: Person
) -> None:
    assert_problem(await client.get(f"{BASE}/templates"), 401)
    response = await client.get(f"{BASE}/templates", headers=user.headers)
    assert response.status_code == 200
    listed = {t["id"]: t for t in response.json()}
    assert set(listed) == set(templates.by_id())
    assert listed["bedtime_wind_down"] == {
        **listed["bedtime_wind_down"],
        "paid": False,
        "available": True,
        "input": None,
        "version": 1,
    }
    trap = listed["thinking_trap"]["input"]
    assert trap["kind"] == "choice"
    assert [o["value"] for o in trap["options"]] == [d.slug for d in DISTORTIONS]
    assert listed["reframe_worry"]["input"]["kind"] == "text"
    paid = {t for t, v in listed.items() if v["paid"]}
    assert paid == {"body_scan", "self_compassion_letter"}
    assert all(not listed[t]["available"] for t in paid)


async def test_a_plan_with_the_paid_templates_makes_them_available(
    client: httpx.AsyncClient, user: Person, plus_plan: Plan
) -> None:
    listed = (await client.get(f"{BASE}/templates", headers=user.headers)).json()
    assert all(t["available"] for t in listed)
    answer = await run_template(client, user, "body_scan", "long")
    assert answer["engine"] == "scripted"
    assert "feet" in answer["content"]


# Runs without a model.


async def test_a_run_gives_the_scripted_answer_and_keeps_no_words(
    client: httpx.AsyncClient, user: Person, owner_engine: AsyncEngine
) -> None:
    answer = await run_template(client, user, "thinking_trap", "catastrophizing")
    trap = BY_SLUG["catastrophizing"]
    assert answer["kind"] == "answer"
    assert answer["engine"] == "scripted"
    assert (answer["cached"], answer["replaced"], answer["out_of_credits"]) == (False,) * 3
    assert trap.name in answer["content"]
    assert trap.question in answer["content"]
    assert answer["crisis"] is None
    worry = await run_template(client, user, "reframe_worry", WORRY)
    assert "wonder whether catastrophising" in worry["content"]  # suggested by "what if"
    runs = await _rows(owner_engine, "SELECT * FROM companion_template_run ORDER BY created_at")
    assert [(r["owner_id"], r["template"], r["kind"]) for r in runs] == [
        (user.id, "thinking_trap", "answer"),
        (user.id, "reframe_worry", "answer"),
    ]
    assert runs[1]["id"] == decode("ctr", worry["id"])
    assert not any(WORRY in str(v) for r in runs for v in r.values())


async def test_every_template_has_a_useful_scripted_answer_for_every_input(
    client: httpx.AsyncClient,
    user: Person,
    plus_plan: Plan,
    settings_of: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings_of, "companion_rate_limit", "100/minute")
    for template in templates.CATALOGUE:
        spec = template.input
        values = [o.value for o in spec.options] if spec and spec.options else [None]
        if template.takes_text:
            values = ["I snapped at my sister and I feel awful about it"]
        for value in values:
            answer = await run_template(client, user, template.id, value)
            assert len(answer["content"]) > 200, (template.id, value)
            assert answer["content"] == template.scripted(value)


async def test_unknown_templates_and_bad_input_are_refused_and_change_nothing(
    client: httpx.AsyncClient, user: Person, owner_engine: AsyncEngine
) -> None:
    assert_problem(await client.post(_run_url("bedtime_wind_down"), json={}), 401)
    missing = await client.post(_run_url("no_such_thing"), json={}, headers=user.headers)
    assert_problem(missing, 404, "companion-template-not-found")
    for template, body, pointer in [
        ("bedtime_wind_down", {"input": "anything"}, "/body/input"),
        ("thinking_trap", {}, "/body/input"),
        ("thinking_trap", {"input": "not_a_trap"}, "/body/input"),
        ("reframe_worry", {"input": "   "}, "/body/input"),
        ("reframe_worry", {"input": "x" * 4001}, "/body/input"),
        ("reframe_worry", {"input": "fine", "persona": "coach"}, "/body/persona"),
    ]:
        refused = await client.post(_run_url(template), json=body, headers=user.headers)
        problem = assert_problem(refused, 422)
        assert [e["pointer"] for e in problem["errors"]] == [pointer], (template, body)
    assert await count(owner_engine, "companion_template_run") == 0


async def test_a_paid_template_needs_the_plan(
    client: httpx.AsyncClient, user: Person, owner_engine: AsyncEngine
) -> None:
    refused = await client.post(
        _run_url("body_scan"), json={"input": "short"}, headers=user.headers
    )
    assert_problem(refused, 402, "companion-template-not-included")
    letter = await client.post(
        _run_url("self_compassion_letter"),
        json={"input": "I forgot a deadline"},
        headers=user.headers,
    )
    assert_problem(letter, 402, "companion-template-not-included")
    assert await count(owner_engine, "companion_template_run") == 0


# Free text and the safety net.


async def test_a_crisis_in_free_text_gets_the_lines_and_an_alert_as_in_a_conversation(
    client: httpx.AsyncClient,
    db: Database,
    app: FastAPI,
    owner_engine: AsyncEngine,
    use_model: ModelServer,
) -> None:
    use_model.replies["chosen"] = SAFE_REPLY
    person = await create_user(db, app.state.tokens, country="GB")
    answer = await run_template(client, person, "reframe_worry", CRISIS_TEXT)
    assert answer["kind"] == "crisis"
    assert answer["engine"] == "scripted"
    assert "116 123" in answer["content"]  # Samaritans
    assert answer["crisis"]["resources"] == crisis_resources("GB").model_dump(mode="json")
    assert answer["crisis"]["safety_plan"] == "/api/v1/safety/plan"
    assert use_model.bodies == []  # no model saw it
    [alert] = await _rows(owner_engine, "SELECT * FROM crisis_alert")
    assert alert["owner_id"] == person.id
    assert alert["severity"] == "high_risk"
    assert alert["trigger"] == "companion_template"
    assert alert["source_type"] == "companion_template_run"
    assert alert["source_id"] == decode("ctr", answer["id"])
    assert "explicit_intent" in alert["signals"]
    followups = await _rows(
        owner_engine, "SELECT payload FROM outbox_event WHERE topic = 'notifications.requested'"
    )
    assert [f["payload"]["kind"] for f in followups] == ["crisis_followup"]
    # The same words in a conversation get the same response.
    conversation = await start(client, person)
    turn = await send(client, person, conversation, CRISIS_TEXT)
    assert turn["replies"][0]["content"] == answer["content"]


async def test_no_plan_limit_quota_or_credit_stands_in_front_of_a_crisis(
    client: httpx.AsyncClient,
    user: Person,
    settings_of: Settings,
    monkeypatch: pytest.MonkeyPatch,
    use_model: ModelServer,
    ledger: LedgerStandIn,
) -> None:
    monkeypatch.setattr(settings_of, "companion_free_daily_messages", 1)
    monkeypatch.setattr(settings_of, "companion_rate_limit", "1/minute")
    await run_template(client, user, "gratitude_prompt")
    over = await client.post(_run_url("gratitude_prompt"), json={}, headers=user.headers)
    assert_problem(over, 429)
    reservations = ledger.reservations
    # A paid template the free plan lacks, over every limit, with no credits: still answered.
    answer = await run_template(client, user, "self_compassion_letter", CRISIS_TEXT)
    assert answer["kind"] == "crisis"
    assert answer["crisis"]["resources"]["resources"]
    assert ledger.reservations == reservations


async def test_an_unsafe_model_answer_is_withheld_for_the_scripted_one(
    client: httpx.AsyncClient, user: Person, use_model: ModelServer, ledger: LedgerStandIn
) -> None:
    use_model.replies["chosen"] = METHOD_REPLY
    ledger.balances[user.id] = 5
    answer = await run_template(client, user, "reframe_worry", WORRY)
    assert answer["replaced"] is True
    assert answer["engine"] == "scripted"
    assert answer["content"] == templates.by_id()["reframe_worry"].scripted(WORRY)
    assert "paracetamol" not in answer["content"]
    assert ledger.debits == []


async def test_a_model_answers_with_the_template_prompt_and_is_charged_once(
    client: httpx.AsyncClient,
    db: Database,
    app: FastAPI,
    use_model: ModelServer,
    ledger: LedgerStandIn,
) -> None:
    use_model.replies["chosen"] = SAFE_REPLY
    person = await create_user(db, app.state.tokens, locale="pt-BR")
    ledger.balances[person.id] = 2
    answer = await run_template(client, person, "reframe_worry", WORRY)
    assert (answer["engine"], answer["content"]) == ("openai", SAFE_REPLY)
    [body] = use_model.bodies
    system, asked = body["messages"][0]["content"], body["messages"][-1]["content"]
    assert "(pt-BR)" in system  # the person's locale reached the model
    assert "What you remember" not in system  # a template never carries memories
    assert asked == templates.by_id()["reframe_worry"].prompt(WORRY)
    assert len(body["messages"]) == 2  # no conversation history
    [debit] = ledger.debits
    assert debit.reply == ModelReply(Paid.template_run, decode("ctr", answer["id"]), "openai")
    assert debit.in_the_replys_transaction


async def test_a_failing_provider_gives_the_templates_own_scripted_answer_free(
    client: httpx.AsyncClient, user: Person, use_model: ModelServer, ledger: LedgerStandIn
) -> None:
    ledger.balances[user.id] = 5  # no reply configured: the provider answers 500
    answer = await run_template(client, user, "self_care_ideas", "low")
    assert use_model.bodies
    assert answer["engine"] == "scripted"
    assert answer["content"] == templates.by_id()["self_care_ideas"].scripted("low")
    assert ledger.debits == []


async def test_without_credits_the_scripted_answer_is_given_and_flagged(
    client: httpx.AsyncClient, user: Person, use_model: ModelServer, ledger: LedgerStandIn
) -> None:
    use_model.replies["chosen"] = SAFE_REPLY
    answer = await run_template(client, user, "gratitude_prompt")
    assert answer["out_of_credits"] is True
    assert answer["content"] == templates.by_id()["gratitude_prompt"].scripted(None)
    assert use_model.bodies == []


# Limits: the same as messages, counted together.


async def test_runs_and_messages_share_the_daily_quota(
    client: httpx.AsyncClient,
    user: Person,
    settings_of: Settings,
    monkeypatch: pytest.MonkeyPatch,
    owner_engine: AsyncEngine,
) -> None:
    monkeypatch.setattr(settings_of, "companion_free_daily_messages", 2)
    conversation = await start(client, user)
    await send(client, user, conversation, "hello")
    await run_template(client, user, "bedtime_wind_down")
    refused = await client.post(_run_url("bedtime_wind_down"), json={}, headers=user.headers)
    assert_problem(refused, 429, "companion-daily-quota")
    message = await client.post(
        f"{BASE}/conversations/{conversation}/messages", json={"text": "hi"}, headers=user.headers
    )
    assert_problem(message, 429, "companion-daily-quota")
    assert await count(owner_engine, "companion_template_run") == 1


async def test_runs_and_messages_share_the_rate_limit(
    client: httpx.AsyncClient,
    user: Person,
    other_user: Person,
    settings_of: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings_of, "companion_rate_limit", "2/minute")
    conversation = await start(client, user)
    await send(client, user, conversation, "hello")
    await run_template(client, user, "gratitude_prompt")
    refused = await client.post(_run_url("gratitude_prompt"), json={}, headers=user.headers)
    assert_problem(refused, 429, "rate-limited")
    await run_template(client, other_user, "gratitude_prompt")  # per person


# What is kept of a run.


async def test_runs_are_in_my_export_only_unseen_by_staff_and_erased_with_me(
    client: httpx.AsyncClient,
    db: Database,
    user: Person,
    other_user: Person,
    admin: Person,
    owner_engine: AsyncEngine,
) -> None:
    mine = await run_template(client, user, "reframe_worry", WORRY)
    await run_template(client, other_user, "gratitude_prompt")
    async with db.session(user.principal) as session:
        exported = await service.export_companion(session, user.principal)
    [run] = exported["template_runs"]
    assert run == {
        "id": mine["id"],
        "template": "reframe_worry",
        "version": 1,
        "kind": "answer",
        "engine": "scripted",
        "cached": False,
        "replaced": False,
        "created_at": run["created_at"],
    }
    async with db.session(admin.principal, scope=DbScope.admin) as session:
        seen = (await session.execute(text("SELECT count(*) FROM companion_template_run"))).scalar()
    assert seen == 0
    async with owner_engine.begin() as conn:
        await conn.execute(text("DELETE FROM user_account WHERE id = :id"), {"id": user.id})
    [left] = await _rows(owner_engine, "SELECT owner_id FROM companion_template_run")
    assert left["owner_id"] == other_user.id
