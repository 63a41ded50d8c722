"""The learned layer: a multinomial logistic regression over MiniLM sentence embeddings, trained
on the labelled messages of the training side (data/tuning.jsonl and data/exemplars.toml), may
raise the rules' level; it never lowers it. The rules stay the gate; this reads the phrasings
no rule was written for.

Inference is numpy only: the weights ship in data/classifier.json, written by
`mindspace safety train` (safety/training.py, which needs scikit-learn), and the same command
chooses the thresholds below by cross-validation on the training side, never on a measured set.

It reads a message as the rules left it (engine.readable): idioms, other people's words and
negated phrases blanked, because a sentence embedding reads "I would never kill myself" as
close to a wish to die; the rules already know better. A negation of words only the layer
knows ("I'm not done with living") is checked by reading the clause it reaches alone: when
those words by themselves reach the level the whole did, what they say is denied, and the
finding is dropped.

The model was trained on English only, and cannot read Devanagari at all (a Devanagari "my
mother cooked" sits at 0.88 cosine from "I have swallowed a lot of pills"), so such text is
left to the rules. Latin-script Hinglish and Spanish come out as English word pieces that still
carry some meaning; cross-validation on the training side measured it (data/README.md).

Texts of fewer than four words are left to the rules: every short warning sign on the training
side is one the rules read ("quiero morir", "I feel hopeless"), and on "ok", "yes" or "no" a
linear model extrapolates from nothing it was trained on (it put each of them at elevated).

A message is read whole when short, and sentence by sentence when long (the model reads 256
word pieces at most, and one sentence of crisis in a long journal entry is diluted in the
average of the rest); the strongest piece counts.

Decision, per piece, from the probabilities of the three levels: high risk when P(high) is at
least the `high_risk` threshold; else elevated concern when P(elevated) + P(high) is at least
the `elevated_concern` threshold (the middle tier: gentle support and the sustained-concern
rule, never the crisis response).
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from mindspace.safety.assessment import RiskLevel

Vectors = npt.NDArray[np.float32]
# The order of the model's classes, and of the rows of its weights.
LEVELS = (RiskLevel.normal, RiskLevel.elevated_concern, RiskLevel.high_risk)
# A text longer than this is read sentence by sentence; the model truncates at 256 word pieces.
_PIECE_CHARS = 300
_MAX_PIECES = 24
_SENTENCE_END = re.compile(r"(?<=[.!?।])\s+|\n+")
_WORD = re.compile(r"[^\W\d_]+")
# Fewer words than this say nothing the rules do not read (see the module docstring).
MIN_WORDS = 4
# Scripts the model has no word pieces for: their texts all look alike to it.
_UNREAD_SCRIPT = re.compile(r"[\u0900-\u097f\u0980-\u0dff\u0600-\u06ff\u0400-\u04ff\u4e00-\u9fff]")
# Recent texts' readings, as in engine._scan: a conversation's earlier turns come back each turn.
_CACHED = 256
# What a finding shows of the text it read (the evidence excerpt).
_EXCERPT_CHARS = 120


class Encoder(Protocol):
    name: str

    def encode(self, texts: Sequence[str]) -> Vectors: ...


@dataclass(frozen=True, slots=True)
class Thresholds:
    high_risk: float  # on P(high risk)
    elevated_concern: float  # on P(elevated) + P(high risk); 1.0 or more turns the tier off


@dataclass(frozen=True, slots=True)
class Model:
    encoder: str
    coefficients: npt.NDArray[np.float64]  # one row per level, in LEVELS order
    intercept: npt.NDArray[np.float64]
    thresholds: Thresholds

    def probabilities(self, vectors: Vectors) -> npt.NDArray[np.float64]:
        """One row of level probabilities (LEVELS order) per vector."""
        logits = vectors.astype(np.float64) @ self.coefficients.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        probabilities: npt.NDArray[np.float64] = exp / exp.sum(axis=1, keepdims=True)
        return probabilities


def model_from(data: dict[str, Any]) -> Model:
    if [RiskLevel(c) for c in data["classes"]] != list(LEVELS):
        raise ValueError(f"classes must be {[level.value for level in LEVELS]}")
    coefficients = np.asarray(data["coefficients"], dtype=np.float64)
    intercept = np.asarray(data["intercept"], dtype=np.float64)
    if coefficients.ndim != 2 or coefficients.shape[0] != len(LEVELS):
        raise ValueError("coefficients must have one row per level")
    if intercept.shape != (len(LEVELS),):
        raise ValueError("intercept must have one value per level")
    t = data["thresholds"]
    return Model(
        encoder=str(data["encoder"]),
        coefficients=coefficients,
        intercept=intercept,
        thresholds=Thresholds(float(t["high_risk"]), float(t["elevated_concern"])),
    )


def _data_file() -> Any:
    return resources.files("mindspace.safety").joinpath("data", "classifier.json")


@cache
def model() -> Model:
    """The shipped model (data/classifier.json)."""
    return model_from(json.loads(_data_file().read_text("utf-8")))


@dataclass(frozen=True, slots=True)
class Match:
    """What the layer makes of one text: the level it proposes (normal: nothing), the
    probability behind it, and the piece of the text it read there."""

    level: RiskLevel
    probability: float = 0.0
    piece: str = ""

    @property
    def excerpt(self) -> str:
        return self.piece[:_EXCERPT_CHARS]


NO_MATCH = Match(RiskLevel.normal)


@dataclass(frozen=True, slots=True)
class Piece:
    """A piece of a text, its level probabilities, and those of each clause a negation in it
    reaches, read alone."""

    text: str
    probabilities: npt.NDArray[np.float64]
    negated: tuple[npt.NDArray[np.float64], ...] = ()


def reads(text: str) -> bool:
    """Whether the model can read the text at all: no script it has no word pieces for."""
    return _UNREAD_SCRIPT.search(text) is None


def long_enough(text: str) -> bool:
    """Whether a piece has words enough for the layer to read (blanked spans are no words)."""
    return len(_WORD.findall(text)) >= MIN_WORDS


def pieces(text: str) -> list[str]:
    """The text itself when short; else its sentences, neighbours joined evenly when there are
    more than `_MAX_PIECES`, so that one sentence of crisis is read nearly alone."""
    text = text.strip()
    if len(text) <= _PIECE_CHARS:
        return [text] if text else []
    sentences = [s for s in (part.strip() for part in _SENTENCE_END.split(text)) if s]
    per = -(-len(sentences) // _MAX_PIECES)
    return [" ".join(sentences[i : i + per]) for i in range(0, len(sentences), per)]


class _Recent:
    """The readings of recently seen texts (least recently used out first), for any
    thresholds."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[str, list[Piece]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, texts: Sequence[str]) -> dict[str, list[Piece]]:
        with self._lock:
            found = {t: self._items[t] for t in texts if t in self._items}
            for t in found:
                self._items.move_to_end(t)
        return found

    def put(self, found: dict[str, list[Piece]]) -> None:
        with self._lock:
            self._items.update(found)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


class Classifier:
    """The layer, bound to one encoder and one model."""

    def __init__(
        self,
        encoder: Encoder,
        trained: Model,
        *,
        prepare: Callable[[str], str] = str.strip,
        negated: Callable[[str], Sequence[str]] = lambda piece: (),
        remember: int = _CACHED,
    ):
        if trained.encoder != encoder.name:
            raise ValueError(
                f"the model was trained on {trained.encoder} embeddings, not {encoder.name}"
            )
        self.encoder = encoder
        self.model = trained
        self.thresholds = trained.thresholds
        # Messages are read as the rules left them (engine.readable), as in training.
        self.prepare = prepare
        # What the negations in a prepared piece reach (engine.negated_clauses).
        self.negated = negated
        self._recent = _Recent(remember)

    def with_thresholds(self, thresholds: Thresholds) -> Classifier:
        """The same layer and remembered readings under other thresholds."""
        other = copy.copy(self)
        other.thresholds = thresholds
        return other

    def remembering(self, size: int) -> Classifier:
        """The same layer, remembering the readings of up to `size` texts."""
        other = copy.copy(self)
        other._recent = _Recent(size)
        return other

    def read(self, texts: Sequence[str]) -> list[list[Piece]]:
        """Per text, per piece: the probabilities the decision reads. Blocking CPU work: it
        encodes the texts not seen recently, in one batch."""
        known = self._recent.get(texts)
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        if missing:
            found = dict(zip(missing, self._read(missing), strict=True))
            self._recent.put(found)
            known |= found
        return [known[t] for t in texts]

    def _read(self, texts: Sequence[str]) -> list[list[Piece]]:
        split = [
            [(p, self.negated(p)) for p in pieces(self.prepare(t)) if long_enough(p)]
            if reads(t)
            else []
            for t in texts
        ]
        flat = [s for ps in split for piece, clauses in ps for s in (piece, *clauses)]
        if not flat:
            return [[] for _ in texts]
        rows = iter(self.model.probabilities(self.encoder.encode(flat)))
        return [
            [Piece(piece, next(rows), tuple(next(rows) for _ in clauses)) for piece, clauses in ps]
            for ps in split
        ]

    def decide(self, probabilities: npt.NDArray[np.float64]) -> tuple[RiskLevel, float]:
        normal, elevated, high = (float(p) for p in probabilities)
        if high >= self.thresholds.high_risk:
            return RiskLevel.high_risk, high
        if elevated + high >= self.thresholds.elevated_concern:
            return RiskLevel.elevated_concern, elevated + high
        return RiskLevel.normal, 1.0 - normal

    def judge(self, piece: Piece) -> Match:
        """A piece's finding, unless the words a negation reaches reach its level by
        themselves: then what they say is denied ("I'm not done with living") and the finding
        is dropped."""
        level, probability = self.decide(piece.probabilities)
        if level is RiskLevel.normal:
            return NO_MATCH
        for clause in piece.negated:
            if self.decide(clause)[0].rank >= level.rank:
                return NO_MATCH
        return Match(level, probability, piece.text)

    def strongest(self, per_piece: Sequence[Piece]) -> Match:
        """The highest level any piece reaches, and the piece behind it."""
        best = NO_MATCH
        for piece in per_piece:
            found = self.judge(piece)
            if (found.level.rank, found.probability) > (best.level.rank, best.probability):
                best = found
        return best

    def match(self, texts: Sequence[str]) -> list[Match]:
        """One finding per text. Blocking CPU work (see `read`)."""
        return [self.strongest(per_piece) for per_piece in self.read(texts)]
