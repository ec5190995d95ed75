"""Flip forensics: where the small model changes the base model's answers, and for whom.

Accuracy can stay put while the small model trades errors: it gets some rows wrong that
the base got right (negative flips) and fixes others (positive flips). A user who relied
on the base model's answer for a row is hurt only by the negative ones, so they are
reported on their own (Yan et al. 2021, "Positive-congruent training: towards
regression-free model updates"), per class (a class can lose recall while the average
holds) and by the base model's confidence (whether the small model overturns answers the
base was sure of; low-confidence predictions flip most, Xia et al. 2021).

Intervals are paired percentile bootstraps over rows: one stream of multinomial count
weights ``W`` (:func:`~trustaudit._bootstrap.count_weights`) gives every
statistic of a call the same resamples, so with the same seed they are also paired with
:func:`~trustaudit.metrics.prediction_agreement`'s accuracy interval. A ratio statistic
(recall = correct in class / in class) is computed per resample from the weighted sums
``W @ X``; resamples where its denominator is 0 are left out of its percentile.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import sparse

from trustaudit.exceptions import InvalidInputError
from trustaudit._bootstrap import count_weights, percentile_interval
from trustaudit._json import frozen_array, to_jsonable
from trustaudit._deprecation import renamed_attribute, renamed_keywords
from trustaudit._validation import (
    check_class_ids,
    check_int,
    check_open_unit,
    check_real,
    check_unit_scores,
)

__all__ = [
    "DEFAULT_BANDS",
    "ClassComparison",
    "ConfidenceBand",
    "FlipRates",
    "flip_kinds",
    "flip_rates",
    "flips_by_confidence",
    "per_class_comparison",
]

#: Bands of the base model's top-label confidence: [0, 0.5), [0.5, 0.7), [0.7, 0.9), [0.9, 1.0].
DEFAULT_BANDS: tuple[tuple[float, float], ...] = ((0.0, 0.5), (0.5, 0.7), (0.7, 0.9), (0.9, 1.0))


def _checked_pair(base_pred: ArrayLike, small_pred: ArrayLike, n_classes: int | None) -> tuple[np.ndarray, np.ndarray]:
    base = check_class_ids(base_pred, "base_pred", None, n_classes)
    return base, check_class_ids(small_pred, "small_pred", base.shape[0], n_classes)


def _checked_labels(labels: ArrayLike | None, n: int, n_classes: int | None) -> np.ndarray:
    if labels is None:
        raise InvalidInputError("labels are required: flips are judged against the gold labels")
    return check_class_ids(labels, "labels", n, n_classes)


def _check_bootstrap(n_resamples: int, seed: int, ci_level: float) -> tuple[int, int, float]:
    return check_int(n_resamples, "n_resamples", 0), check_int(seed, "seed", 0), check_open_unit(ci_level, "ci_level")


def _weighted_sums(columns: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    """``(n_resamples, m)`` bootstrap sums ``W @ columns`` of the ``(n, m)`` 0/1 matrix ``columns``.

    ``columns`` is held sparse, so the cost is one pass over its non-zero entries per
    resample however many classes there are.
    """
    matrix = sparse.csr_matrix(columns.T)
    n = columns.shape[0]
    return np.concatenate([np.asarray(matrix @ weights.T).T for weights in count_weights(n, n_resamples, seed)])


def _interval_or_none(samples: np.ndarray, ci_level: float) -> tuple[float, float] | None:
    """Percentile interval of the finite samples; None when no resample defined the statistic."""
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return None
    return percentile_interval(finite, ci_level)


# ----------------------------------------------------------------------------- flip rates


@dataclass(frozen=True)
class FlipRates:
    """Negative and positive flips of a model update, as counts and as shares of all rows.

    ``*_ci`` are paired percentile bootstrap intervals (None when ``n_resamples`` is 0).
    """

    n: int
    negative_flips: int
    positive_flips: int
    negative_flip_rate: float
    positive_flip_rate: float
    negative_flip_rate_ci: tuple[float, float] | None
    positive_flip_rate_ci: tuple[float, float] | None
    n_resamples: int
    seed: int
    ci_level: float

    confidence = renamed_attribute("confidence", "ci_level")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe plain-Python form."""
        return to_jsonable(self)


@renamed_keywords(confidence="ci_level")
def flip_rates(
    base_pred: ArrayLike,
    small_pred: ArrayLike,
    labels: ArrayLike,
    *,
    n_resamples: int = 0,
    seed: int = 0,
    ci_level: float = 0.95,
) -> FlipRates:
    """Negative and positive flip rates of the small model against the base, with intervals.

    NFR = |{i : base_i = y_i and small_i != y_i}| / n and
    PFR = |{i : base_i != y_i and small_i = y_i}| / n, shares of *all* n rows (Yan et al.
    2021, "Positive-congruent training", eq. 1), so that NFR - PFR = accuracy(base) -
    accuracy(small) exactly in counts. Intervals: percentile bootstrap of both rates on
    the same resampled rows.
    """
    base, small = _checked_pair(base_pred, small_pred, None)
    gold = _checked_labels(labels, base.shape[0], None)
    n_resamples, seed, ci_level = _check_bootstrap(n_resamples, seed, ci_level)
    base_ok, small_ok = base == gold, small == gold
    columns = np.column_stack([base_ok & ~small_ok, ~base_ok & small_ok]).astype(np.float64)
    n = base.shape[0]
    negative, positive = (int(count) for count in columns.sum(axis=0))
    intervals: list[tuple[float, float] | None] = [None, None]
    if n_resamples > 0:
        rates = _weighted_sums(columns, n_resamples, seed) / n
        intervals = [percentile_interval(rates[:, j], ci_level) for j in range(2)]
    return FlipRates(
        n=n,
        negative_flips=negative,
        positive_flips=positive,
        negative_flip_rate=negative / n,
        positive_flip_rate=positive / n,
        negative_flip_rate_ci=intervals[0],
        positive_flip_rate_ci=intervals[1],
        n_resamples=n_resamples,
        seed=seed,
        ci_level=ci_level,
    )


def flip_kinds(base_pred: ArrayLike, small_pred: ArrayLike, labels: ArrayLike | None = None) -> list[str | None]:
    """Each row's kind of flip: None where the predictions agree, else ``"negative"`` (base
    right, small wrong), ``"positive"`` (small right, base wrong), ``"both wrong"``, or
    ``"unlabelled"`` without gold labels (Yan et al. 2021)."""
    base, small = _checked_pair(base_pred, small_pred, None)
    if labels is None:
        kind = np.where(base == small, "", "unlabelled")
    else:
        gold = check_class_ids(labels, "labels", base.shape[0], None)
        kind = np.select([base == small, base == gold, small == gold], ["", "negative", "positive"], "both wrong")
    return [str(value) or None for value in kind]


# ----------------------------------------------------------------------------- per class


@dataclass(frozen=True)
class ClassComparison:
    """Each class's recall and precision for both models and their paired differences.

    Arrays have one entry per class id. ``recall_*`` is NaN for a class with no gold rows
    (``support`` 0); ``*_precision`` is NaN for a class that model never predicts and
    ``precision_drop`` NaN when either does. ``*_drop = base - small`` (positive: the small
    model is worse); ``*_ci_low``/``*_ci_high`` are paired bootstrap bounds, NaN without
    an interval. ``worst_class`` is the class with the largest recall drop among classes
    with support (ties: the lowest id).
    """

    n: int
    n_classes: int
    support: np.ndarray
    base_predicted: np.ndarray
    small_predicted: np.ndarray
    base_recall: np.ndarray
    small_recall: np.ndarray
    recall_drop: np.ndarray
    recall_drop_ci_low: np.ndarray
    recall_drop_ci_high: np.ndarray
    base_precision: np.ndarray
    small_precision: np.ndarray
    precision_drop: np.ndarray
    precision_drop_ci_low: np.ndarray
    precision_drop_ci_high: np.ndarray
    worst_class: int | None
    worst_recall_drop: float | None
    worst_recall_drop_ci: tuple[float, float] | None
    n_resamples: int
    seed: int
    ci_level: float

    confidence = renamed_attribute("confidence", "ci_level")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe plain-Python form (NaN becomes None)."""
        return to_jsonable(self)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator elementwise, NaN where the denominator is 0."""
    out = np.full(np.broadcast(numerator, denominator).shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


@renamed_keywords(confidence="ci_level")
def per_class_comparison(
    base_pred: ArrayLike,
    small_pred: ArrayLike,
    labels: ArrayLike,
    n_classes: int,
    *,
    n_resamples: int = 0,
    seed: int = 0,
    ci_level: float = 0.95,
) -> ClassComparison:
    """Per-class recall and precision of both models, their drops and the worst class's recall drop.

    For class c with TP_m(c) = |{i : y_i = c and m_i = c}|:
    recall_m(c) = TP_m(c) / |{i : y_i = c}|, precision_m(c) = TP_m(c) / |{i : m_i = c}|
    (scikit-learn's ``recall_score``/``precision_score`` with ``average=None``);
    recall_drop(c) = recall_base(c) - recall_small(c), likewise for precision;
    worst = max over classes with support of recall_drop(c) (a class-level regression
    the mean accuracy hides; cf. Hong et al. 2024, "Decoding compressed trust").

    Intervals: paired percentile bootstrap over rows. Each resample's class counts come
    from one weighted sum ``W @ X``; a resample where a class has no gold rows (recall) or
    a model never predicts it (precision) is left out of that class's percentile, and one
    where any class with support is absent is left out of the worst drop's. The maximum
    of several noisy drops is biased upwards: for two equally good models its interval
    can sit above 0, so judge it against a margin, not against 0.
    """
    n_classes = check_int(n_classes, "n_classes", 2)
    base, small = _checked_pair(base_pred, small_pred, n_classes)
    gold = _checked_labels(labels, base.shape[0], n_classes)
    n_resamples, seed, ci_level = _check_bootstrap(n_resamples, seed, ci_level)
    k = n_classes
    classes = np.arange(k)
    in_class = gold[:, None] == classes
    base_says, small_says = base[:, None] == classes, small[:, None] == classes
    columns = np.hstack([in_class, in_class & base_says, in_class & small_says, base_says, small_says]).astype(np.float64)

    def statistics(sums: np.ndarray) -> tuple[np.ndarray, ...]:
        support, tp_base, tp_small, pred_base, pred_small = (sums[..., j * k:(j + 1) * k] for j in range(5))
        base_recall, small_recall = _ratio(tp_base, support), _ratio(tp_small, support)
        base_precision, small_precision = _ratio(tp_base, pred_base), _ratio(tp_small, pred_small)
        return base_recall, small_recall, base_recall - small_recall, base_precision, small_precision, base_precision - small_precision

    totals = columns.sum(axis=0)
    base_recall, small_recall, recall_drop, base_precision, small_precision, precision_drop = statistics(totals)
    support = totals[:k].astype(np.int64)
    supported = support > 0
    worst_class: int | None = None
    worst: float | None = None
    if supported.any():
        worst_class = int(np.argmax(np.where(supported, recall_drop, -np.inf)))
        worst = float(recall_drop[worst_class])

    nan = np.full(k, np.nan)
    recall_ci, precision_ci = (nan.copy(), nan.copy()), (nan.copy(), nan.copy())
    worst_ci: tuple[float, float] | None = None
    if n_resamples > 0:
        _, _, recall_draws, _, _, precision_draws = statistics(_weighted_sums(columns, n_resamples, seed))
        for draws, (low, high), defined in ((recall_draws, recall_ci, supported), (precision_draws, precision_ci, np.isfinite(precision_drop))):
            for c in np.flatnonzero(defined):
                interval = _interval_or_none(draws[:, c], ci_level)
                if interval is not None:
                    low[c], high[c] = interval
        if worst is not None:
            worst_ci = _interval_or_none(recall_draws[:, supported].max(axis=1), ci_level)

    return ClassComparison(
        n=base.shape[0],
        n_classes=k,
        support=frozen_array(support, np.int64),
        base_predicted=frozen_array(totals[3 * k:4 * k], np.int64),
        small_predicted=frozen_array(totals[4 * k:], np.int64),
        base_recall=frozen_array(base_recall),
        small_recall=frozen_array(small_recall),
        recall_drop=frozen_array(recall_drop),
        recall_drop_ci_low=frozen_array(recall_ci[0]),
        recall_drop_ci_high=frozen_array(recall_ci[1]),
        base_precision=frozen_array(base_precision),
        small_precision=frozen_array(small_precision),
        precision_drop=frozen_array(precision_drop),
        precision_drop_ci_low=frozen_array(precision_ci[0]),
        precision_drop_ci_high=frozen_array(precision_ci[1]),
        worst_class=worst_class,
        worst_recall_drop=worst,
        worst_recall_drop_ci=worst_ci,
        n_resamples=n_resamples,
        seed=seed,
        ci_level=ci_level,
    )


# ----------------------------------------------------------------------------- confidence bands


@dataclass(frozen=True)
class ConfidenceBand:
    """Flips among the rows whose base confidence lies in [low, high) ([low, high] for the last band).

    ``flip_rate`` = flips / n (None when the band is empty); ``negative_flips`` and
    ``positive_flips`` need gold labels and are None without them.
    """

    low: float
    high: float
    n: int
    flips: int
    flip_rate: float | None
    negative_flips: int | None
    positive_flips: int | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe plain-Python form."""
        return to_jsonable(self)


def _check_bands(bands: Sequence[Sequence[float]]) -> list[tuple[float, float]]:
    if isinstance(bands, (str, bytes)) or not isinstance(bands, Sequence) or len(bands) == 0:
        raise InvalidInputError(f"bands must be a non-empty sequence of (low, high) pairs, got {bands!r}")
    checked: list[tuple[float, float]] = []
    for i, band in enumerate(bands):
        if isinstance(band, (str, bytes)) or not isinstance(band, Sequence) or len(band) != 2:
            raise InvalidInputError(f"bands[{i}] must be a (low, high) pair, got {band!r}")
        low, high = check_real(band[0], f"bands[{i}][0]"), check_real(band[1], f"bands[{i}][1]")
        if not 0.0 <= low < high <= 1.0:
            raise InvalidInputError(f"bands[{i}] = ({low:g}, {high:g}) must satisfy 0 <= low < high <= 1")
        if checked and low < checked[-1][1]:
            raise InvalidInputError(f"bands[{i}] starts at {low:g}, before bands[{i - 1}] ends ({checked[-1][1]:g}); bands must be increasing and not overlap")
        checked.append((low, high))
    return checked


def flips_by_confidence(
    base_conf: ArrayLike,
    base_pred: ArrayLike,
    small_pred: ArrayLike,
    labels: ArrayLike | None = None,
    bands: Sequence[Sequence[float]] = DEFAULT_BANDS,
) -> tuple[ConfidenceBand, ...]:
    """How often the small model changes the base model's answer, by the base model's confidence.

    For band [l, h): n = |{i : l <= conf_i < h}|, flips = |{i in band : base_i != small_i}|,
    flip_rate = flips / n; the last band includes h. With labels, the flips split into
    negative (base right) and positive (small right) ones (Yan et al. 2021). A high flip
    rate in the top band means the small model overturns answers the base was sure of;
    low-confidence rows are expected to flip most (Xia et al. 2021).
    """
    confidence = check_unit_scores(base_conf, "base_conf")
    base = check_class_ids(base_pred, "base_pred", confidence.shape[0], None)
    small = check_class_ids(small_pred, "small_pred", confidence.shape[0], None)
    gold = None if labels is None else check_class_ids(labels, "labels", confidence.shape[0], None)
    checked = _check_bands(bands)
    flipped = base != small
    negative = positive = None
    if gold is not None:
        negative = flipped & (base == gold)
        positive = flipped & (small == gold)
    out = []
    for i, (low, high) in enumerate(checked):
        last = i == len(checked) - 1
        inside = (confidence >= low) & ((confidence <= high) if last else (confidence < high))
        n = int(inside.sum())
        flips = int(np.sum(flipped & inside))
        out.append(ConfidenceBand(
            low=low,
            high=high,
            n=n,
            flips=flips,
            flip_rate=flips / n if n else None,
            negative_flips=None if negative is None else int(np.sum(negative & inside)),
            positive_flips=None if positive is None else int(np.sum(positive & inside)),
        ))
    return tuple(out)
