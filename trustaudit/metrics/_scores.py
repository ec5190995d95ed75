"""Proper scores of predicted probabilities: Brier score, log loss and the Brier decomposition."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from trustaudit.exceptions import InvalidInputError
from trustaudit.metrics._binning import _bin_index
from trustaudit._json import to_jsonable
from trustaudit._validation import check_int, check_positive, check_probs_labels

_NLL_EPS = 1e-12


def _brier_rows(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-row multiclass Brier score sum_c (p_c - 1[y = c])^2."""
    squared = probs**2
    rows = np.arange(probs.shape[0])
    picked = probs[rows, labels]
    return squared.sum(axis=1) - picked**2 + (1.0 - picked) ** 2


def _nll_rows(probs: np.ndarray, labels: np.ndarray, eps: float) -> np.ndarray:
    """Per-row negative log-likelihood -log(max(p_y, eps))."""
    return -np.log(np.clip(probs[np.arange(probs.shape[0]), labels], eps, 1.0))


def brier_score_loss(probs: ArrayLike, labels: ArrayLike) -> float:
    """Multiclass Brier score, in [0, 2].

    BS = (1/n) sum_i sum_c (p_ic - 1[y_i = c])^2 (Brier, "Verification of forecasts
    expressed in terms of probability", Monthly Weather Review, 1950). For two classes
    this is twice scikit-learn's ``brier_score_loss`` of the positive-class probability;
    :func:`binary_brier_score_loss` gives that form.

    Parameters
    ----------
    probs : array-like of shape (n, k)
        Predicted class probabilities, rows summing to 1.
    labels : array-like of shape (n,)
        Integer gold labels in ``[0, k)``.

    Returns
    -------
    float
        The mean multiclass Brier score.

    Examples
    --------
    >>> from trustaudit.metrics import brier_score_loss
    >>> probs = [[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]]
    >>> round(brier_score_loss(probs, [0, 1, 1, 0]), 4)
    0.45
    """
    p, y = check_probs_labels(probs, labels)
    return float(np.mean(_brier_rows(p, y)))


def log_loss(probs: ArrayLike, labels: ArrayLike, *, eps: float = _NLL_EPS) -> float:
    """Mean negative log-likelihood (log loss) of the gold labels, in [0, -log(eps)].

    NLL = -(1/n) sum_i log(max(p_{i, y_i}, eps)); clipping at ``eps`` keeps a single
    zero-probability label from making the loss infinite. Named after scikit-learn's
    ``log_loss``; results documents call it ``nll``.

    Parameters
    ----------
    probs : array-like of shape (n, k)
        Predicted class probabilities, rows summing to 1.
    labels : array-like of shape (n,)
        Integer gold labels in ``[0, k)``.
    eps : float, default 1e-12
        Floor of the gold-label probability, in (0, 1).

    Returns
    -------
    float
        The mean negative log-likelihood (natural log).

    Examples
    --------
    >>> from trustaudit.metrics import log_loss
    >>> probs = [[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]]
    >>> round(log_loss(probs, [0, 1, 1, 0]), 4)
    0.6456
    """
    p, y = check_probs_labels(probs, labels)
    eps = check_positive(eps, "eps")
    if eps >= 1.0:
        raise InvalidInputError(f"eps must be < 1, got {eps:g}")
    return float(np.mean(_nll_rows(p, y, eps)))


def negative_log_likelihood(probs: ArrayLike, labels: ArrayLike, eps: float = _NLL_EPS) -> float:
    """Deprecated name of :func:`log_loss` (the metric's registered name); same arguments and result."""
    warnings.warn("negative_log_likelihood is deprecated; use trustaudit.metrics.log_loss", DeprecationWarning, stacklevel=2)
    return log_loss(probs, labels, eps=eps)


@dataclass(frozen=True)
class BrierDecomposition:
    """The multiclass Brier score split into parts that add up to it exactly.

    ``brier = reliability - resolution + uncertainty + within_variance - within_covariance``;
    the last two are zero when rows are grouped by their exact forecast (``n_bins=None``).
    """

    reliability: float
    resolution: float
    uncertainty: float
    within_variance: float
    within_covariance: float
    brier: float
    n_groups: int
    n_bins: int | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe plain-Python form."""
        return to_jsonable(self)


def brier_decomposition(probs: ArrayLike, labels: ArrayLike, *, n_bins: int | None = 10) -> BrierDecomposition:
    """Murphy decomposition of the multiclass Brier score: reliability, resolution, uncertainty.

    Rows are grouped by forecast: with ``n_bins`` each class probability is put into one of
    ``n_bins`` equal-width bins (``(lo, hi]``, the first closed at 0) and a group is one
    cell of that grid; with ``n_bins=None`` a group is one exact forecast vector. Softmax
    outputs are almost never exactly equal, so exact grouping makes every row its own group
    (reliability = Brier, resolution = uncertainty) and says nothing: bin them.

    With n_g rows in group g, f_g their mean forecast, o_g their mean one-hot label and o
    the overall label frequencies: reliability = (1/n) sum_g n_g ||f_g - o_g||^2,
    resolution = (1/n) sum_g n_g ||o_g - o||^2, uncertainty = sum_c o_c (1 - o_c). Binning
    adds the within-group variance of the forecasts, (1/n) sum_i ||p_i - f_g||^2, and the
    within-group covariance of forecasts and outcomes, (2/n) sum_i (p_i - f_g).(y_i - o_g),
    so that reliability - resolution + uncertainty + variance - covariance equals
    :func:`brier_score_loss` exactly (up to float rounding). Murphy, "A New Vector
    Partition of the Probability Score", J. Applied Meteorology, 1973; the within-bin terms
    from Stephenson, Coelho & Jolliffe, "Two Extra Components in the Brier Score
    Decomposition", Weather and Forecasting, 2008.

    Parameters
    ----------
    probs : array-like of shape (n, k)
        Predicted class probabilities, rows summing to 1.
    labels : array-like of shape (n,)
        Integer gold labels in ``[0, k)``.
    n_bins : int or None, default 10
        Equal-width bins per class probability (>= 1), or None to group by exact forecast.

    Returns
    -------
    BrierDecomposition
        The parts, the Brier score and the number of groups.

    Examples
    --------
    >>> from trustaudit.metrics import brier_decomposition
    >>> probs = [[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]]
    >>> parts = brier_decomposition(probs, [0, 1, 1, 0], n_bins=5)
    >>> round(parts.reliability, 4), round(parts.resolution, 4), round(parts.uncertainty, 4)
    (0.45, 0.5, 0.5)
    >>> total = parts.reliability - parts.resolution + parts.uncertainty
    >>> round(total + parts.within_variance - parts.within_covariance, 4) == round(parts.brier, 4)
    True
    """
    p, y = check_probs_labels(probs, labels)
    n, k = p.shape
    if n_bins is not None:
        n_bins = check_int(n_bins, "n_bins", 1)
        edges = np.linspace(0.0, 1.0, n_bins + 1)
        cells = np.stack([_bin_index(p[:, c], edges) for c in range(k)], axis=1)
    else:
        cells = p
    unique, group = np.unique(cells, axis=0, return_inverse=True)
    group = group.reshape(-1)
    n_groups = unique.shape[0]
    sizes = np.bincount(group, minlength=n_groups).astype(np.float64)
    onehot = np.zeros((n, k))
    onehot[np.arange(n), y] = 1.0
    if n_bins is None:
        forecasts = unique
    else:
        forecasts = np.zeros((n_groups, k))
        np.add.at(forecasts, group, p)
        forecasts /= sizes[:, None]
    observed = np.zeros((n_groups, k))
    np.add.at(observed, group, onehot)
    observed /= sizes[:, None]
    overall = onehot.mean(axis=0)
    spread = p - forecasts[group]
    reliability = float(np.sum(sizes * np.sum((forecasts - observed) ** 2, axis=1)) / n)
    resolution = float(np.sum(sizes * np.sum((observed - overall) ** 2, axis=1)) / n)
    uncertainty = float(np.sum(overall * (1.0 - overall)))
    within_variance = float(np.sum(spread**2) / n)
    within_covariance = float(2.0 * np.sum(spread * (onehot - observed[group])) / n)
    return BrierDecomposition(
        reliability, resolution, uncertainty, within_variance, within_covariance,
        float(np.mean(_brier_rows(p, y))), n_groups, n_bins,
    )
