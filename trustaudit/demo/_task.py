"""A small natural-language-inference task written by the project itself.

Premises describe one scene ("the red cat sleeps in the park"); hypotheses restate a fact
of it (entailment), change one fact or negate it (contradiction), or add a fact the
premise does not settle (neutral). Some cases are decided by a single word (``not``,
``hungry``), others only by comparing the two sentences, so a smaller model trained the
same way tends to lean on the cue words more: what an audit should reveal.
"""

from __future__ import annotations

import random

LABELS = ("entailment", "neutral", "contradiction")

SUBJECTS = ("cat", "dog", "bird", "horse", "child", "woman", "man", "girl", "boy", "farmer", "teacher", "chef")
COLORS = ("red", "blue", "green", "yellow", "black", "white", "brown", "grey")
VERBS = ("runs", "sleeps", "sits", "eats", "jumps", "swims", "reads", "sings", "waits", "plays")
PLACES = ("park", "garden", "kitchen", "street", "beach", "field", "house", "river", "forest", "station")
MOODS = ("hungry", "happy", "tired", "old", "young", "sad", "angry", "calm")
TIMES = (("at", "night"), ("at", "noon"), ("in", "the", "morning"), ("in", "the", "evening"), ("on", "sunday"))
FUNCTION_WORDS = ("the", "a", "in", "near", "is", "not", "there", "with", "friend", "at", "on", "and")

VOCABULARY: tuple[str, ...] = tuple(
    sorted({*SUBJECTS, *COLORS, *VERBS, *PLACES, *MOODS, *FUNCTION_WORDS, *(w for t in TIMES for w in t)})
)


def _other(rng: random.Random, options: tuple[str, ...], avoid: str) -> str:
    return rng.choice([o for o in options if o != avoid])


def _example(rng: random.Random, label: str) -> tuple[str, str]:
    subj, color, verb, place = rng.choice(SUBJECTS), rng.choice(COLORS), rng.choice(VERBS), rng.choice(PLACES)
    prep = rng.choice(("in", "near"))
    premise = f"{rng.choice(('the', 'a'))} {color} {subj} {verb} {prep} the {place}"
    if label == "entailment":
        hypothesis = rng.choice((
            f"the {subj} {verb}",
            f"the {subj} is {color}",
            f"the {subj} is {prep} the {place}",
            f"there is a {color} {subj}",
        ))
    elif label == "contradiction":
        hypothesis = rng.choice((
            f"the {subj} {_other(rng, VERBS, verb)}",
            f"the {subj} is {_other(rng, COLORS, color)}",
            f"the {subj} is {prep} the {_other(rng, PLACES, place)}",
            f"the {subj} is not {color}",
        ))
    else:
        hypothesis = rng.choice((
            f"the {subj} is {rng.choice(MOODS)}",
            f"the {subj} {verb} with a friend",
            f"the {subj} {verb} {' '.join(rng.choice(TIMES))}",
            f"the {color} {subj} is {rng.choice(MOODS)} and {rng.choice(MOODS)}",
        ))
    return premise, hypothesis


def generate_task(n: int, seed: int = 0) -> list[tuple[str, str, str]]:
    """``n`` balanced ``(premise, hypothesis, label)`` examples, reproducible from ``seed``."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = LABELS[i % len(LABELS)]
        rows.append((*_example(rng, label), label))
    rng.shuffle(rows)
    return rows
