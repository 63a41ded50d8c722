"""Normalisation: one canonical form whatever the spelling."""

from __future__ import annotations

import pytest

from mindspace.safety.normalise import normalise
from mindspace.safety.rules import compile_patterns


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("I Want To DIE", "i want to die"),
        ("I don’t want to live", "i dont want to live"),
        ("i w4nt to d1e", "i want to die"),
        ("i w@nt to d!e", "i want to die"),
        ("thinking about $uicide", "thinking about suicide"),
        ("i want to k*ll myself", "i want to kill myself"),
        ("having s*icidal thoughts", "having suicidal thoughts"),
        ("I want to k i l l myself", "i want to kill myself"),
        ("i want to d.i.e", "i want to die"),
        ("  lots   of\tspace \n here ", "lots of space here"),
        ("adiós, ya no puedo más", "adios, ya no puedo mas"),
        ("Ｉ ｗａｎｔ", "i want"),  # full-width letters
    ],
)
def test_spellings_reach_one_form(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


@pytest.mark.parametrize("raw", ["take 50mg at 2am", "24/7", "wow!!", "b4 the 3rd", "i a m"])
def test_numbers_units_and_ordinary_words_are_left_alone(raw: str) -> None:
    assert normalise(raw) == raw


def test_devanagari_spelling_variants_meet() -> None:
    # Chandrabindu and anusvara, with and without nukta, are one spelling.
    assert normalise("हूँ") == normalise("हूं")
    assert normalise("ज़िंदगी") == normalise("जिंदगी")


@pytest.mark.parametrize(
    "text", ["kill myself", "kil myself", "killllll myselffff", "kill. myself"]
)
def test_patterns_accept_repeated_letters_and_any_spacing(text: str) -> None:
    assert compile_patterns(["kill myself"]).search(text)


@pytest.mark.parametrize("text", ["skill myself", "kill myselfish", "killmyself"])
def test_patterns_match_whole_words_only(text: str) -> None:
    assert not compile_patterns(["kill myself"]).search(text)
