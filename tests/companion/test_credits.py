"""AI credits per model reply, through the real service over HTTP, against a real local model
server. The ledger that will implement the `Credits` seam does not exist yet: these tests plug
in `LedgerStandIn` (tests/companion/conftest.py), a test implementation of the seam, to prove
the companion's side of the contract: a credit is reserved before a model is asked and debited
exactly once per model reply sent, in the reply's own transaction and naming it; never for the
scripted engine, a fallback, a withheld reply or a crisis; and a person without credits is
answered by the free scripted companion, told so, never refused."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from mindspace.companion.credits import ModelReply, Paid
from mindspace.platform.ids import decode
from tests.companion.conftest import (
    CRISIS_TEXT,
    METHOD_REPLY,
    SAFE_REPLY,
    LedgerStandIn,
    ModelServer,
    send,
    start,
)
from tests.conftest import Person

pytestmark = pytest.mark.asyncio


async def test_a_model_reply_is_debited_once_in_its_own_transaction_naming_it(
    client: httpx.AsyncClient, user: Person, use_model: ModelServer, ledger: LedgerStandIn
) -> None:
    use_model.replies["chosen"] = SAFE_REPLY
    ledger.balances[user.id] = 5
    conversation = await start(client, user)
    turn = await send(client, user, conversation, "I had a rough day at work")
    [reply] = turn["replies"]
    assert reply["engine"] == "openai"
    assert turn["out_of_credits"] is False
    [debit] = ledger.debits
    assert debit.reply == ModelReply(Paid.companion_message, decode("cmsg", reply["id"]), "openai")
    assert debit.in_the_replys_transaction
    assert ledger.balances[user.id] == 4
    assert ledger.reservations == 1


async def test_the_scripted_engine_is_never_charged(
    client: httpx.AsyncClient, user: Person, ledger: LedgerStandIn
) -> None:
    ledger.balances[user.id] = 5
    conversation = await start(client, user)
    turn = await send(client, user, conversation, "I had a rough day at work")
    assert turn["replies"][0]["engine"] == "scripted"
    assert turn["out_of_credits"] is False
    assert ledger.reservations == 0
    assert ledger.debits == []


async def test_a_fallback_after_a_provider_failure_is_not_charged(
    client: httpx.AsyncClient, user: Person, use_model: ModelServer, ledger: LedgerStandIn
) -> None:
    ledger.balances[user.id] = 5  # no reply configured: the provider answers 500
    conversation = await start(client, user)
    turn = await send(client, user, conversation, "I had a rough day at work")
    assert turn["replies"][0]["engine"] == "scripted"
    assert use_model.bodies  # the model was asked, with a credit reserved
    assert ledger.reservations == 1
    assert ledger.debits == []
    assert ledger.balances[user.id] == 5


async def test_a_withheld_model_reply_is_not_charged(
    client: httpx.AsyncClient, user: Person, use_model: ModelServer, ledger: LedgerStandIn
) -> None:
    use_model.replies["chosen"] = METHOD_REPLY
    ledger.balances[user.id] = 5
    conversation = await start(client, user)
    turn = await send(client, user, conversation, "I had a rough day at work")
    assert turn["replies"][0]["replaced"] is True
    assert ledger.debits == []


async def test_a_crisis_and_the_safety_replies_after_it_touch_no_credit(
    client: httpx.AsyncClient, user: Person, use_model: ModelServer, ledger: LedgerStandIn
) -> None:
    use_model.replies["chosen"] = SAFE_REPLY
    conversation = await start(client, user)  # and no credits at all
    crisis = await send(client, user, conversation, CRISIS_TEXT)
    assert crisis["replies"][0]["kind"] == "crisis"
    after = await send(client, user, conversation, "I don't know what to do")
    assert after["replies"][0]["kind"] == "safety"
    assert (crisis["out_of_credits"], after["out_of_credits"]) == (False, False)
    assert ledger.reservations == 0
    assert ledger.debits == []


async def test_without_credits_the_free_companion_answers_and_says_so(
    client: httpx.AsyncClient, user: Person, use_model: ModelServer, ledger: LedgerStandIn
) -> None:
    use_model.replies["chosen"] = SAFE_REPLY
    ledger.balances[user.id] = 0
    conversation = await start(client, user)
    turn = await send(client, user, conversation, "can we do grounding")
    [reply] = turn["replies"]
    assert turn["out_of_credits"] is True
    assert reply["engine"] == "scripted"
    assert "5" in reply["content"]  # the scripted grounding exercise, not a refusal
    assert use_model.bodies == []
    assert ledger.debits == []
    # A credit later, and the model answers again.
    ledger.balances[user.id] = 1
    later = await send(client, user, conversation, "thanks")
    assert (later["out_of_credits"], later["replies"][0]["engine"]) == (False, "openai")


async def test_two_replies_at_once_cannot_both_spend_the_last_credit(
    client: httpx.AsyncClient, user: Person, use_model: ModelServer, ledger: LedgerStandIn
) -> None:
    use_model.replies["chosen"] = SAFE_REPLY
    ledger.balances[user.id] = 1
    first, second = await start(client, user), await start(client, user)
    turns = await asyncio.gather(
        send(client, user, first, "I had a rough day"),
        send(client, user, second, "I had a long week"),
    )
    outcomes = sorted((t["replies"][0]["engine"], t["out_of_credits"]) for t in turns)
    assert outcomes == [("openai", False), ("scripted", True)]
    assert len(ledger.debits) == 1
    assert ledger.balances[user.id] == 0
