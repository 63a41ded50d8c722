"""The conversation's safety state machine: up at once, down only by explicit rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mindspace.companion.safety_state import (
    SAFETY_MODE_QUIET_PERIOD,
    SafetyState,
    Trigger,
    next_state,
    uses_models,
)

NOW = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
S = SafetyState
T = Trigger


@pytest.mark.parametrize(
    ("before", "trigger", "after"),
    [
        (S.normal, T.assessed_elevated, S.elevated_concern),
        (S.normal, T.assessed_high, S.high_risk),
        (S.elevated_concern, T.assessed_high, S.high_risk),
        (S.high_risk, T.assessed_high, S.safety_mode),
        (S.safety_mode, T.assessed_high, S.safety_mode),
        (S.high_risk, T.assessed_elevated, S.high_risk),
        (S.elevated_concern, T.assessed_elevated, S.elevated_concern),
    ],
)
def test_risk_raises_the_state_at_once(before: S, trigger: T, after: S) -> None:
    assert next_state(before, trigger, now=NOW).after is after


@pytest.mark.parametrize("state", list(SafetyState))
def test_a_normal_message_never_lowers_the_state(state: S) -> None:
    transition = next_state(state, T.assessed_normal, now=NOW)
    assert transition.after is state
    assert not transition.changed


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (S.elevated_concern, S.normal),
        (S.high_risk, S.elevated_concern),  # one step at a time
        (S.normal, S.normal),
    ],
)
def test_the_person_confirming_safety_steps_down_one_level(before: S, after: S) -> None:
    transition = next_state(before, T.person_confirms_safe, now=NOW)
    assert transition.after is after


def test_safety_mode_needs_a_quiet_period_or_a_reviewer() -> None:
    recent = NOW - timedelta(hours=1)
    held = next_state(S.safety_mode, T.person_confirms_safe, now=NOW, last_high_risk_at=recent)
    assert held.after is S.safety_mode
    assert "quiet period" in held.rule

    quiet = NOW - SAFETY_MODE_QUIET_PERIOD
    eased = next_state(S.safety_mode, T.person_confirms_safe, now=NOW, last_high_risk_at=quiet)
    assert eased.after is S.elevated_concern

    cleared = next_state(S.safety_mode, T.reviewer_clears, now=NOW, last_high_risk_at=recent)
    assert cleared.after is S.normal
    assert cleared.changed
    assert cleared.rule


def test_models_write_replies_only_outside_a_crisis() -> None:
    assert [s for s in SafetyState if uses_models(s)] == [S.normal, S.elevated_concern]
