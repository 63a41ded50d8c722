"""The labelled evaluation meets its targets, on the tuning set and on the held-out set."""

from __future__ import annotations

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
