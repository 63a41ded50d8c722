"""The deterministic assessor: normalise, rewrite slang, blank idioms, match rules with their
negation and tense, then combine the signals with the conversation so far.

Pure CPU work on short strings, with no I/O: typically well under a millisecond per message.
With the learned layer (safety.classifier) each message's reading may add a `similar_phrasing`
signal that raises its level and counts as an indirect warning sign when signals combine; the
rules' findings are never taken away.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import lru_cache

from mindspace.safety.assessment import (
    Assessment,
    AssessmentContext,
    Evidence,
    RiskLevel,
    Signal,
)
from mindspace.safety.classifier import Classifier, Match
from mindspace.safety.normalise import normalise
from mindspace.safety.rules import Rule, RuleSet, ruleset

# A blanked span becomes this token: a word no pattern reads or reaches across.
_BLANK = " 0 "
_SENTENCE_END = re.compile(r"[.!?\n।]+")
_CLAUSE_BREAK = re.compile(
    r"[.!?;:,\n।]|(?<![a-z])(?:but|though|however|pero|aunque|sino|lekin|magar|par)(?![a-z])"
)
_WORD = re.compile(r"\S+")
# How far back a negation may stand from the phrase it negates ("I would never ever ...").
_NEGATION_REACH = 6
# Earlier turns taken into account; older ones have already set the session level.
MAX_PREVIOUS = 20


@dataclass(frozen=True, slots=True)
class _Scan:
    evidence: tuple[Evidence, ...]
    negated: tuple[str, ...]  # phrases found but negated, for the reason
    # What is left for the learned layer to read: idioms, other people's words and negated
    # phrases blanked, since a sentence embedding reads "I would never kill myself" as a wish.
    readable: str = ""

    @property
    def level(self) -> RiskLevel:
        level = RiskLevel.normal
        for item in self.evidence:
            level = level.at_least(item.level)
        return level


def _blank(text: str, spans: Iterable[tuple[int, int]]) -> str:
    pieces: list[str] = []
    last = 0
    for start, end in sorted(spans):
        if start < last:
            start = last
        if start >= end:
            continue
        pieces.append(text[last:start])
        pieces.append(_BLANK)
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


def _sentence_end(text: str, position: int) -> int:
    found = _SENTENCE_END.search(text, position)
    return found.start() if found else len(text)


def _sentence_of(text: str, start: int, end: int) -> str:
    begin = max((m.end() for m in _SENTENCE_END.finditer(text, 0, start)), default=0)
    return text[begin : _sentence_end(text, end)]


def _is_negated(rules: RuleSet, text: str, start: int) -> bool:
    clause_start = max((m.end() for m in _CLAUSE_BREAK.finditer(text, 0, start)), default=0)
    window = rules.negation_exempt.sub(_BLANK, text[clause_start:start])
    words = _WORD.findall(window)[-_NEGATION_REACH:]
    return rules.negation.search(" ".join(words)) is not None


def negated_clauses(text: str) -> list[str]:
    """In readable text: what each of the rules' `unsaid` negations reaches, the words after it
    in its clause, as far as a negation may stand from what it negates. The learned layer
    drops a finding these words reach by themselves: "I'm not done with living" is not a wish to
    die, though a sentence embedding reads it as one."""
    rules = ruleset()
    # Exempt phrases ("not sure", "not ok") become spaces of the same length: offsets hold.
    cues = rules.negation_exempt.sub(lambda m: " " * len(m.group(0)), text)
    clauses: list[str] = []
    for cue in rules.unsaid.finditer(cues):
        found = _CLAUSE_BREAK.search(text, cue.end())
        words = _WORD.findall(text, cue.end(), found.start() if found else len(text))
        clause = " ".join(w for w in words[:_NEGATION_REACH] if w != _BLANK.strip())
        if clause:
            clauses.append(clause)
    return clauses


def _match_rule(
    rules: RuleSet, rule: Rule, text: str
) -> tuple[list[Evidence], list[re.Match[str]], list[tuple[int, int]]]:
    found: list[Evidence] = []
    negated: list[re.Match[str]] = []
    spans: list[tuple[int, int]] = []
    for match in rule.regex.finditer(text):
        excerpt = match.group(0)
        if rule.negatable and _is_negated(rules, text, match.start()):
            negated.append(match)
            continue
        level = rule.level
        if rule.past_level is not None and rules.past.search(
            _sentence_of(text, match.start(), match.end())
        ):
            level = rule.past_level
        found.append(Evidence(rule.signal, level, excerpt))
        if rule.attributes:
            spans.append((match.start(), _sentence_end(text, match.end())))
    return found, negated, spans


# Re-reading a conversation's earlier turns is the common case, so recent scans are kept; few,
# because each entry holds a person's words in memory.
@lru_cache(maxsize=256)
def _scan(text: str) -> _Scan:
    rules = ruleset()
    normalised = normalise(text)
    for slang in rules.slang:
        normalised = slang.regex.sub(slang.replacement, normalised)
    dropped = frozenset(
        signal for frame in rules.frames if frame.regex.search(normalised) for signal in frame.drops
    )
    working = _blank(normalised, (m.span() for m in rules.masks.finditer(normalised)))
    evidence: list[Evidence] = []
    negated: list[str] = []
    unsaid: list[tuple[int, int]] = []
    for rule in rules.rules:
        found, rule_negated, attributed = _match_rule(rules, rule, working)
        negated += [m.group(0) for m in rule_negated]
        evidence += [e for e in found if e.signal not in dropped]
        if attributed:
            working = _blank(working, attributed)
        # Attributing rules come first and none is negatable (rules.py), so these spans are
        # already in the final text.
        unsaid += [m.span() for m in rule_negated]
    return _Scan(tuple(evidence), tuple(negated), readable=_blank(working, unsaid))


def readable(text: str) -> str:
    """What the learned layer reads of a text: normalised, slang spelled out, and idioms,
    other people's words and negated phrases blanked (see `_Scan.readable`)."""
    return _scan(text).readable.strip()


def _with_match(scan: _Scan, match: Match) -> _Scan:
    """The scan with what the learned layer found, when that is more than the rules found.

    Only then does it count when signals combine (escalations.toml): where the rules already
    read the message, the layer's finding would count the same words twice, and a hopeless
    message would become "hopelessness and another sign" by itself.
    """
    if match.level.rank <= scan.level.rank:
        return scan
    found = Evidence(Signal.similar_phrasing, match.level, match.excerpt)
    return replace(scan, evidence=(*scan.evidence, found))


def _escalate(
    rules: RuleSet, current: _Scan, earlier: Iterable[_Scan]
) -> tuple[RiskLevel, list[str]]:
    level = current.level
    reasons: list[str] = []
    here = {e.signal for e in current.evidence}
    around = [e for scan in (current, *earlier) for e in scan.evidence]
    for escalation in rules.escalations:
        if escalation.level.rank <= level.rank:
            continue
        triggers = {e.signal for e in around if e.signal in escalation.when and e.signal in here}
        partners = {
            e.signal
            for e in around
            if e.signal in escalation.with_
            and (not escalation.strong_partners or e.level.rank >= RiskLevel.elevated_concern.rank)
        }
        if any(partners - {trigger} for trigger in triggers):
            level = escalation.level
            reasons.append(escalation.reason)
    return level, reasons


def _listing(evidence: Iterable[Evidence]) -> str:
    seen: dict[Signal, list[str]] = {}
    for item in evidence:
        seen.setdefault(item.signal, []).append(item.excerpt)
    return "; ".join(
        f"{signal.value.replace('_', ' ')} (“{' / '.join(dict.fromkeys(words))}”)"
        for signal, words in seen.items()
    )


def _describe(level: RiskLevel, scan: _Scan, escalations: list[str], carried: RiskLevel) -> str:
    concerning = [e for e in scan.evidence if e.level is not RiskLevel.normal]
    noted = [e for e in scan.evidence if e.level is RiskLevel.normal]
    parts: list[str] = []
    if concerning:
        parts.append(f"Found {_listing(concerning)}.")
    if noted:
        parts.append(f"Noted, not a concern alone: {_listing(noted)}.")
    if not scan.evidence:
        parts.append("No warning signs in this message.")
    if scan.negated:
        parts.append(f"Negated, so not counted: “{' / '.join(scan.negated)}”.")
    if escalations:
        parts.append("Raised because of " + "; ".join(escalations) + ".")
    if carried.rank > 0 and carried == level and scan.level.rank < level.rank and not escalations:
        parts.append(f"The conversation is already at {carried.value}; the level stays there.")
    return f"{level.value}: " + " ".join(parts)


def assess(
    text: str, context: AssessmentContext | None = None, *, classifier: Classifier | None = None
) -> Assessment:
    """Assess one message from a person, in the light of their earlier messages.

    The level is sticky: it is never below `context.session_level` nor below any earlier
    message's own level, so a "never mind, I'm fine" after a disclosure keeps the session
    where it was until a human closes it.

    With `classifier` (blocking: it encodes the messages not seen recently, about 15 ms for
    one), each message's reading by the learned layer is added to what the rules found.
    """
    context = context or AssessmentContext()
    rules = ruleset()
    previous = context.previous[-MAX_PREVIOUS:]
    current = _scan(text)
    earlier = [_scan(p) for p in previous]
    if classifier is not None:
        matches = classifier.match([text, *previous])
        current = _with_match(current, matches[0])
        earlier = [_with_match(scan, m) for scan, m in zip(earlier, matches[1:], strict=True)]
    level, escalations = _escalate(rules, current, earlier)
    carried = context.session_level
    for scan in earlier:
        carried = carried.at_least(scan.level)
    level = level.at_least(carried)
    signals = tuple(dict.fromkeys(e.signal for e in current.evidence))
    return Assessment(
        level=level,
        signals=signals,
        reason=_describe(level, current, escalations, carried),
        evidence=current.evidence,
    )
