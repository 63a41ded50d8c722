"""The labelled evaluation: precision and recall per level, a confusion matrix, and the targets
the gate must meet.

Three sets live in data/: `tuning.jsonl`, which the rules were improved against and the
learned layer is trained on (its thresholds cross-validated there); `heldout.jsonl`, written
first and kept out of the tuning loop; and `fresh2.jsonl`, the latest batch written after
everything else and never tuned against, whose figures are reported and never held to the
targets: they say how the gate does on phrasing nobody shaped it for. (The first such batch,
`fresh`, has joined the tuning set.)
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources

from mindspace.safety.assessment import Assessment, AssessmentContext, RiskLevel

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
    """One line per report: what a reader compares between the rules alone and with the layer:
    high-risk messages assessed high and flagged at all, stated intent or plan assessed high,
    elevated ones flagged, normal ones raised to high and flagged at all."""
    head = (
        f"{'set and assessor':<30}{'high_risk':>10}{'high_risk':>10}{'intent/plan':>12}"
        f"{'elevated':>10}{'false high':>11}{'flagged':>9}"
    )
    lines = [
        head,
        f"{'':<30}{'at high':>10}{'flagged':>10}{'at high':>12}{'flagged':>10}"
        f"{'on normal':>11}{'normal':>9}",
    ]
    for r in reports:
        high, high_total = r.caught(RiskLevel.high_risk)
        flagged = high_total - r.confusion[RiskLevel.high_risk][RiskLevel.normal]
        elevated, elevated_total = r.caught(RiskLevel.elevated_concern)
        lines.append(
            f"{r.name:<30}{f'{high}/{high_total}':>10}{f'{flagged}/{high_total}':>10}"
            f"{f'{r.critical_caught}/{r.critical_total}':>12}"
            f"{f'{elevated}/{elevated_total}':>10}{r.false_high_on_normal:>11.3f}"
            f"{r.flagged_normal:>9.3f}"
        )
    return "\n".join(lines)
