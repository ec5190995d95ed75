"""Binary (positive-class) views of a classifier and their calibration metrics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from trustaudit.exceptions import InvalidInputError
from trustaudit.metrics._binning import ReliabilityBins, _binned_error, _reliability
from trustaudit._json import frozen_array
from trustaudit._validation import (
    check_binary,
    check_int,
    check_open_unit,
    check_probs_labels,
    check_strategy,
)


@dataclass(frozen=True)
class BinaryView:
    """A binary forecast: ``prob`` of the positive class and ``outcome`` (1 when the label is positive)."""

    prob: np.ndarray
    outcome: np.ndarray
    positive: int


def positive_class_view(probs: ArrayLike, labels: ArrayLike, positive: int = 1) -> BinaryView:
    """View a classifier as a binary forecast of class ``positive``.

    Returns ``prob = probs[:, positive]`` and ``outcome = 1[labels == positive]``. Feed
    them to :func:`binary_calibration_error`, :func:`binary_reliability_bins` and
    :func:`binary_brier_score_loss` for positive-class calibration (what scikit-learn's
    ``calibration_curve`` and ``brier_score_loss`` measure), which differs from the
    top-label view whenever the positive class is not the predicted one.
    """
    p, y = check_probs_labels(probs, labels)
    if isinstance(positive, (bool, np.bool_)) or not isinstance(positive, (int, np.integer)) or not (
        0 <= positive < p.shape[1]
    ):
        raise InvalidInputError(f"positive must be a class id in [0, {p.shape[1]}), got {positive!r}")
    return BinaryView(
        prob=frozen_array(p[:, positive]), outcome=frozen_array(y == positive, np.int64), positive=int(positive)
    )


def binary_calibration_error(prob: ArrayLike, outcome: ArrayLike, n_bins: int = 15, strategy: str = "uniform") -> float:
    """ECE of a binary forecast, in [0, 1]: sum_j (n_j / n) |mean_j(outcome) - mean_j(prob)|.

    Same bins as :func:`expected_calibration_error`, applied to ``prob`` itself rather
    than to a top-label confidence.
    """
    p, o = check_binary(prob, outcome)
    n_bins = check_int(n_bins, "n_bins", 1)
    strategy = check_strategy(strategy)
    return _binned_error(p, o, n_bins, strategy)[0]


def binary_reliability_bins(
    prob: ArrayLike, outcome: ArrayLike, n_bins: int = 15, strategy: str = "uniform", ci_level: float = 0.95
) -> ReliabilityBins:
    """Reliability bins of a binary forecast (``accuracy`` = share of positive outcomes per bin)."""
    p, o = check_binary(prob, outcome)
    n_bins = check_int(n_bins, "n_bins", 1)
    strategy = check_strategy(strategy)
    level = check_open_unit(ci_level, "ci_level")
    return _reliability(p, o, n_bins, strategy, level)


def binary_brier_score_loss(prob: ArrayLike, outcome: ArrayLike) -> float:
    """Brier score of a binary forecast, in [0, 1]: (1/n) sum_i (prob_i - outcome_i)^2.

    scikit-learn's convention; for a 2-class model it is half of :func:`brier_score_loss`.
    """
    p, o = check_binary(prob, outcome)
    return float(np.mean((p - o) ** 2))
