"""LIME over word features, with the ``lime`` library's own sampling, kernel and ridge fit.

The neighbourhood is drawn by ``LimeTextExplainer``'s own sampler (a fresh explainer per
explanation, seeded with ``random_state=seed``, as RESEARCH.md requires for determinism)
over a :class:`~trustaudit.explain.features.FeatureSet` standing in for LIME's
``IndexedString``; the weights come from ``LimeBase.explain_instance_with_data`` with
every feature kept (``feature_selection='none'``). The result is the weights
``LimeTextExplainer(bow=False, split_expression=SEPARATOR, mask_string="")`` computes for
the same text and seed: the same samples in the same order, the same kernel on the same
cosine distances, the same ridge regression. Only the perturbed texts differ in
whitespace (LIME leaves the blanks around a removed word, we collapse them), which a
word-piece tokenizer does not see.

Sampling and fitting are separate steps (:func:`sample`, :func:`fit`) so that the samples
of one example can be evaluated on both models, together with everything else the
example needs, before any fit; :func:`explain` runs both for one model function.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from trustaudit.exceptions import InvalidInputError
from trustaudit.explain._attributions import Attributions, PredictFn, Target, as_target, check_probs, check_seed
from trustaudit.explain._protocol import Plan
from trustaudit.explain.features import SEPARATOR, FeatureSet, Pair

NAME = "lime"
DEFAULT_SAMPLES = 1000
DEFAULT_KERNEL_WIDTH = 25.0


class _IndexedFeatures:
    """The part of LIME's ``IndexedString`` its sampler uses, over a FeatureSet."""

    def __init__(self, features: FeatureSet) -> None:
        self.features = features
        self.texts: list[Pair] = []

    def num_words(self) -> int:
        return len(self.features)

    def raw_string(self) -> Pair:
        return self.features.text

    def inverse_removing(self, words_to_remove: Sequence[int]) -> Pair:
        keep = np.ones(len(self.features), dtype=bool)
        keep[np.asarray(words_to_remove, dtype=np.int64)] = False
        return self.features.perturb(keep)

    def collect(self, texts: list[Pair]) -> np.ndarray:
        """Stands in for the classifier during sampling: keeps the texts, returns no labels."""
        self.texts = list(texts)
        return np.zeros((len(texts), 1))


@dataclass(frozen=True, eq=False)
class LimeSample:
    """LIME's neighbourhood of one input, drawn but not yet evaluated.

    ``data`` is LIME's 0/1 matrix (row 0: the unperturbed input), ``texts`` the perturbed
    inputs in the same order, ``distances`` LIME's cosine distances (×100) to row 0.
    """

    features: FeatureSet
    data: np.ndarray
    texts: tuple[Pair, ...]
    distances: np.ndarray
    seed: int
    kernel_width: float
    base: Any

    @property
    def num_samples(self) -> int:
        """Rows drawn, the unperturbed input included."""
        return len(self.texts)


def check_num_samples(num_samples: int, name: str = "num_samples") -> int:
    """A LIME sample size of at least 2 (the input itself and one perturbation), else an input error."""
    if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)) or num_samples < 2:
        raise InvalidInputError(f"{name} must be an integer of at least 2, got {num_samples!r}")
    return int(num_samples)


def sample(
    features: FeatureSet,
    *,
    num_samples: int = DEFAULT_SAMPLES,
    seed: int = 0,
    kernel_width: float = DEFAULT_KERNEL_WIDTH,
) -> LimeSample:
    """Draw LIME's neighbourhood of ``features`` with a fresh, seeded ``LimeTextExplainer``."""
    from lime.lime_text import LimeTextExplainer

    num_samples = check_num_samples(num_samples)
    if not kernel_width > 0:
        raise InvalidInputError(f"kernel_width must be positive, got {kernel_width!r}")
    seed = check_seed(seed)
    explainer = LimeTextExplainer(
        kernel_width=kernel_width,
        bow=False,
        split_expression=SEPARATOR,
        mask_string="",
        random_state=seed,
        feature_selection="none",
    )
    if len(features) == 0:
        n = num_samples
        return LimeSample(features, np.ones((n, 0)), (features.text,) * n, np.zeros(n), seed, float(kernel_width), explainer.base)
    sampler = getattr(explainer, "_LimeTextExplainer__data_labels_distances", None)
    if sampler is None:
        raise RuntimeError("this version of lime has no LimeTextExplainer sampler (written for lime 0.2.0.1)")
    indexed = _IndexedFeatures(features)
    data, _, distances = sampler(indexed, indexed.collect, num_samples)
    return LimeSample(features, data, tuple(indexed.texts), distances, seed, float(kernel_width), explainer.base)


def fit(lime_sample: LimeSample, probs: np.ndarray, target: Target | int) -> Attributions:
    """LIME's weights for ``target`` from the model's probabilities on ``lime_sample.texts``."""
    target = as_target(target)
    features = lime_sample.features
    probs = check_probs(probs, lime_sample.num_samples, target, NAME)
    scores = np.zeros(len(features))
    diagnostics: dict[str, float] = {}
    if len(features):
        base = copy.deepcopy(lime_sample.base)
        intercept, weights, score, local_pred = base.explain_instance_with_data(
            lime_sample.data, probs, lime_sample.distances, target.index, len(features), feature_selection="none"
        )
        for feature, weight in weights:
            scores[int(feature)] = weight
        diagnostics = {
            "intercept": float(intercept),
            "r2": float(score),
            "local_prediction": float(np.ravel(local_pred)[0]),
        }
    return Attributions(
        explainer=NAME,
        features=features,
        scores=scores,
        target=target,
        params={
            "num_samples": lime_sample.num_samples,
            "seed": lime_sample.seed,
            "kernel_width": lime_sample.kernel_width,
            "kernel": "sqrt(exp(-d**2 / kernel_width**2)), d = 100 * cosine distance",
            "feature_selection": "none",
            "regressor": "Ridge(alpha=1)",
            "bow": False,
            "perturbation": "remove words",
        },
        evaluations=lime_sample.num_samples,
        unique_evaluations=len(set(lime_sample.texts)),
        output=float(probs[0, target.index]),
        diagnostics=diagnostics,
    )


def explain(
    features: FeatureSet,
    predict: PredictFn,
    target: Target | int,
    *,
    num_samples: int = DEFAULT_SAMPLES,
    seed: int = 0,
    kernel_width: float = DEFAULT_KERNEL_WIDTH,
) -> Attributions:
    """LIME attributions of ``target`` for one model function (:func:`sample`, then :func:`fit`)."""
    drawn = sample(features, num_samples=num_samples, seed=seed, kernel_width=kernel_width)
    return fit(drawn, predict(list(drawn.texts)), target)


@dataclass(frozen=True)
class LimeExplainer:
    """LIME behind the :class:`~trustaudit.explain._protocol.Explainer` protocol: its budget is ``num_samples``.

    Its plan is the drawn neighbourhood, so the samples are drawn once per seed; LIME is
    never deterministic (another seed draws other perturbations).
    """

    name: str = NAME
    budget_name: str = "num_samples"
    default_budget: int = DEFAULT_SAMPLES
    draws: str = "its perturbations"
    exact_because: str = "the same perturbations drawn"

    def check_budget(self, budget: int, name: str = "num_samples") -> int:
        """See :func:`check_num_samples`."""
        return check_num_samples(budget, name)

    def plan(self, features: FeatureSet, *, budget: int, seed: int) -> Plan:
        """The neighbourhood :func:`sample` draws, its texts in order."""
        drawn = sample(features, num_samples=budget, seed=seed)
        return Plan(drawn.texts, drawn)

    def deterministic(self, features: FeatureSet, budget: int) -> bool:
        """Never: another seed draws another neighbourhood."""
        return False

    def explain(
        self, features: FeatureSet, predict: PredictFn, target: Target, *, budget: int, seed: int, plan: Plan | None = None
    ) -> Attributions:
        """:func:`fit` on the planned neighbourhood (drawn now without a plan)."""
        drawn = plan.state if plan is not None else sample(features, num_samples=budget, seed=seed)
        return fit(drawn, predict(drawn.texts), target)


EXPLAINER = LimeExplainer()
