"""Binning shared by the calibration metrics: edges, bin of each score, binned errors, reliability bins.

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

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from trustaudit._json import frozen_array, to_jsonable


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
