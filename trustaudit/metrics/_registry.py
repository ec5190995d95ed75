"""The one place each metric's direction and bounds are declared; the gate and the report read them here.

Names follow the package convention: ``*_score`` is better when higher, ``*_error`` and
``*_loss`` when lower. Results use shorter keys (``ece``, ``feature_agreement``...);
:data:`ALIASES` maps them to the registered names and :func:`get_metric` accepts either.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from trustaudit.exceptions import InvalidInputError


@dataclass(frozen=True)
class MetricSpec:
    """A metric's name, direction (``higher_is_better``), range [lower, upper] and a one-line description."""

    name: str
    higher_is_better: bool
    lower: float
    upper: float
    description: str


_SPECS = (
    MetricSpec("expected_calibration_error", False, 0.0, 1.0, "top-label ECE, equal-width bins"),
    MetricSpec("equal_mass_calibration_error", False, 0.0, 1.0, "top-label ECE, equal-mass (quantile) bins"),
    MetricSpec("maximum_calibration_error", False, 0.0, 1.0, "largest |accuracy - confidence| over non-empty bins"),
    MetricSpec("classwise_calibration_error", False, 0.0, 1.0, "classwise ECE averaged over classes"),
    MetricSpec("smooth_calibration_error", False, 0.0, 1.0, "smooth ECE (reflected Gaussian kernel, sigma* fixed point)"),
    MetricSpec("brier_score_loss", False, 0.0, 2.0, "multiclass Brier score, sum over classes"),
    MetricSpec("log_loss", False, 0.0, math.inf, "negative log-likelihood of the gold labels"),
    MetricSpec("feature_agreement_score", True, 0.0, 1.0, "share of top-k features in common"),
    MetricSpec("rank_agreement_score", True, 0.0, 1.0, "share of top-k positions holding the same feature"),
    MetricSpec("sign_agreement_score", True, 0.0, 1.0, "share of top-k features in common with the same sign"),
    MetricSpec("signed_rank_agreement_score", True, 0.0, 1.0, "share of top-k positions with the same feature and sign"),
    MetricSpec("topk_jaccard_score", True, 0.0, 1.0, "Jaccard index of the top-k feature sets"),
    MetricSpec("rank_correlation_score", True, -1.0, 1.0, "Spearman correlation of feature magnitudes"),
    MetricSpec("kendall_tau_score", True, -1.0, 1.0, "Kendall tau-b of feature magnitudes"),
    MetricSpec("pairwise_rank_agreement_score", True, 0.0, 1.0, "share of feature pairs ordered alike"),
    MetricSpec("prediction_agreement_score", True, 0.0, 1.0, "share of examples with the same predicted class"),
    MetricSpec("cohen_kappa_score", True, -1.0, 1.0, "chance-corrected agreement of the predicted classes"),
    MetricSpec("error_jaccard_score", True, 0.0, 1.0, "Jaccard index of the two models' error sets"),
    MetricSpec("accuracy_score", True, 0.0, 1.0, "share of correct predictions"),
    MetricSpec("negative_flip_rate_error", False, 0.0, 1.0, "share of all rows the base gets right and the small model wrong"),
    MetricSpec("positive_flip_rate_score", True, 0.0, 1.0, "share of all rows the small model gets right and the base wrong"),
    MetricSpec("worst_class_recall_drop_error", False, -1.0, 1.0, "largest base - small recall difference over classes with gold rows"),
    MetricSpec("bias_effect_change_error", False, 0.0, math.inf, "largest |d_small - d_base| over the SEAT bias tests and poolings"),
)

#: Every registered metric by name.
METRICS: dict[str, MetricSpec] = {spec.name: spec for spec in _SPECS}

#: Result keys used by the metric functions' return values, mapped to registered names.
ALIASES: dict[str, str] = {
    "ece": "expected_calibration_error",
    "ece_quantile": "equal_mass_calibration_error",
    "mce": "maximum_calibration_error",
    "classwise_ece": "classwise_calibration_error",
    "smooth_ece": "smooth_calibration_error",
    "brier": "brier_score_loss",
    "nll": "log_loss",
    "feature_agreement": "feature_agreement_score",
    "rank_agreement": "rank_agreement_score",
    "sign_agreement": "sign_agreement_score",
    "signed_rank_agreement": "signed_rank_agreement_score",
    "topk_jaccard": "topk_jaccard_score",
    "rank_correlation": "rank_correlation_score",
    "kendall_tau": "kendall_tau_score",
    "pairwise_rank_agreement": "pairwise_rank_agreement_score",
    "agreement": "prediction_agreement_score",
    "cohen_kappa": "cohen_kappa_score",
    "error_jaccard": "error_jaccard_score",
    "accuracy": "accuracy_score",
    "negative_flip_rate": "negative_flip_rate_error",
    "positive_flip_rate": "positive_flip_rate_score",
    "worst_class_recall_drop": "worst_class_recall_drop_error",
    "max_abs_effect_change": "bias_effect_change_error",
}


def get_metric(name: str) -> MetricSpec:
    """The spec of a metric by registered name or result key (alias)."""
    spec = METRICS.get(ALIASES.get(name, name))
    if spec is None:
        raise InvalidInputError(f"unknown metric {name!r}; known: {', '.join(sorted(METRICS))}")
    return spec
