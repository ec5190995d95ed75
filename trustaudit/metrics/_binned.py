"""Binned top-label calibration errors (ECE, MCE, classwise ECE) and reliability-diagram bins.

Binning is described in :mod:`trustaudit.metrics._binning`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from trustaudit.metrics._binning import ReliabilityBins, _binned_error, _reliability, _top_label
from trustaudit._validation import check_int, check_open_unit, check_probs_labels, check_strategy


def expected_calibration_error(probs: ArrayLike, labels: ArrayLike, n_bins: int = 15, strategy: str = "uniform") -> float:
    """Top-label expected calibration error, in [0, 1].

    ECE = sum_j (n_j / n) |acc_j - conf_j|, where ``acc_j`` and ``conf_j`` are the
    accuracy and mean confidence of the rows whose confidence falls in bin ``j``
    (binning in the module docstring). Guo et al., "On Calibration of Modern Neural
    Networks", ICML 2017; ``strategy="quantile"`` gives the equal-mass variant of
    Nixon et al., "Measuring Calibration in Deep Learning", CVPR-W 2019.

    Parameters
    ----------
    probs : array-like of shape (n, k)
        Predicted class probabilities, rows summing to 1.
    labels : array-like of shape (n,)
        Integer gold labels in ``[0, k)``.
    n_bins : int, default 15
        Number of bins (>= 1).
    strategy : {"uniform", "quantile"}, default "uniform"
        Equal-width or equal-mass bins.

    Returns
    -------
    float
        The ECE.

    Examples
    --------
    >>> from trustaudit.metrics import expected_calibration_error
    >>> probs = [[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]]
    >>> round(expected_calibration_error(probs, [0, 1, 1, 0], n_bins=5), 4)
    0.25
    """
    p, y = check_probs_labels(probs, labels)
    n_bins = check_int(n_bins, "n_bins", 1)
    strategy = check_strategy(strategy)
    return _binned_error(*_top_label(p, y), n_bins, strategy)[0]


def maximum_calibration_error(probs: ArrayLike, labels: ArrayLike, n_bins: int = 15, strategy: str = "uniform") -> float:
    """Top-label maximum calibration error, in [0, 1].

    MCE = max_j |acc_j - conf_j| over the non-empty bins (same bins as
    :func:`expected_calibration_error`). Naeini et al., "Obtaining Well Calibrated
    Probabilities Using Bayesian Binning", AAAI 2015. Always >= ECE.

    Parameters
    ----------
    probs : array-like of shape (n, k)
        Predicted class probabilities, rows summing to 1.
    labels : array-like of shape (n,)
        Integer gold labels in ``[0, k)``.
    n_bins : int, default 15
        Number of bins (>= 1).
    strategy : {"uniform", "quantile"}, default "uniform"
        Equal-width or equal-mass bins.

    Returns
    -------
    float
        The MCE.

    Examples
    --------
    >>> from trustaudit.metrics import maximum_calibration_error
    >>> probs = [[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]]
    >>> round(maximum_calibration_error(probs, [0, 1, 1, 0], n_bins=5), 4)
    0.4
    """
    p, y = check_probs_labels(probs, labels)
    n_bins = check_int(n_bins, "n_bins", 1)
    strategy = check_strategy(strategy)
    return _binned_error(*_top_label(p, y), n_bins, strategy)[1]


def classwise_calibration_error(probs: ArrayLike, labels: ArrayLike, n_bins: int = 15, strategy: str = "uniform") -> float:
    """Classwise ECE averaged over classes, in [0, 1].

    classwise-ECE = (1/k) sum_c sum_j (n_{c,j} / n) |freq_{c,j} - mean_{c,j}(p_c)|, where
    class ``c``'s probabilities ``probs[:, c]`` are binned on their own (edges computed
    from that class's probabilities for ``"quantile"``) and ``freq_{c,j}`` is the share of
    those rows labelled ``c``. Kull et al.,
    "Beyond temperature scaling: Obtaining well-calibrated multiclass probabilities with
    Dirichlet calibration", NeurIPS 2019.

    Parameters
    ----------
    probs : array-like of shape (n, k)
        Predicted class probabilities, rows summing to 1.
    labels : array-like of shape (n,)
        Integer gold labels in ``[0, k)``.
    n_bins : int, default 15
        Number of bins (>= 1).
    strategy : {"uniform", "quantile"}, default "uniform"
        Equal-width or equal-mass bins.

    Returns
    -------
    float
        The classwise ECE, averaged over the k classes.

    Examples
    --------
    >>> from trustaudit.metrics import classwise_calibration_error
    >>> probs = [[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]]
    >>> round(classwise_calibration_error(probs, [0, 1, 1, 0], n_bins=5), 4)
    0.375
    """
    p, y = check_probs_labels(probs, labels)
    n_bins = check_int(n_bins, "n_bins", 1)
    strategy = check_strategy(strategy)
    errors = [_binned_error(p[:, c], (y == c).astype(np.float64), n_bins, strategy)[0] for c in range(p.shape[1])]
    return float(np.mean(errors))


def reliability_bins(
    probs: ArrayLike, labels: ArrayLike, *, n_bins: int = 15, strategy: str = "uniform", ci_level: float = 0.95
) -> ReliabilityBins:
    """Top-label reliability-diagram bins with Clopper-Pearson intervals per bin.

    The interval of bin j with m rows and x correct is [Beta^-1(a/2; x, m-x+1),
    Beta^-1(1-a/2; x+1, m-x)], a = 1 - ci_level (0 below when x = 0, 1 above when
    x = m); Clopper & Pearson, Biometrika 1934.

    Parameters
    ----------
    probs : array-like of shape (n, k)
        Predicted class probabilities, rows summing to 1.
    labels : array-like of shape (n,)
        Integer gold labels in ``[0, k)``.
    n_bins : int, default 15
        Number of bins (>= 1).
    strategy : {"uniform", "quantile"}, default "uniform"
        Equal-width or equal-mass bins.
    ci_level : float, default 0.95
        Level of the per-bin Clopper-Pearson intervals, in (0, 1).

    Returns
    -------
    ReliabilityBins
        Edges, counts, mean confidence, accuracy and interval of each bin.

    Examples
    --------
    >>> from trustaudit.metrics import reliability_bins
    >>> probs = [[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]]
    >>> bins = reliability_bins(probs, [0, 1, 1, 0], n_bins=5)
    >>> bins.counts.tolist()
    [0, 0, 1, 2, 1]
    >>> bins.accuracy[2:].tolist()
    [1.0, 0.5, 1.0]
    """
    p, y = check_probs_labels(probs, labels)
    n_bins = check_int(n_bins, "n_bins", 1)
    strategy = check_strategy(strategy)
    level = check_open_unit(ci_level, "ci_level")
    return _reliability(*_top_label(p, y), n_bins, strategy, level)
