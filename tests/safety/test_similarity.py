"""The similarity layer over the real MiniLM model: it raises and never lowers, leaves negated
and idiomatic look-alikes alone, reads English only, and its examples are no copies of the
held-out or fresh messages it is measured on."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import numpy as np
import pytest

from mindspace.platform import embeddings
from mindspace.safety import engine
from mindspace.safety.assessment import AssessmentContext, RiskLevel, Signal
from mindspace.safety.evaluation import (
    SETS,
    TARGETED,
    Ceilings,
    Targets,
    calibrate,
    evaluate,
    load,
)
from mindspace.safety.service import similarity_layer
from mindspace.safety.similarity import Similarity, Vectors, exemplars, pieces, reads

pytestmark = pytest.mark.skipif(
    not embeddings.extra_installed(), reason="needs the `ai` extra (part of `dev`)"
)
H, E, N = RiskLevel.high_risk, RiskLevel.elevated_concern, RiskLevel.normal
# Written for these tests: in no evaluation set and no example, and no rule knows them.
MISSED_BY_THE_RULES = (
    "honestly I'm ready to stop being alive",
    "I'm going to swallow every tablet in the house tonight",
    "I've been saving my sleeping tablets",
)
DENIED = (
    "I'm not done with living, just tired",
    "I'm not planning to leave this world, I just feel low",
    "I would never swallow all my tablets, don't worry",
)
IDIOMS = (
    "this week is killing me, I'm so done",
    "that meeting killed me, I'm dead",
    "this exam is going to kill me, I swear",
    "I'm dying to leave this job",
)


@pytest.fixture(scope="module")
def layer() -> Similarity:
    return similarity_layer(embeddings.shared_encoder())


def test_the_examples_are_embedded_once_per_encoder(layer: Similarity) -> None:
    assert similarity_layer(embeddings.shared_encoder()) is layer


@pytest.mark.parametrize("text", MISSED_BY_THE_RULES)
def test_a_message_the_rules_miss_is_raised_with_its_own_signal(
    layer: Similarity, text: str
) -> None:
    assert engine.assess(text).level is N
    result = engine.assess(text, similarity=layer)
    assert result.level is H
    assert Signal.similar_phrasing in result.signals
    [found] = [e for e in result.evidence if e.signal is Signal.similar_phrasing]
    assert found.excerpt in {e.text for e in exemplars().items}
    assert f"similar phrasing (“{found.excerpt}”)" in result.reason


@pytest.mark.parametrize("name", SETS)
def test_it_never_lowers_what_the_rules_found(layer: Similarity, name: str) -> None:
    for example in load(name):
        rules = engine.assess(example.text, example.context)
        both = engine.assess(example.text, example.context, similarity=layer)
        assert both.level.rank >= rules.level.rank, example
        assert set(rules.evidence) <= set(both.evidence), example


def test_it_never_lowers_a_session_already_in_crisis(layer: Similarity) -> None:
    context = AssessmentContext(previous=("I want to kill myself",), session_level=H)
    assert (
        engine.assess("I'm not done with living, just tired", context, similarity=layer).level is H
    )


@pytest.mark.parametrize("text", DENIED)
def test_a_denial_in_words_no_rule_knows_is_left_alone(layer: Similarity, text: str) -> None:
    # Read without the rules' help, a sentence embedding takes the denial for the wish.
    blind = Similarity(layer.encoder, exemplars(), thresholds=layer.thresholds)
    assert blind.match([text])[0].level is H
    assert layer.match([text])[0].level is N
    assert engine.assess(text, similarity=layer).level is N


def test_a_warning_sign_said_with_a_negation_still_counts(layer: Similarity) -> None:
    # "never" is part of the wish here, not its denial.
    assert engine.assess("I never want to wake up again", similarity=layer).level is H


@pytest.mark.parametrize("text", IDIOMS)
def test_idioms_are_left_alone(layer: Similarity, text: str) -> None:
    assert engine.assess(text, similarity=layer).level is N


def test_what_the_rules_explain_away_is_not_read(layer: Similarity) -> None:
    # Idioms, other people's words and negated phrases are blanked before the model reads.
    assert "killing" not in engine.readable("this week is killing me")
    assert "die" not in engine.readable("my friend said she wants to die")
    assert "kill myself" not in engine.readable("I'm not going to kill myself, relax")
    assert engine.negated_clauses(engine.readable("I'm not done with living")) == [
        "done with living"
    ]
    assert engine.negated_clauses(engine.readable("I'm not sure how I feel")) == []


def test_an_indirect_sign_it_finds_combines_with_earlier_hopelessness(layer: Similarity) -> None:
    text = "I've started handing my things out to friends"
    context = AssessmentContext(previous=("I feel hopeless, nothing is ever going to change",))
    assert engine.assess(text, context).level is E  # the rules: the earlier hopelessness only
    alone = engine.assess(text, similarity=layer)
    assert alone.level is E
    together = engine.assess(text, context, similarity=layer)
    assert together.level is H
    assert "indirect warning sign next to hopelessness" in together.reason


def test_what_it_found_in_an_earlier_message_stays_with_the_conversation(
    layer: Similarity,
) -> None:
    context = AssessmentContext(previous=("I've been saving my sleeping tablets",))
    assert engine.assess("ok, what's on tv tonight", context).level is N
    assert engine.assess("ok, what's on tv tonight", context, similarity=layer).level is H


def test_one_sentence_of_crisis_in_a_long_entry_is_read(layer: Similarity) -> None:
    day = "Today was a long day at work and the bus was late again, so I walked home. " * 4
    evening = "Dinner was pasta and I watched a film with my flatmate before bed. " * 3
    entry = day + "I've been saving my sleeping tablets. " + evening
    assert len(pieces(entry)) > 1
    assert engine.assess(entry).level is N
    assert engine.assess(entry, similarity=layer).level is H
    assert engine.assess(day + evening, similarity=layer).level is N


def test_it_reads_english_only() -> None:
    assert reads("I've been saving my sleeping tablets")
    assert reads("kms fr")
    assert not reads("मेरी माँ ने खाना बनाया")
    assert not reads("aaj bahut kaam tha yaar, thak gaya hoon")
    assert not reads("me voy a la playa mañana")


def test_other_languages_are_left_to_the_rules(layer: Similarity) -> None:
    # Measured: in Devanagari the model puts "my mother cooked" next to a suicide attempt.
    for text in ("मेरी माँ ने खाना बनाया", "me siento triste hoy", "aaj neend bahut acchi aayi"):
        assert layer.match([text])[0].level is N
        assert engine.assess(text, similarity=layer).level is N


@pytest.mark.parametrize("name", TARGETED)
def test_the_targets_are_met_with_the_layer(layer: Similarity, name: str) -> None:
    report = evaluate(name, load(name), lambda t, c: engine.assess(t, c, similarity=layer))
    assert report.failures(Targets()) == [], report.render()


def test_calibration_keeps_the_combined_costs_under_the_ceilings(layer: Similarity) -> None:
    examples = load("tuning")[::5]
    found = calibrate(layer, examples, Ceilings(0.0, 0.05, 0.05), limit=5)
    assert found
    for point in found:
        assert point.false_high_on_normal == 0.0
        assert point.flagged_normal <= 0.05
        assert point.raised_elevated <= 0.05
    ranks = [(-p.alone_high, -p.alone_concern, -p.alone_elevated) for p in found]
    assert ranks == sorted(ranks)
    # What it reports is what an evaluation under those thresholds finds.
    best = layer.with_thresholds(found[0].thresholds)
    report = evaluate("tuning", examples, lambda t, c: engine.assess(t, c, similarity=best))
    assert report.flagged_normal == pytest.approx(found[0].flagged_normal)
    high, total = report.caught(H)
    assert high == total  # the rules already catch every tuning message


class _Counting:
    """The real encoder, counting the texts it is asked to encode."""

    def __init__(self) -> None:
        self.inner = embeddings.shared_encoder()
        self.name = self.inner.name
        self.encoded: list[str] = []

    def encode(self, texts: Sequence[str]) -> Vectors:
        self.encoded += texts
        return self.inner.encode(texts)


def test_a_conversation_is_encoded_once_per_message() -> None:
    counting = _Counting()
    layer = Similarity(counting, exemplars(), prepare=engine.readable)
    examples_encoded = len(counting.encoded)
    earlier = ["I feel so low today", "work was awful"]
    engine.assess("and now I can't sleep", AssessmentContext(previous=earlier), similarity=layer)
    engine.assess(
        "maybe tomorrow is better",
        AssessmentContext(previous=[*earlier, "and now I can't sleep"]),
        similarity=layer,
    )
    assert len(counting.encoded) - examples_encoded == 4


def test_the_examples_are_no_copies_of_the_messages_they_are_measured_on() -> None:
    """The held-out and fresh sets are never examples: no example is a near copy of one, in
    letters or in meaning."""
    items = [e.text for e in exemplars().items]
    encoder = embeddings.shared_encoder()
    vectors = encoder.encode(items)
    for name in ("heldout", "fresh2"):
        messages = [e.text for e in load(name)]
        for example in items:
            for message in messages:
                ratio = difflib.SequenceMatcher(None, example.lower(), message.lower()).ratio()
                assert ratio < 0.8, (name, example, message)
        similarity: np.typing.NDArray[np.float32] = vectors @ encoder.encode(messages).T
        closest = np.unravel_index(int(similarity.argmax()), similarity.shape)
        assert similarity.max() < 0.9, (name, items[closest[0]], messages[closest[1]])


def test_no_fresh2_message_means_the_same_as_one_the_gate_learns_from() -> None:
    """In meaning, for English (the model cannot compare Hindi or Spanish messages)."""
    encoder = embeddings.shared_encoder()
    seen = [e.text for name in TARGETED for e in load(name) if e.language == "en"]
    fresh = [e.text for e in load("fresh2") if e.language == "en"]
    similarity = encoder.encode(fresh) @ encoder.encode(seen).T
    closest = np.unravel_index(int(similarity.argmax()), similarity.shape)
    assert similarity.max() < 0.9, (fresh[closest[0]], seen[closest[1]])


def test_the_examples_are_english_and_each_group_stands_for_a_signal() -> None:
    data = exemplars()
    assert {e.level for e in data.items} == set(RiskLevel)
    for item in data.items:
        assert reads(item.text), item
        assert (item.signal is None) == (item.level is N), item
    t = data.thresholds
    assert 0 < t.elevated_concern <= t.high_risk < 1
    assert 0 <= t.margin < 0.5
