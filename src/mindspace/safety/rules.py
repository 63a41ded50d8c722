"""The rules as data: one TOML file per language under data/rules, escalations in
data/escalations.toml. This module compiles them; engine.py applies them.

A pattern is a regular expression over normalised text with two conveniences, so the data
reads like the phrases it catches:
- every Latin letter accepts a run of itself and a doubled letter means the same run
  ("kill" matches "kil", "killll"; "jana" matches "jaana");
- a space accepts any run of non-word characters ("i. want. to. die.").
Patterns only match whole words (no letter or digit right before or after).

A language file may name families of words once, in its `[words]` table (`substance = ["pills",
"lithium", ...]`), and a pattern uses a family by name in angle brackets (`took <substance>`):
one list of substances, means or body parts serves every rule that needs it, so a word added to
the family reaches all of them.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from mindspace.safety.assessment import RiskLevel, Signal

_LETTER = frozenset("abcdefghijklmnopqrstuvwxyz")
_QUANTIFIER = frozenset("?*+{")


def stretch(pattern: str) -> str:
    """The regex a data pattern stands for (see the module docstring)."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i : i + 2])
            i += 2
        elif c == "[":
            end = i + 1
            while end < n and (pattern[end] != "]" or end == i + 1):
                end += 2 if pattern[end] == "\\" else 1
            out.append(pattern[i : end + 1])
            i = end + 1
        elif c == "{":
            end = pattern.index("}", i)
            out.append(pattern[i : end + 1])
            i = end + 1
        elif c == "(" and pattern.startswith("(?", i):
            # (?: (?= (?! (?<= (?<!
            width = 4 if pattern.startswith(("(?<=", "(?<!"), i) else 3
            out.append(pattern[i : i + width])
            i += width
        elif c == " ":
            following = pattern[i + 1] if i + 1 < n else ""
            out.append(r"[\W_]" if following in _QUANTIFIER else r"[\W_]+")
            i += 1
        elif c in _LETTER:
            following = pattern[i + 1] if i + 1 < n else ""
            if following in _QUANTIFIER:
                out.append(c)
            elif following == c and pattern[i + 2 : i + 3] not in _QUANTIFIER:
                out.append(c + "+")
                i += 1  # the double is the same run
            else:
                out.append(c + "+")
            i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


_FAMILY = re.compile(r"(?<!\?P)<([a-z_]+)>")


def with_words(pattern: str, words: dict[str, list[str]]) -> str:
    """The pattern with each `<family>` replaced by its words, as one group."""

    def family(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in words:
            raise ValueError(f"pattern {pattern!r} names an unknown family of words <{name}>")
        return "(?:" + "|".join(words[name]) + ")"

    return _FAMILY.sub(family, pattern)


def compile_patterns(patterns: list[str]) -> re.Pattern[str]:
    body = "|".join(f"(?:{stretch(p)})" for p in patterns)
    return re.compile(rf"(?<![a-z0-9])(?:{body})(?![a-z0-9])")


@dataclass(frozen=True, slots=True)
class Rule:
    signal: Signal
    level: RiskLevel
    regex: re.Pattern[str]
    # A negation just before the phrase ("I would never ...") cancels it.
    negatable: bool
    # Where the sentence says it is in the past ("I used to ..."), the level it has instead.
    past_level: RiskLevel | None
    # About someone else: the rest of the sentence is theirs and no first-person rule reads it.
    attributes: bool


@dataclass(frozen=True, slots=True)
class Frame:
    """A way of speaking (a clinician's question) under which some signals do not apply."""

    name: str
    regex: re.Pattern[str]
    drops: frozenset[Signal]


@dataclass(frozen=True, slots=True)
class Escalation:
    when: frozenset[Signal]  # one of these in the message itself
    with_: frozenset[Signal]  # and a different one of these here or earlier in the conversation
    level: RiskLevel
    reason: str
    strong_partners: bool  # count only partners found at elevated_concern or above


@dataclass(frozen=True, slots=True)
class Slang:
    regex: re.Pattern[str]
    replacement: str


@dataclass(frozen=True, slots=True)
class RuleSet:
    slang: tuple[Slang, ...]
    masks: re.Pattern[str]
    frames: tuple[Frame, ...]
    rules: tuple[Rule, ...]  # attributing rules first
    negation: re.Pattern[str]
    negation_exempt: re.Pattern[str]
    # Negations whose clause the learned layer reads apart (engine.negated_clauses).
    unsaid: re.Pattern[str]
    past: re.Pattern[str]
    escalations: tuple[Escalation, ...]


LANGUAGES = ("en", "hi", "es")


def _load(name: str) -> dict[str, Any]:
    data = resources.files("mindspace.safety").joinpath("data", name).read_text("utf-8")
    return tomllib.loads(data)


_PLAIN = frozenset({"name", "replace", "signal", "level", "past_level"})


def _expand(data: dict[str, Any]) -> dict[str, Any]:
    """The file's patterns with its families of words spelled out (see `with_words`)."""
    words: dict[str, list[str]] = data.pop("words", {})

    def walk(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: walk(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, key) for v in value]
        # Names, reasons and replacements are plain text, not patterns.
        if isinstance(value, str) and key not in _PLAIN:
            return with_words(value, words)
        return value

    expanded: dict[str, Any] = walk(data)
    return expanded


@cache
def ruleset() -> RuleSet:
    slang: list[Slang] = []
    masks: list[str] = []
    frames: list[Frame] = []
    rules: list[Rule] = []
    negation: list[str] = []
    exempt: list[str] = []
    unsaid: list[str] = []
    past: list[str] = []
    for language in LANGUAGES:
        data = _expand(_load(f"rules/{language}.toml"))
        slang += [
            Slang(compile_patterns([s["pattern"]]), s["replace"]) for s in data.get("slang", [])
        ]
        masks += [p for m in data.get("mask", []) for p in m["patterns"]]
        frames += [
            Frame(f["name"], compile_patterns(f["patterns"]), frozenset(map(Signal, f["drops"])))
            for f in data.get("frame", [])
        ]
        for r in data["rule"]:
            past_level = r.get("past_level")
            if r.get("attributes") and r.get("negatable"):
                # The engine blanks attributed sentences as it goes; negated spans must not move.
                raise ValueError(f"a rule for {r['signal']} both attributes and is negatable")
            rules.append(
                Rule(
                    signal=Signal(r["signal"]),
                    level=RiskLevel(r["level"]),
                    regex=compile_patterns(r["patterns"]),
                    negatable=r.get("negatable", False),
                    past_level=RiskLevel(past_level) if past_level else None,
                    attributes=r.get("attributes", False),
                )
            )
        modifiers = data.get("modifiers", {})
        negation += modifiers.get("negation", [])
        exempt += modifiers.get("negation_exempt", [])
        unsaid += modifiers.get("unsaid", [])
        past += modifiers.get("past", [])
    escalations = tuple(
        Escalation(
            when=frozenset(map(Signal, e["when"])),
            with_=frozenset(map(Signal, e["with"])),
            level=RiskLevel(e["level"]),
            reason=e["reason"],
            strong_partners=e.get("strong_partners", False),
        )
        for e in _load("escalations.toml")["escalation"]
    )
    return RuleSet(
        slang=tuple(slang),
        masks=compile_patterns(masks),
        frames=tuple(frames),
        rules=tuple(sorted(rules, key=lambda r: not r.attributes)),
        negation=compile_patterns(negation),
        negation_exempt=compile_patterns(exempt),
        unsaid=compile_patterns(unsaid),
        past=compile_patterns(past),
        escalations=escalations,
    )
