"""The labelled evaluation meets its targets, on the tuning set and on the held-out set."""

from __future__ import annotations

import difflib

import pytest

from mindspace.safety import assess
from mindspace.safety.assessment import RiskLevel
from mindspace.safety.evaluation import SETS, TARGETED, Targets, evaluate, load


@pytest.mark.parametrize("name", TARGETED)
def test_the_targets_are_met(name: str) -> None:
    report = evaluate(name, load(name), assess)
    assert report.failures(Targets()) == [], report.render()


@pytest.mark.parametrize("name", SETS)
def test_the_sets_cover_every_level_language_and_conversations(name: str) -> None:
    examples = load(name)
    assert {e.level for e in examples} == set(RiskLevel)
    assert {e.language for e in examples} == {"en", "hi", "es"}
    assert any(e.context.previous for e in examples)
    assert any(e.critical for e in examples)
    assert len({e.id for e in examples}) == len(examples)


def test_together_the_sets_hold_several_hundred_messages() -> None:
    assert sum(len(load(name)) for name in SETS) >= 500


def test_the_fresh2_set_is_a_measure_and_never_a_target() -> None:
    """Written after everything else and measured before any change: at least 150 messages, 60
    of them high risk and 40 hard normals, a quarter or so Hindi and Spanish; the targets (and so
    any tuning) never look at it."""
    fresh = load("fresh2")
    assert len(fresh) >= 150
    assert sum(e.level is RiskLevel.high_risk for e in fresh) >= 60
    assert sum(e.level is RiskLevel.normal and e.tags != {"everyday"} for e in fresh) >= 40
    assert sum(e.language != "en" for e in fresh) >= len(fresh) // 5
    assert "fresh2" in SETS
    assert "fresh2" not in TARGETED
    ids = {e.id for name in SETS for e in load(name)}
    assert len(ids) == sum(len(load(name)) for name in SETS)


def test_no_fresh2_message_is_a_near_copy_of_one_the_gate_learns_from() -> None:
    """In letters: the fresh set says something only if nothing it holds was seen (the meaning
    is checked with the model in tests/safety/test_classifier.py)."""
    seen = [e.text.lower() for name in TARGETED for e in load(name)]
    for example in load("fresh2"):
        text = example.text.lower()
        for other in seen:
            matcher = difflib.SequenceMatcher(None, text, other)
            if matcher.quick_ratio() >= 0.8:
                assert matcher.ratio() < 0.8, (example.id, example.text, other)


def test_a_missed_target_is_reported() -> None:
    def never_worried(text: str, context: object) -> object:
        return assess("hello")

    report = evaluate("tuning", load("tuning"), never_worried)  # type: ignore[arg-type]
    failures = report.failures(Targets())
    assert len(failures) == 2  # recall and explicit/plan; no false alarms, of course
    assert report.recall(RiskLevel.high_risk) == 0.0
    assert report.false_high_on_normal == 0.0


def test_an_unknown_set_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown evaluation set"):
        load("everything")
