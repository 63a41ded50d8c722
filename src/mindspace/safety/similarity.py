"""The similarity layer: a message's nearest curated examples, by sentence embedding, may raise
the rules' level; they never lower it. The rules stay the gate; this catches some of the
phrasings no rule was written for.

It reads a message as the rules left it (engine.readable): idioms, other people's words and
negated phrases blanked, because a sentence embedding reads "I would never kill myself" as
close to a wish to die; the rules already know better.

The examples live in data/exemplars.toml: high-risk and elevated ones, each standing for a
signal, and normal look-alikes (idioms, negations, fiction, clinicians' questions) so that a
message nearer to "this deadline will be the death of me" than to any warning sign is left
alone. Their matrix is embedded once per encoder, that is once per process.

The model was trained on English only. Measured on the tuning set, it cannot tell Hindi (in
either script) or Spanish messages apart: a Devanagari "my mother cooked" sits at 0.88 from "I
have swallowed a lot of pills". So the layer reads English and leaves other languages to the
rules; `reads` decides, by script and by the commonest words of each language.

A message is compared whole when short, and sentence by sentence when long (the model reads
256 word pieces at most, and one sentence of crisis in a long journal entry is diluted in the
average of the rest); the strongest piece counts.

Decision, per piece: the best similarity to each level's examples. High risk when the nearest
concerning example is a high-risk one, at least `high_risk` similar, and it beats the best
look-alike by `margin`; else elevated when the nearest concerning example (either level) is at
least `elevated_concern` similar and beats the best look-alike by `margin`. The thresholds are
in the data file, chosen on the tuning set only (`mindspace safety calibrate`, and
data/README.md), never on the held-out or fresh sets.
"""

from __future__ import annotations

import copy
import re
import threading
import tomllib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from mindspace.safety.assessment import RiskLevel, Signal

Vectors = npt.NDArray[np.float32]
# A text longer than this is read sentence by sentence; the model truncates at 256 word pieces.
_PIECE_CHARS = 300
_MAX_PIECES = 24
_SENTENCE_END = re.compile(r"(?<=[.!?।])\s+|\n+")
_WORDS = re.compile(r"[^\W\d_]+")
# Words only one of the languages we serve uses often (no "me", "no", "main", "he": shared).
_ENGLISH = frozenset(
    """i im ive id the to and a an my it is you of in that this be so just not for on with
    have has do dont can cant its was am are what about all myself anymore want never
    anyone everyone going gonna wanna feel will would been tonight today they she his her
    him we our your out up at if or but like know really""".split()
)
_OTHERS = frozenset(
    """que de la el los las y en mi mis por con para es lo ya estoy quiero soy muy pero
    porque una un del al se te nada todo todos hoy esta este voy más mas así cuando tengo
    vida morir nunca siempre ganas hacer como quiere quisiera hay sin van le gracias hasta
    solo veces otra vez vale hubiera pienso
    hai hain hoon hun nahi nahin mujhe mera meri mere ka ki ke se ko aaj kar karna karke
    yaar bahut toh ho raha rahi rahe gaya gayi kya koi kuch sab ab bas jaana jeena hum tum
    aur bhi liye mann zindagi dil chahta chahti kabhi kaash mein tha thi hota hoti gaye
    mili na""".split()
)
_SPANISH_LETTERS = frozenset("áéíóúñ¿¡")
# Recent texts' matches, as in engine._scan: a conversation's earlier turns come back each turn.
_CACHED = 256


class Encoder(Protocol):
    name: str

    def encode(self, texts: Sequence[str]) -> Vectors: ...


@dataclass(frozen=True, slots=True)
class Exemplar:
    text: str
    level: RiskLevel
    # The warning sign it stands for; None for a normal look-alike.
    signal: Signal | None


@dataclass(frozen=True, slots=True)
class Thresholds:
    high_risk: float
    elevated_concern: float
    margin: float


@dataclass(frozen=True, slots=True)
class Match:
    """What the layer makes of one text: the level it proposes (normal: nothing near enough)
    and the example behind it."""

    level: RiskLevel
    exemplar: Exemplar | None = None
    score: float = 0.0


NO_MATCH = Match(RiskLevel.normal)


@dataclass(frozen=True, slots=True)
class Scores:
    """The best similarity to each level's examples, and which example that was."""

    high_risk: float
    high_risk_index: int
    elevated: float
    elevated_index: int
    normal: float


@dataclass(frozen=True, slots=True)
class Piece:
    """A piece of a text, and each clause a negation in it reaches, scored alone."""

    whole: Scores
    negated: tuple[Scores, ...] = ()


@dataclass(frozen=True, slots=True)
class Exemplars:
    items: tuple[Exemplar, ...]
    thresholds: Thresholds


def _load_data() -> dict[str, Any]:
    raw = resources.files("mindspace.safety").joinpath("data", "exemplars.toml")
    return tomllib.loads(raw.read_text("utf-8"))


@cache
def exemplars() -> Exemplars:
    data = _load_data()
    items: list[Exemplar] = []
    for level in RiskLevel:
        for group in data.get(level.value, []):
            signal = Signal(group["signal"]) if "signal" in group else None
            items += [Exemplar(text, level, signal) for text in group["examples"]]
    t = data["thresholds"]
    return Exemplars(
        tuple(items),
        Thresholds(
            high_risk=float(t["high_risk"]),
            elevated_concern=float(t["elevated_concern"]),
            margin=float(t["margin"]),
        ),
    )


def reads(text: str) -> bool:
    """Whether the text is in a language the model knows: Latin script, and no fewer of the
    commonest English words than of Spanish or Hindi ones."""
    if any(not ("a" <= c <= "z") for c in text.lower() if c.isalpha() and ord(c) >= 0x250):
        return False
    lowered = text.lower()
    words = _WORDS.findall(lowered.replace("'", "").replace("’", ""))
    english = sum(w in _ENGLISH for w in words)
    others = sum(w in _OTHERS for w in words) + any(c in _SPANISH_LETTERS for c in lowered)
    return english > others or english == others == 0


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
    """The scores of recently seen texts (least recently used out first), for any thresholds."""

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


class Similarity:
    """The layer, bound to one encoder: the examples' matrix is embedded once, here."""

    def __init__(
        self,
        encoder: Encoder,
        data: Exemplars,
        *,
        prepare: Callable[[str], str] = str.strip,
        negated: Callable[[str], Sequence[str]] = lambda piece: (),
        thresholds: Thresholds | None = None,
        remember: int = _CACHED,
    ):
        self.encoder = encoder
        self.exemplars = data.items
        self.thresholds = thresholds or data.thresholds
        # Messages and examples alike are read as prepared (engine.readable: what the rules
        # did not explain away), so that they compare.
        self.prepare = prepare
        # What the negations in a prepared piece reach (engine.negated_clauses).
        self.negated = negated
        prepared = [prepare(e.text) for e in data.items]
        # Examples that say a warning sign with a negation ("you won't hear from me again"):
        # negated words near one of them are the warning sign, not its denial.
        self._negating = frozenset(
            e for e, p in zip(data.items, prepared, strict=True) if negated(p)
        )
        self._matrix = encoder.encode(prepared)
        levels = np.array([e.level.rank for e in data.items])
        self._high = np.flatnonzero(levels == RiskLevel.high_risk.rank)
        self._elevated = np.flatnonzero(levels == RiskLevel.elevated_concern.rank)
        self._normal = np.flatnonzero(levels == RiskLevel.normal.rank)
        self._recent = _Recent(remember)

    def with_thresholds(self, thresholds: Thresholds) -> Similarity:
        """The same examples, matrix and remembered scores under other thresholds."""
        other = copy.copy(self)
        other.thresholds = thresholds
        return other

    def remembering(self, size: int) -> Similarity:
        """The same layer, remembering the scores of up to `size` texts (for calibration)."""
        other = copy.copy(self)
        other._recent = _Recent(size)
        return other

    def scores(self, texts: Sequence[str]) -> list[list[Piece]]:
        """Per text, per piece: the similarities the decision reads. Blocking CPU work: it
        encodes the texts not seen recently, in one batch."""
        known = self._recent.get(texts)
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        if missing:
            found = dict(zip(missing, self._score(missing), strict=True))
            self._recent.put(found)
            known |= found
        return [known[t] for t in texts]

    def _score(self, texts: Sequence[str]) -> list[list[Piece]]:
        split = [
            [(piece, self.negated(piece)) for piece in pieces(self.prepare(t))] if reads(t) else []
            for t in texts
        ]
        flat = [s for ps in split for piece, clauses in ps for s in (piece, *clauses)]
        if not flat:
            return [[] for _ in texts]
        rows = iter(self.encoder.encode(flat) @ self._matrix.T)
        return [
            [
                Piece(self._best(next(rows)), tuple(self._best(next(rows)) for _ in clauses))
                for _, clauses in ps
            ]
            for ps in split
        ]

    def _best(self, s: Vectors) -> Scores:
        high = int(self._high[np.argmax(s[self._high])])
        elevated = int(self._elevated[np.argmax(s[self._elevated])])
        return Scores(
            high_risk=float(s[high]),
            high_risk_index=high,
            elevated=float(s[elevated]),
            elevated_index=elevated,
            normal=float(s[self._normal].max()),
        )

    def decide(self, scores: Scores) -> Match:
        t = self.thresholds
        high, elevated, normal = scores.high_risk, scores.elevated, scores.normal
        if high >= t.high_risk and high >= elevated and high - normal >= t.margin:
            return Match(RiskLevel.high_risk, self.exemplars[scores.high_risk_index], high)
        best, index = max((high, scores.high_risk_index), (elevated, scores.elevated_index))
        if best >= t.elevated_concern and best - normal >= t.margin:
            return Match(RiskLevel.elevated_concern, self.exemplars[index], best)
        return NO_MATCH

    def judge(self, piece: Piece) -> Match:
        """A piece's match, unless words a negation reaches reach its level by themselves, near
        an example without a negation: then what matched is denied ("I'm not done with
        living") and the match is dropped. Near an example with one ("I won't be around"), the
        negation is part of the warning sign and the match stands."""
        found = self.decide(piece.whole)
        if found.level is RiskLevel.normal:
            return found
        for clause in piece.negated:
            denied = self.decide(clause)
            if denied.level.rank >= found.level.rank and denied.exemplar not in self._negating:
                return NO_MATCH
        return found

    def strongest(self, per_piece: Sequence[Piece]) -> Match:
        """The highest level any piece reaches, and its nearest example."""
        best = NO_MATCH
        for piece in per_piece:
            found = self.judge(piece)
            if (found.level.rank, found.score) > (best.level.rank, best.score):
                best = found
        return best

    def match(self, texts: Sequence[str]) -> list[Match]:
        """One match per text. Blocking CPU work (see `scores`)."""
        return [self.strongest(per_piece) for per_piece in self.scores(texts)]
