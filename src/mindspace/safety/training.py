"""Training the learned layer (safety.classifier) on the training side only: the tuning set and
the curated examples (data/exemplars.toml). `mindspace safety train` runs it and writes
data/classifier.json; the same inputs give the same file.

Each message is labelled as it reads alone, since the layer reads one message at a time: a
conversation's turn that is high risk only because of what came before is one indirect warning
sign alone, elevated concern by the labelling rules (data/README.md), and a turn that only
carries the conversation's level ("ok thanks") says nothing of its own and is left out.

The regularisation and both thresholds are chosen by stratified cross-validation on these rows,
each tuning message scored by a model that never saw it: the strength with the best held-out
likelihood, then the lowest thresholds whose held-out costs on the tuning messages stay under
the ceilings. The held-out and fresh sets are never read here.

Needs scikit-learn, which the `ai` extra brings; nothing at run time imports this module.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mindspace.safety import evaluation
from mindspace.safety.assessment import RiskLevel, Signal
from mindspace.safety.classifier import (
    LEVELS,
    Encoder,
    Model,
    Thresholds,
    long_enough,
    model_from,
    reads,
)

# Tags of a conversation's turn that reads as high risk on its own.
_HIGH_ALONE = frozenset({"explicit_intent", "plan_or_method", "self_harm", "attempt"})
_FOLDS = 5
_SEED = 0
_STRENGTHS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
_GRID_HIGH = tuple(round(0.5 + 0.025 * i, 3) for i in range(19))  # 0.5 .. 0.95
_GRID_CONCERN = tuple(round(0.5 + 0.01 * i, 2) for i in range(50))  # 0.5 .. 0.99
_DECIMALS = 6
# Embeddings differ in their last bits between machines, library builds and batch sizes; weights
# within this of the shipped ones are the same model. For that the fit must be the optimum, not
# wherever the solver stopped: at scikit-learn's default tolerance, noise of 1e-6 in the
# embeddings moved the weights by 0.05; fitted to 1e-8, by 1e-4. Choosing the strength and the
# thresholds needs less: the held-out probabilities move by about 1e-4 at 1e-6.
_TOLERANCE = 1e-3
_FINAL_TOLERANCE = 1e-8
_CHOOSING_TOLERANCE = 1e-6


@dataclass(frozen=True, slots=True)
class Row:
    text: str
    level: RiskLevel
    source: str  # a tuning id, or "example"


@dataclass(frozen=True, slots=True)
class Ceilings:
    """What the layer alone may cost on tuning messages it never saw (cross-validated): a third
    of the 3 % target for false high risk on normal messages, so unseen phrasing has room; few
    elevated messages raised to high; and a bounded share of normal messages flagged at all,
    each of which gets a gentle check-in and counts toward the sustained-concern rule."""

    false_high_on_normal: float = 0.01
    raised_elevated: float = 0.05
    flagged_normal: float = 0.05


def _own_level(example: evaluation.Example) -> RiskLevel | None:
    if not example.context.previous:
        return example.level
    if "sticky" in example.tags:
        return None
    if example.level is RiskLevel.high_risk and not example.tags & _HIGH_ALONE:
        return RiskLevel.elevated_concern
    return example.level


def examples() -> list[Row]:
    """The curated examples (data/exemplars.toml), each with its level."""
    return _examples()


def _examples() -> list[Row]:
    raw = resources.files("mindspace.safety").joinpath("data", "exemplars.toml")
    data = tomllib.loads(raw.read_text("utf-8"))
    rows: list[Row] = []
    for level in RiskLevel:
        for group in data.get(level.value, []):
            if "signal" in group:
                Signal(group["signal"])  # a typo in the file fails here, not silently
            rows += [Row(text, level, "example") for text in group["examples"]]
    return rows


def training_rows() -> list[Row]:
    """What the layer learns from, as it reads it: the tuning messages (each labelled as it
    reads alone) and the curated examples, in scripts the model can read."""
    rows = [
        Row(e.text, level, e.id)
        for e in evaluation.load("tuning")
        if (level := _own_level(e)) is not None
    ]
    return [row for row in (*rows, *_examples()) if reads(row.text)]


def learnable(rows: Sequence[Row], prepare: Callable[[str], str]) -> list[Row]:
    """The rows the layer would read at all: what it never reads (too few words once the rules
    have blanked theirs) is nothing to learn from either."""
    return [r for r in rows if long_enough(prepare(r.text))]


def digest(rows: Sequence[Row], prepare: Callable[[str], str]) -> str:
    """A fingerprint of the rows as the model reads them: it changes with the data and with
    the rules that blank idioms and negations before the model reads."""
    body = json.dumps([[prepare(r.text), r.level.value] for r in rows], ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Costs:
    """Held-out figures for the layer alone on the tuning messages, at given thresholds."""

    high_at_high: float
    high_flagged: float
    elevated_flagged: float
    false_high_on_normal: float
    raised_elevated: float
    flagged_normal: float


@dataclass(frozen=True, slots=True)
class Trained:
    model: Model
    strength: float
    rows: int
    tuning_rows: int
    fingerprint: str
    costs: Costs


def _costs(
    probabilities: npt.NDArray[np.float64], labels: npt.NDArray[np.int_], t: Thresholds
) -> Costs:
    high = probabilities[:, 2] >= t.high_risk
    flagged = high | (probabilities[:, 1] + probabilities[:, 2] >= t.elevated_concern)

    def share(hits: npt.NDArray[np.bool_], level: int) -> float:
        rows = labels == level
        return float(hits[rows].mean()) if rows.any() else 0.0

    return Costs(
        high_at_high=share(high, 2),
        high_flagged=share(flagged, 2),
        elevated_flagged=share(flagged, 1),
        false_high_on_normal=share(high, 0),
        raised_elevated=share(high, 1),
        flagged_normal=share(flagged, 0),
    )


def _choose(
    probabilities: npt.NDArray[np.float64], labels: npt.NDArray[np.int_], ceilings: Ceilings
) -> Thresholds:
    """The lowest thresholds whose held-out costs stay under the ceilings: the most the layer
    may catch at that price."""
    high = next(
        (
            t
            for t in _GRID_HIGH
            if (c := _costs(probabilities, labels, Thresholds(t, 2.0))).false_high_on_normal
            <= ceilings.false_high_on_normal
            and c.raised_elevated <= ceilings.raised_elevated
        ),
        1.0,
    )
    concern = next(
        (
            t
            for t in _GRID_CONCERN
            if _costs(probabilities, labels, Thresholds(high, t)).flagged_normal
            <= ceilings.flagged_normal
        ),
        2.0,
    )
    return Thresholds(high, concern)


def train(
    encoder: Encoder,
    prepare: Callable[[str], str],
    ceilings: Ceilings = Ceilings(),
    *,
    rows: Sequence[Row] | None = None,
) -> Trained:
    """Blocking CPU work: encodes every row (seconds), then fits a few dozen small models.
    `rows` defaults to the training side (`training_rows`)."""
    from sklearn.linear_model import LogisticRegression  # train-time only: scikit-learn
    from sklearn.model_selection import StratifiedKFold

    rows = learnable(training_rows() if rows is None else rows, prepare)
    vectors = encoder.encode([prepare(r.text) for r in rows]).astype(np.float64)
    labels = np.array([LEVELS.index(r.level) for r in rows])
    tuning = np.array([r.source != "example" for r in rows])
    folds = list(StratifiedKFold(_FOLDS, shuffle=True, random_state=_SEED).split(vectors, labels))

    def fit(strength: float, train_rows: npt.NDArray[np.int_], tolerance: float) -> Any:
        regression = LogisticRegression(
            C=strength, class_weight="balanced", max_iter=100_000, tol=tolerance
        )
        return regression.fit(vectors[train_rows], labels[train_rows])

    def held_out(strength: float) -> npt.NDArray[np.float64]:
        found = np.zeros((len(rows), len(LEVELS)))
        for train_rows, test_rows in folds:
            model = fit(strength, train_rows, _CHOOSING_TOLERANCE)
            found[test_rows] = model.predict_proba(vectors[test_rows])
        return found

    def likelihood(found: npt.NDArray[np.float64]) -> float:
        return float(np.mean(np.log(np.clip(found[np.arange(len(rows)), labels], 1e-12, 1))))

    scored = [
        (likelihood(found), strength, found)
        for strength in _STRENGTHS
        for found in (held_out(strength),)
    ]
    # The best held-out likelihood; between equals, the stronger regularisation.
    _, strength, found = max(scored, key=lambda s: (s[0], -s[1]))
    thresholds = _choose(found[tuning], labels[tuning], ceilings)
    final = fit(strength, np.arange(len(rows)), _FINAL_TOLERANCE)
    model = Model(
        encoder=encoder.name,
        coefficients=np.round(final.coef_, _DECIMALS),
        intercept=np.round(final.intercept_, _DECIMALS),
        thresholds=thresholds,
    )
    return Trained(
        model=model,
        strength=strength,
        rows=len(rows),
        tuning_rows=int(tuning.sum()),
        fingerprint=digest(rows, prepare),
        costs=_costs(found[tuning], labels[tuning], thresholds),
    )


def _number(value: float) -> str:
    text = f"{value:.{_DECIMALS}f}".rstrip("0").rstrip(".")
    return "0" if text in {"-0", ""} else text


def render(trained: Trained) -> str:
    """The data file: the model and how it was chosen, one row of weights per line so that a
    review reads the figures, not a wall of numbers."""
    m = trained.model
    c = trained.costs
    head: dict[str, Any] = {
        "about": "The safety gate's learned layer: written by `mindspace safety train`, "
        "do not edit by hand (safety/training.py, data/README.md).",
        "encoder": m.encoder,
        "classes": [level.value for level in LEVELS],
        "trained_on": {
            "rows": trained.rows,
            "tuning_rows": trained.tuning_rows,
            "examples": trained.rows - trained.tuning_rows,
            "digest": trained.fingerprint,
        },
        "regularisation": trained.strength,
        "thresholds": {
            "high_risk": m.thresholds.high_risk,
            "elevated_concern": m.thresholds.elevated_concern,
        },
        "cross_validated_on_tuning": {
            "high_risk_at_high": round(c.high_at_high, 3),
            "high_risk_flagged": round(c.high_flagged, 3),
            "elevated_flagged": round(c.elevated_flagged, 3),
            "false_high_on_normal": round(c.false_high_on_normal, 3),
            "elevated_raised_to_high": round(c.raised_elevated, 3),
            "normal_flagged": round(c.flagged_normal, 3),
        },
    }
    lines = json.dumps(head, indent=2, ensure_ascii=False).splitlines()[:-1]
    lines[-1] += ","
    lines.append('  "intercept": [' + ", ".join(_number(v) for v in m.intercept) + "],")
    lines.append('  "coefficients": [')
    rows = ["    [" + ", ".join(_number(v) for v in row) + "]" for row in m.coefficients]
    lines.append(",\n".join(rows))
    lines.append("  ]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def parse(text: str) -> tuple[Model, dict[str, Any]]:
    """The model in a data file, and the rest of what the file says."""
    data: dict[str, Any] = json.loads(text)
    return model_from(data), data


def shipped_path() -> Path:
    return Path(str(resources.files("mindspace.safety").joinpath("data", "classifier.json")))


def shipped_text() -> str:
    return shipped_path().read_text("utf-8")


def differences(shipped: str, trained: str) -> list[str]:
    """How a freshly trained file differs from the shipped one, beyond the noise of the last
    bits of an embedding: everything chosen must be equal, the weights close."""
    old, old_data = parse(shipped)
    new, new_data = parse(trained)
    found: list[str] = []
    for key in ("encoder", "classes", "trained_on", "regularisation", "thresholds"):
        if old_data.get(key) != new_data.get(key):
            found.append(f"{key}: shipped {old_data.get(key)}, trained {new_data.get(key)}")
    if old.coefficients.shape != new.coefficients.shape:
        found.append(f"weights: shape {old.coefficients.shape} != {new.coefficients.shape}")
        return found
    gap = max(
        float(np.abs(old.coefficients - new.coefficients).max()),
        float(np.abs(old.intercept - new.intercept).max()),
    )
    if gap > _TOLERANCE:
        found.append(f"weights: differ by up to {gap:.6f} (tolerance {_TOLERANCE})")
    return found
