"""The labelled evaluation: precision and recall per level, a confusion matrix, the targets
the deterministic layer must meet, and the calibration of the similarity layer.

Three sets live in data/: `tuning.jsonl`, which the rules were improved against and the
similarity layer's thresholds are chosen on; `heldout.jsonl`, written first and kept out of the
tuning loop; and `fresh2.jsonl`, the latest batch written after everything else and never tuned
against, whose figures are reported and never held to the targets: they say how the gate does on
phrasing nobody shaped it for. (The first such batch, `fresh`, has joined the tuning set.)
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from importlib import resources

from mindspace.safety.assessment import Assessment, AssessmentContext, RiskLevel
from mindspace.safety.engine import assess
from mindspace.safety.similarity import Similarity, Thresholds

SETS = ("tuning", "heldout", "fresh2")
# The sets the targets hold on; fresh2 is a measure, and a target there would invite tuning to it.
TARGETED = ("tuning", "heldout")
# Tags of the messages that must all be caught: a stated intent or a plan.
CRITICAL_TAGS = frozenset({"explicit_intent", "plan_or_method"})


Assessor = Callable[[str, AssessmentContext], Assessment]


@dataclass(frozen=True, slots=True)
class Targets:
    high_risk_recall: float = 0.98
    critical_recall: float = 1.0
    false_high_on_normal: float = 0.03


@dataclass(frozen=True, slots=True)
class Example:
    id: str
    text: str
    level: RiskLevel
    language: str
    tags: frozenset[str]
    context: AssessmentContext

    @property
    def critical(self) -> bool:
        return self.level is RiskLevel.high_risk and bool(self.tags & CRITICAL_TAGS)


@dataclass(frozen=True, slots=True)
class Miss:
    example: Example
    got: Assessment


@dataclass(frozen=True, slots=True)
class Report:
    name: str
    total: int
    confusion: dict[RiskLevel, Counter[RiskLevel]]  # expected -> predicted -> count
    critical_total: int
    critical_caught: int
    misses: tuple[Miss, ...]

    def recall(self, level: RiskLevel) -> float:
        row = self.confusion[level]
        total = sum(row.values())
        return row[level] / total if total else 1.0

    def precision(self, level: RiskLevel) -> float:
        predicted = sum(self.confusion[e][level] for e in RiskLevel)
        return self.confusion[level][level] / predicted if predicted else 1.0

    @property
    def critical_recall(self) -> float:
        return self.critical_caught / self.critical_total if self.critical_total else 1.0

    @property
    def false_high_on_normal(self) -> float:
        row = self.confusion[RiskLevel.normal]
        total = sum(row.values())
        return row[RiskLevel.high_risk] / total if total else 0.0

    @property
    def flagged_normal(self) -> float:
        """Normal messages assessed as any concern at all."""
        row = self.confusion[RiskLevel.normal]
        total = sum(row.values())
        return (total - row[RiskLevel.normal]) / total if total else 0.0

    def caught(self, level: RiskLevel) -> tuple[int, int]:
        """Messages of this level assessed at it or above, and how many there are."""
        row = self.confusion[level]
        return sum(row[p] for p in RiskLevel if p.rank >= level.rank), sum(row.values())

    def failures(self, targets: Targets) -> list[str]:
        failed = []
        if self.recall(RiskLevel.high_risk) < targets.high_risk_recall:
            failed.append(
                f"high_risk recall {self.recall(RiskLevel.high_risk):.3f}"
                f" < {targets.high_risk_recall}"
            )
        if self.critical_recall < targets.critical_recall:
            failed.append(
                f"explicit intent or plan recall {self.critical_recall:.3f}"
                f" < {targets.critical_recall}"
            )
        if self.false_high_on_normal > targets.false_high_on_normal:
            failed.append(
                f"false high_risk on normal {self.false_high_on_normal:.3f}"
                f" > {targets.false_high_on_normal}"
            )
        return failed

    def render(self) -> str:
        levels = list(RiskLevel)
        width = max(len(level.value) for level in levels) + 2
        lines = [f"== {self.name}: {self.total} messages"]
        lines.append(f"{'level':<{width}}{'precision':>10}{'recall':>10}{'support':>10}")
        for level in levels:
            support = sum(self.confusion[level].values())
            lines.append(
                f"{level.value:<{width}}{self.precision(level):>10.3f}"
                f"{self.recall(level):>10.3f}{support:>10}"
            )
        lines.append("")
        lines.append("confusion (rows expected, columns predicted)")
        lines.append(" " * width + "".join(f"{level.value[:9]:>11}" for level in levels))
        for expected in levels:
            cells = "".join(f"{self.confusion[expected][p]:>11}" for p in levels)
            lines.append(f"{expected.value:<{width}}{cells}")
        lines.append("")
        lines.append(
            f"explicit intent or plan caught: {self.critical_caught}/{self.critical_total}"
            f" ({self.critical_recall:.3f})"
        )
        lines.append(f"false high_risk on normal: {self.false_high_on_normal:.3f}")
        return "\n".join(lines)


def load(name: str) -> list[Example]:
    if name not in SETS:
        raise ValueError(f"unknown evaluation set {name!r}; choose from {', '.join(SETS)}")
    raw = resources.files("mindspace.safety").joinpath("data", f"{name}.jsonl").read_text("utf-8")
    return [_example(json.loads(line)) for line in raw.splitlines() if line.strip()]


def _example(row: dict[str, object]) -> Example:
    previous = row.get("context", [])
    assert isinstance(previous, list)  # noqa: S101 - our own data file
    return Example(
        id=str(row["id"]),
        text=str(row["text"]),
        level=RiskLevel(str(row["level"])),
        language=str(row["lang"]),
        tags=frozenset(str(t) for t in row.get("tags", [])),  # type: ignore[attr-defined]
        context=AssessmentContext(
            previous=tuple(str(p) for p in previous),
            session_level=RiskLevel(str(row.get("session_level", "normal"))),
        ),
    )


def evaluate(name: str, examples: Iterable[Example], assessor: Assessor) -> Report:
    confusion: dict[RiskLevel, Counter[RiskLevel]] = {level: Counter() for level in RiskLevel}
    misses: list[Miss] = []
    critical_total = critical_caught = total = 0
    for example in examples:
        got = assessor(example.text, example.context)
        total += 1
        confusion[example.level][got.level] += 1
        if example.critical:
            critical_total += 1
            critical_caught += got.level is RiskLevel.high_risk
        if got.level is not example.level:
            misses.append(Miss(example, got))
    return Report(name, total, confusion, critical_total, critical_caught, tuple(misses))


def summary(reports: Sequence[Report]) -> str:
    """One line per report: what a reader compares between the rules alone and with the layer."""
    head = (
        f"{'set and assessor':<34}{'high_risk':>12}{'intent/plan':>13}{'elevated+':>12}"
        f"{'false high':>12}{'flagged':>10}"
    )
    lines = [
        head,
        f"{'':<34}{'caught':>12}{'caught':>13}{'caught':>12}{'on normal':>12}{'normal':>10}",
    ]
    for r in reports:
        high, high_total = r.caught(RiskLevel.high_risk)
        elevated, elevated_total = r.caught(RiskLevel.elevated_concern)
        lines.append(
            f"{r.name:<34}{f'{high}/{high_total}':>12}"
            f"{f'{r.critical_caught}/{r.critical_total}':>13}"
            f"{f'{elevated}/{elevated_total}':>12}{r.false_high_on_normal:>12.3f}"
            f"{r.flagged_normal:>10.3f}"
        )
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Calibration:
    thresholds: Thresholds
    # The layer alone, on each message without its conversation: what it would catch of the
    # labelled levels if no rule existed (the rules already catch every tuning message).
    alone_high: float  # high-risk messages it calls high risk
    alone_concern: float  # high-risk messages it calls elevated or high
    alone_elevated: float  # elevated messages it calls elevated or high
    # The rules and the layer together, with the conversation.
    false_high_on_normal: float
    flagged_normal: float  # normal messages at elevated or above
    raised_elevated: float  # elevated messages raised to high


@dataclass(frozen=True, slots=True)
class Ceilings:
    """What the combined assessment may cost on the tuning set: a third of the 3 % target for
    false high risk on normal messages, so unseen phrasing has room, and as many normal
    messages flagged at all as that target allows high ones."""

    false_high_on_normal: float = 0.01
    flagged_normal: float = 0.03
    raised_elevated: float = 0.05


_GRID_HIGH = tuple(round(0.50 + 0.02 * i, 2) for i in range(16))
_GRID_ELEVATED = tuple(round(0.40 + 0.02 * i, 2) for i in range(16))
_GRID_MARGIN = (0.0, 0.02, 0.04, 0.06, 0.08, 0.10)


def calibrate(
    layer: Similarity,
    examples: Sequence[Example],
    ceilings: Ceilings = Ceilings(),
    *,
    limit: int = 10,
) -> list[Calibration]:
    """The best `limit` grid points whose combined costs stay under the ceilings, best first:
    the most high-risk messages the layer alone calls high, then called concerning at all,
    then elevated ones caught, then the highest thresholds (the least the layer claims).
    Only ever run on the tuning set."""
    texts = [e.text for e in examples]
    everything = [*texts, *(p for e in examples for p in e.context.previous)]
    layer = layer.remembering(len(everything))
    layer.scores(everything)  # each message encoded once; every grid point reuses the scores
    levels = [e.level for e in examples]

    def share(predicted: Sequence[RiskLevel], level: RiskLevel, at_least: RiskLevel) -> float:
        hits = [
            p.rank >= at_least.rank for p, e in zip(predicted, levels, strict=True) if e is level
        ]
        return sum(hits) / len(hits) if hits else 0.0

    def costs(predicted: Sequence[RiskLevel]) -> tuple[float, float, float]:
        return (
            share(predicted, RiskLevel.normal, RiskLevel.high_risk),
            share(predicted, RiskLevel.normal, RiskLevel.elevated_concern),
            share(predicted, RiskLevel.elevated_concern, RiskLevel.high_risk),
        )

    limits = (ceilings.false_high_on_normal, ceilings.flagged_normal, ceilings.raised_elevated)
    candidates: list[tuple[Calibration, Similarity]] = []
    for high, elevated, margin in itertools.product(_GRID_HIGH, _GRID_ELEVATED, _GRID_MARGIN):
        if elevated > high:
            continue
        tuned = layer.with_thresholds(Thresholds(high, elevated, margin))
        alone = [m.level for m in tuned.match(texts)]
        # Together they assess each message at least as high as the layer alone, so a point
        # whose layer alone already costs too much is out without assessing anything.
        if any(c > ceiling for c, ceiling in zip(costs(alone), limits, strict=True)):
            continue
        point = Calibration(
            thresholds=tuned.thresholds,
            alone_high=share(alone, RiskLevel.high_risk, RiskLevel.high_risk),
            alone_concern=share(alone, RiskLevel.high_risk, RiskLevel.elevated_concern),
            alone_elevated=share(alone, RiskLevel.elevated_concern, RiskLevel.elevated_concern),
            false_high_on_normal=0.0,
            flagged_normal=0.0,
            raised_elevated=0.0,
        )
        candidates.append((point, tuned))
    candidates.sort(
        key=lambda c: (
            -c[0].alone_high,
            -c[0].alone_concern,
            -c[0].alone_elevated,
            -c[0].thresholds.high_risk,
            -c[0].thresholds.elevated_concern,
            -c[0].thresholds.margin,
        )
    )
    found: list[Calibration] = []
    for point, tuned in candidates:
        both = [assess(e.text, e.context, similarity=tuned).level for e in examples]
        false_high, flagged, raised = costs(both)
        if all(
            c <= ceiling for c, ceiling in zip((false_high, flagged, raised), limits, strict=True)
        ):
            found.append(
                replace(
                    point,
                    false_high_on_normal=false_high,
                    flagged_normal=flagged,
                    raised_elevated=raised,
                )
            )
            if len(found) == limit:
                break
    return found
