"""The typed sections of a results document: one frozen dataclass per section, each with ``to_dict`` / ``from_dict``.

The stage that computes a section builds its dataclass once (``sections.py``: predictions,
calibration, bias; ``attribution.py``: attribution and examples; ``latency.py``; ``extras.py``;
``verdict.py``; ``run.py``: models, data and the whole :class:`AuditDocument`); the JSON is
their serialisation, and every output (``trustaudit.report``) reads attributes of the
objects that :meth:`AuditDocument.from_dict` rebuilds from it.

Two rules make ``from_dict(d).to_dict() == d`` hold for every document, of every schema:

- a key the class does not declare (written by a newer trustaudit, or a metric registered
  at run time) is kept in ``extra`` and written back where it was;
- ``keys`` records which keys the document had and in which order, so a key an older
  document lacks is not invented on the way back (its field reads ``None``). A section
  built by its stage leaves ``keys`` unset: it then writes its declared fields in order,
  less those marked ``omit_if_none`` that are ``None``, then ``extra``.

Values are plain JSON types when read back; a stage may pass numpy scalars and NaN, which
``to_dict`` converts (NaN becomes ``null``, as everywhere in the JSON).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

from trustaudit._json import to_jsonable

S = TypeVar("S", bound="Section")

_OMIT = "omit_if_none"


def optional_key(default: Any = None) -> Any:
    """A field whose key a freshly built section leaves out while it is ``None``."""
    return dataclasses.field(default=default, metadata={_OMIT: True})


def _plain(value: Any) -> Any:
    """``value`` in plain JSON types: sections by their ``to_dict``, containers copied, leaves via ``to_jsonable``."""
    if isinstance(value, Section):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return to_jsonable(value)


def one(cls: type[S]) -> Callable[[Any], S | None]:
    """Reader of a nested section (``None`` stays ``None``)."""
    return lambda value: None if value is None else cls.from_dict(value)


def many(cls: type[S]) -> Callable[[Any], list[S] | None]:
    """Reader of a list of nested sections."""
    return lambda value: None if value is None else [cls.from_dict(item) for item in value]


def by_name(cls: type[S]) -> Callable[[Any], dict[str, S] | None]:
    """Reader of a mapping of name to nested section."""
    return lambda value: None if value is None else {str(key): cls.from_dict(item) for key, item in value.items()}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Section:
    """Base of every typed section: declared fields, keys this version does not know, and the keys' order."""

    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict, repr=False)
    keys: tuple[str, ...] | None = dataclasses.field(default=None, repr=False)

    #: Readers of nested fields (field name -> function of the JSON value); others are copied.
    _nested: ClassVar[Mapping[str, Callable[[Any], Any]]] = {}
    #: A mapping field whose entries are written as keys of this section itself (one per explainer).
    _spread: ClassVar[str | None] = None

    @classmethod
    def _declared(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls) if f.name not in ("extra", "keys") and f.name != cls._spread)

    @classmethod
    def _spread_keys(cls, data: Mapping[str, Any]) -> Sequence[str]:
        """Keys of ``data`` that belong to the spread mapping (none unless a section says otherwise)."""
        return ()

    @classmethod
    def from_dict(cls: type[S], data: Mapping[str, Any]) -> S:
        """The section of a results document (plain JSON) as an object; every key is kept."""
        declared = set(cls._declared())
        spread = set(cls._spread_keys(data))
        values: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        spread_values: dict[str, Any] = {}
        for key, value in data.items():
            reader = cls._nested.get(key if key not in spread else str(cls._spread))
            read = reader(value) if reader is not None else copy.deepcopy(value)
            if key in spread:
                spread_values[key] = read
            elif key in declared:
                values[key] = read
            else:
                extra[key] = copy.deepcopy(value)
        if cls._spread is not None:
            values[cls._spread] = spread_values
        return cls(**values, extra=extra, keys=tuple(data))

    def _default_keys(self) -> tuple[str, ...]:
        fields = {f.name: f for f in dataclasses.fields(self)}
        keys = [
            name for name in self._declared()
            if not (fields[name].metadata.get(_OMIT) and getattr(self, name) is None)
        ]
        return (*keys, *(self.spread() if self._spread else {}), *self.extra)

    def values(self) -> dict[str, Any]:
        """The declared fields and their values, shallow (nested sections stay objects), for a view to extend."""
        return {name: getattr(self, name) for name in self._declared()}

    def spread(self) -> Mapping[str, Any]:
        """The entries written as keys of this section (empty unless the section has them)."""
        return getattr(self, self._spread) if self._spread else {}

    def to_dict(self) -> dict[str, Any]:
        """The section in plain JSON types, its keys in the order it was read (or declared)."""
        spread = self.spread()
        declared = set(self._declared())
        out: dict[str, Any] = {}
        for key in self.keys if self.keys is not None else self._default_keys():
            if key in spread:
                out[key] = _plain(spread[key])
            elif key in declared:
                out[key] = _plain(getattr(self, key))
            else:
                out[key] = copy.deepcopy(self.extra[key])
        return out


# --- predictions --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelPredictions(Section):
    """One model's accuracy (None without gold labels), mean confidence and inputs cut at its maximum length."""

    accuracy: float | None = None
    mean_confidence: float | None = None
    n_truncated: int | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class McNemar(Section):
    """McNemar's test of the two models' errors: ``base_only_errors`` are rows only the base got wrong."""

    statistic: float | None = None
    p_value: float | None = None
    method: str | None = None
    base_only_errors: int | None = None
    small_only_errors: int | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class ClassComparison(Section):
    """Recall and precision of one class on both models, and their drops (base - small) with intervals."""

    label: str | None = None
    support: int | None = None
    base_recall: float | None = None
    small_recall: float | None = None
    recall_drop: float | None = None
    recall_drop_interval: list[float] | None = None
    base_precision: float | None = None
    small_precision: float | None = None
    precision_drop: float | None = None
    precision_drop_interval: list[float] | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConfidenceBand(Section):
    """Flips among the rows whose base confidence lies in ``[low, high)`` (``[low, high]`` for the last band)."""

    low: float | None = None
    high: float | None = None
    n: int | None = None
    flips: int | None = None
    flip_rate: float | None = None
    negative_flips: int | None = None
    positive_flips: int | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Disagreement(Section):
    """A row where the two models predict different labels; ``kind`` says who was right."""

    row: int | None = None
    text_a: str | None = None
    text_b: str | None = None
    gold: str | None = None
    base: str | None = None
    base_confidence: float | None = None
    small: str | None = None
    small_confidence: float | None = None
    kind: str | None = None

    @property
    def flip_kind(self) -> str:
        """``kind`` as stored; in results written before it was, derived from the three labels the same way."""
        if self.kind:
            return self.kind
        if self.gold is None:
            return "unlabelled"
        if self.base == self.gold:
            return "negative"
        return "positive" if self.small == self.gold else "both wrong"


@dataclasses.dataclass(frozen=True, kw_only=True)
class PredictionsSection(Section):
    """The ``predictions`` section: how often and where the small model's predictions differ from the base's.

    ``accuracy_drop`` is base - small accuracy (positive: the small model is worse);
    ``kappa`` is Cohen's kappa of the two models' predictions.
    """

    n: int | None = None
    labels: list[str] | None = None
    base: ModelPredictions | None = None
    small: ModelPredictions | None = None
    accuracy_drop: float | None = None
    accuracy_drop_interval: list[float] | None = None
    agreement: float | None = None
    agreement_interval: list[float] | None = None
    kappa: float | None = None
    flips: int | None = None
    flip_matrix: list[list[int]] | None = None
    mcnemar: McNemar | None = None
    error_jaccard: float | None = None
    negative_flip_rate: float | None = None
    negative_flip_rate_interval: list[float] | None = None
    positive_flip_rate: float | None = None
    positive_flip_rate_interval: list[float] | None = None
    negative_flips: int | None = None
    positive_flips: int | None = None
    per_class: list[ClassComparison] | None = None
    worst_class_recall_drop: float | None = None
    worst_class_recall_drop_interval: list[float] | None = None
    worst_class: str | None = None
    confidence_bands: list[ConfidenceBand] | None = None
    disagreements: list[Disagreement] | None = None

    _nested: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        "base": one(ModelPredictions),
        "small": one(ModelPredictions),
        "mcnemar": one(McNemar),
        "per_class": many(ClassComparison),
        "confidence_bands": many(ConfidenceBand),
        "disagreements": many(Disagreement),
    }

    @property
    def has_flip_rates(self) -> bool:
        """Whether the section holds the flip forensics (results written before them do not)."""
        return self.keys is None or "negative_flip_rate" in self.keys


# --- calibration --------------------------------------------------------------------------


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


# --- attribution and examples ---------------------------------------------------------------


def share_of_floor(value: float | None, floor: float | None) -> float | None:
    """``value`` as a share of its noise floor; ``None`` where either is missing or the floor is not positive.

    The attribution stage stores these shares (``floor_ratios``); results written before
    it did are read with this same rule (:meth:`ExplainerAgreement.share_of_floor`).
    """
    if value is None or floor is None:
        return None
    import math

    from trustaudit.metrics import fraction_of_floor

    ratio = fraction_of_floor(value, floor)
    return None if math.isnan(ratio) else float(ratio)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Statistic(Section):
    """The mean of a per-example agreement metric and its bootstrap 95% interval."""

    mean: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None

    @property
    def interval(self) -> list[float] | None:
        """``[ci_low, ci_high]``, or None without an interval."""
        return None if self.ci_low is None else [self.ci_low, self.ci_high]


@dataclasses.dataclass(frozen=True, kw_only=True)
class AgreementSummary(Section):
    """Agreement of two sets of attributions: the headline figures and every metric (``feature_agreement@5``...)."""

    feature_agreement: float | None = None
    feature_agreement_interval: list[float] | None = None
    rank_correlation: float | None = None
    rank_correlation_interval: list[float] | None = None
    metrics: Mapping[str, Statistic] | None = None

    _nested: ClassVar[Mapping[str, Callable[[Any], Any]]] = {"metrics": by_name(Statistic)}


@dataclasses.dataclass(frozen=True, kw_only=True)
class SelfAgreement(AgreementSummary):
    """An explainer's agreement with itself at another seed on the base model: the noise floor."""

    deterministic_examples: int | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class ExplainerAgreement(AgreementSummary):
    """One explainer's base-vs-small agreement, set beside its noise floor.

    ``floor`` is the self-agreement's feature agreement, ``floor_ratio`` the feature
    agreement as a share of it (with ``floor_ratio_interval``), ``floor_ratios`` the share
    of every metric; all ``None`` when no floor was measured.
    """

    params: Mapping[str, Any] | None = None
    pairing: str | None = None
    self_agreement: SelfAgreement | None = None
    floor: float | None = None
    floor_exact_examples: int | None = None
    floor_exact: bool | None = None
    floor_ratios: Mapping[str, float | None] | None = None
    floor_ratio: float | None = None
    floor_ratio_interval: list[float] | None = None

    _nested: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        "metrics": by_name(Statistic),
        "self_agreement": one(SelfAgreement),
    }

    def share_of_floor(self, key: str) -> float | None:
        """Metric ``key`` as a share of its floor: the stored ``floor_ratios``; in results written
        before they were stored, by the rule that computes them (:func:`share_of_floor`)."""
        if self.floor_ratios is not None:
            return self.floor_ratios.get(key)
        stat = (self.metrics or {}).get(key)
        own = ((self.self_agreement.metrics if self.self_agreement else None) or {}).get(key)
        return share_of_floor(stat.mean if stat else None, own.mean if own else None)


@dataclasses.dataclass(frozen=True, kw_only=True)
class AttributionSection(Section):
    """The ``attribution`` section: each explainer's agreement (a key per explainer, see :meth:`explainer`).

    ``k`` is the headline top-k; ``cross_explainer`` compares the explainers on the base
    model when LIME and SHAP both ran. Unavailable when no rows were explained.
    """

    available: bool = False
    explained: int | None = None
    explainers: list[str] | None = None
    segment: str | None = None
    target: str | None = None
    ks: list[int] | None = None
    k: int | None = None
    seed: int | None = None
    seconds: float | None = None
    engine: Mapping[str, Mapping[str, Any]] | None = None
    by_explainer: Mapping[str, ExplainerAgreement] = dataclasses.field(default_factory=dict)
    cross_explainer: AgreementSummary | None = optional_key()

    _nested: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        "by_explainer": one(ExplainerAgreement),
        "cross_explainer": one(AgreementSummary),
    }
    _spread: ClassVar[str | None] = "by_explainer"

    @classmethod
    def _spread_keys(cls, data: Mapping[str, Any]) -> Sequence[str]:
        return [name for name in data.get("explainers") or [] if isinstance(data.get(name), Mapping)]

    @classmethod
    def unavailable(cls) -> AttributionSection:
        """The section of an audit that explained no rows."""
        return cls(available=False, explained=0, keys=("available", "explained"))

    def explainer(self, name: str) -> ExplainerAgreement | None:
        """The agreement of explainer ``name``, or None if it did not run."""
        return self.by_explainer.get(name)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Feature(Section):
    """A word of an explained input: its position, text segment (``a``/``b``) and character span."""

    index: int | None = None
    word: str | None = None
    segment: str | None = None
    start: int | None = None
    end: int | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class ExampleScores(Section):
    """One explainer's scores of an example's features: base, small, and the base's second draw (the floor)."""

    base: list[float] | None = None
    small: list[float] | None = None
    base_repeat: list[float] | None = None
    algorithm: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Example(Section):
    """An explained row: both models' probabilities, the explained label, the features and their scores.

    ``agreement[explainer]`` holds the row's agreement figures, ``divergence`` is one minus
    the mean feature agreement over explainers (the report's order).
    """

    row: int | None = None
    text_a: str | None = None
    text_b: str | None = None
    gold: str | None = None
    base_probs: Mapping[str, float] | None = None
    small_probs: Mapping[str, float] | None = None
    target: str | None = None
    target_source: str | None = None
    features: list[Feature] | None = None
    scores: Mapping[str, ExampleScores] | None = None
    agreement: Mapping[str, Mapping[str, float]] | None = None
    divergence: float | None = None

    _nested: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        "features": many(Feature),
        "scores": by_name(ExampleScores),
    }


# --- verdict ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class GateCheck(Section):
    """One gate check as judged: the measured value and interval against its limit, and why (``message``)."""

    key: str | None = None
    metric: str | None = None
    kind: str | None = None
    limit: float | None = None
    value: float | None = None
    interval: list[float] | None = None
    judged: float | None = None
    status: str | None = None
    passed: bool | None = None
    decision: str | None = None
    n: int | None = None
    rows: str | None = None
    rows_to_decide: int | None = None
    unit: str | None = None
    message: str | None = None

    def result(self) -> Any:
        """The check as a :class:`trustaudit.gate.CheckResult`."""
        from trustaudit.gate import CheckResult

        return CheckResult.from_dict(self.to_dict())


@dataclasses.dataclass(frozen=True, kw_only=True)
class VerdictSection(Section):
    """The ``verdict`` section: the four-valued status, every check, and the sentence that says it.

    ``rejudged`` says when and why stored results were judged again (absent otherwise).
    """

    status: str | None = None
    passed: bool | None = None
    source: str | None = None
    decision: str | None = None
    level: float | None = None
    checks: list[GateCheck] | None = None
    sentence: str | None = None
    rejudged: str | None = optional_key()

    _nested: ClassVar[Mapping[str, Callable[[Any], Any]]] = {"checks": many(GateCheck)}

    def gate(self) -> Any:
        """The checks as a :class:`trustaudit.gate.GateResult`."""
        from trustaudit.gate import GateResult

        return GateResult(tuple(check.result() for check in self.checks or []), str(self.decision or "interval"))


# --- models, data, latency ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class Latency(Section):
    """Median wall time of tokenization plus a forward pass: per example at batch 1 and batched."""

    batch1_ms: float | None = None
    batched_ms_per_example: float | None = None
    batch_size: int | None = None
    device: str | None = None
    threads: int | None = None
    repeats: int | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelInfo(Section):
    """One model as audited: where it came from, its labels, size, fingerprint, provenance and latency."""

    path: str | None = None
    kind: str | None = None
    model_type: str | None = None
    labels: list[str] | None = None
    task: str | None = None
    parameters: int | None = None
    bytes: int | None = None
    fingerprint: str | None = None
    max_length: int | None = None
    layers: int | None = None
    hidden_size: int | None = None
    provenance: Mapping[str, Any] | None = None
    source: Mapping[str, Any] | None = optional_key()
    runtime: str | None = optional_key()
    latency: Latency | None = None

    _nested: ClassVar[Mapping[str, Callable[[Any], Any]]] = {"latency": one(Latency)}


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelsSection(Section):
    """The ``models`` section: both models, the label permutation of the small one, and size and speed ratios."""

    base: ModelInfo | None = None
    small: ModelInfo | None = None
    permutation: list[int] | None = None
    reordered: bool | None = None
    param_ratio: float | None = None
    size_ratio: float | None = None
    speedup_batch1: float | None = None
    speedup_batched: float | None = None

    _nested: ClassVar[Mapping[str, Callable[[Any], Any]]] = {"base": one(ModelInfo), "small": one(ModelInfo)}


@dataclasses.dataclass(frozen=True, kw_only=True)
class DataSection(Section):
    """The ``data`` section: the file, its hash, rows used and skipped (and why), columns and labels."""

    path: str | None = None
    sha256: str | None = None
    rows_used: int | None = None
    rows_skipped: int | None = None
    skipped: Mapping[str, int] | None = None
    task: str | None = None
    columns: Mapping[str, Any] | None = None
    label_names: list[str] | None = None
    has_labels: bool | None = None


# --- bias and extras ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class BiasEmbedding(Section):
    """Association tests on both models: per test and pooling, both effect sizes and their change."""

    tests: list[Mapping[str, Any]] | None = None
    poolings: list[str] | None = None
    largest_change: Mapping[str, Any] | None = None
    max_abs_effect_change: float | None = None
    max_abs_effect_change_ci: list[float] | None = None
    n_defined: int | None = None
    n_permutations: int | None = None
    exact_limit: int | None = None
    n_resamples: int | None = None
    seed: int | None = None
    confidence: float | None = None
    templates: Mapping[str, list[str]] | None = None
    source: str | None = None
    citation: str | None = None
    base_model: str | None = None
    small_model: str | None = None
    n_sentences: int | None = None
    seconds: float | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class BiasSection(Section):
    """The ``bias`` section: association tests and counterfactual flips, or why they were not run (``reason``)."""

    available: bool = False
    reason: str | None = None
    embedding: BiasEmbedding | None = None
    counterfactual: Mapping[str, Any] | None = None
    rows: list[int] | None = None

    _nested: ClassVar[Mapping[str, Callable[[Any], Any]]] = {"embedding": one(BiasEmbedding)}

    @classmethod
    def unavailable(cls, reason: str) -> BiasSection:
        """The section of an audit that did not compare bias, and why."""
        return cls(available=False, reason=reason, keys=("available", "reason"))


@dataclasses.dataclass(frozen=True, kw_only=True)
class RepresentationSection(Section):
    """Linear CKA of the two models' final representations (``cls``, ``mean``) and of every pair of hidden states."""

    available: bool = False
    reason: str | None = None
    rows: int | None = None
    row_source: str | None = None
    cls: Mapping[str, Any] | None = None
    mean: Mapping[str, Any] | None = None
    cka: float | None = None
    cka_interval: list[float] | None = None
    layers: Mapping[str, Any] | None = None
    seconds: float | None = None

    @classmethod
    def unavailable(cls, reason: str) -> RepresentationSection:
        """The section when the representations could not be compared, and why."""
        return cls(available=False, reason=reason, keys=("available", "reason"))


@dataclasses.dataclass(frozen=True, kw_only=True)
class AdversarialSection(Section):
    """Transfer of attribution-guided word-substitution attacks between the models, both directions."""

    available: bool = False
    reason: str | None = None
    explainer: str | None = None
    attacked: int | None = None
    transfer_gap: float | None = None
    transfer_gap_interval: list[float] | None = None
    rates: Mapping[str, Any] | None = None
    params: Mapping[str, Any] | None = None
    evaluations: Mapping[str, int] | None = None
    seconds: float | None = None
    rows: list[Mapping[str, Any]] | None = None

    @classmethod
    def unavailable(cls, reason: str) -> AdversarialSection:
        """The section when no attack was run, and why."""
        return cls(available=False, reason=reason, keys=("available", "reason"))


@dataclasses.dataclass(frozen=True, kw_only=True)
class ExtrasSection(Section):
    """The ``extras`` section: is the small model a miniature of the base beyond its outputs?"""

    representation: RepresentationSection | None = None
    adversarial: AdversarialSection | None = None

    _nested: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        "representation": one(RepresentationSection),
        "adversarial": one(AdversarialSection),
    }


# --- the whole document -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class AuditDocument(Section):
    """A whole results document, section by section; its ``to_dict`` is the results JSON.

    ``extras`` is written only when the extras comparisons ran (``None`` otherwise), and
    ``bias`` is ``None`` in results written before the bias comparison.
    """

    schema_version: int | None = None
    tool: Mapping[str, Any] | None = None
    created: str | None = None
    command: str | None = None
    verdict: VerdictSection | None = None
    models: ModelsSection | None = None
    data: DataSection | None = None
    config: Mapping[str, Any] | None = None
    predictions: PredictionsSection | None = None
    calibration: CalibrationSection | None = None
    attribution: AttributionSection | None = None
    examples: list[Example] | None = None
    bias: BiasSection | None = None
    extras: ExtrasSection | None = optional_key()
    engine: Mapping[str, Any] | None = None
    timings: Mapping[str, float] | None = None
    versions: Mapping[str, str] | None = None

    _nested: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        "predictions": one(PredictionsSection),
        "calibration": one(CalibrationSection),
        "attribution": one(AttributionSection),
        "examples": many(Example),
        "verdict": one(VerdictSection),
        "models": one(ModelsSection),
        "data": one(DataSection),
        "bias": one(BiasSection),
        "extras": one(ExtrasSection),
    }


def document_of(result: Any) -> AuditDocument:
    """The typed document of an :class:`~trustaudit.AuditResult`, of a results dict, or the document itself."""
    if isinstance(result, AuditDocument):
        return result
    return AuditDocument.from_dict(result.to_dict() if hasattr(result, "to_dict") else result)
