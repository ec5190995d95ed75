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

The implementation is split by method; this module is the public face that re-exports them:
``_binning`` (bin edges, binned errors, reliability bins), ``_binned`` (ECE, MCE, classwise
ECE, :func:`reliability_bins`), ``_scores`` (Brier, log loss, Brier decomposition),
``_smooth_ece`` (smooth ECE), ``_binary`` (positive-class views) and
``_compare_calibration`` (per-model summary and the paired bootstrap comparison).
"""

from __future__ import annotations

from trustaudit.metrics._binary import (
    BinaryView,
    binary_brier_score_loss,
    binary_calibration_error,
    binary_reliability_bins,
    positive_class_view,
)
from trustaudit.metrics._binned import (
    classwise_calibration_error,
    expected_calibration_error,
    maximum_calibration_error,
    reliability_bins,
)
from trustaudit.metrics._binning import (  # noqa: F401  (private helpers re-exported for tests and older imports)
    ReliabilityBins,
    _bin_edges,
    _bin_index,
    _binned_error,
    _reliability,
    _top_label,
)
from trustaudit.metrics._compare_calibration import (  # noqa: F401
    CalibrationComparison,
    CalibrationResult,
    MetricComparison,
    _BootstrapModel,
    _on_resamples,
    _registered_functions,
    _summary,
    calibration_metrics,
    calibration_summary,
    compare_calibration,
)
from trustaudit.metrics._registry import metrics_in
from trustaudit.metrics._scores import (  # noqa: F401
    _NLL_EPS,
    BrierDecomposition,
    _brier_rows,
    _nll_rows,
    brier_decomposition,
    brier_score_loss,
    log_loss,
    negative_log_likelihood,
)
from trustaudit.metrics._smooth_ece import (  # noqa: F401
    _SMECE_BOOTSTRAP_GRID_MAX,
    _SMECE_BOOTSTRAP_TOL,
    _SMECE_EVAL_POINTS_PER_SIGMA,
    _SMECE_POINTS_PER_SIGMA,
    _SMECE_SIGMA_MIN,
    _SMECE_TOL,
    _fixed_point,
    _smece_at,
    _smece_deposit,
    _smece_grid,
    _smece_spectrum,
    _smooth_ece,
    smooth_calibration_error,
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
