"""The cognitive distortions the companion explains and helps people spot, with the cues that
suggest one in a thought. A suggestion is only ever offered as a question: the person decides."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Distortion:
    slug: str
    name: str
    description: str
    example: str
    question: str  # what to ask oneself to loosen it
    cue: re.Pattern[str] | None = None


def _cue(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


DISTORTIONS: tuple[Distortion, ...] = (
    Distortion(
        "all_or_nothing",
        "All-or-nothing thinking",
        "Seeing things in only two categories: perfect or a total failure.",
        "“If I don't get every answer right, I've failed the whole exam.”",
        "Is there a middle ground between the two extremes?",
        _cue(
            r"\b(total(ly)? (failure|disaster)|complete(ly)? (failure|useless)|ruined everything)"
        ),
    ),
    Distortion(
        "overgeneralization",
        "Overgeneralisation",
        "Taking one event as proof of a never-ending pattern.",
        "“I got rejected again. Nobody will ever want to be with me.”",
        "Is this really always true, or does it only feel that way right now?",
        _cue(r"\b(always|never|every ?time|nobody ever|no one ever|everyone always)\b"),
    ),
    Distortion(
        "catastrophizing",
        "Catastrophising",
        "Jumping to the worst possible outcome and treating it as likely.",
        "“My chest feels tight, something terrible must be happening.”",
        "What is the most likely outcome, and how would I cope if the worst did happen?",
        _cue(r"\b(what if|worst|disaster|it'?s over|going to lose everything|can'?t survive)\b"),
    ),
    Distortion(
        "mind_reading",
        "Mind reading",
        "Assuming you know what others think, usually something negative about you.",
        "“They didn't reply, they must think I'm annoying.”",
        "What evidence do I have for what they think? Could there be another explanation?",
        _cue(r"\b(they|he|she|everyone|people) (think|thinks|must think|probably think)s?\b"),
    ),
    Distortion(
        "fortune_telling",
        "Fortune telling",
        "Predicting that things will turn out badly, as if it were a fact.",
        "“There's no point applying, I won't get the job.”",
        "Am I treating a prediction as a certainty? What else could happen?",
        _cue(r"\b(will never|won'?t ever|no point|going to fail|it won'?t work)\b"),
    ),
    Distortion(
        "labeling",
        "Labelling",
        "Putting a fixed, global label on yourself because of one thing you did.",
        "“I forgot her birthday. I'm a terrible friend.”",
        "Would I label a friend this way for the same thing? What is a fairer description?",
        _cue(r"\bi'?m (such )?(a|an) (failure|loser|idiot|burden|mess|disappointment)\b"),
    ),
    Distortion(
        "should_statements",
        "“Should” statements",
        "Holding rigid rules about how you or others must behave.",
        "“I should be able to handle this without help.”",
        "Whose rule is this? What would a kinder, more flexible version sound like?",
        _cue(r"\b(should|must|ought to|have to be)\b"),
    ),
    Distortion(
        "emotional_reasoning",
        "Emotional reasoning",
        "Believing something is true because it feels true.",
        "“I feel worthless, so I must be worthless.”",
        "Feelings are real, but are they facts? What would I see if I looked at the evidence?",
        _cue(r"\bi feel (like )?(a |an )?(worthless|stupid|useless|failure|hopeless)"),
    ),
    Distortion(
        "personalization",
        "Personalisation",
        "Blaming yourself for things that are not wholly, or not at all, your responsibility.",
        "“My friend seems sad, it must be something I did.”",
        "What other things might have contributed? How much of this was really in my control?",
        _cue(r"\b(my fault|because of me|i caused|i ruined)\b"),
    ),
    Distortion(
        "mental_filter",
        "Mental filter",
        "Focusing on one negative detail so that everything else fades from view.",
        "“One comment in my review was critical, so the whole review was bad.”",
        "What am I leaving out? What went well, even a little?",
        None,
    ),
    Distortion(
        "discounting_positive",
        "Discounting the positive",
        "Insisting that good things don't count.",
        "“They only said that to be nice.”",
        "If a friend achieved this, would I say it doesn't count?",
        _cue(r"\b(doesn'?t count|just luck|only said that|anyone could)\b"),
    ),
    Distortion(
        "magnification",
        "Magnifying and minimising",
        "Blowing up your mistakes and shrinking your strengths.",
        "“My one mistake outweighs everything I did well this year.”",
        "How big will this seem in a week, a month, a year?",
        None,
    ),
)
BY_SLUG = {d.slug: d for d in DISTORTIONS}


def suggest(thought: str) -> list[Distortion]:
    """Distortions whose cues appear in a thought, most specific first (the catalogue order)."""
    return [d for d in DISTORTIONS if d.cue is not None and d.cue.search(thought)]


def pick(answer: str) -> Distortion | None:
    """A distortion the person chose, by its number in the list or by (part of) its name."""
    text = answer.strip().lower()
    number = re.fullmatch(r"#?\s*(\d{1,2})\.?", text)
    if number:
        index = int(number.group(1)) - 1
        return DISTORTIONS[index] if 0 <= index < len(DISTORTIONS) else None
    for distortion in DISTORTIONS:
        names = {distortion.name.lower(), distortion.slug.replace("_", " ")}
        if any(name in text or (len(text) >= 5 and text in name) for name in names):
            return distortion
    return None


def numbered_list() -> str:
    return "\n".join(f"{i}. {d.name}: {d.description}" for i, d in enumerate(DISTORTIONS, 1))
