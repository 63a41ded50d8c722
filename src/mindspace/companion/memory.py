"""What the companion may remember, made without any network: an extractive summary of the
person's own (memorable) words, from a conversation or a journal entry, and an embedding of it
for retrieval by similarity.

Two embedders stand behind the `Embedder` seam. The MiniLM sentence model (platform.embeddings,
the `ai` extra) finds memories that mean something near what was said ("my tomatoes" recalls
"the allotment"); the hashed n-gram embedder ships with the code and finds shared words. Both
are keyed per person with a subkey of their data key, so the stored vectors, which are in the
clear for ranking, say nothing to anyone without that key and mean nothing once it is shredded:
the hashed one buckets words by a keyed hash; the MiniLM one turns the model's vector by a
rotation derived from the key. A rotation keeps every cosine between the person's own vectors
(so ranking in PostgreSQL or in Python still works) and makes them incomparable with anyone
else's and with the public model's. It hides words, not structure: which of the person's
memories resemble which stays visible, as it must for ranking in the database.

Similarity is necessary, not sufficient: each embedder says below which cosine two texts have
nothing to do with each other, and has the last word on the opened texts (`related`), because
hashed buckets collide and a collision is not a shared word.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt
import scipy.fft  # type: ignore[import-untyped]

T = TypeVar("T")
Vector = npt.NDArray[np.float64]
# A memory is a reminder, not a transcript.
KEY_SENTENCES = 3
MAX_SUMMARY_CHARS = 600
EXERCISES_LABEL = "Exercises finished: "
SAID_LABEL = "They said: "
WROTE_LABEL = "In their journal: "
_LABELS = re.compile(
    "|".join(re.escape(label) for label in (EXERCISES_LABEL, SAID_LABEL, WROTE_LABEL))
)
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


def _key_sentences(texts: Sequence[str]) -> list[str]:
    """The `KEY_SENTENCES` weightiest sentences (most distinct content words, earliest first on
    a tie) in the order they were written; none that carry no content word."""
    sentences = [s.strip() for text in texts for s in _SENTENCE_END.split(text) if s.strip()]
    weighed = [(len(set(_content_words(s))), i) for i, s in enumerate(sentences)]
    chosen = sorted(
        i for weight, i in sorted(weighed, key=lambda w: (-w[0], w[1]))[:KEY_SENTENCES] if weight
    )
    return [sentences[i] for i in chosen]


def _bounded(parts: Sequence[str]) -> str:
    summary = " ".join(parts)
    return summary if len(summary) <= MAX_SUMMARY_CHARS else summary[: MAX_SUMMARY_CHARS - 1] + "…"


def summarise(person_said: Sequence[str], exercises: Sequence[str]) -> str:
    """The exercises finished, then the person's key sentences. Empty when there is nothing
    worth keeping."""
    parts = []
    if exercises:
        parts.append(EXERCISES_LABEL + ", ".join(dict.fromkeys(exercises)) + ".")
    if chosen := _key_sentences(person_said):
        parts.append(SAID_LABEL + " … ".join(chosen))
    return _bounded(parts)


def summarise_entry(title: str, text: str) -> str:
    """A journal entry's key sentences, its title among them. Empty when it has no words."""
    chosen = _key_sentences([title, text])
    return _bounded([WROTE_LABEL + " … ".join(chosen)]) if chosen else ""


def embedding_text(summary: str) -> str:
    """What of a summary is embedded: the person's words, without the labels every summary
    shares (which would make every memory resemble every other)."""
    return _LABELS.sub(" ", summary).strip()


class Embedder(Protocol):
    name: str  # stored with each memory: embeddings of different embedders never compare
    dimensions: int
    # At or below this cosine, two texts have nothing to do with each other.
    threshold: float

    def embed(self, text: str) -> list[float]:
        """A unit vector, or all zeros for text without a content word. Blocking CPU work."""
        ...

    def related(self, query: str, memory: str) -> bool:
        """The last word, on the opened texts, about a memory ranked above the threshold."""
        ...


def _grams(text: str) -> list[str]:
    tokens = _content_words(text)
    return tokens + [f"{a} {b}" for a, b in itertools.pairwise(tokens)]


class HashedEmbedder:
    """Word unigrams and bigrams hashed (keyed) into a fixed number of signed buckets,
    L2-normalised. Crude, but deterministic, dependency-free and good enough to match shared
    words. Only vectors made with the same key compare.

    Buckets collide (for a short question and a one-line memory with no word in common, about
    one key in sixteen makes them look alike), and a collision weighs exactly what a shared
    word does, so no cosine threshold can tell them apart: a memory is related only when it
    really shares a word or a pair of words with what was said."""

    name = "hashed-ngrams-256-v2"
    dimensions = 256
    threshold = 0.0

    def __init__(self, key: bytes) -> None:
        self._key = key

    def embed(self, text: str) -> list[float]:
        vector = [0.0] * self.dimensions
        for gram in _grams(embedding_text(text)):
            digest = hashlib.blake2b(gram.encode(), digest_size=8, key=self._key).digest()
            bucket = int.from_bytes(digest[:4], "big") % self.dimensions
            vector[bucket] += 1.0 if digest[4] & 1 else -1.0
        norm = float(np.sqrt(sum(v * v for v in vector)))
        return [v / norm for v in vector] if norm else vector

    def related(self, query: str, memory: str) -> bool:
        return not set(_grams(query)).isdisjoint(_grams(embedding_text(memory)))


class SentenceModel(Protocol):
    dimensions: int

    def encode_one(self, text: str) -> npt.NDArray[np.float32]: ...


class Rotation:
    """An orthogonal transform that only `key` makes: three rounds of a keyed permutation, keyed
    signs and the orthonormal DCT, a structured random rotation that mixes every coordinate
    into every other as a dense random one would, in O(n log n) and without building a matrix
    (a QR decomposition of a random 384 x 384 matrix took 60 to 700 ms on the 2-core machine).
    Derived from SHAKE-256 of the key, not from numpy's random streams (which may change
    between versions), because stored vectors must stay comparable with queries for as long
    as the key lives."""

    ROUNDS = 3

    def __init__(self, key: bytes, dimensions: int) -> None:
        per_round = dimensions * 9  # 8 bytes to order each coordinate, 1 for its sign
        raw = hashlib.shake_256(b"mindspace/memory-rotation|" + key).digest(self.ROUNDS * per_round)
        self._rounds: list[tuple[npt.NDArray[np.intp], Vector]] = []
        for start in range(0, len(raw), per_round):
            order = np.frombuffer(raw, dtype="<u8", count=dimensions, offset=start)
            signs = np.frombuffer(
                raw, dtype=np.uint8, count=dimensions, offset=start + dimensions * 8
            )
            self._rounds.append((np.argsort(order, kind="stable"), np.where(signs & 1, -1.0, 1.0)))

    def __call__(self, vectors: npt.NDArray[np.floating[Any]]) -> Vector:
        """Turns each vector along the last axis."""
        turned: Vector = np.asarray(vectors, dtype=np.float64)
        for permutation, signs in self._rounds:
            turned = scipy.fft.dct(turned[..., permutation] * signs, norm="ortho", axis=-1)
        return turned


class RotatedSentenceEmbedder:
    """The MiniLM model's sentence vector, turned by the person's own rotation. Similar
    meanings stay near each other for that person only."""

    name = "minilm-l6-rotated-v1"
    dimensions = 384
    # Measured on the model: sentences on one subject score 0.35 to 0.65, unrelated ones
    # (greetings, other subjects) mostly below 0.25.
    threshold = 0.3

    def __init__(self, model: Callable[[], SentenceModel], key: bytes) -> None:
        self._model = model
        self._rotation = Rotation(key, self.dimensions)

    def embed(self, text: str) -> list[float]:
        text = embedding_text(text)
        if not _content_words(text):  # "ok, thanks": nothing to remember it by
            return [0.0] * self.dimensions
        turned = self._rotation(self._model().encode_one(text))
        # Stored as float32 values, which pgvector holds exactly: both rankings see one vector.
        return [float(v) for v in turned.astype(np.float32)]

    def related(self, query: str, memory: str) -> bool:
        return True


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Of two unit vectors (the embedders' promise): their dot product."""
    return float(np.dot(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)))


def ranked(
    query: Sequence[float], candidates: Sequence[tuple[T, Sequence[float]]], threshold: float
) -> list[T]:
    """The candidates whose cosine with `query` is above `threshold`, most similar first; on a
    tie, the earlier candidate first."""
    if not candidates:
        return []
    vectors = np.asarray([vector for _, vector in candidates], dtype=np.float64)
    scores = vectors @ np.asarray(query, dtype=np.float64)
    order = sorted(
        (i for i in range(len(candidates)) if scores[i] > threshold), key=lambda i: -scores[i]
    )
    return [candidates[i][0] for i in order]


def chosen(embedder: Embedder, query: str, memories: Iterable[tuple[T, str]], k: int) -> list[T]:
    """The first `k` of the ranked, opened `memories` that are related to `query`."""
    related = (ref for ref, text in memories if embedder.related(query, text))
    return list(itertools.islice(related, k))
