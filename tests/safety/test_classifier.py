"""The learned layer over the real MiniLM model: it raises and never lowers, leaves denials,
idioms, short replies and unreadable scripts alone; its training is deterministic and its
training data holds no copy of the messages it is measured on. That the shipped file is what
`mindspace safety train` gives is checked in tests/safety/test_cli.py."""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence

import numpy as np
import pytest

from mindspace.platform import embeddings
from mindspace.safety import engine, training
from mindspace.safety.assessment import AssessmentContext, RiskLevel, Signal
from mindspace.safety.classifier import (
    LEVELS,
    MIN_WORDS,
    Classifier,
    Thresholds,
    Vectors,
    model,
    pieces,
    reads,
)
from mindspace.safety.evaluation import SETS, TARGETED, Targets, evaluate, load
from mindspace.safety.service import classifier_layer

pytestmark = pytest.mark.skipif(
    not embeddings.extra_installed(), reason="needs the `ai` extra (part of `dev`)"
)
H, E, N = RiskLevel.high_risk, RiskLevel.elevated_concern, RiskLevel.normal
# Written for these tests: in no evaluation set and no training example, and no rule knows them.
MISSED_BY_THE_RULES = (
    "my heart can stop tonight, I've made sure of it",
    "I am going to end my story tonight",
)
# The layer alone reads these as high risk; the negation is what says otherwise.
DENIED = (
    "I'm not going to end my story tonight",
    "I am not going to make my heart stop, I promise",
)
IDIOMS = (
    "this week is killing me, I'm so done",
    "that meeting killed me, I'm dead",
    "this exam is going to kill me, I swear",
    "I'm dying to leave this job",
)


@pytest.fixture(scope="module")
def layer() -> Classifier:
    return classifier_layer(embeddings.shared_encoder())


def test_the_layer_is_built_once_per_encoder(layer: Classifier) -> None:
    assert classifier_layer(embeddings.shared_encoder()) is layer


@pytest.mark.parametrize("text", MISSED_BY_THE_RULES)
def test_a_message_the_rules_miss_is_raised_with_its_own_signal(
    layer: Classifier, text: str
) -> None:
    assert engine.assess(text).level is N
    result = engine.assess(text, classifier=layer)
    assert result.level is H
    assert result.signals == (Signal.similar_phrasing,)
    [found] = result.evidence
    assert found.excerpt == engine.readable(text)
    assert f"similar phrasing (“{found.excerpt}”)" in result.reason


@pytest.mark.parametrize("name", SETS)
def test_it_never_lowers_what_the_rules_found(layer: Classifier, name: str) -> None:
    for example in load(name):
        rules = engine.assess(example.text, example.context)
        both = engine.assess(example.text, example.context, classifier=layer)
        assert both.level.rank >= rules.level.rank, example
        assert set(rules.evidence) <= set(both.evidence), example
        assert {e.signal for e in set(both.evidence) - set(rules.evidence)} <= {
            Signal.similar_phrasing
        }, example


def test_it_never_lowers_a_session_already_in_crisis(layer: Classifier) -> None:
    context = AssessmentContext(previous=("I want to kill myself",), session_level=H)
    assert (
        engine.assess("I'm not done with living, just tired", context, classifier=layer).level is H
    )


def test_what_the_rules_already_found_is_not_counted_twice(layer: Classifier) -> None:
    # The layer agrees that this is high risk; the rules said so first, and only they speak.
    result = engine.assess("I want to kill myself tonight", classifier=layer)
    assert result.signals == (Signal.explicit_intent,)


@pytest.mark.parametrize("text", DENIED)
def test_a_denial_in_words_no_rule_knows_is_left_alone(layer: Classifier, text: str) -> None:
    # Read without the negated clause apart, the embedding takes the denial for the wish.
    blind = Classifier(layer.encoder, model(), prepare=engine.readable)
    assert blind.match([text])[0].level is H
    assert layer.match([text])[0].level is N
    assert engine.assess(text, classifier=layer).level is N


@pytest.mark.parametrize("text", IDIOMS)
def test_idioms_are_left_alone(layer: Classifier, text: str) -> None:
    assert engine.assess(text, classifier=layer).level is N


@pytest.mark.parametrize(
    "text", ["ok", "yes", "no", "fine", "idk", "vale, gracias", "yeah I guess"]
)
def test_a_short_reply_is_left_to_the_rules(layer: Classifier, text: str) -> None:
    # A linear model put each of these at elevated concern when it read them.
    assert layer.read([text]) == [[]]
    hopeless = AssessmentContext(previous=("nothing will ever get better for me",))
    assert engine.assess(text, hopeless, classifier=layer).level is E


def test_a_short_text_is_one_the_rules_read() -> None:
    # Every short warning sign on the training side is one the rules find.
    for example in load("tuning"):
        if len(engine.readable(example.text).split()) < MIN_WORDS and example.level is not N:
            assert engine.assess(example.text, example.context).level is example.level, example


def test_an_indirect_sign_it_finds_combines_with_earlier_hopelessness(layer: Classifier) -> None:
    text = "I've started handing my things out to friends"
    context = AssessmentContext(previous=("I feel hopeless, nothing is ever going to change",))
    assert engine.assess(text, context).level is E  # the rules: the earlier hopelessness only
    assert engine.assess(text, classifier=layer).level is E
    together = engine.assess(text, context, classifier=layer)
    assert together.level is H
    assert "indirect warning sign next to hopelessness" in together.reason


def test_a_plain_goodbye_after_what_only_it_found_stays_a_goodbye(layer: Classifier) -> None:
    # Never a partner: a false reading must not turn the conversation's "bye" into a crisis.
    context = AssessmentContext(previous=("I've started handing my things out to friends",))
    assert engine.assess("thanks for everything, bye", context, classifier=layer).level is E


def test_what_it_found_in_an_earlier_message_stays_with_the_conversation(
    layer: Classifier,
) -> None:
    context = AssessmentContext(previous=(MISSED_BY_THE_RULES[0],))
    assert engine.assess("ok, what's on tv tonight", context).level is N
    assert engine.assess("ok, what's on tv tonight", context, classifier=layer).level is H


def test_one_sentence_of_crisis_in_a_long_entry_is_read(layer: Classifier) -> None:
    day = "Today was a long day at work and the bus was late again, so I walked home. " * 4
    evening = "Dinner was pasta and I watched a film with my flatmate before bed. " * 3
    entry = day + MISSED_BY_THE_RULES[1] + ". " + evening
    assert len(pieces(entry)) > 1
    assert engine.assess(entry).level is N
    assert engine.assess(entry, classifier=layer).level is H
    assert engine.assess(day + evening, classifier=layer).level is N


def test_it_reads_what_its_word_pieces_can_carry() -> None:
    assert reads("I've been saving my sleeping tablets")
    assert reads("aaj bahut kaam tha yaar, thak gaya hoon")
    assert reads("me voy a la playa mañana")
    assert not reads("मेरी माँ ने खाना बनाया")


def test_devanagari_is_left_to_the_rules(layer: Classifier) -> None:
    # Measured: the model puts a Devanagari "my mother cooked" next to a suicide attempt.
    for text in ("मेरी माँ ने खाना बनाया", "मैं आज बहुत खुश हूँ"):
        assert layer.read([text]) == [[]]
        assert engine.assess(text, classifier=layer).level is N


def test_its_thresholds_are_its_own_decision(layer: Classifier) -> None:
    text = MISSED_BY_THE_RULES[0]
    assert layer.with_thresholds(Thresholds(1.01, 1.01)).match([text])[0].level is N
    # The middle tier: below the high threshold, but likely enough to be a concern.
    probabilities = layer.read([text])[0][0].probabilities
    tier = Thresholds(float(probabilities[2]) + 0.01, float(probabilities[1:].sum()) - 0.01)
    assert layer.with_thresholds(tier).match([text])[0].level is E


@pytest.mark.parametrize("name", TARGETED)
def test_the_targets_are_met_with_the_layer(layer: Classifier, name: str) -> None:
    report = evaluate(name, load(name), lambda t, c: engine.assess(t, c, classifier=layer))
    assert report.failures(Targets()) == [], report.render()


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
    layer = Classifier(counting, model(), prepare=engine.readable)
    earlier = ["I feel so low today, honestly", "work was awful again today"]
    engine.assess("and now I can't sleep at all", AssessmentContext(earlier), classifier=layer)
    engine.assess(
        "maybe tomorrow will be better",
        AssessmentContext(previous=[*earlier, "and now I can't sleep at all"]),
        classifier=layer,
    )
    assert len(counting.encoded) == 4


def test_a_model_for_another_encoder_is_refused() -> None:
    class Other:
        name = "another-model"

        def encode(self, texts: Sequence[str]) -> Vectors:
            raise AssertionError("never called")

    with pytest.raises(ValueError, match="trained on all-MiniLM-L6-v2"):
        Classifier(Other(), model())


# The shipped weights, and how they come about.


def test_the_shipped_file_was_trained_on_the_training_side_as_it_is_now() -> None:
    """Cheap: the fingerprint of the rows as the model reads them (the data, and the rules that
    blank idioms and negations first). Edit either and `mindspace safety train` must run."""
    shipped = json.loads(training.shipped_text())
    rows = training.learnable(training.training_rows(), engine.readable)
    assert shipped["trained_on"]["digest"] == training.digest(rows, engine.readable)
    assert shipped["trained_on"]["rows"] == len(rows)


def test_the_shipped_model_is_well_formed() -> None:
    shipped = model()
    assert shipped.encoder == embeddings.SentenceEncoder.name
    assert shipped.coefficients.shape == (len(LEVELS), embeddings.SentenceEncoder.dimensions)
    assert 0.5 <= shipped.thresholds.high_risk < 1
    assert 0.5 <= shipped.thresholds.elevated_concern < 1
    rows = shipped.probabilities(np.eye(embeddings.SentenceEncoder.dimensions, dtype=np.float32))
    assert np.allclose(rows.sum(axis=1), 1)


def test_training_is_deterministic() -> None:
    rows = training.training_rows()[::4]
    encoder = embeddings.shared_encoder()
    first = training.render(training.train(encoder, engine.readable, rows=rows))
    assert training.render(training.train(encoder, engine.readable, rows=rows)) == first


def test_a_changed_model_is_told_apart() -> None:
    shipped = training.shipped_text()
    data = json.loads(shipped)
    data["thresholds"]["high_risk"] = 0.5
    data["coefficients"][0][0] += 0.01
    found = training.differences(shipped, json.dumps(data))
    assert any(line.startswith("thresholds") for line in found)
    assert any(line.startswith("weights") for line in found)
    data = json.loads(shipped)
    data["coefficients"][0][0] += 0.0001  # the noise of an embedding's last bits
    assert training.differences(shipped, json.dumps(data)) == []


def test_thresholds_are_the_lowest_within_the_ceilings() -> None:
    # Held-out probabilities of six normal, two elevated and four high-risk messages.
    probabilities = np.array(
        [
            [0.9, 0.05, 0.05],
            [0.8, 0.1, 0.1],
            [0.7, 0.1, 0.2],
            [0.6, 0.3, 0.1],
            [0.4, 0.1, 0.5],
            [0.1, 0.1, 0.8],  # a normal message the layer would raise below 0.825
            [0.2, 0.7, 0.1],
            [0.2, 0.6, 0.2],
            [0.1, 0.1, 0.8],
            [0.05, 0.05, 0.9],
            [0.3, 0.1, 0.6],
            [0.1, 0.3, 0.6],
        ]
    )
    labels = np.array([0] * 6 + [1] * 2 + [2] * 4)
    chosen = training._choose(probabilities, labels, training.Ceilings(0.0, 0.0, 1 / 6))
    assert chosen.high_risk == 0.825
    costs = training._costs(probabilities, labels, chosen)
    assert costs.false_high_on_normal == 0
    assert costs.flagged_normal <= 1 / 6
    assert costs.high_at_high == 0.25


# The training side holds no copy of what the layer is measured on.


def test_the_examples_are_no_copies_of_the_messages_they_are_measured_on() -> None:
    """No training example is a near copy of a held-out or fresh2 message, in letters or, in
    English, in meaning."""
    items = [r.text for r in training.examples()]
    encoder = embeddings.shared_encoder()
    vectors = encoder.encode(items)
    for name in ("heldout", "fresh2"):
        examples = load(name)
        for item in items:
            for message in examples:
                ratio = difflib.SequenceMatcher(None, item.lower(), message.text.lower()).ratio()
                assert ratio < 0.8, (name, item, message.text)
        english = [e.text for e in examples if e.language == "en"]
        similarity = vectors @ encoder.encode(english).T
        closest = np.unravel_index(int(similarity.argmax()), similarity.shape)
        assert similarity.max() < 0.9, (name, items[closest[0]], english[closest[1]])


def test_no_fresh2_message_means_the_same_as_one_the_gate_learns_from() -> None:
    """In meaning, for English (the model cannot compare Hindi or Spanish messages)."""
    encoder = embeddings.shared_encoder()
    seen = [e.text for name in TARGETED for e in load(name) if e.language == "en"]
    fresh = [e.text for e in load("fresh2") if e.language == "en"]
    similarity = encoder.encode(fresh) @ encoder.encode(seen).T
    closest = np.unravel_index(int(similarity.argmax()), similarity.shape)
    assert similarity.max() < 0.9, (fresh[closest[0]], seen[closest[1]])


def test_the_training_side_is_labelled_as_each_message_reads_alone() -> None:
    rows = {r.source: r for r in training.training_rows()}
    tuning = {e.id: e for e in load("tuning")}
    # A turn that is high risk only after what came before: one indirect sign alone.
    assert tuning["t163"].level is H
    assert rows["t163"].level is E
    # A turn that only carries the conversation's level says nothing of its own.
    assert "sticky" in tuning["t171"].tags
    assert "t171" not in rows
    # Devanagari is never read, so never learned from.
    assert all(reads(r.text) for r in rows.values())
    assert {r.level for r in training.examples()} == set(RiskLevel)
