"""The assessor: levels and signals, negation, idioms, third parties, context, languages."""

from __future__ import annotations

import time

import pytest

from mindspace.safety import Assessment, AssessmentContext, RiskLevel, Signal, assess, service

H, E, N = RiskLevel.high_risk, RiskLevel.elevated_concern, RiskLevel.normal


def level(text: str, *previous: str, session: RiskLevel = N) -> RiskLevel:
    return assess(text, AssessmentContext(previous=previous, session_level=session)).level


@pytest.mark.parametrize(
    ("text", "signal"),
    [
        ("I want to kill myself", Signal.explicit_intent),
        ("i'm gonna kms", Signal.explicit_intent),
        ("i wanna unalive myself", Signal.explicit_intent),
        ("thinking about sewerslide", Signal.explicit_intent),
        ("i just want to kys tonight", Signal.explicit_intent),
        ("I bought a rope and I know where I'm going to do it", Signal.plan_or_method),
        ("how many sleeping pills does it take to die", Signal.plan_or_method),
        ("I just swallowed 30 pills", Signal.suicide_attempt),
        ("I cut myself again last night", Signal.self_harm),
        ("By the time you read this I'll be gone", Signal.goodbye),
    ],
)
def test_statements_of_intent_plan_or_attempt_are_high_risk(text: str, signal: Signal) -> None:
    result = assess(text)
    assert result.level is H
    assert signal in result.signals
    assert signal.value.replace("_", " ") in result.reason


def test_an_assessment_explains_itself() -> None:
    result = assess("I want to kill myself")
    assert isinstance(result, Assessment)
    assert result.reason.startswith("high_risk:")
    assert "kill myself" in result.reason
    assert result.evidence[0].signal is Signal.explicit_intent


@pytest.mark.parametrize(
    "text",
    [
        "I would never kill myself",
        "I'm not going to kill myself, I just need to vent",
        "I'm not suicidal, just tired",
        "I don't want to die, I want things to get better",
        "I have no thoughts of suicide",
        "no me quiero morir",
        "jamás me quitaría la vida",
        "main kabhi khudkushi nahi karungi",
        "main marna nahi chahta",
    ],
)
def test_negated_statements_are_not_risk(text: str) -> None:
    result = assess(text)
    assert result.level is N, result.reason


@pytest.mark.parametrize(
    "text",
    [
        "I don't want to live anymore",
        "I no longer want to live",
        "not gonna lie, I want to die",
        "nobody would care if I killed myself",
        "No, I want to die",
        "No, me quiero morir",
        "ya no quiero vivir",
        "mujhe ab jeena nahi hai",
        "मैं अब जीना नहीं चाहता",
    ],
)
def test_a_negative_that_is_the_risk_itself_is_not_a_negation(text: str) -> None:
    assert level(text) is H, assess(text).reason


def test_a_negation_reaches_only_its_own_clause() -> None:
    assert level("I would never have guessed it, but I want to die") is H


@pytest.mark.parametrize(
    "text",
    [
        "this traffic is killing me",
        "I could kill for a coffee",
        "I was dying of laughter",
        "I'm dying to see that film",
        "my mom is going to kill me when she sees my grades",
        "this cake is to die for",
        "I'm bored to death",
        "my phone is dying",
        "I thought I was going to die during my panic attack",
        "me muero de risa",
        "este tráfico me está matando",
        "hans hans ke mar gaya",
        "garmi se mar gaye aaj",
        "I don't wanna live forever, that's my favourite song",
        "I don't want to live in London anymore",
        "I cut my hair short",
        "I need to cut down on caffeine",
    ],
)
def test_idioms_and_everyday_words_are_normal(text: str) -> None:
    assert level(text) is N, assess(text).reason


@pytest.mark.parametrize(
    "text",
    [
        "my friend wants to die",
        "My best friend texted me that she wants to kill herself",
        "my coworker said 'I want to die' and laughed",
        "she said she wants to kill herself",
        "mi hermana dice que se quiere morir",
        "meri dost bol rahi thi ki woh mar jaana chahti hai",
        "मेरा भाई आत्महत्या की बातें करता है",
    ],
)
def test_worry_about_someone_else_is_elevated_not_high(text: str) -> None:
    result = assess(text)
    assert result.level is E, result.reason
    assert result.signals == (Signal.third_party_concern,)


def test_kys_aimed_at_someone_else_is_not_about_the_writer() -> None:
    assert level("you should kys") is N


def test_clinicians_dose_questions_are_normal_and_the_bare_question_is_not() -> None:
    assert level("As an ER nurse, what's the toxic dose of acetaminophen in adults?") is N
    assert level("what's the lethal dose of paracetamol") is E


@pytest.mark.parametrize(
    "text",
    [
        "what's the tallest bridge in the city?",
        "thanks for everything, bye!",
        "I gave my guitar to my best friend",
        "I feel calm and at peace now",
    ],
)
def test_indirect_signs_alone_are_normal_and_after_hopelessness_high(text: str) -> None:
    assert level(text) is N
    assert level(text, "I feel hopeless, it's never going to get better") is H
    assert level(text, "help me plan a trip", "great, thanks") is N


def test_a_means_question_after_a_loss_is_high_risk() -> None:
    assert level("how tall is the golden gate bridge?", "I lost my job today") is H


def test_two_warning_signs_in_one_message_are_high_risk() -> None:
    assert level("I'm a burden and nothing is ever going to get better") is H
    assert level("I've given my things away and said my goodbyes") is H


def test_the_session_level_is_sticky() -> None:
    assert level("ok thanks, I'm fine now", session=H) is H
    assert level("ok thanks, I'm fine now", session=E) is E
    # Without being told, earlier messages set it.
    assert level("lol jk, anyway what's up", "I want to die") is H
    reason = assess("ok", AssessmentContext(session_level=H)).reason
    assert "already at high_risk" in reason


def test_a_new_message_can_raise_a_sticky_level() -> None:
    assert level("I want to kill myself", session=E) is H


def test_only_recent_turns_are_read() -> None:
    old = ("I feel hopeless",) + ("fine",) * 30
    # The hopeless message is out of reach, so the bridge question stays normal; the session
    # level (which the caller carries) is what keeps old disclosures in force.
    assert level("how tall is the golden gate bridge?", *old) is N


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("quiero matarme", H),
        ("estoy pensando en suicidarme", H),
        ("siento que soy una carga para todos", E),
        ("hoy fui al gimnasio", N),
        ("main suicide karna chahta hoon", H),
        ("main sab par bojh hoon", E),
        ("aaj ka din accha tha", N),
        ("मैं आत्महत्या करना चाहती हूँ", H),
        ("अब कोई उम्मीद नहीं बची", E),
        ("मुझे आज बहुत अच्छा लग रहा है", N),
    ],
)
def test_spanish_and_hindi(text: str, expected: RiskLevel) -> None:
    assert level(text) is expected, assess(text).reason


def test_the_same_text_gives_the_same_answer() -> None:
    first = assess("I feel hopeless and I'm a burden")
    assert assess("I feel hopeless and I'm a burden") == first


def test_a_journal_length_entry_is_handled() -> None:
    entry = "Today was long and ordinary, work then dinner with my sister. " * 40
    started = time.perf_counter()
    assert level(entry + "Honestly I want to end my life.") is H
    # Not a timing test (those live in bench/): only a guard against runaway backtracking.
    assert time.perf_counter() - started < 1.0


def test_the_reason_separates_concerns_from_context() -> None:
    result = assess("how tall is the golden gate bridge?")
    assert result.level is N
    assert result.reason.startswith("normal: Noted, not a concern alone: means question")
    negated = assess("I would never kill myself")
    assert "Negated, so not counted" in negated.reason


@pytest.mark.parametrize("text", ["", "   ", "😀😀😀", "1234", "?!?!"])
def test_text_without_words_is_normal(text: str) -> None:
    result = assess(text)
    assert (result.level, result.signals) == (N, ())


@pytest.mark.asyncio
async def test_other_domains_assess_through_the_service_on_or_off_the_loop() -> None:
    short = await service.assess_off_loop("I want to kill myself")
    long = await service.assess_off_loop("An ordinary day at work. " * 100 + "I want to die.")
    assert (short.level, long.level) == (H, H)
    resources = service.crisis_resources("in")
    assert resources.resources[0].phone == "14416"
