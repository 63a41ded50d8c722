"""The rules' families of phrasing: means and substances near intent, self-harm verbs and
urges, notes and goodbyes with finality, euphemisms for leaving life, in the three languages,
each with the everyday look-alikes it must leave alone. Written for these tests, in no
evaluation set."""

from __future__ import annotations

import pytest

from mindspace.safety import AssessmentContext, RiskLevel, Signal, assess
from mindspace.safety.engine import readable
from mindspace.safety.rules import compile_patterns, with_words

H, E, N = RiskLevel.high_risk, RiskLevel.elevated_concern, RiskLevel.normal


@pytest.mark.parametrize(
    ("text", "signal"),
    [
        # Taken, or about to take, a quantity of a substance.
        ("took a handful of my xanax an hour ago", Signal.suicide_attempt),
        ("swallowed about thirty of the codeine", Signal.suicide_attempt),
        ("I overdosed on my insulin", Signal.suicide_attempt),
        ("I'm going to swallow the whole bottle of tylenol", Signal.plan_or_method),
        ("taking the entire strip of zopiclone after midnight", Signal.plan_or_method),
        ("going to swallow every pill I can find", Signal.plan_or_method),
        ("I've been hoarding my antidepressants for a month", Signal.plan_or_method),
        ("staring at my mum's painkillers thinking how easy it would be", Signal.plan_or_method),
        # Places and vehicles.
        ("I keep picturing stepping out in front of the 7:15 bus", Signal.plan_or_method),
        ("going to jump off the old railway overpass", Signal.plan_or_method),
        (
            "nobody will know, it will look like an accident and they get the insurance",
            Signal.plan_or_method,
        ),
        # Self-harm verbs and urges.
        ("sliced my forearm last night", Signal.self_harm),
        ("I'm holding the blade and the urge is getting stronger", Signal.self_harm),
        ("the urge to cut myself won't go away", Signal.self_harm),
        ("fresh cuts on my thighs again", Signal.self_harm),
        # Goodbyes with finality.
        ("i don't expect to be alive by new year", Signal.goodbye),
        ("this is my last sunrise on earth", Signal.goodbye),
        ("I've decided I won't be around much longer", Signal.goodbye),
        ("after tonight you won't hear from me again", Signal.goodbye),
        # Euphemisms for dying and leaving.
        ("I want to leave this world for good", Signal.explicit_intent),
        ("quietly planning my exit from this life", Signal.explicit_intent),
        ("ready to check out of existence", Signal.explicit_intent),
        ("can't stop thinking about ending everything", Signal.explicit_intent),
        ("honestly I just want to stop being alive", Signal.explicit_intent),
        ("Friday is the day it all ends", Signal.explicit_intent),
        # Seeking a method for oneself.
        ("I've been researching lethal doses of my meds", Signal.means_question),
        ("what's the quickest one, asking for myself", Signal.means_question),
        # Hindi and Hinglish, Spanish.
        ("maine rassi ka phanda taiyar kar liya", Signal.plan_or_method),
        ("मैंने रस्सी बांध ली है, फंदा तैयार है", Signal.plan_or_method),
        ("neend ki goliyan chhupa ke rakhi hain", Signal.plan_or_method),
        ("मैं ये ज़िंदगी खत्म करना चाहता हूँ", Signal.explicit_intent),
        ("esta noche me voy a tomar todas las pastillas de la caja", Signal.plan_or_method),
        ("me tomé un montón de somníferos", Signal.suicide_attempt),
        ("anoche me hice cortes otra vez", Signal.self_harm),
        ("tengo ganas de cortarme", Signal.self_harm),
        ("el lunes ya no voy a estar", Signal.goodbye),
        ("¿cuántas pastillas hacen falta para no despertar?", Signal.plan_or_method),
    ],
)
def test_each_family_reads_phrasing_no_single_rule_spells_out(text: str, signal: Signal) -> None:
    result = assess(text)
    assert result.level is H, result.reason
    assert signal in result.signals, result.reason


@pytest.mark.parametrize(
    "text",
    [
        "I took loads of ibuprofen for my back",
        "took a bunch of photos of the pills for my pharmacology notes",
        "I've taken 20 different medications over the years",
        "take all my medication as prescribed, every morning",
        "saving my pills for the trip so I don't run out",
        "I'm going to take the whole box of chocolates",
        "I cut my leg on a rock while hiking",
        "burning my skin in the sun all day",
        "the strap dug into my shoulder",
        "I carved my name into the table",
        "the urge to cut my hair is strong",
        "holding the scissors I resisted the urge to buy more wrapping paper",
        "jumping off the pier into the sea was so fun",
        "spilled coffee on his laptop and made it look like an accident lol",
        "I won't be around for dinner tonight",
        "I won't be here next week, I'm on holiday",
        "you won't see me again until summer",
        "I don't see myself being here in five years, I want to move abroad",
        "the last day of my life as a single man!",
        "I'm planning my exit from this company",
        "time to check out of the hotel",
        "leaving the world of retail behind",
        "time to log off for the night",
        "clocking out early today!",
        "thinking about ending things with my boyfriend",
        "I just want to stop living like this, I need a new job",
        "Friday will be the day I go to the dentist",
        "I'm researching lethal injection for a debate",
        "feels so calm at the beach today",
        "my sister said she doesn't want to live in London anymore",
        "duniya ghoomne jana hai",
        "doné toda mi ropa vieja y ya no la voy a usar",
        "me tomé un café y dos ibuprofenos",
        "take every tablet with water, the leaflet says",
        "brb going to kill some zombies",
    ],
)
def test_each_family_leaves_its_look_alikes_alone(text: str) -> None:
    assert assess(text).level is N, assess(text).reason


@pytest.mark.parametrize(
    "text",
    [
        "I'm not going to swallow the whole bottle of tylenol, I promise",
        "I would never take a handful of my xanax",
        "I'm not hoarding my antidepressants, I just forget them",
    ],
)
def test_a_negation_still_cancels_a_family(text: str) -> None:
    assert assess(text).level is N, assess(text).reason


def test_a_character_s_act_in_fiction_is_the_story_s() -> None:
    assert assess("the main character in my novel jumps off a bridge in chapter 3").level is N
    assert assess("in the movie the hero decides to kill himself, so sad").level is N
    assert assess("film mein hero ne khudkushi kar li").level is N
    # The writer's own words in the same message are still read.
    mixed = "the character in my story jumps off a bridge. honestly I want to die too."
    assert assess(mixed).level is H


def test_calm_after_a_goodbye_is_a_crisis_and_calm_alone_is_not() -> None:
    assert assess("I finally feel calm").level is N
    assert assess("I wrote letters to my family").level is E
    assert assess("I wrote letters to my family and I feel strangely calm").level is H
    context = AssessmentContext(previous=("I've been giving away all my things",))
    assert assess("I feel weirdly calm today", context).level is H


def test_a_plain_leave_taking_needs_a_clear_one_beside_it() -> None:
    # Two everyday leave-takings stay everyday; one clear one makes a plain one count.
    assert assess("gave my bike to my nephew, bye!").level is N
    assert assess("bye everyone. I've given away all my stuff").level is H


def test_past_attempts_and_hopelessness_are_history() -> None:
    assert assess("Last year I overdosed on my lithium, I'm doing better").level is E
    assert assess("I used to feel hopeless years ago, therapy helped").level is N


def test_a_family_is_spelled_out_wherever_a_pattern_names_it() -> None:
    words = {"pill": ["pills?", "tablets?"]}
    assert with_words("took <pill> (?<=k)", words) == "took (?:pills?|tablets?) (?<=k)"
    regex = compile_patterns([with_words("took all my <pill>", words)])
    assert regex.search("i took all my tabletts")
    with pytest.raises(ValueError, match="unknown family"):
        with_words("took <pils>", words)


@pytest.mark.parametrize(
    ("text", "left"),
    [
        ("main kabhi suicide nahi karunga, bas gussa hoon", "main kabhi 0 , bas gussa hoon"),
        ("main marna nahi chahti, bas thak gayi hoon", "main 0 , bas thak gayi hoon"),
        ("we went to kill some zombies after class", "we went to 0 after class"),
    ],
)
def test_denials_and_game_talk_are_blanked_before_the_learned_layer_reads(
    text: str, left: str
) -> None:
    assert assess(text).level is N
    assert " ".join(readable(text).split()) == left
    # The wish itself, in the same words, is still read.
    assert assess("mujhe marna hai").level is H
