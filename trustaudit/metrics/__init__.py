"""Metrics of an audit: calibration and agreement of a base/small model pair, pure functions on arrays.

Calibration functions take ``probs (n, k)`` and integer ``labels (n,)``.
"""

from trustaudit.metrics.calibration import (
    CALIBRATION_METRICS,
    BinaryView,
    BrierDecomposition,
    CalibrationComparison,
    CalibrationResult,
    MetricComparison,
    ReliabilityBins,
    binary_brier_score_loss,
    binary_calibration_error,
    binary_reliability_bins,
    brier_decomposition,
    brier_score_loss,
    calibration_summary,
    classwise_calibration_error,
    compare_calibration,
    expected_calibration_error,
    maximum_calibration_error,
    negative_log_likelihood,
    positive_class_view,
    reliability_bins,
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
    "expected_calibration_error",
    "maximum_calibration_error",
    "negative_log_likelihood",
    "positive_class_view",
    "reliability_bins",
    "smooth_calibration_error",
]
