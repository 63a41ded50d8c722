"""A conversation's safety state, moved only by explicit rules.

    NORMAL → ELEVATED_CONCERN → HIGH_RISK → SAFETY_MODE

Risk raises the state at once and never lowers it: a normal message after a crisis does not
mean the crisis is over. The state steps down only when the person confirms they are safe or a
reviewer clears it, and from SAFETY_MODE the person's own word counts only once a quiet period
has passed since the last high-risk message (a reviewer can clear it at any time). Every
change is returned as a `Transition` for the caller to audit.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from mindspace.safety.service import Signal

# Never a concern alone (safety.assessment): they only make another signal weigh more.
CONTEXT_ONLY_SIGNALS = frozenset({Signal.stressor, Signal.distress})


class SafetyState(enum.StrEnum):
    normal = "normal"
    elevated_concern = "elevated_concern"
    high_risk = "high_risk"
    # The model engines are off: only safety responses, grounding and resources.
    safety_mode = "safety_mode"


class Trigger(enum.StrEnum):
    assessed_normal = "assessed_normal"
    assessed_elevated = "assessed_elevated"
    assessed_high = "assessed_high"
    person_confirms_safe = "person_confirms_safe"
    reviewer_clears = "reviewer_clears"


SAFETY_MODE_QUIET_PERIOD = timedelta(hours=12)
_ORDER = list(SafetyState)


@dataclass(frozen=True, slots=True)
class Transition:
    before: SafetyState
    after: SafetyState
    trigger: Trigger
    rule: str  # which rule moved it, for the audit trail

    @property
    def changed(self) -> bool:
        return self.before is not self.after


def next_state(
    current: SafetyState,
    trigger: Trigger,
    *,
    now: datetime,
    last_high_risk_at: datetime | None = None,
) -> Transition:
    def to(after: SafetyState, rule: str) -> Transition:
        return Transition(current, after, trigger, rule)

    if trigger is Trigger.assessed_high:
        if current in (SafetyState.high_risk, SafetyState.safety_mode):
            return to(SafetyState.safety_mode, "high risk again during a crisis")
        return to(SafetyState.high_risk, "high risk assessed")
    if trigger is Trigger.assessed_elevated:
        if _ORDER.index(current) < _ORDER.index(SafetyState.elevated_concern):
            return to(SafetyState.elevated_concern, "concern assessed")
        return to(current, "concern does not lower a higher state")
    if trigger is Trigger.assessed_normal:
        return to(current, "a normal message never lowers the state")
    if trigger is Trigger.reviewer_clears:
        return to(SafetyState.normal, "a reviewer cleared the conversation")
    # The person says they are safe.
    if current is SafetyState.high_risk:
        return to(SafetyState.elevated_concern, "the person confirmed they are safe")
    if current is SafetyState.elevated_concern:
        return to(SafetyState.normal, "the person confirmed they are safe")
    if current is SafetyState.safety_mode:
        quiet = last_high_risk_at is None or now - last_high_risk_at >= SAFETY_MODE_QUIET_PERIOD
        if quiet:
            return to(SafetyState.elevated_concern, "safe, after a quiet period in safety mode")
        return to(current, "safety mode holds until a quiet period or a reviewer")
    return to(current, "already normal")


def uses_models(state: SafetyState) -> bool:
    """Whether a language model may write the reply in this state."""
    return state in (SafetyState.normal, SafetyState.elevated_concern)
