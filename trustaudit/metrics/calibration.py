"""Calibration metrics of a classifier's predicted probabilities, and their paired comparison.

All functions take ``probs`` of shape ``(n, k)`` (rows summing to 1) and integer
``labels`` of shape ``(n,)``. *Top-label* metrics look at the confidence
``conf_i = max_c probs[i, c]`` of the predicted class ``argmax_c probs[i, c]`` (first
maximum on ties) and whether that prediction is correct.

Binning. ``n_bins`` bins with edges ``0 = e_0 <= e_1 <= ... <= e_B = 1``; bin ``j`` is the
half-open interval ``(e_{j-1}, e_j]`` except the first, which is closed ``[0, e_1]``,
so that scores of exactly 0.0 and 1.0 are counted (torchmetrics drops or misplaces
them). Two ways to place the inner edges:

* ``"uniform"``: ``e_j = j / B`` (equal width; Guo et al., 2017).
* ``"quantile"``: equal mass (Nixon et al., 2019). With ``s`` the sorted scores,
  ``e_j = s[ceil(j * n / B) - 1]`` for ``j = 1..B-1``: the smallest observed score with
  at least ``j * n / B`` scores at or below it (the inverted empirical CDF). Without
  ties bin ``j`` then holds exactly ``ceil(j n / B) - ceil((j - 1) n / B)`` rows. Tied
  scores always share a bin (so the result does not depend on row order); when ties
  straddle a quantile, neighbouring edges coincide and some bins are empty. Empty bins
  contribute nothing to any error.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.fft
import scipy.sparse
from numpy.typing import ArrayLike
from scipy import stats

from trustaudit.exceptions import InvalidInputError
from trustaudit.metrics._bootstrap import CHUNK_ENTRIES, count_weights, percentile_interval, two_sided_p_value
from trustaudit.metrics._registry import metric_function, metrics_in
from trustaudit.metrics._serialize import frozen_array, to_jsonable
from trustaudit.metrics._validation import (
    check_binary,
    check_class_ids,
    check_int,
    check_margins,
    check_open_unit,
    check_positive,
    check_probs,
    check_probs_labels,
    check_strategy,
)

__all__ = [
    "CALIBRATION_METRICS",
    "BinaryView",
    "BrierDecomposition",
    "CalibrationComparison",
    "CalibrationResult",
    "MetricComparison",
    "ReliabilityBins",
    "binary_brier_score_loss",
    "binary_calibration_error",
    "binary_reliability_bins",
    "brier_decomposition",
    "brier_score_loss",
    "calibration_summary",
    "classwise_calibration_error",
    "compare_calibration",
    "calibration_metrics",
    "expected_calibration_error",
    "log_loss",
    "maximum_calibration_error",
    "negative_log_likelihood",
    "positive_class_view",
    "reliability_bins",
    "smooth_calibration_error",
]

#: Result keys of the built-in calibration metrics, in the registry's order. :func:`calibration_metrics`
#: also lists those added at run time with :func:`trustaudit.metrics.register_metric`.
CALIBRATION_METRICS: tuple[str, ...] = tuple(spec.key for spec in metrics_in("calibration"))

_NLL_EPS = 1e-12


# ----------------------------------------------------------------------------- binning


def _bin_edges(scores: np.ndarray, n_bins: int, strategy: str) -> np.ndarray:
    """Bin edges ``e_0..e_B`` as documented in the module docstring."""
    if strategy == "uniform":
        return np.linspace(0.0, 1.0, n_bins + 1)
    ordered = np.sort(scores)
    n = ordered.shape[0]
    j = np.arange(1, n_bins, dtype=np.int64)
    inner = ordered[(j * n + n_bins - 1) // n_bins - 1]
    return np.concatenate(([0.0], inner, [1.0]))


def _bin_index(scores: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each score: the number of inner edges strictly below it, i.e. ``(lo, hi]`` bins."""
    return np.searchsorted(edges[1:-1], scores, side="left")


def _binned_error(scores: np.ndarray, outcomes: np.ndarray, n_bins: int, strategy: str) -> tuple[float, float]:
    """(ECE, MCE) of forecasts ``scores`` for 0/1 ``outcomes``.

    ECE = sum_j |sum_{i in j} (o_i - s_i)| / n; MCE = max over non-empty bins of
    |mean_j(o) - mean_j(s)|.
    """
    index = _bin_index(scores, _bin_edges(scores, n_bins, strategy))
    residual = np.bincount(index, weights=outcomes - scores, minlength=n_bins)
    counts = np.bincount(index, minlength=n_bins)
    filled = counts > 0
    ece = float(np.abs(residual).sum() / scores.shape[0])
    mce = float(np.max(np.abs(residual[filled]) / counts[filled]))
    return ece, mce


def _top_label(probs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Confidence of the predicted class (first argmax) and 1.0 where it is the label."""
    predicted = np.argmax(probs, axis=1)
    confidence = probs[np.arange(probs.shape[0]), predicted]
    return confidence, (predicted == labels).astype(np.float64)


# ----------------------------------------------------------------------------- binned errors


def expected_calibration_error(probs: ArrayLike, labels: ArrayLike, n_bins: int = 15, strategy: str = "uniform") -> float:
    """Top-label expected calibration error, in [0, 1].

    ECE = sum_j (n_j / n) |acc_j - conf_j|, where ``acc_j`` and ``conf_j`` are the
    accuracy and mean confidence of the rows whose confidence falls in bin ``j``
    (binning in the module docstring). Guo et al., "On Calibration of Modern Neural
    Networks", ICML 2017; ``strategy="quantile"`` gives the equal-mass variant of
    Nixon et al., "Measuring Calibration in Deep Learning", CVPR-W 2019.
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
    """
    p, y = check_probs_labels(probs, labels)
    n_bins = check_int(n_bins, "n_bins", 1)
    strategy = check_strategy(strategy)
    errors = [_binned_error(p[:, c], (y == c).astype(np.float64), n_bins, strategy)[0] for c in range(p.shape[1])]
    return float(np.mean(errors))


# ----------------------------------------------------------------------------- proper scores


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
    """
    p, y = check_probs_labels(probs, labels)
    return float(np.mean(_brier_rows(p, y)))


def log_loss(probs: ArrayLike, labels: ArrayLike, eps: float = _NLL_EPS) -> float:
    """Mean negative log-likelihood (log loss) of the gold labels, in [0, -log(eps)].

    NLL = -(1/n) sum_i log(max(p_{i, y_i}, eps)); clipping at ``eps`` keeps a single
    zero-probability label from making the loss infinite. Named after scikit-learn's
    ``log_loss``; results documents call it ``nll``.
    """
    p, y = check_probs_labels(probs, labels)
    eps = check_positive(eps, "eps")
    if eps >= 1.0:
        raise InvalidInputError(f"eps must be < 1, got {eps:g}")
    return float(np.mean(_nll_rows(p, y, eps)))


def negative_log_likelihood(probs: ArrayLike, labels: ArrayLike, eps: float = _NLL_EPS) -> float:
    """Deprecated name of :func:`log_loss` (the metric's registered name); same arguments and result."""
    warnings.warn("negative_log_likelihood is deprecated; use trustaudit.metrics.log_loss", DeprecationWarning, stacklevel=2)
    return log_loss(probs, labels, eps)


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


def brier_decomposition(probs: ArrayLike, labels: ArrayLike, n_bins: int | None = 10) -> BrierDecomposition:
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


# ----------------------------------------------------------------------------- smooth ECE

_SMECE_SIGMA_MIN = 1e-4
_SMECE_POINTS_PER_SIGMA = 20
_SMECE_EVAL_POINTS_PER_SIGMA = 10
_SMECE_TOL = 1e-7
_SMECE_BOOTSTRAP_TOL = 1e-5
_SMECE_BOOTSTRAP_GRID_MAX = 1 << 14


def _smece_grid(sigma: float) -> int:
    """Grid intervals M (a power of two, >= 256) giving a spacing of at most sigma / 20."""
    target = max(256, math.ceil(_SMECE_POINTS_PER_SIGMA / sigma))
    return 1 << (target - 1).bit_length()


def _smece_deposit(scores: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grid cell and linear-interpolation weights putting each score onto the grid j / m."""
    position = scores * m
    cell = np.minimum(np.floor(position).astype(np.int64), m - 1)
    upper = position - cell
    return cell, 1.0 - upper, upper


def _smece_spectrum(grid_mass: np.ndarray) -> np.ndarray:
    """Fourier coefficients of grid masses on [0, 1] reflected onto the circle [0, 2).

    Reflecting about 0 and 1 and wrapping with period 2 turns the reflected Gaussian
    kernel into an ordinary periodic Gaussian, so smoothing is one FFT product.
    """
    m = grid_mass.shape[-1] - 1
    circle = np.zeros(grid_mass.shape[:-1] + (2 * m,))
    circle[..., : m + 1] = grid_mass
    circle[..., m + 1 :] = grid_mass[..., m - 1 : 0 : -1]
    circle[..., 0] += grid_mass[..., 0]
    circle[..., m] += grid_mass[..., m]
    return scipy.fft.rfft(circle, axis=-1)


def _smece_at(spectrum: np.ndarray, sigma: np.ndarray, m: int) -> np.ndarray:
    """smECE_sigma = integral over [0, 1] of |kernel-smoothed residual density| (trapezoid rule).

    The DFT of a periodic Gaussian (period 2) sampled at spacing 1/m is
    m * sum_p exp(-pi^2 sigma^2 (f + 2 m p)^2 / 2). Frequencies whose gain is below
    e^-40 are dropped and the aliased terms p = +-1 are kept only when the kernel is
    narrow enough for them to matter. The smoothed curve is then band-limited, so it is
    evaluated exactly on a coarser grid of spacing <= sigma / 10 (the trapezoid rule of a
    smooth periodic curve converges fast; only the kinks of |.| at zero crossings cost
    accuracy, O(spacing^2)).
    """
    sigma = np.asarray(sigma, dtype=np.float64)
    narrowest = float(np.min(sigma))
    half = (np.pi * sigma[..., None]) ** 2 / 2.0
    top = min(m, math.ceil(2.9 / narrowest))
    points = min(m, 1 << (max(top + 1, math.ceil(_SMECE_EVAL_POINTS_PER_SIGMA / narrowest)) - 1).bit_length())
    freq = np.arange(top + 1, dtype=np.float64)
    gain = np.exp(-half * freq**2)
    if top == m:
        gain = gain + np.exp(-half * (freq - 2 * m) ** 2) + np.exp(-half * (freq + 2 * m) ** 2)
    smoothed = scipy.fft.irfft(spectrum[..., : top + 1] * (points * gain), n=2 * points, axis=-1)
    magnitude = np.abs(smoothed[..., : points + 1])
    return (magnitude.sum(axis=-1) - (magnitude[..., 0] + magnitude[..., -1]) / 2.0) / points


def _fixed_point(value_at: Callable[[np.ndarray], np.ndarray], size: int, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Solve smECE_sigma = sigma by bisection on [1e-4, 1], vectorised over ``size`` problems.

    smECE_sigma does not increase with sigma (reflected Gaussian smoothing is a
    contraction semigroup), so smECE_sigma - sigma is decreasing and the root is unique.
    Returns (smECE at the root, the root). When smECE_1e-4 <= 1e-4 already the width is
    clamped at 1e-4 and smECE at that width is returned.
    """
    floor = np.full(size, _SMECE_SIGMA_MIN)
    at_floor = value_at(floor)
    clamped = at_floor <= floor
    if clamped.all():
        return at_floor, floor
    low, high = floor.copy(), np.ones(size)
    for _ in range(math.ceil(math.log2((1.0 - _SMECE_SIGMA_MIN) / tol))):
        middle = (low + high) / 2.0
        above = value_at(middle) > middle
        low = np.where(above, middle, low)
        high = np.where(above, high, middle)
    root = (low + high) / 2.0
    return np.where(clamped, at_floor, root), np.where(clamped, floor, root)


def _smooth_ece(scores: np.ndarray, outcomes: np.ndarray) -> tuple[float, float]:
    """(smECE, sigma*) of forecasts ``scores`` for 0/1 ``outcomes``; grid refined with sigma."""
    residual = (outcomes - scores) / scores.shape[0]
    spectra: dict[int, np.ndarray] = {}

    def value_at(sigma: np.ndarray) -> np.ndarray:
        m = _smece_grid(float(sigma[0]))
        if m not in spectra:
            cell, lower, upper = _smece_deposit(scores, m)
            mass = np.bincount(cell, lower * residual, m + 1) + np.bincount(cell + 1, upper * residual, m + 1)
            spectra[m] = _smece_spectrum(mass)
        return _smece_at(spectra[m], sigma, m)

    value, sigma = _fixed_point(value_at, 1, _SMECE_TOL)
    return float(value[0]), float(sigma[0])


def smooth_calibration_error(probs: ArrayLike, labels: ArrayLike) -> float:
    """Top-label smooth ECE (smECE) of Blasiok & Nakkiran, in [0, 1].

    With residuals r_i = 1[correct_i] - conf_i and the Gaussian kernel reflected at 0
    and 1, K_sigma(t, c) = sum_m phi_sigma(t - c - 2m) + phi_sigma(t + c - 2m):
    smECE_sigma = integral_0^1 |(1/n) sum_i K_sigma(t, conf_i) r_i| dt, and smECE is
    smECE_sigma* at the unique sigma* with smECE_sigma* = sigma* (found by bisection to
    1e-7; width clamped at 1e-4). Numerically, the rows are spread onto a grid of
    spacing <= sigma/20 by linear interpolation and smoothed by FFT; the result agrees
    with direct summation to about 1e-3 relative. Blasiok & Nakkiran, "Smooth ECE:
    Principled Reliability Diagrams via Kernel Smoothing", ICLR 2024.
    """
    p, y = check_probs_labels(probs, labels)
    return _smooth_ece(*_top_label(p, y))[0]


# ----------------------------------------------------------------------------- reliability bins


@dataclass(frozen=True)
class ReliabilityBins:
    """Per-bin statistics for a reliability diagram.

    ``edges`` has ``n_bins + 1`` entries; the other arrays one per bin. ``accuracy`` is
    the share of correct predictions (or of positive outcomes, for a binary view),
    ``mean_confidence`` the mean forecast, ``ci_low``/``ci_high`` the Clopper-Pearson
    interval of ``accuracy`` at ``ci_level``. Empty bins have count 0 and NaN elsewhere.
    """

    edges: np.ndarray
    counts: np.ndarray
    mean_confidence: np.ndarray
    accuracy: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    n_bins: int
    strategy: str
    ci_level: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe plain-Python form (NaN becomes None)."""
        return to_jsonable(self)


def _reliability(scores: np.ndarray, outcomes: np.ndarray, n_bins: int, strategy: str, level: float) -> ReliabilityBins:
    edges = _bin_edges(scores, n_bins, strategy)
    index = _bin_index(scores, edges)
    counts = np.bincount(index, minlength=n_bins)
    hits = np.rint(np.bincount(index, weights=outcomes, minlength=n_bins))
    filled = counts > 0
    safe = np.where(filled, counts, 1)
    with np.errstate(invalid="ignore"):
        mean_conf = np.where(filled, np.bincount(index, weights=scores, minlength=n_bins) / safe, np.nan)
        accuracy = np.where(filled, hits / safe, np.nan)
    tail = (1.0 - level) / 2.0
    low = stats.beta.ppf(tail, np.maximum(hits, 1), safe - hits + 1)
    high = stats.beta.ppf(1.0 - tail, hits + 1, np.maximum(safe - hits, 1))
    low = np.where(hits == 0, 0.0, low)
    high = np.where(hits == safe, 1.0, high)
    return ReliabilityBins(
        edges=frozen_array(edges),
        counts=frozen_array(counts, np.int64),
        mean_confidence=frozen_array(mean_conf),
        accuracy=frozen_array(accuracy),
        ci_low=frozen_array(np.where(filled, low, np.nan)),
        ci_high=frozen_array(np.where(filled, high, np.nan)),
        n_bins=n_bins,
        strategy=strategy,
        ci_level=level,
    )


def reliability_bins(
    probs: ArrayLike, labels: ArrayLike, n_bins: int = 15, strategy: str = "uniform", ci_level: float = 0.95
) -> ReliabilityBins:
    """Top-label reliability-diagram bins with Clopper-Pearson intervals per bin.

    The interval of bin j with m rows and x correct is [Beta^-1(a/2; x, m-x+1),
    Beta^-1(1-a/2; x+1, m-x)], a = 1 - ci_level (0 below when x = 0, 1 above when
    x = m); Clopper & Pearson, Biometrika 1934.
    """
    p, y = check_probs_labels(probs, labels)
    n_bins = check_int(n_bins, "n_bins", 1)
    strategy = check_strategy(strategy)
    level = check_open_unit(ci_level, "ci_level")
    return _reliability(*_top_label(p, y), n_bins, strategy, level)


# ----------------------------------------------------------------------------- binary view


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


# ----------------------------------------------------------------------------- summary


@dataclass(frozen=True)
class CalibrationResult:
    """Calibration of one model on one labelled set; see each metric's function for its definition."""

    ece: float
    ece_quantile: float
    mce: float
    classwise_ece: float
    smooth_ece: float
    brier: float
    nll: float
    bins: ReliabilityBins
    accuracy: float
    mean_confidence: float
    smooth_ece_sigma: float
    n: int
    n_classes: int
    settings: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, float] = field(default_factory=dict)

    def value(self, key: str) -> float:
        """A calibration metric by result key: a built-in field or one in ``extra`` (registered at run time)."""
        return self.extra[key] if key in self.extra else float(getattr(self, key))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe plain-Python form (NaN becomes None)."""
        return to_jsonable(self)


def calibration_metrics() -> tuple[str, ...]:
    """Result keys of every registered calibration metric, built-in ones first."""
    return tuple(spec.key for spec in metrics_in("calibration"))


def _registered_functions() -> dict[str, Callable[[np.ndarray, np.ndarray], float]]:
    """The functions of calibration metrics registered at run time, by result key."""
    return {spec.key: fn for spec in metrics_in("calibration") if (fn := metric_function(spec.name)) is not None}


def _summary(p: np.ndarray, y: np.ndarray, n_bins: int) -> CalibrationResult:
    conf, correct = _top_label(p, y)
    ece, mce = _binned_error(conf, correct, n_bins, "uniform")
    classwise = [_binned_error(p[:, c], (y == c).astype(np.float64), n_bins, "uniform")[0] for c in range(p.shape[1])]
    smooth, sigma = _smooth_ece(conf, correct)
    return CalibrationResult(
        ece=ece,
        ece_quantile=_binned_error(conf, correct, n_bins, "quantile")[0],
        mce=mce,
        classwise_ece=float(np.mean(classwise)),
        smooth_ece=smooth,
        brier=float(np.mean(_brier_rows(p, y))),
        nll=float(np.mean(_nll_rows(p, y, _NLL_EPS))),
        bins=_reliability(conf, correct, n_bins, "uniform", 0.95),
        accuracy=float(np.mean(correct)),
        mean_confidence=float(np.mean(conf)),
        smooth_ece_sigma=sigma,
        n=int(p.shape[0]),
        n_classes=int(p.shape[1]),
        settings={
            "n_bins": n_bins,
            "ece": "top-label, uniform bins",
            "ece_quantile": "top-label, equal-mass bins",
            "mce": "top-label, uniform bins, non-empty bins only",
            "classwise_ece": "mean over classes, uniform bins",
            "smooth_ece": "top-label, reflected Gaussian kernel, sigma* fixed point",
            "brier": "multiclass sum over classes, range [0, 2]",
            "nll": f"natural log, probabilities clipped at {_NLL_EPS:g}",
            "bins": "top-label, uniform bins, Clopper-Pearson 95%",
        },
        extra={key: float(fn(p, y)) for key, fn in _registered_functions().items()},
    )


def calibration_summary(probs: ArrayLike, labels: ArrayLike, n_bins: int = 15) -> CalibrationResult:
    """Every calibration metric of one model at once (the audit's calibration section)."""
    p, y = check_probs_labels(probs, labels)
    return _summary(p, y, check_int(n_bins, "n_bins", 1))


# ----------------------------------------------------------------------------- comparison


@dataclass(frozen=True)
class MetricComparison:
    """One metric of both models, their difference and its paired-bootstrap uncertainty.

    ``diff = small - base``. ``ci_low``/``ci_high``: percentile interval of the
    bootstrap differences at the comparison's ``confidence``. ``p_value``: two-sided,
    ``min(1, 2 min(P(d* <= 0), P(d* >= 0)))``. With a ``margin``: ``tost_low``/``tost_high``
    is the (1 - 2 alpha) percentile interval, alpha = 1 - confidence, and ``equivalent``
    is true iff it lies inside (-margin, +margin) (two one-sided tests). Fields are None
    when not computed (no resamples, no margin).
    """

    metric: str
    base: float
    small: float
    diff: float
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    margin: float | None
    tost_low: float | None
    tost_high: float | None
    equivalent: bool | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe plain-Python form."""
        return to_jsonable(self)


@dataclass(frozen=True)
class CalibrationComparison:
    """Paired comparison of the calibration of a base and a small model on the same rows."""

    metrics: dict[str, MetricComparison]
    base: CalibrationResult
    small: CalibrationResult
    n: int
    n_classes: int
    n_bins: int
    n_resamples: int
    seed: int
    confidence: float
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe plain-Python form (NaN becomes None)."""
        return to_jsonable(self)


class _BootstrapModel:
    """Per-row quantities of one model arranged so that a resample's metrics follow from ``W @ D``.

    Columns of ``D``: top-label residual o - conf per uniform bin (B), row count per
    uniform bin (B), residual per equal-mass bin (B, edges fixed at the full sample's),
    classwise residual 1[y=c] - p_c per class and uniform bin (k B), Brier, NLL.
    ``grid`` spreads residual / n onto the smooth-ECE grid (at most 2^14 intervals; its
    spectra are computed ``block`` resamples at a time to bound memory). Both are sparse: a
    dense-by-sparse product is single-threaded and immune to the slow-down of
    multi-threaded BLAS on busy cores.
    """

    def __init__(self, probs: np.ndarray, labels: np.ndarray, n_bins: int, sigma: float) -> None:
        n, k = probs.shape
        conf, correct = _top_label(probs, labels)
        residual = correct - conf
        rows = np.arange(n)
        uniform = _bin_index(conf, _bin_edges(conf, n_bins, "uniform"))
        quantile = _bin_index(conf, _bin_edges(conf, n_bins, "quantile"))
        columns = [uniform, n_bins + uniform, 2 * n_bins + quantile]
        values = [residual, np.ones(n), residual]
        for c in range(k):
            score = probs[:, c]
            columns.append((3 + c) * n_bins + _bin_index(score, _bin_edges(score, n_bins, "uniform")))
            values.append((labels == c) - score)
        width = (3 + k) * n_bins + 2
        columns += [np.full(n, width - 2), np.full(n, width - 1)]
        values += [_brier_rows(probs, labels), _nll_rows(probs, labels, _NLL_EPS)]
        self.design = scipy.sparse.csr_matrix(
            (np.concatenate(values), (np.tile(rows, len(columns)), np.concatenate(columns))), shape=(n, width)
        )
        self.m = min(_smece_grid(max(sigma / 2.0, _SMECE_SIGMA_MIN)), _SMECE_BOOTSTRAP_GRID_MAX)
        self.block = max(1, CHUNK_ENTRIES // (2 * self.m))
        cell, lower, upper = _smece_deposit(conf, self.m)
        share = residual / n
        self.grid = scipy.sparse.csr_matrix(
            (np.concatenate([lower * share, upper * share]), (np.tile(rows, 2), np.concatenate([cell, cell + 1]))),
            shape=(n, self.m + 1),
        )
        self.n, self.k, self.n_bins = n, k, n_bins

    def _smooth_ece(self, weights: np.ndarray) -> np.ndarray:
        spectrum = _smece_spectrum(np.asarray(weights @ self.grid))
        return _fixed_point(lambda s: _smece_at(spectrum, s, self.m), weights.shape[0], _SMECE_BOOTSTRAP_TOL)[0]

    def statistics(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """Every metric for each resample (rows of ``weights``, each summing to n)."""
        sums = np.asarray(weights @ self.design)
        b, n = self.n_bins, self.n
        residual, counts = sums[:, :b], sums[:, b : 2 * b]
        with np.errstate(invalid="ignore", divide="ignore"):
            gaps = np.where(counts > 0, np.abs(residual) / counts, -np.inf)
        smooth = np.concatenate(
            [self._smooth_ece(weights[start : start + self.block]) for start in range(0, weights.shape[0], self.block)]
        )
        return {
            "ece": np.abs(residual).sum(axis=1) / n,
            "ece_quantile": np.abs(sums[:, 2 * b : 3 * b]).sum(axis=1) / n,
            "mce": gaps.max(axis=1),
            "classwise_ece": np.abs(sums[:, 3 * b : (3 + self.k) * b]).sum(axis=1) / (n * self.k),
            "smooth_ece": smooth,
            "brier": sums[:, -2] / n,
            "nll": sums[:, -1] / n,
        }


def _on_resamples(
    function: Callable[[np.ndarray, np.ndarray], float], probs: np.ndarray, labels: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """A metric function evaluated on each resample: row ``i`` repeated ``weights[r, i]`` times."""
    rows = np.arange(probs.shape[0])
    out = np.empty(weights.shape[0])
    for r, counts in enumerate(weights):
        index = np.repeat(rows, counts.astype(np.int64))
        out[r] = function(probs[index], labels[index])
    return out


def compare_calibration(
    base_probs: ArrayLike,
    small_probs: ArrayLike,
    labels: ArrayLike,
    n_bins: int = 15,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    margins: Mapping[str, float] | None = None,
) -> CalibrationComparison:
    """Compare two models' calibration on the same labelled rows with a paired bootstrap.

    Each resample draws n rows with replacement once and evaluates *both* models on
    those rows, so the interval of ``small - base`` reflects only the models'
    difference. Resamples are multinomial count weights, and each model's metrics follow
    from weighted per-bin sums (see ``_BootstrapModel``), which is exact for the binned
    metrics, Brier and NLL. Approximations: equal-mass bin edges stay at the full
    sample's quantiles (the comparison is conditional on the binning), and smooth ECE
    uses a grid fixed from half the full sample's sigma* (at most 2^14 intervals) and a
    bisection tolerance of 1e-5. A calibration metric registered at run time is evaluated
    on each resample's rows (the same rows for both models). ``n_resamples=0`` skips the
    bootstrap (intervals None). ``margins`` maps keys of :func:`calibration_metrics` to equivalence
    margins for a TOST decision (see :class:`MetricComparison`). Efron & Tibshirani, "An Introduction to the
    Bootstrap", 1993; Schuirmann, J. Pharmacokinetics and Biopharmaceutics, 1987 (TOST).
    """
    base = check_probs(base_probs, "base_probs")
    small = check_probs(small_probs, "small_probs")
    if base.shape != small.shape:
        raise InvalidInputError(
            f"base_probs and small_probs must have the same shape, got {base.shape} and {small.shape}"
        )
    y = check_class_ids(labels, "labels", base.shape[0], base.shape[1])
    n_bins = check_int(n_bins, "n_bins", 1)
    n_resamples = check_int(n_resamples, "n_resamples", 0)
    seed = check_int(seed, "seed", 0)
    confidence = check_open_unit(confidence, "confidence")
    if confidence <= 0.5:
        raise InvalidInputError(f"confidence must be in (0.5, 1) for a two-sided interval, got {confidence:g}")
    keys = calibration_metrics()
    functions = _registered_functions()
    margin_of = check_margins(margins, keys)

    summaries = (_summary(base, y, n_bins), _summary(small, y, n_bins))
    draws: dict[str, np.ndarray] = {}
    if n_resamples > 0:
        models = [
            _BootstrapModel(probs, y, n_bins, summary.smooth_ece_sigma)
            for probs, summary in zip((base, small), summaries)
        ]
        parts: dict[str, list[np.ndarray]] = {name: [] for name in keys}
        for weights in count_weights(base.shape[0], n_resamples, seed):
            base_stats, small_stats = (model.statistics(weights) for model in models)
            for key, function in functions.items():
                base_stats[key] = _on_resamples(function, base, y, weights)
                small_stats[key] = _on_resamples(function, small, y, weights)
            for name in keys:
                parts[name].append(small_stats[name] - base_stats[name])
        draws = {name: np.concatenate(chunks) for name, chunks in parts.items()}

    alpha = 1.0 - confidence
    metrics: dict[str, MetricComparison] = {}
    for name in keys:
        b_value, s_value = summaries[0].value(name), summaries[1].value(name)
        margin = margin_of.get(name)
        ci = tost = (None, None)
        p_value = equivalent = None
        if name in draws:
            ci = percentile_interval(draws[name], confidence)
            p_value = two_sided_p_value(draws[name])
            if margin is not None:
                tost = percentile_interval(draws[name], 1.0 - 2.0 * alpha)
                equivalent = bool(-margin < tost[0] and tost[1] < margin)
        metrics[name] = MetricComparison(
            metric=name,
            base=b_value,
            small=s_value,
            diff=s_value - b_value,
            ci_low=ci[0],
            ci_high=ci[1],
            p_value=p_value,
            margin=margin,
            tost_low=tost[0],
            tost_high=tost[1],
            equivalent=equivalent,
        )
    return CalibrationComparison(
        metrics=metrics,
        base=summaries[0],
        small=summaries[1],
        n=int(base.shape[0]),
        n_classes=int(base.shape[1]),
        n_bins=n_bins,
        n_resamples=n_resamples,
        seed=seed,
        confidence=confidence,
        settings={
            "bootstrap": "paired, multinomial row counts shared by both models",
            "interval": "percentile",
            "p_value": "min(1, 2 * min(P(d* <= 0), P(d* >= 0)))",
            "tost": "equivalent iff the (1 - 2 * (1 - confidence)) percentile interval lies in (-margin, margin)",
            "ece_quantile_edges": "fixed at the full sample's quantiles",
            "smooth_ece_bootstrap": "grid from half the full-sample sigma* (<= 2^14 intervals), bisection tolerance 1e-5",
        },
    )
