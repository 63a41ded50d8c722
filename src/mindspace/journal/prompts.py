"""The curated prompt catalogue (data/prompts.json) and the daily prompt.

The daily prompt never repeats within 30 days, by construction rather than by remembering what
was shown: the catalogue is split into two halves (each theme alternating between them), each
of at least 30 prompts. Day after day a person walks through a personal shuffle of one half,
then of the other, and so on. Two days in the same pass differ by construction; two days in
neighbouring passes come from different halves; two passes apart are more than 30 days apart.
The shuffle of each pass is a keyed hash of the person and the pass, so the same person sees
the same prompt all day on every device, and different people different sequences.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib.resources import files
from typing import Any

NO_REPEAT_DAYS = 30
_EPOCH = date(2024, 1, 1)


@dataclass(frozen=True, slots=True)
class CataloguePrompt:
    id: str
    theme: str
    text: str


@cache
def catalogue() -> tuple[CataloguePrompt, ...]:
    raw: dict[str, Any] = json.loads(
        files("mindspace.journal").joinpath("data/prompts.json").read_text()
    )
    return tuple(
        CataloguePrompt(id=f"{theme}-{n:02d}", theme=theme, text=text)
        for theme, texts in raw["themes"].items()
        for n, text in enumerate(texts, start=1)
    )


@cache
def catalogue_by_id() -> dict[str, CataloguePrompt]:
    return {p.id: p for p in catalogue()}


def themes() -> tuple[str, ...]:
    return tuple(dict.fromkeys(p.theme for p in catalogue()))


@cache
def _halves() -> tuple[tuple[CataloguePrompt, ...], tuple[CataloguePrompt, ...]]:
    by_theme: dict[str, list[CataloguePrompt]] = {}
    for prompt in catalogue():
        by_theme.setdefault(prompt.theme, []).append(prompt)
    first = tuple(p for ps in by_theme.values() for p in ps[0::2])
    second = tuple(p for ps in by_theme.values() for p in ps[1::2])
    if min(len(first), len(second)) < NO_REPEAT_DAYS:
        raise RuntimeError(f"the catalogue needs at least {2 * NO_REPEAT_DAYS} prompts")
    return first, second


def daily_prompt(person: bytes, day: date) -> CataloguePrompt:
    """The prompt of `day` (the person's local date) for the person with this stable id."""
    halves = _halves()
    index = (day - _EPOCH).days
    # Each pass lasts as long as its half has prompts; halves may differ in length by one.
    cycle = len(halves[0]) + len(halves[1])
    rounds, rest = divmod(index, cycle)
    which = 0 if rest < len(halves[0]) else 1
    position = rest if which == 0 else rest - len(halves[0])
    pass_number = rounds * 2 + which
    order = sorted(
        halves[which],
        key=lambda p: hashlib.sha256(
            person + b"|" + str(pass_number).encode() + b"|" + p.id.encode()
        ).digest(),
    )
    return order[position]
