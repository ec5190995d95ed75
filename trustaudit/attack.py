"""Adversarial word substitution guided by a model's own attributions, and its transfer between two models.

The attack (greedy, in the manner of TextFooler, Jin et al. 2020, "Is BERT Really Robust?"
AAAI) changes a text until the attacked model changes its prediction:

1. The words are those of the explanation's :class:`~trustaudit.explain.FeatureSet`; they
   are tried from the highest attribution score to the lowest, words with a score of 0 or
   below (not supporting the predicted class) not at all. The attributions must explain the
   class the attacked model predicts on the text; a row where they do not is not attacked.
2. A word's candidates are its ``n_candidates`` nearest neighbours, by cosine, in the
   attacked model's input-embedding matrix: the word's vector is the mean of the embeddings
   of its word pieces; candidates are whole-word vocabulary entries (no ``##`` continuation
   pieces -- for byte-level BPE and SentencePiece vocabularies, only entries that start a
   word --, no special or ``[...]`` tokens, nothing the feature splitter would not keep as
   one word) other than the word itself (ignoring case). A capitalised word gets
   capitalised candidates. No thesaurus or extra model is needed.
3. Every candidate is tried in place of the word (with the substitutions kept so far), in
   one batch through the evaluation engine. If any flips the prediction, the one leaving the
   original class the least probability is kept and the attack stops: success. Otherwise
   the candidate that lowers the original class's probability most is kept if it lowers it
   below the current text's, and the next word is tried.
4. At most ``max_fraction`` (20%) of the words are replaced, rounded down, at least 1;
   ``max_words`` (default: no limit) bounds the words tried, and so the model evaluations
   per text (at most ``1 + max_words * n_candidates``).

:func:`adversarial_transfer` attacks the base model (guided by its attributions) and gives
the adversarial texts to the small model, then the reverse, and summarises both directions
with :func:`trustaudit.metrics.adversarial.transfer_rates`.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from trustaudit._cache import EvalCache
from trustaudit._evaluation import Evaluator, Pair
from trustaudit._progress import bar
from trustaudit.exceptions import InvalidInputError
from trustaudit.explain import Attributions
from trustaudit.explain.features import split_text
from trustaudit.metrics.adversarial import TransferRates, transfer_rates
from trustaudit.models import ModelBundle, ModelPair
from trustaudit._deprecation import renamed_keywords

__all__ = [
    "AdversarialTransfer",
    "AttackResult",
    "EmbeddingNeighbours",
    "Substitution",
    "adversarial_transfer",
    "input_embeddings",
    "word_budget",
    "word_substitution_attack",
]

#: Probabilities ``(n, k)`` for texts, in the label order of the attributions' target index.
PredictFn = Callable[[Sequence[Pair]], np.ndarray]
MAX_FRACTION = 0.2
N_CANDIDATES = 8


def word_budget(n_words: int, max_fraction: float = MAX_FRACTION) -> int:
    """Most words an attack may replace: ``floor(max_fraction * n_words)``, at least 1 (0 for no words)."""
    if n_words <= 0:
        return 0
    return max(1, math.floor(max_fraction * n_words + 1e-9))


def input_embeddings(model: torch.nn.Module) -> torch.Tensor:
    """The ``(vocabulary, width)`` input-embedding matrix of a classifier (also inside a quantized or AlAd model)."""
    for candidate in (model, getattr(model, "model", None), getattr(model, "encoder", None)):
        getter = getattr(candidate, "get_input_embeddings", None)
        if callable(getter):
            embedding = getter()
            if embedding is not None and hasattr(embedding, "weight"):
                return embedding.weight.detach()
    raise InvalidInputError(f"cannot find the input embeddings of a {type(model).__name__}")


class EmbeddingNeighbours:
    """Whole-word vocabulary entries nearest to a word, by cosine in a model's input-embedding matrix."""

    def __init__(self, bundle: ModelBundle) -> None:
        tok = bundle.tokenizer
        self.tokenizer = tok
        self.embeddings = input_embeddings(bundle.model).float().cpu()
        vocab = tok.get_vocab()
        marker = next((m for m in ("Ġ", "▁") if sum(t.startswith(m) for t in vocab) > len(vocab) // 10), None)
        special = set(getattr(tok, "all_special_tokens", ()))
        ids, words = [], []
        for token, index in vocab.items():
            if token in special or index >= self.embeddings.shape[0]:
                continue
            if marker is not None:
                if not token.startswith(marker):
                    continue
                word = token[len(marker):]
            else:
                if token.startswith("##") or (token.startswith("[") and token.endswith("]")):
                    continue
                word = token
            pieces = split_text(word)
            if len(pieces) == 1 and pieces[0][1]:
                ids.append(index)
                words.append(word)
        if not ids:
            raise InvalidInputError(f"{bundle.path}: the vocabulary holds no whole words to substitute")
        self.words = tuple(words)
        self.unit = F.normalize(self.embeddings[ids], dim=1)
        self._lower = np.array([w.lower() for w in words])

    def vector(self, word: str) -> torch.Tensor | None:
        """Mean embedding of the word's pieces (``None`` when the tokenizer gives none)."""
        ids = self.tokenizer(word, add_special_tokens=False)["input_ids"]
        ids = [i for i in ids if i < self.embeddings.shape[0]]
        if not ids:
            return None
        return self.embeddings[ids].mean(dim=0)

    def nearest(self, word: str, k: int = N_CANDIDATES) -> tuple[str, ...]:
        """The ``k`` nearest whole words to ``word`` by cosine, nearest first, ``word`` itself excluded."""
        vector = self.vector(word)
        if vector is None:
            return ()
        scores = self.unit @ F.normalize(vector, dim=0)
        scores[torch.from_numpy(self._lower == word.lower())] = -math.inf
        top = torch.topk(scores, min(k, len(self.words))).indices.tolist()
        out = [self.words[i] for i in top if math.isfinite(float(scores[i]))]
        if word[:1].isupper():
            out = [w[:1].upper() + w[1:] for w in out]
        return tuple(dict.fromkeys(out))


@dataclass(frozen=True)
class Substitution:
    """Feature ``index``'s ``word`` replaced by ``replacement``."""

    index: int
    word: str
    replacement: str


@dataclass(frozen=True, eq=False)
class AttackResult:
    """One text attacked: the adversarial text, the words replaced, whether the prediction flipped.

    ``attacked`` is false (with the reason in ``skipped``) when the text was left alone: no
    words, or attributions that explain another class than the model predicts.
    ``original_prob`` and ``adversarial_prob`` are the probabilities of ``original_class``
    on the two texts; ``evaluations`` counts the texts sent to the model.
    """

    original: Pair
    adversarial: Pair
    original_class: int
    adversarial_class: int
    success: bool
    attacked: bool
    skipped: str | None
    substitutions: tuple[Substitution, ...]
    n_words: int
    budget: int
    evaluations: int
    original_prob: float
    adversarial_prob: float

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "original": list(self.original),
            "adversarial": list(self.adversarial),
            "original_class": self.original_class,
            "adversarial_class": self.adversarial_class,
            "success": self.success,
            "attacked": self.attacked,
            "skipped": self.skipped,
            "substitutions": [{"index": s.index, "word": s.word, "replacement": s.replacement} for s in self.substitutions],
            "n_words": self.n_words,
            "budget": self.budget,
            "evaluations": self.evaluations,
            "original_prob": self.original_prob,
            "adversarial_prob": self.adversarial_prob,
        }


def word_substitution_attack(
    predict: PredictFn,
    attributions: Attributions,
    neighbours: EmbeddingNeighbours,
    *,
    max_fraction: float = MAX_FRACTION,
    n_candidates: int = N_CANDIDATES,
    max_words: int | None = None,
) -> AttackResult:
    """Attack one text (``attributions.features``) as the module docstring describes.

    ``predict`` returns probabilities in the label order of ``attributions.target.index``.
    """
    if not 0 < max_fraction <= 1:
        raise InvalidInputError(f"max_fraction must be in (0, 1], got {max_fraction!r}")
    if isinstance(n_candidates, bool) or not isinstance(n_candidates, (int, np.integer)) or n_candidates < 1:
        raise InvalidInputError(f"n_candidates must be a positive integer, got {n_candidates!r}")
    if max_words is not None and (isinstance(max_words, bool) or not isinstance(max_words, (int, np.integer))
                                  or max_words < 1):
        raise InvalidInputError(f"max_words must be a positive integer or None, got {max_words!r}")
    features = attributions.features
    text = features.text
    probs = np.asarray(predict([text]), dtype=np.float64)[0]
    original = int(np.argmax(probs))
    n_words = len(features)
    budget = word_budget(n_words, max_fraction)

    def result(current: dict[int, str], adversarial: Pair, adv_probs: np.ndarray, evaluations: int,
               skipped: str | None = None) -> AttackResult:
        predicted = int(np.argmax(adv_probs))
        return AttackResult(
            original=text, adversarial=adversarial, original_class=original, adversarial_class=predicted,
            success=predicted != original, attacked=skipped is None, skipped=skipped,
            substitutions=tuple(Substitution(i, features.features[i].word, w) for i, w in current.items()),
            n_words=n_words, budget=budget, evaluations=evaluations,
            original_prob=float(probs[original]), adversarial_prob=float(adv_probs[original]),
        )

    if n_words == 0:
        return result({}, text, probs, 1, "no words")
    if attributions.target.index != original:
        return result({}, text, probs, 1, "the attributions explain another class than the model predicts")
    order = [int(i) for i in attributions.ranking() if attributions.scores[i] > 0][:max_words]
    current: dict[int, str] = {}
    current_text, current_probs, evaluations = text, probs, 1
    for index in order:
        if len(current) >= budget:
            break
        candidates = neighbours.nearest(features.features[index].word, n_candidates)
        if not candidates:
            continue
        texts = [features.substitute({**current, index: word}) for word in candidates]
        batch = np.asarray(predict(texts), dtype=np.float64)
        evaluations += len(texts)
        flipped = np.flatnonzero(batch.argmax(axis=1) != original)
        if flipped.size:
            best = int(flipped[np.argmin(batch[flipped, original])])
            current[index] = candidates[best]
            return result(current, texts[best], batch[best], evaluations)
        best = int(np.argmin(batch[:, original]))
        if batch[best, original] < current_probs[original]:
            current[index] = candidates[best]
            current_text, current_probs = texts[best], batch[best]
    return result(current, current_text, current_probs, evaluations)


@dataclass(frozen=True, eq=False)
class AdversarialTransfer:
    """Attacks on both models of a pair and how their adversarial texts transfer.

    ``base_attacks[r]`` attacked the base on row ``r`` guided by the base's attributions;
    ``small_flipped[r]`` says whether its adversarial text changed the small model's
    prediction (from the small model's own prediction on the original text), counted only
    when the attack on the base succeeded. ``small_attacks`` and ``base_flipped`` are the
    reverse direction. ``rates`` summarises both (see :mod:`trustaudit.metrics.adversarial`);
    ``params`` holds the attack's settings.
    """

    base_attacks: tuple[AttackResult, ...]
    small_attacks: tuple[AttackResult, ...]
    small_flipped: tuple[bool, ...]
    base_flipped: tuple[bool, ...]
    rates: TransferRates
    params: dict[str, Any]
    evaluations: dict[str, int]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "rates": self.rates.to_dict(),
            "params": dict(self.params),
            "evaluations": dict(self.evaluations),
            "seconds": self.seconds,
            "rows": [
                {"base_attack": b.to_dict(), "small_flipped": sf, "small_attack": s.to_dict(), "base_flipped": bf}
                for b, s, sf, bf in zip(self.base_attacks, self.small_attacks, self.small_flipped, self.base_flipped)
            ],
        }


def _flips(predict: PredictFn, attacks: Sequence[AttackResult]) -> tuple[bool, ...]:
    """Whether each successful attack's adversarial text changes ``predict``'s class from its class on the original."""
    rows = [i for i, a in enumerate(attacks) if a.success]
    if not rows:
        return tuple(False for _ in attacks)
    texts = [attacks[i].original for i in rows] + [attacks[i].adversarial for i in rows]
    predicted = np.asarray(predict(texts)).argmax(axis=1)
    changed = dict(zip(rows, (predicted[: len(rows)] != predicted[len(rows):]).tolist()))
    return tuple(bool(changed.get(i, False)) for i in range(len(attacks)))


@renamed_keywords(confidence="ci_level")
def adversarial_transfer(
    pair: ModelPair,
    base_attributions: Sequence[Attributions],
    small_attributions: Sequence[Attributions],
    *,
    max_rows: int | None = None,
    max_fraction: float = MAX_FRACTION,
    n_candidates: int = N_CANDIDATES,
    max_words: int | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
    ci_level: float = 0.95,
    batch_size: int = 32,
    device: str = "auto",
    cache: bool | str | os.PathLike[str] | EvalCache | None = True,
    progress: bool | None = None,
    precision: str = "fp32",
) -> AdversarialTransfer:
    """Attack each model guided by its own attributions and give the adversarial texts to the other.

    ``base_attributions[r]`` and ``small_attributions[r]`` explain the same row (same
    features), as an audit's explanations do; the first ``max_rows`` rows are attacked.
    Both models run through :class:`~trustaudit._evaluation.Evaluator` (batched, de-duplicated,
    cached); the small model's probabilities are put in the base's label order, the order
    of the attributions' target. Substitution candidates come from each attacked model's
    own input embeddings. ``precision`` is the format of their forward passes (fp32, or
    autocast to bf16/fp16).
    """
    if len(base_attributions) != len(small_attributions):
        raise InvalidInputError(
            f"base_attributions and small_attributions must explain the same rows, got {len(base_attributions)} "
            f"and {len(small_attributions)}"
        )
    for r, (a, b) in enumerate(zip(base_attributions, small_attributions)):
        if a.features.text != b.features.text:
            raise InvalidInputError(f"row {r}: the base's and the small model's attributions explain different texts")
    if max_rows is not None:
        if max_rows < 1:
            raise InvalidInputError(f"max_rows must be at least 1, got {max_rows}")
        base_attributions, small_attributions = base_attributions[:max_rows], small_attributions[:max_rows]
    if not base_attributions:
        raise InvalidInputError("adversarial_transfer needs at least one explained row")
    start = time.perf_counter()
    engines = {
        name: Evaluator(bundle, device=device, batch_size=batch_size, cache=cache, progress=False, precision=precision)
        for name, bundle in (("base", pair.base), ("small", pair.small))
    }

    def base_predict(texts: Sequence[Pair]) -> np.ndarray:
        return engines["base"].probs(texts)

    def small_predict(texts: Sequence[Pair]) -> np.ndarray:
        return pair.to_base_labels(engines["small"].probs(texts))

    settings = {"max_fraction": max_fraction, "n_candidates": n_candidates, "max_words": max_words}
    attacks: dict[str, list[AttackResult]] = {"base": [], "small": []}
    plan = (("base", base_predict, pair.base, base_attributions), ("small", small_predict, pair.small, small_attributions))
    with bar(2 * len(base_attributions), "adversarial attacks", progress, unit="text") as progress_bar:
        for name, predict, bundle, explained in plan:
            neighbours = EmbeddingNeighbours(bundle)
            for attributions in explained:
                attacks[name].append(word_substitution_attack(predict, attributions, neighbours, **settings))
                progress_bar.update(1)
    small_flipped = _flips(small_predict, attacks["base"])
    base_flipped = _flips(base_predict, attacks["small"])
    rates = transfer_rates(
        [a.success for a in attacks["base"]], small_flipped, [a.success for a in attacks["small"]], base_flipped,
        base_attacked=[a.attacked for a in attacks["base"]], small_attacked=[a.attacked for a in attacks["small"]],
        n_resamples=n_resamples, seed=seed, ci_level=ci_level,
    )
    return AdversarialTransfer(
        base_attacks=tuple(attacks["base"]),
        small_attacks=tuple(attacks["small"]),
        small_flipped=small_flipped,
        base_flipped=base_flipped,
        rates=rates,
        params={**settings, "rows": len(base_attributions), "explainer": base_attributions[0].explainer,
                "embedding_candidates": "input embeddings, cosine, whole words"},
        evaluations={name: engine.stats.requested for name, engine in engines.items()},
        seconds=time.perf_counter() - start,
    )
