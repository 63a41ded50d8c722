"""The scripted CBT companion: guided exercises and gentle conversation, with no network.

It is the default engine and the fallback when a model provider fails, so it must always
answer, and answer kindly. Free text is routed to an exercise by intent; inside an exercise each
answer moves one step on, a reply that does not fit is asked again once with an example and then
accepted as it is, and "stop" or "something else" always leaves. Everything it needs to continue
lives in the JSON `state` the caller stores with the conversation.

English only for now: other locales get the English text until translations exist.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mindspace.companion.engines import EngineReply, EngineRequest
from mindspace.companion.engines import distortions as cbt

Answers = Mapping[str, Any]
# A parser returns the value to keep, or None when the answer does not fit the question.
Parser = Callable[[str], Any]


def _text(answer: str) -> str | None:
    cleaned = " ".join(answer.split())
    return cleaned if len(cleaned) >= 2 else None


def _anything(answer: str) -> str:
    return " ".join(answer.split())


def _number(low: int, high: int) -> Parser:
    def parse(answer: str) -> int | None:
        found = re.search(r"-?\d{1,3}", answer)
        if found is None:
            return None
        value = int(found.group())
        return value if low <= value <= high else None

    return parse


def _emotion_and_intensity(answer: str) -> dict[str, Any] | None:
    found = re.search(r"\d{1,3}", answer)
    words = re.sub(r"[\d%/]+|\bout of\b", " ", answer).strip(" ,.-:")
    if found is None or not words or int(found.group()) > 100:
        return None
    return {"emotion": " ".join(words.split()), "intensity": int(found.group())}


def _distortion(answer: str) -> str | None:
    if re.search(r"\b(none|not sure|no idea|skip|don'?t know|dunno)\b", answer, re.IGNORECASE):
        return ""  # a valid answer: not every thought is a distortion
    chosen = cbt.pick(answer)
    return chosen.slug if chosen else None


def _yes_no_partly(answer: str) -> str | None:
    text = answer.lower()
    if re.search(r"\b(partly|partially|a bit|some|sort of|kind of|maybe)\b", text):
        return "partly"
    if re.search(r"\b(yes|yeah|yep|i can|sure)\b", text):
        return "yes"
    if re.search(r"\b(no|nope|not really|can'?t|cannot|nothing)\b", text):
        return "no"
    return None


@dataclass(frozen=True, slots=True)
class Step:
    key: str
    ask: Callable[[Answers], str]
    parse: Parser
    example: str  # shown when an answer does not fit; the next answer is then taken as it is
    # What to keep from an answer that still does not fit the second time (never None).
    fallback: Parser = _anything


def _say(text: str) -> Callable[[Answers], str]:
    return lambda _answers: text


@dataclass(frozen=True, slots=True)
class Flow:
    name: str
    title: str
    intro: str
    steps: tuple[Step, ...]
    finish: Callable[[Answers], str]


def _distortion_question(answers: Answers) -> str:
    suggestions = cbt.suggest(str(answers.get("thought", "")))
    hint = ""
    if suggestions:
        names = " or ".join(d.name.lower() for d in suggestions[:2])
        hint = f"Reading your thought, I wonder about {names}, but you know it best.\n\n"
    return (
        f"{hint}Thinking traps are habits every mind has. Do any of these fit? Reply with a "
        f"number, a name, or 'not sure'.\n\n{cbt.numbered_list()}"
    )


def _balanced_question(answers: Answers) -> str:
    slug = answers.get("distortion")
    question = cbt.BY_SLUG[slug].question if slug else "What would you say to a friend?"
    return (
        f"{question}\n\nWith the evidence on both sides in view, try writing a more balanced "
        "thought. It doesn't have to be positive, just fairer and more complete."
    )


def _rerate_question(answers: Answers) -> str:
    emotion = answers.get("feeling", {}).get("emotion") or "that feeling"
    return (
        f"Reading that balanced thought back, how strong is the feeling ({emotion}) now, "
        "from 0 to 100?"
    )


def _finish_thought_record(answers: Answers) -> str:
    feeling = answers.get("feeling") or {}
    before, after = feeling.get("intensity"), answers.get("rerate")
    change = ""
    if isinstance(before, int) and isinstance(after, int):
        if after < before:
            change = f"The feeling ({feeling.get('emotion')}) went from {before} to {after}. "
            change += "That shift came from you looking at the whole picture."
        elif after == before:
            change = (
                f"The feeling is still at {after}. That's all right: some "
                "thoughts loosen slowly, and writing them down is already a step."
            )
        else:
            change = (
                f"The feeling is stronger now ({after}). Looking closely at a "
                "painful thought can stir it up. Be gentle with yourself; we can try grounding "
                "or breathing if that would help."
            )
    return (
        "Here is your thought record:\n"
        f"• Situation: {answers.get('situation')}\n"
        f"• Thought: {answers.get('thought')}\n"
        f"• Balanced thought: {answers.get('balanced')}\n\n"
        f"{change}\n\nYou can come back to this balanced thought whenever the old one returns."
    )


def _activities(answer: str) -> list[str] | None:
    parts = [p.strip(" .") for p in re.split(r",|;|\n|\band\b|\bor\b", answer)]
    found = [p for p in parts if len(p) >= 2][:3]
    return found or None


def _choice(answers: Answers) -> str:
    listed = "\n".join(f"{i}. {a}" for i, a in enumerate(answers.get("activities", []), 1))
    return (
        f"{listed}\n\nWhich one could you try in the next day or two? Smaller is better: ten "
        "minutes counts."
    )


def _finish_activation(answers: Answers) -> str:
    chosen = answers.get("choice", "")
    listed = answers.get("activities", [])
    number = re.fullmatch(r"\s*(\d)\s*\.?\s*", str(chosen))
    if number and 0 < int(number.group(1)) <= len(listed):
        chosen = listed[int(number.group(1)) - 1]
    return (
        f"Your plan: {chosen}, {answers.get('when')}.\n"
        f"If something gets in the way: {answers.get('barrier')}\n\n"
        f"{_mood_line(answers.get('mood'))}Afterwards, notice how you feel again. "
        "Low mood tells us to wait until we feel like it; action often comes first and the "
        "feeling follows. Doing it at all is the win, however it goes."
    )


def _mood_line(mood: object) -> str:
    return f"Your mood is {mood} out of 10 right now. " if isinstance(mood, int) else ""


def _worry_next(answers: Answers) -> str:
    if answers.get("control") == "no":
        return (
            "Then it's a worry to park rather than solve right now. When could you give it 15 "
            "minutes of 'worry time' later, say this evening? Until then, when it comes back, "
            "you can tell it: not now, I have a time for you."
        )
    return "What is one small step you could take on it, and when?"


def _finish_worry(answers: Answers) -> str:
    if answers.get("control") == "no":
        return (
            f"Your worry time: {answers.get('next')}. Write the worry down before then if it "
            "keeps knocking; by the time you get to it, it often feels smaller. If it still "
            "needs attention then, we can look at it together."
        )
    return (
        f"Your next step: {answers.get('next')}. Worry tends to shrink once it has a plan. "
        "Once you've taken that step, let yourself put the rest down for today."
    )


def _finish_gratitude(answers: Answers) -> str:
    return (
        f"Thank you for sharing those: {answers.get('first')}; {answers.get('second')}; "
        f"{answers.get('third')}.\n\nOn hard days the mind skips over the good moments. "
        "Noticing them on purpose, even small ones, trains it to see them again."
    )


FLOWS: dict[str, Flow] = {
    flow.name: flow
    for flow in (
        Flow(
            "thought_record",
            "a thought record",
            "Let's look at that thought together, step by step. You can say 'stop' at any point.",
            (
                Step(
                    "situation",
                    _say("What was happening when the feeling came up? Where were you?"),
                    _text,
                    "a sentence or two, e.g. 'My friend didn't answer my message all day.'",
                ),
                Step(
                    "thought",
                    _say("What went through your mind in that moment?"),
                    _text,
                    "the thought in your own words, e.g. 'She's fed up with me.'",
                ),
                Step(
                    "feeling",
                    _say("What did you feel, and how strong was it from 0 to 100?"),
                    _emotion_and_intensity,
                    "a feeling and a number, e.g. 'anxious 80'.",
                    lambda answer: {"emotion": _anything(answer), "intensity": None},
                ),
                Step(
                    "distortion",
                    _distortion_question,
                    _distortion,
                    "a number from the list.",
                    lambda _answer: "",
                ),
                Step(
                    "evidence_for",
                    _say("What makes the thought feel true? List the facts that support it."),
                    _text,
                    "anything that seems to back the thought up.",
                ),
                Step(
                    "evidence_against",
                    _say(
                        "And what doesn't fit the thought? Anything that points the other way, "
                        "however small."
                    ),
                    _text,
                    "e.g. 'She told me last week she was swamped at work.'",
                ),
                Step("balanced", _balanced_question, _text, "a fairer version of the thought."),
                Step(
                    "rerate",
                    _rerate_question,
                    _number(0, 100),
                    "a number from 0 to 100.",
                    lambda _answer: None,
                ),
            ),
            _finish_thought_record,
        ),
        Flow(
            "behavioural_activation",
            "planning one small activity",
            "When mood is low, doing a little often comes before feeling better. Let's plan "
            "one small thing.",
            (
                Step(
                    "mood",
                    _say("First, how is your mood right now, from 0 (lowest) to 10?"),
                    _number(0, 10),
                    "a number from 0 to 10.",
                    lambda _answer: None,
                ),
                Step(
                    "activities",
                    _say(
                        "Name up to three small things that used to give you a little pleasure "
                        "or a sense of getting something done (a walk, a shower, texting a "
                        "friend, tidying one shelf)."
                    ),
                    _activities,
                    "a few activities separated by commas.",
                    lambda answer: [_anything(answer)],
                ),
                Step("choice", _choice, _anything, "the number or the name of one activity."),
                Step(
                    "when",
                    _say("When exactly will you do it? A day and a time makes it likelier."),
                    _text,
                    "e.g. 'tomorrow at 10 after breakfast'.",
                ),
                Step(
                    "barrier",
                    _say("What might get in the way, and what could you do if it does?"),
                    _anything,
                    "",
                ),
            ),
            _finish_activation,
        ),
        Flow(
            "grounding",
            "5-4-3-2-1 grounding",
            "Let's bring your attention back to the here and now. Take your time with each "
            "one; there are no wrong answers.",
            (
                Step("see", _say("Name 5 things you can see around you."), _anything, ""),
                Step("touch", _say("Now 4 things you can feel or touch."), _anything, ""),
                Step("hear", _say("3 things you can hear, near or far."), _anything, ""),
                Step(
                    "smell", _say("2 things you can smell (or like the smell of)."), _anything, ""
                ),
                Step("taste", _say("And 1 thing you can taste."), _anything, ""),
            ),
            lambda _answers: (
                "Well done. You've just guided your attention back to your senses, which helps "
                "the body's alarm settle. How are you feeling now compared with when we started?"
            ),
        ),
        Flow(
            "box_breathing",
            "box breathing",
            "Let's breathe in a box: four counts each side.\n\n"
            "1. Breathe in through your nose for 4.\n"
            "2. Hold gently for 4.\n"
            "3. Breathe out slowly for 4.\n"
            "4. Hold for 4.\n\n"
            "Repeat that four times, at your own pace. If holding feels uncomfortable, skip "
            "the holds and just breathe out a little longer than you breathe in.",
            (
                Step(
                    "after",
                    _say("Tell me when you've done a few rounds. How does your body feel now?"),
                    _anything,
                    "",
                ),
            ),
            lambda _answers: (
                "Thank you for taking that time. Slow breathing tells the nervous system it is "
                "safe to stand down. You can come back to the box any time, anywhere."
            ),
        ),
        Flow(
            "worry_time",
            "worry time",
            "Worries feel less endless once they are written down. Let's take one.",
            (
                Step(
                    "worry",
                    _say("What's the worry on your mind?"),
                    _text,
                    "the worry in a sentence.",
                ),
                Step(
                    "control",
                    _say(
                        "Is it something you can do something about right now? (yes, no or partly)"
                    ),
                    _yes_no_partly,
                    "yes, no or partly.",
                    lambda _answer: "partly",
                ),
                Step("next", _worry_next, _text, "e.g. 'this evening at 7, for 15 minutes'."),
            ),
            _finish_worry,
        ),
        Flow(
            "gratitude",
            "three good things",
            "Let's notice three good things, however small (a warm drink counts).",
            (
                Step(
                    "first",
                    _say("What's one thing that went okay or felt good recently?"),
                    _text,
                    "anything at all.",
                ),
                Step("second", _say("And another?"), _text, "anything, however small."),
                Step("third", _say("One more: it can be tiny."), _text, "anything, however small."),
            ),
            _finish_gratitude,
        ),
    )
}

# Checked in order: the first that matches wins. Words a person might use, not clinical terms.
_INTENT_PATTERNS = {
    "grounding": (
        r"\b(ground(ing)?|panic|panicking|spiral(l?ing)?|overwhelm|5.?4.?3.?2.?1|dissociat"
        r"|not real|freaking out)"
    ),
    "box_breathing": r"\b(breath|breathe|breathing|can'?t breathe|calm (me )?down|box)\b",
    "thought_record": (
        r"\b(thought record|negative thought|thinking trap|reframe"
        r"|i'?m (such )?(a|an) (failure|loser|idiot|burden)|can'?t stop thinking"
        r"|everyone hates me|nobody likes me)"
    ),
    "worry_time": r"\b(worr(y|ied|ying|ies)|what if|anxious about|can'?t stop worrying)",
    "behavioural_activation": (
        r"\b(no motivation|unmotivated|can'?t get out of bed|stuck in bed|nothing to do"
        r"|plan (my|the) day|activity|activation|can'?t be bothered|do anything)"
    ),
    "gratitude": r"\b(gratitude|grateful|thankful|good things)\b",
    "psychoeducation": (
        r"\b(distortions?|thinking traps?|what is cbt|how does cbt|cbt|catastrophi[sz]\w*"
        r"|all.or.nothing|black and white thinking|mind reading|should statements)\b"
    ),
}
INTENTS = tuple((name, re.compile(p, re.IGNORECASE)) for name, p in _INTENT_PATTERNS.items())
_EXIT = re.compile(
    r"^\W*(stop|exit|quit|cancel|menu|enough|something else|never ?mind|back)\W*$", re.I
)
_GREETING = re.compile(
    r"^\W*(hi|hello|hey|hiya|good (morning|afternoon|evening)|namaste|hola)\b", re.I
)
_THANKS = re.compile(r"\b(thanks|thank you|thx|ty|cheers)\b", re.I)
_GOODBYE = re.compile(r"^\W*(bye|goodbye|good ?night|see you|gotta go|that'?s all)\b", re.I)
_HELP = re.compile(r"\b(help|what can you do|options|menu)\b", re.I)
_REFLECTIONS = {
    r"\b(lonely|alone|isolated|no one to talk|no friends)\b": (
        "It sounds lonely right now, and loneliness can ache in a way that's hard to "
        "describe. I'm glad you reached out here."
    ),
    r"\b(sad|down|low|depressed|empty|numb|cry|crying)\b": (
        "It sounds like things feel heavy at the moment. Thank you for telling me."
    ),
    r"\b(anxious|nervous|scared|afraid|tense|on edge|stressed)\b": (
        "That sounds really stressful. Anxiety is exhausting to carry."
    ),
    r"\b(angry|furious|annoyed|frustrated|irritated|mad)\b": (
        "That sounds frustrating. Anger often tells us something matters to us."
    ),
    r"\b(tired|exhausted|drained|burn(ed|t)? out|no energy)\b": (
        "You sound worn out. Running on empty makes everything harder."
    ),
}
_FEELINGS = tuple((re.compile(p, re.IGNORECASE), text) for p, text in _REFLECTIONS.items())
MENU = (
    "Here's what we could do together:\n"
    "• a thought record, to untangle a painful thought\n"
    "• plan one small activity, when motivation is low\n"
    "• 5-4-3-2-1 grounding, when things feel too much\n"
    "• box breathing, to settle your body\n"
    "• worry time, to park or plan a worry\n"
    "• three good things\n"
    "• learn about thinking traps\n\n"
    "Or just tell me what's on your mind."
)


def _psychoeducation(text: str) -> str:
    chosen = cbt.pick(text)
    if chosen is not None:
        return (
            f"{chosen.name}: {chosen.description}\nFor example: {chosen.example}\n\n"
            f"A question that helps: {chosen.question}\n\nIf you'd like, we can do a thought "
            "record on a thought like that."
        )
    return (
        "CBT starts from a simple idea: situations don't make us feel things directly; the "
        "thoughts we have about them do, and thoughts can be tested like guesses rather than "
        "taken as facts. Our minds fall into the same thinking traps again and again:\n\n"
        f"{cbt.numbered_list()}\n\nAsk me about any of them, or say 'thought record' to try it "
        "on a thought of your own."
    )


def _open_conversation(text: str, misses: int) -> tuple[str, int]:
    """A reply outside any exercise: reflect what was said, then offer something to do."""
    if _GOODBYE.search(text):
        return (
            "Thank you for spending this time here. Be kind to yourself today; I'm here "
            "whenever you want to talk again.",
            0,
        )
    if _THANKS.search(text):
        return "You're welcome. Is there anything else you'd like to look at?", 0
    if _GREETING.search(text):
        return "Hello, it's good to hear from you. How are you feeling today?", 0
    if _HELP.search(text):
        return MENU, 0
    for pattern, reflection in _FEELINGS:
        if pattern.search(text):
            return (
                f"{reflection} Would you like to tell me more about what's been happening, or "
                "try something together? For example a thought record, grounding, or planning "
                "one small thing for today.",
                0,
            )
    if misses >= 1:
        return f"I'm not sure I understood, and that's on me, not you.\n\n{MENU}", 0
    return (
        "I'm listening. Could you tell me a little more about what's on your mind, or how "
        "you're feeling right now?",
        misses + 1,
    )


class ScriptedEngine:
    name = "scripted"

    async def start(self, request: EngineRequest) -> EngineReply:
        text, state = respond(request.text, dict(request.state))
        return EngineReply(chunks=_sentences(text), state=state, engine=self.name)


def respond(text: str, state: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The reply to `text` and the state to keep: a pure function, so every path is testable."""
    flow = FLOWS.get(state.get("flow") or "")
    if flow is not None:
        if _EXIT.match(text):
            return f"Okay, let's leave {flow.title} there.\n\n{MENU}", {}
        return _continue(flow, text, state)
    for name, pattern in INTENTS:
        if pattern.search(text):
            if name == "psychoeducation":
                return _psychoeducation(text), {}
            return _begin(FLOWS[name])
    reply, misses = _open_conversation(text, int(state.get("misses", 0)))
    return reply, ({"misses": misses} if misses else {})


def finished_flow(text: str, before: dict[str, Any], after: dict[str, Any]) -> str | None:
    """The guided flow that `text` completed, given the states before and after its reply."""
    flow = FLOWS.get(before.get("flow") or "")
    if flow is None or "flow" in after or _EXIT.match(text):
        return None
    return flow.name if int(before.get("step", 0)) >= len(flow.steps) - 1 else None


def _begin(flow: Flow) -> tuple[str, dict[str, Any]]:
    first = flow.steps[0]
    return f"{flow.intro}\n\n{first.ask({})}", {"flow": flow.name, "step": 0, "answers": {}}


def _continue(flow: Flow, text: str, state: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    index = int(state.get("step", 0))
    answers: dict[str, Any] = dict(state.get("answers", {}))
    step = flow.steps[min(index, len(flow.steps) - 1)]
    value = step.parse(text)
    if value is None:
        if not state.get("retried"):
            retry = {**state, "retried": True}
            return (
                f"Sorry, I didn't quite catch that. Could you give me {step.example}\n\n"
                + step.ask(answers),
                retry,
            )
        value = step.fallback(text)  # asked twice: take the answer as it is rather than nag
    answers[step.key] = value
    if index + 1 >= len(flow.steps):
        return flow.finish(answers), {}
    following = flow.steps[index + 1]
    return following.ask(answers), {"flow": flow.name, "step": index + 1, "answers": answers}


async def _sentences(text: str) -> AsyncIterator[str]:
    """Streams a scripted reply in the same shape as a model's: a few chunks, in order."""
    for part in re.split(r"(?<=[.!?:\n])(?=\s)", text):
        if part:
            yield part
