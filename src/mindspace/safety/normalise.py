"""Text normalisation: one canonical form for the rules to read.

Lower case, compatibility forms folded (full-width letters, ligatures), Latin accents removed,
apostrophes dropped ("don't" -> "dont"), leetspeak and masked letters restored ("k1ll", "k*ll"),
and letters spelled out one by one joined ("s u i c i d e"). Repeated letters are left alone
here: the rules accept any run of a letter (see rules.stretch), so "dieeee" still reads "die".
Punctuation stays, because negation and sentences are read from it.
"""

from __future__ import annotations

import re
import unicodedata

_APOSTROPHES = re.compile(r"(?<=\w)['’‘`´](?=\w)")
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "’": "'", "‘": "'"})
_COMBINING_LATIN = re.compile(r"[\u0300-\u036f]")
# Devanagari spellings vary in the nukta and in chandrabindu versus anusvara.
_DEVANAGARI = str.maketrans({"\u093c": None, "\u0901": "\u0902"})

_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"}
)
_TOKEN = re.compile(r"[\w@$!*]+")
# "50mg", "2am", "3rd" are numbers with units, not leetspeak.
_NUMBER_WITH_UNIT = re.compile(r"\d+[a-z]{0,3}")
_LEET_CHARS = frozenset("013457@$!")

# Words people mask with an asterisk; a masked token becomes the one it can only be.
_MASKABLE = (
    "kill",
    "killing",
    "suicide",
    "suicidal",
    "die",
    "dead",
    "myself",
    "self",
    "cut",
    "cutting",
    "hang",
    "overdose",
    "unalive",
)
# Four letters apart with spaces ("k i l l"), three with dots or dashes ("d.i.e"); fewer
# would join ordinary words such as "i a m".
_SPELLED_OUT = re.compile(r"(?<![\w])(?:(?:[a-z] ){3,}[a-z]|(?:[a-z][.\-_*]){2,}[a-z])(?![\w])")
_SPACES = re.compile(r"\s+")


def _fold_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", _COMBINING_LATIN.sub("", decomposed))


def _restore_token(match: re.Match[str]) -> str:
    token = match.group(0)
    if "*" in token.strip("*"):
        pattern = re.compile(token.replace("*", ".?"))
        for word in _MASKABLE:
            if pattern.fullmatch(word):
                return word
        return token
    if not _LEET_CHARS.intersection(token) or _NUMBER_WITH_UNIT.fullmatch(token):
        return token
    letters = sum(c.isalpha() for c in token)
    if letters < 2 and not token.startswith(("$", "@")):
        return token  # "10", "24/7", "b4": too little word to be leetspeak
    if token[0] == "!" or token[-1] == "!":
        token = token.strip("!")  # exclamation, not an "i"
        return token.translate(_LEET) + "!" * (len(match.group(0)) - len(token))
    return token.translate(_LEET)


def _join_spelled(match: re.Match[str]) -> str:
    return re.sub(r"[ .\-_*]+", "", match.group(0))


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).lower()
    text = _APOSTROPHES.sub("", text)
    text = _fold_accents(text).translate(_DEVANAGARI)
    text = _TOKEN.sub(_restore_token, text)
    text = _SPELLED_OUT.sub(_join_spelled, text)
    return _SPACES.sub(" ", text).strip()
