"""A person whose own warning signs recur below high risk is seen by a human: one alert at
elevated concern, below high risk in the queue, under the cooldown, telling no contact; never
for a single message, nor for worry about someone else."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import procrastinate
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from mindspace.crisis.service import CONCERN_MESSAGES, CONCERN_WINDOW, own_warning_signs
from mindspace.platform.clock import utc_now
from mindspace.platform.config import Settings
from mindspace.platform.db import Database
from mindspace.platform.ids import decode, encode
from mindspace.safety.service import assess
from tests.companion.conftest import CRISIS_TEXT, send, start
from tests.conftest import Person, run_background

ALERTS = "/api/v1/admin/crisis-alerts"
# The same warning sign, said three ways: it stays at elevated concern however often it recurs
# (two different ones together would be high risk, and raise an alert of their own).
HOPELESS = (
    "I feel hopeless",
    "nothing is ever going to get better",
    "honestly I feel so hopeless about everything",
)
THIRD_PARTY = (
    "My friend told me he wants to kill himself",
    "my sister keeps saying she wishes she was dead",
    "I'm worried my mom might hurt herself",
)


async def _alerts(owner_engine: AsyncEngine) -> list[dict[str, Any]]:
    async with owner_engine.connect() as conn:
        rows = await conn.execute(text("SELECT * FROM crisis_alert ORDER BY created_at"))
        return [dict(r._mapping) for r in rows]


async def _notes(owner_engine: AsyncEngine) -> int:
    async with owner_engine.connect() as conn:
        return int(
            (await conn.execute(text("SELECT count(*) FROM crisis_concern_note"))).scalar_one()
        )


async def _say(client: httpx.AsyncClient, person: Person, conversation: str, *texts: str) -> None:
    for text_ in texts:
        turn = await send(client, person, conversation, text_)
        assert turn["crisis"] is None, text_  # below high risk: no crisis response


def test_the_rule_reads_only_the_writers_own_signs() -> None:
    assert CONCERN_MESSAGES == 3
    assert CONCERN_WINDOW == timedelta(hours=24)
    assert own_warning_signs(assess("I feel hopeless")) == ["hopelessness"]
    for worry in THIRD_PARTY:
        assert assess(worry).level == "elevated_concern", worry
        assert own_warning_signs(assess(worry)) == [], worry
    assert own_warning_signs(assess("I lost my job today")) == []  # a stressor alone
    assert own_warning_signs(assess("I am not hopeless at all")) == []  # negated


@pytest.mark.asyncio
async def test_recurring_concern_raises_one_alert_for_staff_and_tells_no_contact(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    job_app: procrastinate.App,
    user: Person,
    admin: Person,
    owner_engine: AsyncEngine,
) -> None:
    contact = await client.post(
        "/api/v1/trusted-contacts",
        json={
            "name": "Sam",
            "channel": "email",
            "address": "sam@example.org",
            "notify_in_crisis": True,
        },
        headers=user.headers,
    )
    assert contact.status_code == 201, contact.text
    conversation = await start(client, user)
    await _say(client, user, conversation, HOPELESS[0], "thanks, that helps a bit", HOPELESS[1])
    assert await _alerts(owner_engine) == []  # two are not yet a pattern
    await _say(client, user, conversation, HOPELESS[2])

    [alert] = await _alerts(owner_engine)
    assert (alert["severity"], alert["trigger"], alert["occurrences"]) == (
        "elevated_concern",
        "sustained_concern",
        3,  # the messages with signs; the "thanks" between them is not one
    )
    assert alert["signals"] == ["hopelessness"]
    assert (alert["source_type"], alert["source_id"]) == (
        "companion_conversation",
        decode("cnv", conversation),
    )
    assert await _notes(owner_engine) == 0  # counted into the alert, the notes are gone
    detail = await client.get(f"{ALERTS}/{encode('cra', alert['id'])}", headers=admin.headers)
    assert detail.json()["excerpt"] == HOPELESS[2]  # the message that made it a pattern

    await run_background(job_app, db, settings)
    notices = await client.get("/api/v1/trusted-contacts/notices", headers=user.headers)
    assert notices.json()["items"] == []  # concern is for staff, never for family


@pytest.mark.asyncio
async def test_single_messages_and_worry_about_others_raise_nothing(
    client: httpx.AsyncClient, user: Person, other_user: Person, owner_engine: AsyncEngine
) -> None:
    conversation = await start(client, user)
    await _say(client, user, conversation, *THIRD_PARTY, *THIRD_PARTY)
    assert await _notes(owner_engine) == 0
    await _say(client, user, conversation, HOPELESS[0])
    theirs = await start(client, other_user)
    await _say(client, other_user, theirs, HOPELESS[0], HOPELESS[1])
    assert await _alerts(owner_engine) == []
    assert await _notes(owner_engine) == 3  # one of the user's, two of the other person's


@pytest.mark.asyncio
async def test_the_count_is_the_persons_across_conversations_within_the_window(
    client: httpx.AsyncClient, user: Person, owner_engine: AsyncEngine
) -> None:
    first = await start(client, user)
    await _say(client, user, first, HOPELESS[0], HOPELESS[1])
    # A day later those two no longer count.
    async with owner_engine.begin() as conn:
        await conn.execute(
            text("UPDATE crisis_concern_note SET noted_at = :at"),
            {"at": utc_now() - CONCERN_WINDOW - timedelta(minutes=1)},
        )
    second = await start(client, user)
    await _say(client, user, second, HOPELESS[2])
    assert await _alerts(owner_engine) == []
    # A new conversation does not start the count afresh.
    third = await start(client, user)
    await _say(client, user, third, HOPELESS[0])
    await _say(client, user, second, HOPELESS[1])
    [alert] = await _alerts(owner_engine)
    assert (alert["occurrences"], alert["source_id"]) == (3, decode("cnv", second))


@pytest.mark.asyncio
async def test_the_cooldown_keeps_one_episode_and_a_resolved_one_needs_signs_anew(
    client: httpx.AsyncClient, user: Person, admin: Person, owner_engine: AsyncEngine
) -> None:
    conversation = await start(client, user)
    await _say(client, user, conversation, *HOPELESS)
    [alert] = await _alerts(owner_engine)
    # More signs while it is open join it: no second item in the queue.
    await _say(client, user, conversation, HOPELESS[0], HOPELESS[1])
    [alert] = await _alerts(owner_engine)
    assert alert["occurrences"] == 5
    assert await _notes(owner_engine) == 0

    resolved = await client.post(
        f"{ALERTS}/{encode('cra', alert['id'])}/resolve",
        json={"note": "Checked in"},
        headers=admin.headers,
    )
    assert resolved.status_code == 200, resolved.text
    await _say(client, user, conversation, HOPELESS[0], HOPELESS[1])
    assert len(await _alerts(owner_engine)) == 1
    await _say(client, user, conversation, HOPELESS[2])
    alerts = await _alerts(owner_engine)
    assert [(a["status"], a["occurrences"]) for a in alerts] == [("resolved", 5), ("open", 3)]


@pytest.mark.asyncio
async def test_an_open_high_risk_episode_takes_the_signs_and_stays_high(
    client: httpx.AsyncClient, user: Person, owner_engine: AsyncEngine
) -> None:
    crisis = await start(client, user)
    await send(client, user, crisis, CRISIS_TEXT)
    # Elsewhere, below high risk: a single sign joins the open episode, which stays high.
    calmer = await start(client, user)
    await _say(client, user, calmer, HOPELESS[0])
    [alert] = await _alerts(owner_engine)
    assert (alert["severity"], alert["occurrences"]) == ("high_risk", 2)
    assert sorted(alert["signals"]) == ["explicit_intent", "hopelessness"]
    assert alert["source_id"] == decode("cnv", crisis)
    assert await _notes(owner_engine) == 0


@pytest.mark.asyncio
async def test_the_queue_puts_high_risk_above_sustained_concern(
    client: httpx.AsyncClient,
    user: Person,
    other_user: Person,
    admin: Person,
) -> None:
    crisis = await start(client, other_user)
    await send(client, other_user, crisis, CRISIS_TEXT)
    concern = await start(client, user)
    await _say(client, user, concern, *HOPELESS)  # newer, and still below
    first = await client.get(ALERTS, params={"limit": 1}, headers=admin.headers)
    assert [a["severity"] for a in first.json()["items"]] == ["high_risk"]
    second = await client.get(
        ALERTS,
        params={"limit": 1, "cursor": first.json()["next_cursor"]},
        headers=admin.headers,
    )
    assert [a["severity"] for a in second.json()["items"]] == ["elevated_concern"]
    assert second.json()["next_cursor"] is None
