"""Agreement between the base and the small model: their attributions and their predictions.

Attribution agreement follows Krishna et al., "The Disagreement Problem in Explainable
Machine Learning: A Practitioner's Perspective", 2022. Each metric is a pure function of
two attribution vectors ``a`` and ``b`` over the same ``d`` features (e.g. LIME or SHAP
scores of the base and of the small model for one example).

Conventions:

* **Importance is magnitude.** Features are ranked by ``|score|``; signs only enter the
  sign metrics.
* **Top-k and ties.** The top-k list is the first ``k`` features of a stable sort by
  ``-|score|``, so ties go to the lower feature index and the list is deterministic.
  When ``d < k`` the metrics use ``k' = d`` (all features).
* **Signs.** ``numpy.sign``: -1, 0 or +1; a zero score agrees only with a zero score.
* **Undefined correlations.** Spearman and Kendall are undefined when a vector's
  magnitudes are all equal (this includes ``d = 1``). Then the value is 1.0 if *both*
  vectors are constant in magnitude (they agree that there is no order) and 0.0 if only
  one is. Every metric is 1.0 for identical inputs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from trustaudit.exceptions import InvalidInputError
from trustaudit._bootstrap import count_weights, percentile_interval
from trustaudit._json import frozen_array, to_jsonable
from trustaudit._deprecation import renamed_attribute, renamed_keywords
from trustaudit._validation import (
    check_class_ids,
    check_int,
    check_open_unit,
    check_real,
    check_score_pair,
)

__all__ = [
    "AgreementStatistic",
    "AttributionAgreement",
    "PredictionAgreement",
    "attribution_agreement",
    "feature_agreement",
    "fraction_of_floor",
    "kendall_tau",
    "pairwise_rank_agreement",
    "prediction_agreement",
    "rank_agreement",
    "rank_correlation",
    "sign_agreement",
    "signed_rank_agreement",
    "topk_jaccard",
]


# ----------------------------------------------------------------------------- per-example metrics


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest |scores|, ties to the lower index (stable sort)."""
    return np.argsort(-np.abs(scores), kind="stable")[:k]


def _prepare(a: ArrayLike, b: ArrayLike, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Checked vectors, their top-k' lists and k' = min(k, d)."""
    x, y = check_score_pair(a, b)
    k = min(check_int(k, "k", 1), x.shape[0])
    return x, y, _top_k(x, k), _top_k(y, k), k


def feature_agreement(a: ArrayLike, b: ArrayLike, k: int) -> float:
    """Share of top-k features the two attributions have in common, in [0, 1].

    FA = |top_k(a) ∩ top_k(b)| / k (Krishna et al. 2022, feature agreement).

    Parameters
    ----------
    a, b : array-like of shape (d,)
        Attribution scores of the same d features (importance is ``|score|``).
    k : int
        Size of the top-k lists (>= 1); ``min(k, d)`` is used.

    Returns
    -------
    float
        The feature agreement.

    Examples
    --------
    >>> from trustaudit.metrics import feature_agreement
    >>> feature_agreement([0.5, -0.2, 0.1, 0.0], [0.4, 0.1, -0.3, 0.0], 2)
    0.5
    """
    _, _, top_a, top_b, k = _prepare(a, b, k)
    return len(np.intersect1d(top_a, top_b)) / k


def rank_agreement(a: ArrayLike, b: ArrayLike, k: int) -> float:
    """Share of top-k positions holding the same feature in both lists, in [0, 1].

    RA = |{r < k : top_k(a)[r] = top_k(b)[r]}| / k (Krishna et al. 2022, rank agreement).

    Parameters
    ----------
    a, b : array-like of shape (d,)
        Attribution scores of the same d features (importance is ``|score|``).
    k : int
        Size of the top-k lists (>= 1); ``min(k, d)`` is used.

    Returns
    -------
    float
        The rank agreement.

    Examples
    --------
    >>> from trustaudit.metrics import rank_agreement
    >>> rank_agreement([0.5, -0.2, 0.1, 0.0], [0.4, 0.1, -0.3, 0.0], 2)
    0.5
    """
    _, _, top_a, top_b, k = _prepare(a, b, k)
    return int(np.sum(top_a == top_b)) / k


def sign_agreement(a: ArrayLike, b: ArrayLike, k: int) -> float:
    """Share of top-k features common to both lists *and* of the same sign, in [0, 1].

    SA = |{f in top_k(a) ∩ top_k(b) : sign(a_f) = sign(b_f)}| / k (Krishna et al. 2022).

    Parameters
    ----------
    a, b : array-like of shape (d,)
        Attribution scores of the same d features (importance is ``|score|``).
    k : int
        Size of the top-k lists (>= 1); ``min(k, d)`` is used.

    Returns
    -------
    float
        The sign agreement.

    Examples
    --------
    >>> from trustaudit.metrics import sign_agreement
    >>> sign_agreement([0.5, -0.2, 0.1, 0.0], [0.4, 0.1, -0.3, 0.0], 2)
    0.5
    """
    x, y, top_a, top_b, k = _prepare(a, b, k)
    common = np.intersect1d(top_a, top_b)
    return int(np.sum(np.sign(x[common]) == np.sign(y[common]))) / k


def signed_rank_agreement(a: ArrayLike, b: ArrayLike, k: int) -> float:
    """Share of top-k positions holding the same feature with the same sign, in [0, 1].

    SRA = |{r < k : top_k(a)[r] = top_k(b)[r] = f and sign(a_f) = sign(b_f)}| / k
    (Krishna et al. 2022, signed rank agreement).
    """
    x, y, top_a, top_b, k = _prepare(a, b, k)
    same = top_a == top_b
    return int(np.sum(same & (np.sign(x[top_a]) == np.sign(y[top_a])))) / k


def topk_jaccard(a: ArrayLike, b: ArrayLike, k: int) -> float:
    """Jaccard index of the two top-k feature sets, in [0, 1].

    J = |A ∩ B| / |A ∪ B| with A, B the top-k sets; the interpretability-alignment measure of the
    trust-equivalence study. Unlike feature agreement it is 1/3, not 1/2, when half the
    features are shared.

    Parameters
    ----------
    a, b : array-like of shape (d,)
        Attribution scores of the same d features (importance is ``|score|``).
    k : int
        Size of the top-k lists (>= 1); ``min(k, d)`` is used.

    Returns
    -------
    float
        The Jaccard index of the top-k sets.

    Examples
    --------
    >>> from trustaudit.metrics import topk_jaccard
    >>> round(topk_jaccard([0.5, -0.2, 0.1, 0.0], [0.4, 0.1, -0.3, 0.0], 2), 4)
    0.3333
    """
    _, _, top_a, top_b, _ = _prepare(a, b, k)
    return len(np.intersect1d(top_a, top_b)) / len(np.union1d(top_a, top_b))


def _constant(x: np.ndarray) -> bool:
    return bool(np.all(x == x[0]))


def _undefined(x: np.ndarray, y: np.ndarray) -> float | None:
    """The convention for correlations when a magnitude vector is constant, else None."""
    cx, cy = _constant(x), _constant(y)
    if cx and cy:
        return 1.0
    if cx or cy:
        return 0.0
    return None


def rank_correlation(a: ArrayLike, b: ArrayLike) -> float:
    """Spearman rank correlation of the feature magnitudes over all features, in [-1, 1].

    rho = Pearson correlation of rank(|a|) and rank(|b|), tied magnitudes sharing their
    average rank (Spearman 1904; Krishna et al. 2022 rank correlation). Constant
    magnitudes: see the module docstring.

    Parameters
    ----------
    a, b : array-like of shape (d,)
        Attribution scores of the same d features (importance is ``|score|``).

    Returns
    -------
    float
        Spearman's rho of the magnitudes.

    Examples
    --------
    >>> from trustaudit.metrics import rank_correlation
    >>> round(rank_correlation([0.5, -0.2, 0.1, 0.0], [0.4, 0.1, -0.3, 0.0]), 4)
    0.8
    """
    x, y = (np.abs(v) for v in check_score_pair(a, b))
    fallback = _undefined(x, y)
    if fallback is not None:
        return fallback
    rx = stats.rankdata(x) - (x.shape[0] + 1) / 2.0
    ry = stats.rankdata(y) - (y.shape[0] + 1) / 2.0
    value = float(np.dot(rx, ry) / math.sqrt(np.dot(rx, rx) * np.dot(ry, ry)))
    return min(1.0, max(-1.0, value))


def _pair_signs(x: np.ndarray) -> np.ndarray:
    """sign(x_i - x_j) for every pair i < j (upper triangle, flattened)."""
    i, j = np.triu_indices(x.shape[0], k=1)
    return np.sign(x[i] - x[j])


def kendall_tau(a: ArrayLike, b: ArrayLike) -> float:
    """Kendall's tau-b of the feature magnitudes over all features, in [-1, 1].

    tau_b = (C - D) / sqrt((P - T_a)(P - T_b)) with C, D the concordant and discordant
    pairs, P all pairs and T_a, T_b the pairs tied in |a|, |b| (Kendall 1945). O(d^2)
    memory, fine for the tens to hundreds of word features of a text example. Constant
    magnitudes: see the module docstring.

    Parameters
    ----------
    a, b : array-like of shape (d,)
        Attribution scores of the same d features (importance is ``|score|``).

    Returns
    -------
    float
        Kendall's tau-b of the magnitudes.

    Examples
    --------
    >>> from trustaudit.metrics import kendall_tau
    >>> round(kendall_tau([0.5, -0.2, 0.1, 0.0], [0.4, 0.1, -0.3, 0.0]), 4)
    0.6667
    """
    x, y = (np.abs(v) for v in check_score_pair(a, b))
    fallback = _undefined(x, y)
    if fallback is not None:
        return fallback
    sx, sy = _pair_signs(x), _pair_signs(y)
    value = float(np.dot(sx, sy) / math.sqrt(np.sum(np.abs(sx)) * np.sum(np.abs(sy))))
    return min(1.0, max(-1.0, value))


def pairwise_rank_agreement(a: ArrayLike, b: ArrayLike) -> float:
    """Share of feature pairs whose relative order of magnitude agrees, in [0, 1].

    PRA = |{i < j : sign(|a_i| - |a_j|) = sign(|b_i| - |b_j|)}| / (d (d - 1) / 2): a tie
    agrees only with a tie (Krishna et al. 2022, pairwise rank agreement, over all
    features). With a single feature there is no pair to disagree on: 1.0.
    """
    x, y = (np.abs(v) for v in check_score_pair(a, b))
    if x.shape[0] < 2:
        return 1.0
    return float(np.mean(_pair_signs(x) == _pair_signs(y)))


def fraction_of_floor(value: float, floor: float) -> float:
    """Express an agreement value as a fraction of a noise floor: value / floor.

    The floor is the agreement an explainer reaches with itself (e.g. LIME under two
    seeds on the same model), so 1.0 means "as close as the explainer's own noise
    allows". Guarded: NaN when the floor is not above 1e-12, where the ratio means
    nothing. Both inputs must be finite.
    """
    value, floor = check_real(value, "value"), check_real(floor, "floor")
    if floor <= 1e-12:
        return math.nan
    return value / floor


# ----------------------------------------------------------------------------- aggregation

_TOP_K_METRICS: dict[str, Callable[[ArrayLike, ArrayLike, int], float]] = {
    "feature_agreement": feature_agreement,
    "rank_agreement": rank_agreement,
    "sign_agreement": sign_agreement,
    "signed_rank_agreement": signed_rank_agreement,
    "topk_jaccard": topk_jaccard,
}
_GLOBAL_METRICS: dict[str, Callable[[ArrayLike, ArrayLike], float]] = {
    "rank_correlation": rank_correlation,
    "kendall_tau": kendall_tau,
    "pairwise_rank_agreement": pairwise_rank_agreement,
}


@dataclass(frozen=True)
class AgreementStatistic:
    """One agreement metric (at one k, or None for metrics over all features) across examples."""

    metric: str
    k: int | None
    per_example: np.ndarray
    mean: float
    ci_low: float | None
    ci_high: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe plain-Python form."""
        return to_jsonable(self)


@dataclass(frozen=True)
class AttributionAgreement:
    """Attribution agreement of two models over a set of examples.

    ``statistics`` is keyed ``"<metric>@<k>"`` for the top-k metrics (feature, rank,
    sign, signed-rank agreement, top-k Jaccard) and ``"<metric>"`` for those over all
    features (rank correlation, Kendall's tau, pairwise rank agreement).
    """

    statistics: dict[str, AgreementStatistic]
    ks: tuple[int, ...]
    n_examples: int
    n_resamples: int
    seed: int
    ci_level: float

    confidence = renamed_attribute("confidence", "ci_level")
    settings: dict[str, Any] = field(default_factory=dict)

    def get(self, metric: str, k: int | None = None) -> AgreementStatistic:
        """The statistic of ``metric`` (at ``k`` for a top-k metric)."""
        key = metric if k is None else f"{metric}@{k}"
        if key not in self.statistics:
            raise InvalidInputError(f"no statistic {key!r}; available: {', '.join(self.statistics)}")
        return self.statistics[key]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe plain-Python form."""
        return to_jsonable(self)


@renamed_keywords(confidence="ci_level")
def attribution_agreement(
    base_scores: Sequence[ArrayLike],
    small_scores: Sequence[ArrayLike],
    *,
    ks: Sequence[int] = (5,),
    n_resamples: int = 1000,
    seed: int = 0,
    ci_level: float = 0.95,
) -> AttributionAgreement:
    """Every attribution-agreement metric per example, its mean, and a bootstrap interval of the mean.

    ``base_scores[i]`` and ``small_scores[i]`` score the same features of example i
    (lengths may differ between examples). The interval is the percentile interval of
    the mean over examples resampled with replacement (the same resamples for every
    metric); ``n_resamples=0`` skips it.

    Parameters
    ----------
    base_scores, small_scores : sequence of array-like of shape (d_i,)
        Both models' attribution scores, one vector per example.
    ks : sequence of int, default (5,)
        The k of each top-k metric (each >= 1).
    n_resamples : int, default 1000
        Bootstrap resamples of the examples (>= 0; 0 skips the interval).
    seed : int, default 0
        Seed of the resamples.
    ci_level : float, default 0.95
        Level of the intervals, in (0, 1).

    Returns
    -------
    AttributionAgreement
        One :class:`AgreementStatistic` per metric (and k), keyed ``"name@k"`` or ``"name"``.

    Examples
    --------
    >>> from trustaudit.metrics import attribution_agreement
    >>> base = [[0.5, -0.2, 0.1, 0.0], [0.1, 0.2, 0.3]]
    >>> small = [[0.4, 0.1, -0.3, 0.0], [0.3, 0.2, 0.1]]
    >>> result = attribution_agreement(base, small, ks=(2,), n_resamples=0)
    >>> result.statistics["feature_agreement@2"].per_example.tolist()
    [0.5, 0.5]
    >>> round(result.statistics["rank_correlation"].mean, 4)
    -0.1
    """
    if isinstance(base_scores, np.ndarray) and base_scores.ndim == 2:
        base_scores = list(base_scores)
    if isinstance(small_scores, np.ndarray) and small_scores.ndim == 2:
        small_scores = list(small_scores)
    if not isinstance(base_scores, Sequence) or not isinstance(small_scores, Sequence):
        raise InvalidInputError("base_scores and small_scores must be sequences of 1-D score arrays")
    if len(base_scores) != len(small_scores):
        raise InvalidInputError(
            f"base_scores and small_scores must hold the same examples, got {len(base_scores)} and {len(small_scores)}"
        )
    if len(base_scores) == 0:
        raise InvalidInputError("base_scores must hold at least one example, got 0")
    if isinstance(ks, (int, np.integer)) or len(ks) == 0:
        raise InvalidInputError(f"ks must be a non-empty sequence of integers, got {ks!r}")
    ks = tuple(dict.fromkeys(check_int(k, "ks", 1) for k in ks))
    n_resamples = check_int(n_resamples, "n_resamples", 0)
    seed = check_int(seed, "seed", 0)
    ci_level = check_open_unit(ci_level, "ci_level")

    pairs = [
        check_score_pair(a, b, (f"base_scores[{i}]", f"small_scores[{i}]"))
        for i, (a, b) in enumerate(zip(base_scores, small_scores))
    ]
    columns: dict[tuple[str, int | None], np.ndarray] = {}
    for k in ks:
        for name, fn in _TOP_K_METRICS.items():
            columns[(name, k)] = np.array([fn(a, b, k) for a, b in pairs])
    for name, fn in _GLOBAL_METRICS.items():
        columns[(name, None)] = np.array([fn(a, b) for a, b in pairs])

    values = np.column_stack(list(columns.values()))
    m = values.shape[0]
    intervals: list[tuple[float | None, float | None]] = [(None, None)] * values.shape[1]
    if n_resamples > 0:
        means = np.concatenate([weights @ values / m for weights in count_weights(m, n_resamples, seed)])
        intervals = [percentile_interval(means[:, j], ci_level) for j in range(values.shape[1])]

    statistics = {
        (name if k is None else f"{name}@{k}"): AgreementStatistic(
            metric=name,
            k=k,
            per_example=frozen_array(column),
            mean=float(np.mean(column)),
            ci_low=low,
            ci_high=high,
        )
        for ((name, k), column), (low, high) in zip(columns.items(), intervals)
    }
    return AttributionAgreement(
        statistics=statistics,
        ks=ks,
        n_examples=m,
        n_resamples=n_resamples,
        seed=seed,
        ci_level=ci_level,
        settings={
            "importance": "|score|",
            "top_k_ties": "stable sort by -|score|, lower feature index first",
            "k_above_d": "k' = d",
            "constant_vectors": "correlation 1.0 if both constant in magnitude, 0.0 if one is",
            "interval": "percentile bootstrap of the mean over examples",
        },
    )


# ----------------------------------------------------------------------------- predictions


@dataclass(frozen=True)
class PredictionAgreement:
    """How the small model's predictions agree with the base model's, and with the labels.

    ``flip_matrix[i, j]`` counts examples predicted ``i`` by base and ``j`` by small.
    Fields after ``flip_matrix`` need gold labels and are None without them.
    ``mcnemar_statistic`` is min(b, c) for the exact test and the continuity-corrected
    chi-square otherwise; ``base_only_correct`` (b) and ``small_only_correct`` (c) are
    the discordant counts. ``accuracy_diff = small - base``.
    """

    n: int
    n_classes: int
    agreement: float
    n_flips: int
    cohen_kappa: float
    flip_matrix: np.ndarray
    base_accuracy: float | None = None
    small_accuracy: float | None = None
    accuracy_diff: float | None = None
    accuracy_diff_ci: tuple[float, float] | None = None
    base_only_correct: int | None = None
    small_only_correct: int | None = None
    mcnemar_statistic: float | None = None
    mcnemar_p_value: float | None = None
    mcnemar_method: str | None = None
    error_jaccard: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe plain-Python form."""
        return to_jsonable(self)


def _cohen_kappa(flips: np.ndarray) -> float:
    """Cohen's kappa (po - pe) / (1 - pe) from a confusion matrix; 1.0 when pe = 1."""
    n = flips.sum()
    observed = np.trace(flips) / n
    expected = float(np.dot(flips.sum(axis=1), flips.sum(axis=0)) / n**2)
    if expected >= 1.0:
        return 1.0
    return float((observed - expected) / (1.0 - expected))


def _mcnemar(b: int, c: int) -> tuple[float, float, str]:
    """(statistic, two-sided p-value, method) of McNemar's test on b, c discordant pairs."""
    discordant = b + c
    if discordant == 0:
        return 0.0, 1.0, "exact"
    if discordant < 25:
        p_value = min(1.0, 2.0 * float(stats.binom.cdf(min(b, c), discordant, 0.5)))
        return float(min(b, c)), p_value, "exact"
    statistic = (abs(b - c) - 1.0) ** 2 / discordant
    return float(statistic), float(stats.chi2.sf(statistic, 1)), "chi2"


@renamed_keywords(confidence="ci_level")
def prediction_agreement(
    base_pred: ArrayLike,
    small_pred: ArrayLike,
    labels: ArrayLike | None = None,
    *,
    n_classes: int | None = None,
    n_resamples: int = 0,
    seed: int = 0,
    ci_level: float = 0.95,
) -> PredictionAgreement:
    """Agreement of two models' predicted classes, and (with labels) how their errors differ.

    * agreement = share of examples with the same prediction; n_flips the others.
    * Cohen's kappa = (p_o - p_e) / (1 - p_e), p_e the agreement expected from the two
      marginal prediction rates (Cohen 1960); 1.0 when p_e = 1 (both always predict the
      same single class), where scikit-learn returns NaN.
    * McNemar's test of equal accuracy on the discordant pairs b (only base correct) and
      c (only small correct): exact two-sided binomial p = min(1, 2 P(X <= min(b, c))),
      X ~ Bin(b + c, 1/2), when b + c < 25; otherwise chi2 = (|b - c| - 1)^2 / (b + c) with
      1 degree of freedom (continuity correction; Edwards 1948). McNemar 1947.
    * error_jaccard = |E_b ∩ E_s| / |E_b ∪ E_s| over the examples each model gets wrong
      (1.0 when neither makes an error): whether the small model fails where the base
      fails.
    * accuracy_diff_ci: percentile bootstrap interval of small - base accuracy over
      resampled examples when ``n_resamples > 0``.

    ``n_classes`` defaults to the largest class id seen plus one (at least 2).

    Parameters
    ----------
    base_pred, small_pred : array-like of shape (n,)
        Both models' predicted class ids.
    labels : array-like of shape (n,), optional
        Gold class ids; without them the accuracy and McNemar fields are None.
    n_classes : int, optional
        Number of classes (>= 2).
    n_resamples : int, default 0
        Bootstrap resamples for ``accuracy_diff_ci`` (>= 0).
    seed : int, default 0
        Seed of the resamples.
    ci_level : float, default 0.95
        Level of the interval, in (0, 1).

    Returns
    -------
    PredictionAgreement
        Agreement, kappa, flip matrix and (with labels) the accuracy comparison.

    Examples
    --------
    >>> from trustaudit.metrics import prediction_agreement
    >>> result = prediction_agreement([0, 1, 1, 0, 2], [0, 1, 0, 0, 2], labels=[0, 1, 1, 1, 2])
    >>> result.agreement, result.n_flips, round(result.cohen_kappa, 4)
    (0.8, 1, 0.6875)
    >>> round(result.accuracy_diff, 4), result.mcnemar_method
    (-0.2, 'exact')
    """
    if n_classes is not None:
        n_classes = check_int(n_classes, "n_classes", 2)
    base = check_class_ids(base_pred, "base_pred", None, n_classes)
    small = check_class_ids(small_pred, "small_pred", base.shape[0], n_classes)
    gold = None if labels is None else check_class_ids(labels, "labels", base.shape[0], n_classes)
    if n_classes is None:
        seen = [base.max(), small.max()] + ([] if gold is None else [gold.max()])
        n_classes = max(2, int(max(seen)) + 1)
    n_resamples = check_int(n_resamples, "n_resamples", 0)
    seed = check_int(seed, "seed", 0)
    ci_level = check_open_unit(ci_level, "ci_level")

    n = base.shape[0]
    flips = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(flips, (base, small), 1)
    same = base == small
    result: dict[str, Any] = {
        "n": n,
        "n_classes": n_classes,
        "agreement": float(np.mean(same)),
        "n_flips": int(n - same.sum()),
        "cohen_kappa": _cohen_kappa(flips),
        "flip_matrix": frozen_array(flips, np.int64),
    }
    if gold is not None:
        base_ok, small_ok = base == gold, small == gold
        b = int(np.sum(base_ok & ~small_ok))
        c = int(np.sum(~base_ok & small_ok))
        statistic, p_value, method = _mcnemar(b, c)
        errors_union = int(np.sum(~base_ok | ~small_ok))
        difference = small_ok.astype(np.float64) - base_ok
        interval = None
        if n_resamples > 0:
            draws = np.concatenate([weights @ difference / n for weights in count_weights(n, n_resamples, seed)])
            interval = percentile_interval(draws, ci_level)
        result.update(
            base_accuracy=float(np.mean(base_ok)),
            small_accuracy=float(np.mean(small_ok)),
            accuracy_diff=float(np.mean(small_ok) - np.mean(base_ok)),
            accuracy_diff_ci=interval,
            base_only_correct=b,
            small_only_correct=c,
            mcnemar_statistic=statistic,
            mcnemar_p_value=p_value,
            mcnemar_method=method,
            error_jaccard=1.0 if errors_union == 0 else int(np.sum(~base_ok & ~small_ok)) / errors_union,
        )
    return PredictionAgreement(**result)
