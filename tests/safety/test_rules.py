"""The rules as data: every file loads, every signal is used, patterns behave as documented."""

from __future__ import annotations

import pytest

from mindspace.safety.assessment import RiskLevel, Signal
from mindspace.safety.rules import LANGUAGES, compile_patterns, ruleset, stretch


def test_every_signal_has_a_rule() -> None:
    used = {rule.signal for rule in ruleset().rules}
    # Similar phrasing is the learned layer's own signal, never a rule's.
    assert used == set(Signal) - {Signal.similar_phrasing}


def test_the_signals_that_never_raise_a_level_alone() -> None:
    # Losses and distress are context; sudden calm is a warning sign only after distress.
    can_raise = {r.signal for r in ruleset().rules if r.level is not RiskLevel.normal}
    assert set(Signal) - can_raise == {
        Signal.stressor,
        Signal.distress,
        Signal.sudden_calm,
        Signal.similar_phrasing,
    }


def test_escalations_lead_to_high_risk_from_real_signals() -> None:
    for escalation in ruleset().escalations:
        assert escalation.level is RiskLevel.high_risk
        assert escalation.when
        assert escalation.with_


def test_every_language_contributes_rules() -> None:
    assert LANGUAGES == ("en", "hi", "es")
    hindi = compile_patterns(["मरना चाह"])
    assert hindi.search("मैं मरना चाहता हूं")


@pytest.mark.parametrize(
    ("pattern", "regex"),
    [
        ("kill", "k+i+l+"),
        ("dont", "d+o+n+t+"),
        ("a b", r"a+[\W_]+b+"),
        ("kil+", "k+i+l+"),
        ("x?y", "x?y+"),
        ("[a-z]{2} (?:q|r)", r"[a-z]{2}[\W_]+(?:q+|r+)"),
        ("(?<!no )x", r"(?<!n+o+[\W_]+)x+"),
    ],
)
def test_stretch(pattern: str, regex: str) -> None:
    assert stretch(pattern) == regex
