"""The companion's fixed words: the crisis response, what it says while a conversation is in a
crisis state, and the reply that stands in for a model's unsafe one. Written to safe-messaging
guidance: warm, hopeful, a way to reach a person now, and never a method or a means."""

from __future__ import annotations

import re
from collections.abc import Sequence

from mindspace.safety.service import CrisisResources

_MODEL_REPLACEMENT = (
    "I'm not able to go into that, but I'm here with you and I care about how you're doing. "
    "Could you tell me a little more about what you're feeling right now? If it would help, we "
    "could try a short grounding exercise together."
)


def _lines(resources: CrisisResources) -> list[str]:
    """One line per crisis service: its name and how to reach it."""
    lines = []
    for r in resources.resources:
        ways = [f"call {r.phone}"] if r.phone else []
        if r.sms:
            ways.append(f"text {r.sms_keyword} to {r.sms}" if r.sms_keyword else f"text {r.sms}")
        if not ways and r.url:
            ways.append(r.url)
        lines.append(f"{r.name}: {' or '.join(ways)}" if ways else r.name)
    return lines


def crisis_response(resources: CrisisResources) -> str:
    lines = "\n".join(f"- {line}" for line in _lines(resources))
    return (
        "Thank you for telling me. I'm really sorry you're in this much pain, and I'm glad "
        "you reached out. You don't have to face this on your own.\n\n"
        "Please talk to someone who can be with you right now. These lines are free and "
        f"confidential:\n{lines}\n\n"
        f"If you might act on these thoughts or are in danger now, call {resources.emergency}.\n\n"
        "Feelings this intense can pass, and with support people do find their way through "
        "moments like this. I'm still here. Would you like to do a short grounding exercise "
        "together, or open your safety plan?"
    )


def safety_reminder(resources: CrisisResources) -> str:
    first = _lines(resources)[:1]
    reach = f"{first[0]}, or call {resources.emergency}" if first else f"call {resources.emergency}"
    return (
        "\n\nI'm still here with you. If things feel unsafe, please reach a person now: "
        f"{reach}. Your safety plan is there whenever you want it."
    )


def model_replacement() -> str:
    return _MODEL_REPLACEMENT


def pieces(text: str) -> Sequence[str]:
    """A fixed reply streamed in the same shape as an engine's: sentence by sentence."""
    return [p for p in re.split(r"(?<=[.!?:\n])(?=\s)", text) if p]
