"""Search inside one's own entries, whose text is sealed: a blind index.

Chosen over decrypt-and-filter: that would have to open every entry a person ever wrote on each
search (or give up past a bound and miss older entries), while the index answers from one
indexed query however long someone has journalled. What the index reveals to someone holding
the database but not the keys: which of one person's entries share a word, and how many
distinct words each has; never the words themselves (HMAC under a key derived from that
person's data key, so equal words of two people do not match either). Shredding the data key
shreds the index key with it.

Exact words only, after normalisation (case, accents, compatibility forms); no prefixes or
stemming, which would multiply what the index reveals.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterable

from mindspace.platform.crypto import DataKey

# 64 bits: an accidental match within one person's vocabulary (say 50,000 words) has a
# probability near 1e-10, and shorter entries make the index smaller to store and to scan.
TERM_BYTES = 8
MAX_TERMS = 4000
_WORD = re.compile(r"\w+")
_MIN_WORD, _MAX_WORD = 2, 64
WORD_INDEX_LABEL = "journal.search-words"
TAG_INDEX_LABEL = "journal.search-tags"


def normalise(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """The distinct searchable words of a text, in order of first appearance."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(normalise(text)):
        if _MIN_WORD <= len(word) <= _MAX_WORD and "_" not in word:
            seen.setdefault(word, None)
    return list(seen)


def normalise_tag(tag: str) -> str:
    return " ".join(normalise(tag).split())


class BlindIndex:
    """Terms of one person, under one derived key."""

    def __init__(self, key: DataKey, label: str) -> None:
        self._key = key.subkey(label)

    def term(self, value: str) -> bytes:
        return hmac.new(self._key, value.encode(), hashlib.sha256).digest()[:TERM_BYTES]

    def terms(self, values: Iterable[str]) -> list[bytes]:
        # Sorted: the stored order must not reveal the order of words in the entry.
        return sorted({self.term(v) for v in values})[:MAX_TERMS]
