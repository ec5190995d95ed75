"""Per-model calibration summary and the paired-bootstrap comparison of two models."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse
from numpy.typing import ArrayLike

from trustaudit.exceptions import InvalidInputError
from trustaudit.metrics._binning import ReliabilityBins, _bin_edges, _bin_index, _binned_error, _reliability, _top_label
from trustaudit._bootstrap import CHUNK_ENTRIES, count_weights, percentile_interval, two_sided_p_value
from trustaudit.metrics._registry import metric_function, metrics_in
from trustaudit.metrics._scores import _NLL_EPS, _brier_rows, _nll_rows
from trustaudit._json import to_jsonable
from trustaudit.metrics._smooth_ece import (
    _SMECE_BOOTSTRAP_GRID_MAX,
    _SMECE_BOOTSTRAP_TOL,
    _SMECE_SIGMA_MIN,
    _fixed_point,
    _smece_at,
    _smece_deposit,
    _smece_grid,
    _smece_spectrum,
    _smooth_ece,
)
from trustaudit._deprecation import renamed_attribute, renamed_keywords
from trustaudit._validation import (
    check_class_ids,
    check_int,
    check_margins,
    check_open_unit,
    check_probs,
    check_probs_labels,
)


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
    bootstrap differences at the comparison's ``ci_level``. ``p_value``: two-sided,
    ``min(1, 2 min(P(d* <= 0), P(d* >= 0)))``. With a ``margin``: ``tost_low``/``tost_high``
    is the (1 - 2 alpha) percentile interval, alpha = 1 - ci_level, and ``equivalent``
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
    ci_level: float

    confidence = renamed_attribute("confidence", "ci_level")
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


@renamed_keywords(confidence="ci_level")
def compare_calibration(
    base_probs: ArrayLike,
    small_probs: ArrayLike,
    labels: ArrayLike,
    *,
    n_bins: int = 15,
    n_resamples: int = 1000,
    seed: int = 0,
    ci_level: float = 0.95,
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

    Parameters
    ----------
    base_probs, small_probs : array-like of shape (n, k)
        Both models' predicted class probabilities on the same rows.
    labels : array-like of shape (n,)
        Integer gold labels in ``[0, k)``.
    n_bins : int, default 15
        Number of uniform (and equal-mass) bins of the binned metrics.
    n_resamples : int, default 1000
        Bootstrap resamples (>= 0; 0 skips the bootstrap).
    seed : int, default 0
        Seed of the resamples.
    ci_level : float, default 0.95
        Level of the intervals, in (0.5, 1).
    margins : mapping of str to float, optional
        Equivalence margin per metric key, for the TOST decision.

    Returns
    -------
    CalibrationComparison
        Per-metric :class:`MetricComparison` and both models' :class:`CalibrationResult`.

    Examples
    --------
    >>> from trustaudit.metrics import compare_calibration
    >>> base = [[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]]
    >>> small = [[0.6, 0.4], [0.5, 0.5], [0.4, 0.6], [0.7, 0.3]]
    >>> result = compare_calibration(base, small, [0, 1, 1, 0], n_resamples=0)
    >>> result.metrics["brier"].metric, round(result.metrics["brier"].base, 4)
    ('brier', 0.45)
    >>> result.metrics["ece"].ci_low is None  # no resamples, no interval
    True
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
    ci_level = check_open_unit(ci_level, "ci_level")
    if ci_level <= 0.5:
        raise InvalidInputError(f"ci_level must be in (0.5, 1) for a two-sided interval, got {ci_level:g}")
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

    alpha = 1.0 - ci_level
    metrics: dict[str, MetricComparison] = {}
    for name in keys:
        b_value, s_value = summaries[0].value(name), summaries[1].value(name)
        margin = margin_of.get(name)
        ci = tost = (None, None)
        p_value = equivalent = None
        if name in draws:
            ci = percentile_interval(draws[name], ci_level)
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
        ci_level=ci_level,
        settings={
            "bootstrap": "paired, multinomial row counts shared by both models",
            "interval": "percentile",
            "p_value": "min(1, 2 * min(P(d* <= 0), P(d* >= 0)))",
            "tost": "equivalent iff the (1 - 2 * (1 - confidence)) percentile interval lies in (-margin, margin)",
            "ece_quantile_edges": "fixed at the full sample's quantiles",
            "smooth_ece_bootstrap": "grid from half the full-sample sigma* (<= 2^14 intervals), bisection tolerance 1e-5",
        },
    )
