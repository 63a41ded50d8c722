"""What an assessment says: the level, the signals behind it and a sentence a human can read."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field


class RiskLevel(enum.StrEnum):
    normal = "normal"
    elevated_concern = "elevated_concern"
    high_risk = "high_risk"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def at_least(self, other: RiskLevel) -> RiskLevel:
        return self if self.rank >= other.rank else other


_RANKS = {RiskLevel.normal: 0, RiskLevel.elevated_concern: 1, RiskLevel.high_risk: 2}


class Signal(enum.StrEnum):
    """Stable slugs: other domains, dashboards and the evaluation set refer to them."""

    explicit_intent = "explicit_intent"
    plan_or_method = "plan_or_method"
    suicide_attempt = "suicide_attempt"
    self_harm = "self_harm"
    means_question = "means_question"
    goodbye = "goodbye"
    giving_away_possessions = "giving_away_possessions"
    affairs_in_order = "affairs_in_order"
    sudden_calm = "sudden_calm"
    hopelessness = "hopelessness"
    burden = "burden"
    passive_ideation = "passive_ideation"
    third_party_concern = "third_party_concern"
    # The learned layer (safety.classifier): phrased like the labelled warning signs it was
    # trained on, in words no rule knows. The slug predates the classifier and stays stable.
    similar_phrasing = "similar_phrasing"
    # Context only: never a concern alone, but they make a means question or a goodbye one.
    stressor = "stressor"
    distress = "distress"


# Never a concern alone: they only make another signal weigh more.
CONTEXT_ONLY_SIGNALS = frozenset({Signal.stressor, Signal.distress})


@dataclass(frozen=True, slots=True)
class Evidence:
    signal: Signal
    level: RiskLevel
    # The normalised words that matched; for similar phrasing, the piece of the text it read.
    excerpt: str


@dataclass(frozen=True, slots=True)
class AssessmentContext:
    """The conversation so far: earlier messages by the same person (oldest first) and the
    level the session has already reached, which never goes down within a session."""

    previous: Sequence[str] = ()
    session_level: RiskLevel = RiskLevel.normal


@dataclass(frozen=True, slots=True)
class Assessment:
    level: RiskLevel
    signals: tuple[Signal, ...]
    reason: str
    evidence: tuple[Evidence, ...] = field(default=())
