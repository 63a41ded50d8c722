"""The statistics behind insights, pure and small enough to test on data with known answers.

Associations between an activity and mood are the place where noise is easily sold as insight,
so a difference is reported only when (1) both sides have enough days, (2) Welch's t-test (no
equal-variance assumption: days with yoga need not vary like days without) finds it, and
(3) it survives Benjamini–Hochberg control of the false discovery rate across every activity
tested in the same request.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)

MIN_DAYS_EACH_SIDE = 10
FALSE_DISCOVERY_RATE = 0.05


def mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


def sample_variance(values: Sequence[float]) -> float:
    centre = mean(values)
    return math.fsum((v - centre) ** 2 for v in values) / (len(values) - 1)


@dataclass(frozen=True, slots=True)
class WelchResult:
    t: float
    df: float
    p_value: float  # two-sided


def welch_t_test(a: Sequence[float], b: Sequence[float]) -> WelchResult:
    if len(a) < 2 or len(b) < 2:
        raise ValueError("each side needs at least two values")
    # scipy.special (the t distribution) on first use only: most requests never need it, and
    # every API process would otherwise carry it in memory.
    from scipy.special import stdtr  # type: ignore[import-untyped]

    va, vb = sample_variance(a) / len(a), sample_variance(b) / len(b)
    difference = mean(a) - mean(b)
    if va + vb == 0.0:
        # Both sides constant: identical means say nothing, different ones separate perfectly.
        return WelchResult(math.copysign(math.inf, difference), math.inf, float(difference == 0))
    t = difference / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    return WelchResult(t, df, min(1.0, 2.0 * float(stdtr(df, -abs(t)))))


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Adjusted p-values (q-values), in the input's order: reject where q <= the chosen rate."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, p_values[i] * m / rank)
        adjusted[i] = running
    return adjusted


@dataclass(frozen=True, slots=True)
class Association(Generic[K]):
    key: K
    n_with: int
    n_without: int
    mean_with: float
    mean_without: float
    p_value: float
    q_value: float

    @property
    def difference(self) -> float:
        return self.mean_with - self.mean_without


@dataclass(frozen=True, slots=True)
class AssociationReport(Generic[K]):
    reported: list[Association[K]]  # significant after FDR control, largest effect first
    tested: int
    not_enough_data: list[K]


def activity_associations(
    day_scores: Mapping[date, float],
    day_activities: Mapping[date, frozenset[K]],
    *,
    min_days_each_side: int = MIN_DAYS_EACH_SIDE,
    rate: float = FALSE_DISCOVERY_RATE,
) -> AssociationReport[K]:
    """Compares, for each activity, the average daily score on days with it against days
    without it (among days with a score). The unit is the local day, so ten check-ins on one
    yoga day count once."""
    keys: set[K] = set()
    for activities in day_activities.values():
        keys |= activities
    candidates: list[tuple[K, list[float], list[float]]] = []
    too_few: list[K] = []
    for key in sorted(keys, key=str):
        with_: list[float] = []
        without: list[float] = []
        for day, score in day_scores.items():
            (with_ if key in day_activities.get(day, ()) else without).append(score)
        if len(with_) < min_days_each_side or len(without) < min_days_each_side:
            too_few.append(key)
        else:
            candidates.append((key, with_, without))
    tests = [welch_t_test(w, wo) for _, w, wo in candidates]
    q_values = benjamini_hochberg([t.p_value for t in tests])
    reported = [
        Association(key, len(w), len(wo), mean(w), mean(wo), test.p_value, q)
        for (key, w, wo), test, q in zip(candidates, tests, q_values, strict=True)
        if q <= rate
    ]
    reported.sort(key=lambda a: -abs(a.difference))
    return AssociationReport(reported, len(candidates), too_few)
