"""What the opt-in analysis derives from an entry: numbers, never words.

Sentiment is VADER (MIT, rule-based, no model download). Emotion labels come from our own small
lexicon (data/emotions.json): the lexicons that ship in packages are either under terms that
forbid commercial use (NRC's, and the packages built on it) or carry no clear licence.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from mindspace.journal.search import normalise

ANALYSER_VERSION = "vader-3.3.2+mindspace-emotions-1"
_TOKEN = re.compile(r"[\w']+")
# A feeling word right after one of these ("not happy", "never alone") is not that feeling.
_NEGATORS = frozenset(
    {
        "not",
        "no",
        "never",
        "hardly",
        "without",
        "cannot",
        "don't",
        "didn't",
        "doesn't",
        "isn't",
        "wasn't",
        "aren't",
        "weren't",
        "can't",
        "couldn't",
        "won't",
        "wouldn't",
        "nor",
    }
)
_NEGATION_REACH = 3


@dataclass(frozen=True, slots=True)
class Scores:
    compound: float
    positive: float
    neutral: float
    negative: float
    emotions: dict[str, float]  # label -> share of words, for every label of the lexicon


@dataclass(frozen=True, slots=True)
class _Lexicon:
    version: int
    words: dict[str, frozenset[str]]  # word or two-word phrase -> labels
    stems: tuple[tuple[str, str], ...]  # (prefix, label)
    labels: tuple[str, ...]


@cache
def _lexicon() -> _Lexicon:
    raw: dict[str, Any] = json.loads(
        files("mindspace.journal").joinpath("data/emotions.json").read_text()
    )
    words: dict[str, set[str]] = {}
    stems: list[tuple[str, str]] = []
    for label, terms in raw["labels"].items():
        for term in terms:
            if term.endswith("*"):
                stems.append((term[:-1], label))
            else:
                words.setdefault(term, set()).add(label)
    return _Lexicon(
        version=raw["version"],
        words={k: frozenset(v) for k, v in words.items()},
        stems=tuple(stems),
        labels=tuple(raw["labels"]),
    )


@cache
def _vader() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def emotions(text: str) -> dict[str, float]:
    lexicon = _lexicon()
    tokens = _TOKEN.findall(normalise(text).replace("\u2019", "'"))
    counts = dict.fromkeys(lexicon.labels, 0)
    for i, token in enumerate(tokens):
        if any(t in _NEGATORS for t in tokens[max(0, i - _NEGATION_REACH) : i]):
            continue
        found = set(lexicon.words.get(token, ()))
        if i + 1 < len(tokens):
            found |= lexicon.words.get(f"{token} {tokens[i + 1]}", frozenset())
        found.update(label for stem, label in lexicon.stems if token.startswith(stem))
        for label in found:
            counts[label] += 1
    total = max(len(tokens), 1)
    return {label: round(n / total, 4) for label, n in counts.items()}


def analyse(text: str) -> Scores:
    """CPU-bound (VADER walks every word): call it from a thread or a job."""
    polarity = _vader().polarity_scores(text)
    return Scores(
        compound=polarity["compound"],
        positive=polarity["pos"],
        neutral=polarity["neu"],
        negative=polarity["neg"],
        emotions=emotions(text),
    )
