"""Prediction-level bias: swap gendered words for their counterparts and see whose prediction changes.

:class:`WordSwapper` swaps exactly the listed words, both ways, as whole words (a listed
word inside another word — "he" in "there", "man" in "mankind" — is left alone), keeping
the case pattern (he -> she, He -> She, HE -> SHE) and whatever follows the word
(possessive ``'s``/``’s``, punctuation): "John's" -> "Amy's". A pair word written with a
capital (a name such as "John", or "Mr") matches only capitalised text, so the noun "bill"
is not taken for the name "Bill"; a lower-case pair word matches in any case.

English pronouns are not one-to-one: "her" is both the object ("I saw her" -> "him") and the
possessive determiner ("her book" -> "his"), and "his" both the determiner ("his book" ->
"her") and the pronoun ("the book is his" -> "hers"). When a word has exactly these two
counterparts, it becomes the determiner form when the next word looks like the start of a
noun phrase (a word that is not a preposition, article, pronoun, conjunction, auxiliary
or common adverb) and the other form otherwise (end of text, punctuation or one of those
words). This is a heuristic without a part-of-speech tagger: "her favourite" -> "his
favourite" and "gave her the book" -> "gave him the book" come out right, "saw her
yesterday" too, but an unlisted adverb after "her" ("saw her briefly") gives "his". Any
other word with two counterparts is an error.

:func:`counterfactual_flips` runs both models of a pair on the texts with at least one swap
and on their swapped versions (through the cached evaluation engine) and compares how
often each model's prediction changes (Garg et al. 2019, "Counterfactual fairness in text
classification through robustness", AIES; Webster et al. 2020 on gendered correlations).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from trustaudit._cache import EvalCache
from trustaudit._evaluation import Evaluator, softmax
from trustaudit.bias._testsets import standard_tests
from trustaudit.data import Dataset
from trustaudit.exceptions import InvalidInputError
from trustaudit.metrics.bias import FlipRateComparison, flip_rate_comparison
from trustaudit.models import ModelBundle, ModelPair, label_permutation
from trustaudit._deprecation import renamed_keywords

__all__ = [
    "GENDER_PAIRS",
    "CounterfactualExample",
    "CounterfactualFlips",
    "Swap",
    "SwappedText",
    "WordSwapper",
    "counterfactual_flips",
    "default_swap_pairs",
    "swap_words",
]

#: Gendered English words and their counterparts (both directions are swapped).
GENDER_PAIRS: tuple[tuple[str, str], ...] = (
    ("he", "she"), ("him", "her"), ("his", "her"), ("his", "hers"), ("himself", "herself"),
    ("man", "woman"), ("men", "women"), ("boy", "girl"), ("boys", "girls"),
    ("father", "mother"), ("fathers", "mothers"), ("son", "daughter"), ("sons", "daughters"),
    ("brother", "sister"), ("brothers", "sisters"), ("husband", "wife"), ("husbands", "wives"),
    ("uncle", "aunt"), ("uncles", "aunts"), ("nephew", "niece"), ("nephews", "nieces"),
    ("grandfather", "grandmother"), ("grandson", "granddaughter"), ("dad", "mom"), ("dads", "moms"),
    ("king", "queen"), ("kings", "queens"), ("prince", "princess"), ("gentleman", "lady"),
    ("gentlemen", "ladies"), ("boyfriend", "girlfriend"), ("male", "female"), ("males", "females"),
    ("Mr", "Mrs"),
)

#: Words with two counterparts: (form before a noun phrase, form otherwise).
_AMBIGUOUS: dict[str, tuple[str, str]] = {"her": ("his", "him"), "his": ("her", "hers")}

#: Words after which "her"/"his" is not a determiner (no noun phrase starts with them).
_NOT_NOUN_START = frozenset("""
a an the this that these those to and or but nor so yet for of in on at by with from into onto upon about
as than like up down out off over under above below through across around between among against without
within during again too also very now then here there today yesterday tomorrow tonight once twice back
away well if when while because since until before after though although whether i you he she it we they
me him her us them my your his its our their mine yours hers ours theirs is was are were be been being am
will would can could should may might must shall do does did has have had not no how what who whom whose
which where why all both some any every each either neither just only even still soon later first last
""".split())

_WORD = re.compile(r"\w+")


def default_swap_pairs() -> tuple[tuple[str, str], ...]:
    """:data:`GENDER_PAIRS` plus the WEAT 6 male and female first names paired in list order (John <-> Amy, ...)."""
    weat6 = standard_tests(["WEAT6"]).tests[0]
    return GENDER_PAIRS + tuple(zip(weat6.X.words, weat6.Y.words))


@dataclass(frozen=True)
class Swap:
    """One replaced word: where it was (``segment`` ``a`` or ``b``, character offset), what it was and became."""

    segment: str
    start: int
    original: str
    replacement: str

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {"segment": self.segment, "start": self.start, "original": self.original, "replacement": self.replacement}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Swap:
        """Rebuild from :meth:`to_dict`."""
        return cls(str(data["segment"]), int(data["start"]), str(data["original"]), str(data["replacement"]))


@dataclass(frozen=True)
class SwappedText:
    """A text after the swap and the swaps made; ``applicable`` is False when nothing was swapped."""

    original: str
    text: str
    swaps: tuple[Swap, ...]

    @property
    def applicable(self) -> bool:
        """Whether the text held at least one listed word."""
        return bool(self.swaps)


def _match_case(token: str, replacement: str) -> str:
    if len(token) > 1 and token.isupper():
        return replacement.upper()
    if token[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    if token.islower():
        return replacement.lower()
    return replacement


class WordSwapper:
    """Swaps listed words with their counterparts (see the module docstring for the rules).

    ``pairs`` are ``(word, counterpart)`` tuples, each swapped both ways; default
    :func:`default_swap_pairs`. Words are single tokens of letters, digits or ``_``.
    """

    def __init__(self, pairs: Sequence[tuple[str, str]] | None = None) -> None:
        pairs = default_swap_pairs() if pairs is None else tuple(tuple(p) for p in pairs)  # type: ignore[misc]
        if not pairs:
            raise InvalidInputError("swap pairs must list at least one (word, counterpart) pair")
        counterparts: dict[str, list[str]] = {}
        lowercase_listed: set[str] = set()
        for pair in pairs:
            if len(pair) != 2 or not all(isinstance(w, str) and _WORD.fullmatch(w) for w in pair):
                raise InvalidInputError(f"a swap pair must be two single words, got {pair!r}")
            first, second = pair
            if first.lower() == second.lower():
                raise InvalidInputError(f"swap pair {pair!r} swaps a word with itself")
            for word, other in ((first, second), (second, first)):
                found = counterparts.setdefault(word.lower(), [])
                if other not in found:
                    found.append(other)
                if word[:1].islower():
                    lowercase_listed.add(word.lower())
        self.pairs: tuple[tuple[str, str], ...] = pairs  # type: ignore[assignment]
        self._single: dict[str, str] = {}
        self._ambiguous: dict[str, tuple[str, str]] = {}
        for word, others in counterparts.items():
            if len(others) == 1:
                self._single[word] = others[0]
            elif word in _AMBIGUOUS and {o.lower() for o in others} == set(_AMBIGUOUS[word]):
                self._ambiguous[word] = _AMBIGUOUS[word]
            else:
                raise InvalidInputError(
                    f"{word!r} has several counterparts ({', '.join(others)}); only her (his/him) and his (her/hers) may"
                )
        self._proper = {w for w in counterparts if w not in lowercase_listed}
        alternatives = sorted(counterparts, key=lambda w: (-len(w), w))
        self._pattern = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, alternatives)) + r")(?!\w)", re.IGNORECASE)

    def _replacement(self, token: str, text: str, end: int) -> str | None:
        key = token.lower()
        if key in self._proper and not token[:1].isupper():
            return None
        if key in self._ambiguous:
            determiner, other = self._ambiguous[key]
            following = _WORD.match(text[end:].lstrip())
            noun_phrase = following is not None and following.group().lower() not in _NOT_NOUN_START
            return _match_case(token, determiner if noun_phrase else other)
        return _match_case(token, self._single[key])

    def swap(self, text: str, segment: str = "a") -> SwappedText:
        """``text`` with every listed word replaced by its counterpart, and the swaps made."""
        if not isinstance(text, str):
            raise InvalidInputError(f"text must be a string, got {type(text).__name__}")
        swaps: list[Swap] = []
        pieces: list[str] = []
        last = 0
        for match in self._pattern.finditer(text):
            token = match.group()
            replacement = self._replacement(token, text, match.end())
            if replacement is None:
                continue
            pieces.append(text[last:match.start()])
            pieces.append(replacement)
            last = match.end()
            swaps.append(Swap(segment, match.start(), token, replacement))
        pieces.append(text[last:])
        return SwappedText(text, "".join(pieces), tuple(swaps))

    def swap_pair(self, text_a: str, text_b: str | None) -> tuple[str, str | None, tuple[Swap, ...]]:
        """Both segments of a text pair swapped, and all swaps (segment ``a`` then ``b``)."""
        first = self.swap(text_a, "a")
        if text_b is None:
            return first.text, None, first.swaps
        second = self.swap(text_b, "b")
        return first.text, second.text, first.swaps + second.swaps


def swap_words(text: str, pairs: Sequence[tuple[str, str]] | None = None) -> SwappedText:
    """``text`` with the listed words swapped for their counterparts (default :func:`default_swap_pairs`)."""
    return WordSwapper(pairs).swap(text)


@dataclass(frozen=True)
class CounterfactualExample:
    """One text with a swap: both versions, the swaps, and each model's prediction before and after (base label names)."""

    index: int
    text_a: str
    text_b: str | None
    swapped_a: str
    swapped_b: str | None
    swaps: tuple[Swap, ...]
    base_before: str
    base_after: str
    small_before: str
    small_after: str

    @property
    def base_flipped(self) -> bool:
        """Whether the base model's prediction changed."""
        return self.base_before != self.base_after

    @property
    def small_flipped(self) -> bool:
        """Whether the small model's prediction changed."""
        return self.small_before != self.small_after

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (with ``base_flipped`` and ``small_flipped`` for readers)."""
        return {
            "index": self.index, "text_a": self.text_a, "text_b": self.text_b,
            "swapped_a": self.swapped_a, "swapped_b": self.swapped_b, "swaps": [s.to_dict() for s in self.swaps],
            "base_before": self.base_before, "base_after": self.base_after,
            "small_before": self.small_before, "small_after": self.small_after,
            "base_flipped": self.base_flipped, "small_flipped": self.small_flipped,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CounterfactualExample:
        """Rebuild from :meth:`to_dict`."""
        return cls(
            int(data["index"]), str(data["text_a"]), data["text_b"], str(data["swapped_a"]), data["swapped_b"],
            tuple(Swap.from_dict(s) for s in data["swaps"]),
            str(data["base_before"]), str(data["base_after"]), str(data["small_before"]), str(data["small_after"]),
        )


@dataclass(frozen=True)
class CounterfactualFlips:
    """Counterfactual flips of both models over the texts with at least one swapped word.

    ``not_applicable`` lists the positions (in the texts given) of texts without a listed
    word; they are left out of every rate. ``comparison`` holds the paired flip-rate
    comparison of the ``n_applicable`` texts.
    """

    n_texts: int
    n_applicable: int
    not_applicable: tuple[int, ...]
    comparison: FlipRateComparison
    examples: tuple[CounterfactualExample, ...]
    labels: tuple[str, ...]
    swap_pairs: tuple[tuple[str, str], ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe plain-Python form; :meth:`from_dict` rebuilds it exactly."""
        return {
            "n_texts": self.n_texts,
            "n_applicable": self.n_applicable,
            "not_applicable": list(self.not_applicable),
            "comparison": self.comparison.to_dict(),
            "examples": [e.to_dict() for e in self.examples],
            "labels": list(self.labels),
            "swap_pairs": [list(p) for p in self.swap_pairs],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CounterfactualFlips:
        """Rebuild from :meth:`to_dict`."""
        return cls(
            int(data["n_texts"]), int(data["n_applicable"]), tuple(int(i) for i in data["not_applicable"]),
            FlipRateComparison.from_dict(data["comparison"]),
            tuple(CounterfactualExample.from_dict(e) for e in data["examples"]),
            tuple(data["labels"]), tuple((str(a), str(b)) for a, b in data["swap_pairs"]),
        )


def _as_pairs(texts: Sequence[str | tuple[str, str | None]] | Dataset) -> list[tuple[str, str | None]]:
    if isinstance(texts, Dataset):
        return texts.pairs()
    if isinstance(texts, str):
        raise InvalidInputError("texts must be a sequence of texts (or text pairs), not one string")
    pairs: list[tuple[str, str | None]] = []
    for i, item in enumerate(texts):
        if isinstance(item, str):
            pairs.append((item, None))
        elif isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], str) and (
            item[1] is None or isinstance(item[1], str)
        ):
            pairs.append((item[0], item[1]))
        else:
            raise InvalidInputError(f"texts[{i}] must be a string or a (text_a, text_b) pair, got {item!r}")
    return pairs


def _as_model_pair(models: ModelPair | tuple[ModelBundle, ModelBundle]) -> ModelPair:
    if isinstance(models, ModelPair):
        return models
    if isinstance(models, (tuple, list)) and len(models) == 2 and all(isinstance(m, ModelBundle) for m in models):
        base, small = models
        return ModelPair(base, small, label_permutation(base.labels, small.labels))
    raise InvalidInputError("models must be a ModelPair or a (base, small) tuple of ModelBundle")


@renamed_keywords(confidence="ci_level")
def counterfactual_flips(
    models: ModelPair | tuple[ModelBundle, ModelBundle],
    texts: Sequence[str | tuple[str, str | None]] | Dataset,
    *,
    pairs: Sequence[tuple[str, str]] | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
    ci_level: float = 0.95,
    batch_size: int = 32,
    device: str | torch.device | None = "auto",
    cache: bool | str | os.PathLike[str] | EvalCache | None = True,
    evaluators: tuple[Evaluator, Evaluator] | None = None,
) -> CounterfactualFlips:
    """How often each model's prediction changes when the listed words are swapped, and whether the small model's changes more.

    For the texts (strings or ``(text_a, text_b)`` pairs, or a :class:`Dataset`) holding at
    least one word of ``pairs`` (default :func:`default_swap_pairs`), both models predict
    the original and the swapped version; a flip is a changed top class. The small model's
    outputs are mapped onto the base labels (``ModelPair.to_base_labels``). Predictions go
    through the evaluation engine (cached, batched); pass the audit's ``evaluators``
    ``(base, small)`` to share their caches and statistics. The paired comparison is
    :func:`~trustaudit.metrics.bias.flip_rate_comparison`.
    """
    pair = _as_model_pair(models)
    inputs = _as_pairs(texts)
    swapper = WordSwapper(pairs)
    applicable: list[tuple[int, str, str | None, tuple[Swap, ...]]] = []
    not_applicable: list[int] = []
    for i, (a, b) in enumerate(inputs):
        new_a, new_b, swaps = swapper.swap_pair(a, b)
        if swaps:
            applicable.append((i, new_a, new_b, swaps))
        else:
            not_applicable.append(i)
    originals = [inputs[i] for i, *_ in applicable]
    swapped = [(new_a, new_b) for _, new_a, new_b, _ in applicable]
    if evaluators is None:
        evaluators = (
            Evaluator(pair.base, device=device, batch_size=batch_size, cache=cache, progress=False),
            Evaluator(pair.small, device=device, batch_size=batch_size, cache=cache, progress=False),
        )
    n = len(applicable)
    predictions = []
    for role, engine in zip(("base", "small"), evaluators):
        if n:
            logits, _ = engine.logits(originals + swapped)  # type: ignore[arg-type]
            probs = softmax(logits)
            if role == "small":
                probs = pair.to_base_labels(probs)
            predicted = probs.argmax(axis=1)
        else:
            predicted = np.empty(0, dtype=int)
        predictions.append((predicted[:n], predicted[n:]))
    labels = pair.labels
    (base_before, base_after), (small_before, small_after) = predictions
    examples = tuple(
        CounterfactualExample(
            index=i, text_a=inputs[i][0], text_b=inputs[i][1], swapped_a=new_a, swapped_b=new_b, swaps=swaps,
            base_before=labels[int(base_before[k])], base_after=labels[int(base_after[k])],
            small_before=labels[int(small_before[k])], small_after=labels[int(small_after[k])],
        )
        for k, (i, new_a, new_b, swaps) in enumerate(applicable)
    )
    comparison = flip_rate_comparison(base_before != base_after, small_before != small_after,
                                      n_resamples=n_resamples, seed=seed, ci_level=ci_level)
    return CounterfactualFlips(len(inputs), n, tuple(not_applicable), comparison, examples, labels, swapper.pairs)
