"""The scripted CBT companion: routing from free text, every guided flow to its end, retries
that never nag, and a way out at every step."""

from __future__ import annotations

from typing import Any

import pytest

from mindspace.companion.engines import EngineRequest, collect
from mindspace.companion.engines import distortions as cbt
from mindspace.companion.engines.scripted import FLOWS, MENU, ScriptedEngine, respond


def converse(*turns: str) -> tuple[list[str], dict[str, Any]]:
    state: dict[str, Any] = {}
    replies = []
    for turn in turns:
        reply, state = respond(turn, state)
        assert reply.strip(), f"empty reply to {turn!r}"
        replies.append(reply)
    return replies, state


@pytest.mark.parametrize(
    ("text", "flow"),
    [
        ("I'm panicking and everything is too much", "grounding"),
        ("can you help me calm down, I need to breathe", "box_breathing"),
        ("I'm such a failure", "thought_record"),
        ("I keep worrying about my exam", "worry_time"),
        ("I have no motivation, I can't get out of bed", "behavioural_activation"),
        ("let's do some gratitude", "gratitude"),
    ],
)
def test_free_text_starts_the_matching_exercise(text: str, flow: str) -> None:
    _, state = converse(text)
    assert state["flow"] == flow
    assert state["step"] == 0


def test_a_thought_record_runs_to_a_summary_with_the_change_in_feeling() -> None:
    replies, state = converse(
        "thought record",
        "My friend didn't reply all day",
        "She must think I'm annoying",
        "anxious 80",
        "mind reading",
        "She hasn't answered",
        "She said last week she's swamped at work",
        "She's probably busy; it says nothing about me",
        "45",
    )
    assert state == {}
    summary = replies[-1]
    assert "She must think I'm annoying" in summary
    assert "She's probably busy" in summary
    assert "from 80 to 45" in summary
    # The balanced-thought step asked the chosen distortion's own question.
    assert cbt.BY_SLUG["mind_reading"].question in replies[-3]


def test_the_distortion_step_suggests_from_the_thought_and_accepts_not_sure() -> None:
    replies, state = converse("thought record", "At work", "I always mess everything up")
    assert "0 to 100" in replies[-1]
    reply, state = respond("sad 60", state)
    assert "overgeneralisation" in reply.lower()
    reply, state = respond("not sure", state)
    assert state["answers"]["distortion"] == ""
    assert state["step"] == 4


def test_an_answer_that_does_not_fit_is_asked_once_then_taken_as_it_is() -> None:
    _, state = converse("thought record", "At home", "I'm useless")
    reply, state = respond("really bad", state)
    assert "anxious 80" in reply  # the example
    assert state["step"] == 2
    reply, state = respond("just awful", state)
    assert state["step"] == 3  # moved on rather than nag
    assert state["answers"]["feeling"] == {"emotion": "just awful", "intensity": None}


def test_stop_leaves_any_exercise_at_any_step() -> None:
    for name in FLOWS:
        _, state = respond(name.replace("_", " "), {"flow": name, "step": 0, "answers": {}})
        reply, state = respond("stop", {"flow": name, "step": 0, "answers": {}})
        assert state == {}
        assert MENU in reply


def test_behavioural_activation_makes_a_plan_from_the_chosen_activity() -> None:
    replies, state = converse(
        "I can't get out of bed",
        "3",
        "a short walk, calling my sister and tidying my desk",
        "2",
        "tomorrow at 11",
        "I might feel too tired, then I'll just text her",
    )
    assert state == {}
    assert "calling my sister, tomorrow at 11" in replies[-1]
    assert "3 out of 10" in replies[-1]


def test_worry_time_parks_a_worry_that_cannot_be_acted_on() -> None:
    replies, _ = converse("I'm worried", "What if the plane crashes", "no", "tonight at 7")
    assert "worry time: tonight at 7" in replies[-1].lower()
    replies, _ = converse("I'm worried", "My rent is late", "partly", "call the landlord today")
    assert "next step: call the landlord today" in replies[-1].lower()


def test_grounding_walks_through_every_sense() -> None:
    replies, state = converse("grounding", "lamp, cup, book, cat, window", "a", "b", "c", "d")
    assert "5 things you can see" in replies[0]
    assert "1 thing you can taste" in replies[-2]
    assert state == {}
    assert "How are you feeling now" in replies[-1]


def test_psychoeducation_explains_a_named_distortion_or_the_model() -> None:
    reply, state = respond("what is catastrophising?", {})
    assert state == {}
    assert "most likely outcome" in reply
    reply, _ = respond("what is cbt", {})
    assert "thinking traps" in reply
    assert cbt.numbered_list() in reply


def test_open_conversation_reflects_feelings_and_offers_a_menu_when_lost() -> None:
    reply, _ = respond("I feel so lonely tonight", {})
    assert "lonely" in reply
    reply, state = respond("hmm", {})
    assert state == {"misses": 1}
    assert "tell me a little more" in reply
    reply, state = respond("blah", state)
    assert state == {}
    assert MENU in reply


@pytest.mark.parametrize(
    ("answer", "slug"),
    [("6", "labeling"), ("#3", "catastrophizing"), ("mind reading", "mind_reading"), ("99", None)],
)
def test_a_distortion_is_picked_by_number_or_name(answer: str, slug: str | None) -> None:
    chosen = cbt.pick(answer)
    assert (chosen.slug if chosen else None) == slug


@pytest.mark.asyncio
async def test_the_engine_streams_the_reply_and_returns_the_new_state() -> None:
    reply = await ScriptedEngine().start(EngineRequest(history=[], text="grounding"))
    assert reply.engine == "scripted"
    text = await collect(reply)
    assert text == respond("grounding", {})[0]
    assert reply.state["flow"] == "grounding"
