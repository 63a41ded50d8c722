"""The persona catalogue the store will sell from: free ones for everyone, paid ones only for
people whose plan includes them."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True, slots=True)
class Persona:
    id: str
    name: str
    description: str
    paid: bool = False


CATALOGUE = (
    Persona(
        "companion",
        "Companion",
        "A warm, unhurried listener who can guide you through CBT exercises.",
    ),
    Persona(
        "coach",
        "Gentle coach",
        "Practical and encouraging: small steps, plans and follow-through.",
    ),
    Persona(
        "sleep_guide",
        "Sleep guide",
        "Wind-down routines and worry time for restless nights.",
        paid=True,
    ),
    Persona(
        "mindful_guide",
        "Mindfulness guide",
        "Grounding, breathing and self-compassion practices.",
        paid=True,
    ),
)
DEFAULT_PERSONA = "companion"


@cache
def by_id() -> dict[str, Persona]:
    return {p.id: p for p in CATALOGUE}
