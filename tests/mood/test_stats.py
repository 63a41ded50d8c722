"""Insight statistics on generated data with known answers: a planted effect is found, noise is
not reported, and the test statistics agree with an independent reference."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from scipy import stats as reference  # type: ignore[import-untyped]

from mindspace.mood.stats import (
    FALSE_DISCOVERY_RATE,
    activity_associations,
    benjamini_hochberg,
    welch_t_test,
)

NULL_ACTIVITIES = ("reading", "music", "work", "chores", "tv")


def generated(
    seed: int, *, days: int, effect: float, rate: float = 0.4, noise: float = 1.5
) -> tuple[dict[date, float], dict[date, frozenset[str]]]:
    """Daily scores around 5.5; on yoga days `effect` higher. The null activities are drawn
    independently of the score, so any association found with them is noise."""
    rng = random.Random(seed)
    first = date(2024, 1, 1)
    scores, activities = {}, {}
    for i in range(days):
        day = first + timedelta(days=i)
        done = {a for a in NULL_ACTIVITIES if rng.random() < rate}
        if rng.random() < rate:
            done.add("yoga")
        scores[day] = 5.5 + rng.gauss(0, noise) + (effect if "yoga" in done else 0.0)
        activities[day] = frozenset(done)
    return scores, activities


def test_welch_matches_the_reference_implementation() -> None:
    rng = random.Random(1)
    for _ in range(50):
        a = [rng.gauss(5, 2) for _ in range(rng.randint(2, 40))]
        b = [rng.gauss(5.5, 1) for _ in range(rng.randint(2, 40))]
        ours = welch_t_test(a, b)
        theirs = reference.ttest_ind(a, b, equal_var=False)
        assert ours.t == pytest.approx(theirs.statistic, rel=1e-9)
        assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-7)


def test_welch_on_a_textbook_example() -> None:
    # t = -1.8974, df = 5.882, two-sided p = 0.1075 (by hand from the formulas).
    result = welch_t_test([1, 2, 3, 4, 5], [2, 4, 6, 8, 10])
    assert result.t == pytest.approx(-1.8973666, rel=1e-6)
    assert result.df == pytest.approx(5.8824, rel=1e-4)
    assert result.p_value == pytest.approx(0.1075, abs=5e-4)


def test_welch_on_constant_sides() -> None:
    assert welch_t_test([3, 3, 3], [3, 3]).p_value == 1.0
    assert welch_t_test([3, 3, 3], [5, 5]).p_value == 0.0
    with pytest.raises(ValueError, match="two values"):
        welch_t_test([1], [1, 2])


def test_benjamini_hochberg_matches_the_reference() -> None:
    p = [0.01, 0.04, 0.03, 0.005, 0.5, 0.2, 0.049]
    assert benjamini_hochberg(p) == pytest.approx(
        list(reference.false_discovery_control(p, method="bh"))
    )
    assert benjamini_hochberg([]) == []


def test_a_planted_activity_effect_is_found_with_its_size() -> None:
    scores, activities = generated(7, days=730, effect=1.4)
    report = activity_associations(scores, activities)
    assert [a.key for a in report.reported] == ["yoga"]
    (yoga,) = report.reported
    assert yoga.difference == pytest.approx(1.4, abs=0.3)
    assert yoga.n_with + yoga.n_without == 730
    assert report.tested == 1 + len(NULL_ACTIVITIES)


def test_a_planted_effect_is_found_in_three_months_of_data_almost_always() -> None:
    found = 0
    for seed in range(100):
        scores, activities = generated(seed, days=90, effect=1.4)
        found += "yoga" in {a.key for a in activity_associations(scores, activities).reported}
    assert found >= 90


def test_activities_without_an_effect_are_rarely_reported() -> None:
    """Under no effect at all, FDR control at 5% keeps the chance of any report near 5%."""
    seeds = 300
    any_report = 0
    for seed in range(seeds):
        scores, activities = generated(seed, days=120, effect=0.0)
        any_report += bool(activity_associations(scores, activities).reported)
    assert any_report / seeds <= 2 * FALSE_DISCOVERY_RATE


def test_without_multiple_comparison_control_noise_would_be_reported_far_more_often() -> None:
    """The control matters: raw p < 0.05 on any of six null activities fires far more often."""
    seeds = 300
    raw = 0
    for seed in range(seeds):
        scores, activities = generated(seed, days=120, effect=0.0)
        report = activity_associations(scores, activities, rate=1.0)
        raw += any(a.p_value < 0.05 for a in report.reported)
    assert raw / seeds > 2 * FALSE_DISCOVERY_RATE


def test_too_few_days_on_either_side_is_never_tested() -> None:
    scores = {date(2024, 1, 1) + timedelta(days=i): 5.0 for i in range(40)}
    activities = {day: frozenset({"yoga"}) for day in list(scores)[:9]}
    for day in list(scores)[:9]:
        scores[day] = 10.0  # a huge difference, but only 9 days with it
    everyday = {day: activities.get(day, frozenset()) | {"work"} for day in scores}
    report = activity_associations(scores, everyday)
    assert report.reported == []
    assert report.tested == 0
    assert sorted(report.not_enough_data) == ["work", "yoga"]
