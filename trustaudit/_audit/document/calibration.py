"""The ``calibration`` section: both models' calibration metrics, their bins and paired comparisons."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from trustaudit._audit.document._section import Section, by_name, one


@dataclasses.dataclass(frozen=True, kw_only=True)
class ReliabilityBinsData(Section):
    """The reliability bins of one model: edges, counts, mean confidence and accuracy per bin, with intervals."""

    edges: list[float | None] | None = None
    counts: list[int] | None = None
    mean_confidence: list[float | None] | None = None
    accuracy: list[float | None] | None = None
    ci_low: list[float | None] | None = None
    ci_high: list[float | None] | None = None
    n_bins: int | None = None
    strategy: str | None = None
    ci_level: float | None = None

    def to_bins(self) -> Any:
        """The bins as :class:`trustaudit.metrics.ReliabilityBins` (arrays, ``None`` as NaN), for the reliability diagram."""
        import numpy as np

        from trustaudit.metrics import ReliabilityBins

        def arr(values: Sequence[float | None] | None) -> np.ndarray:
            return np.array([np.nan if v is None else v for v in values or []], dtype=np.float64)

        return ReliabilityBins(
            edges=arr(self.edges),
            counts=np.asarray(self.counts, dtype=np.int64),
            mean_confidence=arr(self.mean_confidence),
            accuracy=arr(self.accuracy),
            ci_low=arr(self.ci_low),
            ci_high=arr(self.ci_high),
            n_bins=int(self.n_bins or 0),
            strategy=str(self.strategy),
            ci_level=float(self.ci_level or 0.0),
        )


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelCalibration(Section):
    """One model's calibration: every registered calibration metric, accuracy, mean confidence and its bins.

    The built-in metrics are fields; a metric registered later is in ``extra``, and
    :meth:`metric` reads either.
    """

    ece: float | None = None
    ece_quantile: float | None = None
    mce: float | None = None
    classwise_ece: float | None = None
    smooth_ece: float | None = None
    brier: float | None = None
    nll: float | None = None
    accuracy: float | None = None
    mean_confidence: float | None = None
    smooth_ece_bandwidth: float | None = None
    bins: ReliabilityBinsData | None = None

    _nested: ClassVar[Mapping[str, Callable[[Any], Any]]] = {"bins": one(ReliabilityBinsData)}

    def metric(self, key: str) -> Any:
        """The value of the calibration metric ``key`` (a field or a metric registered at run time), or None."""
        if key in self._declared():
            return getattr(self, key)
        return self.extra.get(key)


@dataclasses.dataclass(frozen=True, kw_only=True)
class MetricComparison(Section):
    """A paired comparison of one metric: both values, ``diff`` = small - base, its interval and p-value, TOST."""

    metric: str | None = None
    base: float | None = None
    small: float | None = None
    diff: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    margin: float | None = None
    tost_low: float | None = None
    tost_high: float | None = None
    equivalent: bool | None = None

    @property
    def interval(self) -> list[float] | None:
        """``[ci_low, ci_high]``, or None without an interval."""
        return None if self.ci_low is None else [self.ci_low, self.ci_high]


@dataclasses.dataclass(frozen=True, kw_only=True)
class CalibrationSection(Section):
    """The ``calibration`` section: both models' calibration and each metric's paired comparison.

    ``<metric>_increase`` is small - base of ECE, MCE and Brier (with the equal-mass ECE
    under ``ece_strategy`` quantile), ``<metric>_difference`` its absolute value; both with
    intervals. Unavailable without gold labels (then only ``available`` is written).
    """

    available: bool = False
    settings: Mapping[str, Any] | None = None
    base: ModelCalibration | None = None
    small: ModelCalibration | None = None
    comparison: Mapping[str, MetricComparison] | None = None
    ece_increase: float | None = None
    ece_increase_interval: list[float] | None = None
    ece_difference: float | None = None
    ece_difference_interval: list[float] | None = None
    mce_increase: float | None = None
    mce_increase_interval: list[float] | None = None
    mce_difference: float | None = None
    mce_difference_interval: list[float] | None = None
    brier_increase: float | None = None
    brier_increase_interval: list[float] | None = None
    brier_difference: float | None = None
    brier_difference_interval: list[float] | None = None

    _nested: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        "base": one(ModelCalibration),
        "small": one(ModelCalibration),
        "comparison": by_name(MetricComparison),
    }

    @classmethod
    def unavailable(cls) -> CalibrationSection:
        """The section of data without gold labels."""
        return cls(available=False, keys=("available",))

    def value(self, key: str) -> Any:
        """A top-level value by key (``ece_increase``...), including keys this version does not declare."""
        if key in self._declared():
            return getattr(self, key)
        return self.extra.get(key)
