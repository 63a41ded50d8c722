"""The prompt-template catalogue the store will sell from, like the personas: free templates for
everyone, paid ones only for people whose plan includes them.

A template takes no input, a choice from a fixed list, or free text; it has the prompt a model
is given and a scripted answer that is useful on its own, for when no model is configured, the
provider fails, the person has no AI credits, or a model's answer is withheld. Only templates
without free text may have their answers cached: a choice from a list says nothing about the
person, free text may say anything.

Raise a template's `version` whenever its prompt or scripted answer changes: cached answers are
keyed by version, so older ones are never served again. The scripted answers are English only,
like the scripted engine, until translations exist.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from mindspace.companion.engines import distortions as cbt
from mindspace.companion.schemas import MESSAGE_MAX_CHARS

NO_DIAGNOSIS = "Don't diagnose anything or mention medication."


class InputKind(enum.StrEnum):
    choice = "choice"
    text = "text"


@dataclass(frozen=True, slots=True)
class Option:
    value: str
    label: str


@dataclass(frozen=True, slots=True)
class TemplateInput:
    kind: InputKind
    label: str
    options: tuple[Option, ...] = ()
    max_length: int | None = None

    def option(self, value: str) -> Option | None:
        return next((o for o in self.options if o.value == value), None)


@dataclass(frozen=True, slots=True)
class Template:
    id: str
    name: str
    description: str
    version: int
    # The instruction a model is given, and the answer without one, from the (checked) input:
    # None, an option's value, or the person's text.
    prompt: Callable[[str | None], str]
    scripted: Callable[[str | None], str]
    input: TemplateInput | None = None
    paid: bool = False

    @property
    def takes_text(self) -> bool:
        return self.input is not None and self.input.kind is InputKind.text

    @property
    def cacheable(self) -> bool:
        """Only when the input carries no personal context: none, or a choice from a list."""
        return not self.takes_text


# Bedtime wind-down.

_WIND_DOWN = """Let's wind down together. Take your time with each step.

1. Set the scene. Dim the lights, put your phone face down out of reach, and let the room \
get a little cooler.
2. Park your worries. If something is on your mind, write it down with one small next step \
for tomorrow. It will keep until morning.
3. Breathe slowly. In through your nose for a count of 4, hold for 2, and out through your \
mouth for 6. Repeat five times: the long out-breath tells your body it is safe to rest.
4. Soften from head to toe. Notice your forehead, jaw and shoulders, and let each one loosen \
as you breathe out. Move down through your arms, belly, legs and feet.
5. Let your mind drift. Picture a calm place in detail: what you would see, hear and feel \
there. When thoughts come, notice them kindly and return to the picture.

If you are still awake after about 20 minutes, get up for a while and do something quiet in \
dim light, then come back when you feel sleepy. Rest well."""


def _wind_down_prompt(_: str | None) -> str:
    return (
        "Write me a short, calming bedtime wind-down script (under 200 words) to follow in "
        "bed: a few gentle numbered steps covering settling the room, setting worries aside "
        "until tomorrow, slow breathing and relaxing the body. Warm and unhurried. " + NO_DIAGNOSIS
    )


# A thinking trap, chosen from the distortion list.


def _distortion(slug: str | None) -> cbt.Distortion:
    return cbt.BY_SLUG[slug or ""]


def _thinking_trap_prompt(slug: str | None) -> str:
    trap = _distortion(slug)
    return (
        f'Explain the thinking trap called "{trap.name}" ({trap.description}) in plain, '
        "friendly language, in under 180 words: what it is, a relatable everyday example, why "
        "minds fall into it, and one or two questions I can ask myself to loosen it. "
        + NO_DIAGNOSIS
    )


def _thinking_trap(slug: str | None) -> str:
    trap = _distortion(slug)
    return (
        f"{trap.name}\n\n{trap.description}\n\nFor example: {trap.example}\n\n"
        "Why it happens: minds take shortcuts to keep us safe, and when we are stressed or low "
        "those shortcuts lean towards the harshest reading. Everyone does this; noticing it is "
        "the first step to loosening it.\n\n"
        f"When you catch it, ask yourself: {trap.question}\n\n"
        "Try this: write down one recent thought that fits this pattern, then write a fairer, "
        "more complete version beside it. It doesn't have to be positive, only more balanced."
    )


# Three small self-care ideas, for the energy the person has.

_ENERGY = (
    Option("low", "Running on empty"),
    Option("some", "A little energy"),
    Option("more", "Ready to do something"),
)
_SELF_CARE = {
    "low": (
        "Drink a glass of water and eat something simple, even a piece of fruit or toast: "
        "a body that is looked after makes everything feel a little lighter.",
        "Open a window or step outside for two minutes and name five things you can see: "
        "fresh air and a moment of noticing calm a racing mind.",
        "Lie down somewhere comfortable and listen to one song you love, doing nothing else: "
        "rest counts, and it needs no energy at all.",
    ),
    "some": (
        "Take a ten-minute walk with no destination, at whatever pace feels right: gentle "
        "movement lifts mood more than it costs.",
        "Tidy one small surface, like your bedside table: a little order outside helps a busy "
        "mind settle.",
        "Send a short message to someone you like, just to say hello: small moments of "
        "connection are good for both of you.",
    ),
    "more": (
        "Cook a simple, nourishing meal and eat it away from a screen: it is care you can taste.",
        "Move for twenty minutes (a brisk walk, a stretching video, dancing in the kitchen): "
        "it burns off stress and helps you sleep tonight.",
        "Do one thing you have been putting off that would make tomorrow easier, then stop "
        "there: finishing one thing quiets the to-do list in your head.",
    ),
}


def _self_care_prompt(energy: str | None) -> str:
    label = next(o.label for o in _ENERGY if o.value == energy).lower()
    return (
        f"Suggest three small, practical self-care ideas for today for someone who is "
        f'feeling "{label}". Each should take little time or money, be doable at home or '
        "nearby, and be one short sentence with a few words on why it helps. Number them 1 to "
        "3, and end with one encouraging line. " + NO_DIAGNOSIS
    )


def _self_care(energy: str | None) -> str:
    ideas = "\n".join(f"{i}. {idea}" for i, idea in enumerate(_SELF_CARE[energy or "low"], 1))
    return (
        f"Three small things you could do today:\n\n{ideas}\n\n"
        "Pick just one. Small things done kindly count."
    )


# Reframing a worry (free text: never cached).


def _reframe_prompt(worry: str | None) -> str:
    return (
        "Help me reframe this worry, gently and briefly (under 200 words). Acknowledge the "
        "feeling first, then help me separate facts from predictions, consider the most likely "
        "outcome, and end with a kinder, more balanced way to see it and one small step I "
        f"could take. {NO_DIAGNOSIS}\n\nMy worry: {worry}"
    )


def _reframe(worry: str | None) -> str:
    traps = cbt.suggest(worry or "")
    hint = ""
    if traps:
        names = " or ".join(t.name.lower() for t in traps[:2])
        hint = (
            f" Reading your worry, I wonder whether {names} might be part of it; you could ask "
            f'yourself: "{traps[0].question}"'
        )
    return (
        "Thank you for putting that into words: worries often feel smaller once they are "
        "outside your head. Let's look at it together, one step at a time.\n\n"
        "1. Name the feeling. What emotion comes with this worry, and how strong is it, from "
        "0 to 100?\n"
        f"2. Check the facts. What do you know for sure, and what are you predicting or "
        f"assuming?{hint}\n"
        "3. Widen the picture. What is the worst that could happen, the best, and the most "
        "likely? If the worst did happen, how would you cope, and who could help?\n"
        "4. A kinder view. What would you say to a friend with this worry? Try writing one "
        "fairer, more balanced sentence about it.\n"
        "5. One small step. Is there something in your control you could do, even a tiny "
        "thing? If not, set the worry aside for a 15-minute worry time later today."
    )


# A gratitude prompt.

_GRATITUDE = """A moment of gratitude. Take a minute, and answer in your head, out loud or in \
your journal:

1. One small thing today that you enjoyed, however brief: a taste, a sound, a moment of quiet.
2. Someone who made your day, or your life, a little easier. What did they do?
3. Something about yourself you are glad of today, even just that you kept going.

Stay with each one for a few breaths and notice how it feels. Gratitude isn't about ignoring \
what is hard; it is letting the good be noticed too."""


def _gratitude_prompt(_: str | None) -> str:
    return (
        "Give me a short gratitude practice for today (under 150 words): three varied, "
        "specific prompts to reflect on (something small, a person, something about myself), "
        "and a gentle closing line. Warm, not preachy. " + NO_DIAGNOSIS
    )


# A body scan (paid).

_LENGTHS = (Option("short", "About 3 minutes"), Option("long", "About 10 minutes"))
_BODY_SCAN_STEPS = (
    "Settle into a comfortable position, sitting or lying down, and let your eyes close or "
    "rest on one spot.",
    "Take three slow breaths, letting each out-breath be a little longer than the in-breath.",
    "Bring your attention to your feet. Notice warmth, coolness, pressure, or nothing at all. "
    "Whatever is there is fine.",
    "Move up through your ankles, calves and knees. Where you find tension, breathe towards "
    "it and let it soften as you breathe out.",
    "Notice your thighs, hips and lower back, and the support beneath you.",
    "Bring attention to your belly rising and falling, then your chest, then your shoulders. "
    "Let your shoulders drop a little.",
    "Move down your arms to your hands and fingertips. Notice any tingling or warmth.",
    "Notice your neck, jaw, cheeks, the space around your eyes and your forehead. Let your "
    "face be soft.",
    "Finally, feel your whole body breathing, all at once, for a few breaths.",
    "When you are ready, wiggle your fingers and toes and open your eyes. Take a moment "
    "before you move on.",
)


def _body_scan_prompt(length: str | None) -> str:
    label = next(o.label for o in _LENGTHS if o.value == length).lower()
    return (
        f"Guide me through a calming body scan meditation lasting {label}. Use short lines, "
        "gentle pauses marked with '...', and move from the feet to the head. Warm, simple "
        "language. " + NO_DIAGNOSIS
    )


# The three-minute scan keeps the feet, the breath, the shoulders and the face.
_SHORT_SCAN = (0, 1, 2, 5, 7, 8, 9)


def _body_scan(length: str | None) -> str:
    long = length == "long"
    steps = _BODY_SCAN_STEPS if long else tuple(_BODY_SCAN_STEPS[i] for i in _SHORT_SCAN)
    pause = " Stay with this for three or four breaths." if long else ""
    lines = [f"{i}. {step}{pause}" for i, step in enumerate(steps, 1)]
    return "A body scan. Go slowly; there is no right way to feel.\n\n" + "\n".join(lines)


# A self-compassion letter (paid; free text: never cached).


def _letter_prompt(struggle: str | None) -> str:
    return (
        "Write me a short, warm self-compassion letter (under 220 words), as a wise and kind "
        "friend would write it, about something I am being hard on myself about. Acknowledge "
        "how it feels, remind me that struggling is part of being human, and end with one "
        f"gentle encouragement. {NO_DIAGNOSIS}\n\nWhat I'm hard on myself about: {struggle}"
    )


def _letter(_: str | None) -> str:
    return (
        "Let's write you a letter from the kindest friend you can imagine: someone who knows "
        "everything about you, your strengths and your struggles, and accepts you completely.\n\n"
        "1. Begin with what happened, as they would describe it: plainly, without blame.\n"
        "2. Let them name how it feels. It makes sense that this hurts; anyone who cares as "
        "much as you do would feel it.\n"
        "3. Let them remind you that you are not alone: every person gets things wrong, "
        "struggles and falls short sometimes. It is part of being human, not proof that "
        "something is wrong with you.\n"
        "4. Let them offer encouragement, not criticism: what might you try next time, and "
        "what would help you feel a little better today?\n\n"
        "Write it by hand if you can, put it aside for a while, then read it slowly, letting "
        "the words sink in. You deserve the same kindness you would give a friend."
    )


_FREE_TEXT_MAX = MESSAGE_MAX_CHARS
CATALOGUE = (
    Template(
        "bedtime_wind_down",
        "Bedtime wind-down",
        "A few calm steps to settle your body and mind for sleep.",
        1,
        _wind_down_prompt,
        lambda _: _WIND_DOWN,
    ),
    Template(
        "thinking_trap",
        "Explain a thinking trap",
        "What a common thinking trap is, why minds fall into it, and how to loosen it.",
        1,
        _thinking_trap_prompt,
        _thinking_trap,
        TemplateInput(
            InputKind.choice,
            "Which thinking trap?",
            tuple(Option(d.slug, d.name) for d in cbt.DISTORTIONS),
        ),
    ),
    Template(
        "self_care_ideas",
        "Three small self-care ideas",
        "Three small, doable things for today, for the energy you have.",
        1,
        _self_care_prompt,
        _self_care,
        TemplateInput(InputKind.choice, "How much energy do you have?", _ENERGY),
    ),
    Template(
        "reframe_worry",
        "Reframe a worry",
        "Look at a worry from a kinder, more balanced angle.",
        1,
        _reframe_prompt,
        _reframe,
        TemplateInput(InputKind.text, "What is worrying you?", max_length=_FREE_TEXT_MAX),
    ),
    Template(
        "gratitude_prompt",
        "A gratitude prompt",
        "Three gentle questions to notice what went well.",
        1,
        _gratitude_prompt,
        lambda _: _GRATITUDE,
    ),
    Template(
        "body_scan",
        "Guided body scan",
        "Relax from your feet to your head, in three minutes or ten.",
        1,
        _body_scan_prompt,
        _body_scan,
        TemplateInput(InputKind.choice, "How long?", _LENGTHS),
        paid=True,
    ),
    Template(
        "self_compassion_letter",
        "A self-compassion letter",
        "A warm letter to yourself about something you are being hard on yourself about.",
        1,
        _letter_prompt,
        _letter,
        TemplateInput(
            InputKind.text,
            "What are you being hard on yourself about?",
            max_length=_FREE_TEXT_MAX,
        ),
        paid=True,
    ),
)


@cache
def by_id() -> dict[str, Template]:
    return {t.id: t for t in CATALOGUE}
