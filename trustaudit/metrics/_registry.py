"""The one place each metric's name, direction, bounds, unit and wording are declared.

Names follow the package convention: ``*_score`` is better when higher, ``*_error`` and
``*_loss`` when lower. Results use shorter keys (``ece``, ``nll``, ``feature_agreement``...);
each :class:`MetricSpec` carries its key, :data:`ALIASES` (key -> name) is derived from the
specs, and :func:`get_metric` accepts either. The audit's calibration section, the report's
calibration table and the gate read this registry, so adding a calibration metric is one
function plus one :func:`register_metric` call::

    spec = MetricSpec("overconfidence_error", False, 0.0, 1.0, "share of rows predicted wrongly with confidence >= 0.9",
                      key="overconfidence", label="overconfidence", unit="points", section="calibration")
    with registered_metric(spec, overconfidence):
        result = trustaudit.audit(base, small, data, AuditConfig(gate=GateConfig.from_dict({"max_overconfidence_increase": 0.02})))

Every calibration metric also registers the two comparisons the gate can judge: its
worsening from base to small (``<key>_increase`` = small - base for a lower-is-better metric,
``<key>_drop`` = base - small for a higher-is-better one) and its absolute difference
``<key>_difference`` = |small - base|.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from trustaudit.exceptions import InvalidInputError

#: Sections of an audit a metric belongs to; ``calibration`` metrics are computed for both models and compared.
SECTIONS = ("calibration", "comparison", "predictions", "attribution", "bias", "extras")
#: Units: ``points`` shows a share as percentage points, ``""`` a plain number.
UNITS = ("", "points")

#: A calibration metric's function: ``(probs (n, k), labels (n,)) -> float``.
MetricFunction = Callable[[np.ndarray, np.ndarray], float]


@dataclass(frozen=True)
class MetricSpec:
    """One metric: registered name, direction, range, wording, unit and where the audit reports it.

    ``name`` states the direction (``*_score`` higher is better, ``*_error``/``*_loss`` lower),
    ``higher_is_better`` must agree with it and [``lower``, ``upper``] is its range. ``key`` is
    the metric's key in results documents (``ece``, ``nll``; defaults to ``name``). ``label``
    is the short name used in gate messages (``ECE``; defaults to ``key``); ``long_label``
    names the metric's row in a report table when that needs more than ``label``;
    ``explanation`` is the report's plain-words gloss (defaults to ``description``).
    ``unit`` is ``points`` for shares shown as percentage points, else ``""``. ``section``
    is the part of an audit it belongs to (one of :data:`SECTIONS`).
    """

    name: str
    higher_is_better: bool
    lower: float
    upper: float
    description: str
    key: str = ""
    label: str = ""
    unit: str = ""
    section: str = ""
    long_label: str = ""
    explanation: str = ""

    def __post_init__(self) -> None:
        if not self.name.endswith(("_score", "_error", "_loss")):
            raise InvalidInputError(f"a metric's name must end in _score, _error or _loss, got {self.name!r}")
        if self.higher_is_better is not self.name.endswith("_score"):
            raise InvalidInputError(f"{self.name}: higher_is_better must be {self.name.endswith('_score')} for this name")
        if not self.lower < self.upper:
            raise InvalidInputError(f"{self.name}: lower must be below upper, got [{self.lower}, {self.upper}]")
        if self.unit not in UNITS:
            raise InvalidInputError(f"{self.name}: unit must be one of {UNITS}, got {self.unit!r}")
        if self.section and self.section not in SECTIONS:
            raise InvalidInputError(f"{self.name}: section must be one of {', '.join(SECTIONS)}, got {self.section!r}")
        if not self.description:
            raise InvalidInputError(f"{self.name}: give a one-line description")
        object.__setattr__(self, "key", self.key or self.name)
        object.__setattr__(self, "label", self.label or self.key)
        object.__setattr__(self, "long_label", self.long_label or self.label)
        object.__setattr__(self, "explanation", self.explanation or self.description)


def _comparisons(spec: MetricSpec) -> tuple[MetricSpec, MetricSpec]:
    """The worsening (signed, lower is better) and the absolute difference of a calibration metric, small vs base."""
    width = spec.upper - spec.lower
    worse, order = ("drop", "base - small") if spec.higher_is_better else ("increase", "small - base")
    return (
        MetricSpec(
            f"{spec.key}_{worse}_error", False, -width, width, f"{spec.label} of the small model minus the base's, signed so that higher is worse",
            key=f"{spec.key}_{worse}", label=f"{spec.label} {worse} ({order})", unit=spec.unit, section="comparison",
        ),
        MetricSpec(
            f"{spec.key}_difference_error", False, 0.0, width, f"|small - base| of {spec.label}, either way",
            key=f"{spec.key}_difference", label=f"{spec.label} difference |small - base|", unit=spec.unit, section="comparison",
        ),
    )


_CALIBRATION = (
    MetricSpec("expected_calibration_error", False, 0.0, 1.0, "top-label ECE, equal-width bins", key="ece", label="ECE",
               unit="points", section="calibration", long_label="ECE (top-label, equal width)",
               explanation="expected gap between confidence and accuracy; lower is better"),
    MetricSpec("equal_mass_calibration_error", False, 0.0, 1.0, "top-label ECE, equal-mass (quantile) bins", key="ece_quantile",
               label="ECE (equal mass)", unit="points", section="calibration",
               explanation="the same with bins of equal size; less biased"),
    MetricSpec("maximum_calibration_error", False, 0.0, 1.0, "largest |accuracy - confidence| over non-empty bins", key="mce",
               label="MCE", unit="points", section="calibration", explanation="the largest gap of any bin"),
    MetricSpec("classwise_calibration_error", False, 0.0, 1.0, "classwise ECE averaged over classes", key="classwise_ece",
               label="classwise ECE", unit="points", section="calibration",
               explanation="calibration of every class probability, not only the top one"),
    MetricSpec("smooth_calibration_error", False, 0.0, 1.0, "smooth ECE (reflected Gaussian kernel, sigma* fixed point)",
               key="smooth_ece", label="smooth ECE", unit="points", section="calibration",
               explanation="kernel-smoothed, binning-free (Błasiok & Nakkiran 2024)"),
    MetricSpec("brier_score_loss", False, 0.0, 2.0, "multiclass Brier score, sum over classes", key="brier", label="Brier score",
               section="calibration", explanation="squared error of the probability vector, 0 to 2"),
    MetricSpec("log_loss", False, 0.0, math.inf, "negative log-likelihood of the gold labels", key="nll",
               label="negative log-likelihood", section="calibration", explanation="log loss of the gold label"),
)
_OTHERS = (
    MetricSpec("feature_agreement_score", True, 0.0, 1.0, "share of top-k features in common", key="feature_agreement",
               label="top-k feature agreement", section="attribution"),
    MetricSpec("rank_agreement_score", True, 0.0, 1.0, "share of top-k positions holding the same feature", key="rank_agreement",
               label="top-k rank agreement", section="attribution"),
    MetricSpec("sign_agreement_score", True, 0.0, 1.0, "share of top-k features in common with the same sign", key="sign_agreement",
               label="top-k sign agreement", section="attribution"),
    MetricSpec("signed_rank_agreement_score", True, 0.0, 1.0, "share of top-k positions with the same feature and sign",
               key="signed_rank_agreement", label="top-k signed rank agreement", section="attribution"),
    MetricSpec("topk_jaccard_score", True, 0.0, 1.0, "Jaccard index of the top-k feature sets", key="topk_jaccard",
               label="top-k Jaccard", section="attribution"),
    MetricSpec("rank_correlation_score", True, -1.0, 1.0, "Spearman correlation of feature magnitudes", key="rank_correlation",
               label="Spearman rank correlation", section="attribution"),
    MetricSpec("kendall_tau_score", True, -1.0, 1.0, "Kendall tau-b of feature magnitudes", key="kendall_tau",
               label="Kendall's tau", section="attribution"),
    MetricSpec("pairwise_rank_agreement_score", True, 0.0, 1.0, "share of feature pairs ordered alike", key="pairwise_rank_agreement",
               label="pairwise rank agreement", section="attribution"),
    MetricSpec("floor_ratio_score", True, 0.0, math.inf, "top-k feature agreement divided by its noise floor", key="floor_ratio",
               label="feature agreement as a share of its noise floor", section="attribution"),
    MetricSpec("prediction_agreement_score", True, 0.0, 1.0, "share of examples with the same predicted class", key="agreement",
               label="prediction agreement", section="predictions"),
    MetricSpec("cohen_kappa_score", True, -1.0, 1.0, "chance-corrected agreement of the predicted classes", key="cohen_kappa",
               label="Cohen's kappa", section="predictions"),
    MetricSpec("error_jaccard_score", True, 0.0, 1.0, "Jaccard index of the two models' error sets", key="error_jaccard",
               label="error Jaccard", section="predictions"),
    MetricSpec("accuracy_score", True, 0.0, 1.0, "share of correct predictions", key="accuracy", label="accuracy", unit="points",
               section="predictions"),
    MetricSpec("accuracy_drop_error", False, -1.0, 1.0, "base accuracy minus small accuracy", key="accuracy_drop",
               label="accuracy drop (base - small)", unit="points", section="comparison"),
    MetricSpec("negative_flip_rate_error", False, 0.0, 1.0, "share of all rows the base gets right and the small model wrong",
               key="negative_flip_rate", label="negative flip rate (base right, small wrong)", unit="points", section="predictions"),
    MetricSpec("positive_flip_rate_score", True, 0.0, 1.0, "share of all rows the small model gets right and the base wrong",
               key="positive_flip_rate", label="positive flip rate (small right, base wrong)", unit="points", section="predictions"),
    MetricSpec("worst_class_recall_drop_error", False, -1.0, 1.0, "largest base - small recall difference over classes with gold rows",
               key="worst_class_recall_drop", label="worst class's recall drop (base - small)", unit="points", section="comparison"),
    MetricSpec("bias_effect_change_error", False, 0.0, math.inf, "largest |d_small - d_base| over the SEAT bias tests and poolings",
               key="max_abs_effect_change", label="largest change in bias effect size |d_small - d_base|", section="bias"),
    MetricSpec("representation_cka_score", True, 0.0, 1.0, "linear CKA of the two models' final mean-pooled representations",
               key="cka", label="linear CKA of the final mean-pooled representations", section="extras"),
    MetricSpec("adversarial_transfer_gap_error", False, 0.0, 1.0,
               "larger over both directions of (attack success rate on the source - rate of its texts that also fool the target)",
               key="transfer_gap", label="adversarial transfer gap (share of attacked rows fooling one model only)",
               unit="points", section="extras"),
)

#: Every registered metric by name (built-in ones and those added by :func:`register_metric`).
METRICS: dict[str, MetricSpec] = {}
#: Result keys mapped to registered names, derived from the specs.
ALIASES: dict[str, str] = {}
_FUNCTIONS: dict[str, MetricFunction] = {}
_DERIVED: dict[str, tuple[str, ...]] = {}


def _add(spec: MetricSpec) -> None:
    for taken, what in ((spec.name, "name"), (spec.key, "key")):
        if taken in METRICS or taken in ALIASES:
            raise InvalidInputError(f"metric {what} {taken!r} is already registered")
    METRICS[spec.name] = spec
    ALIASES[spec.key] = spec.name


def _remove(name: str) -> None:
    spec = METRICS.pop(name)
    ALIASES.pop(spec.key, None)


def _register(spec: MetricSpec, function: MetricFunction | None) -> None:
    """Add ``spec`` (and a calibration metric's two comparisons) or nothing at all when a name or key is taken."""
    derived = _comparisons(spec) if spec.section == "calibration" else ()
    added: list[str] = []
    try:
        for one in (spec, *derived):
            _add(one)
            added.append(one.name)
    except InvalidInputError:
        for name in reversed(added):
            _remove(name)
        raise
    if function is not None:
        _FUNCTIONS[spec.name] = function
    _DERIVED[spec.name] = tuple(one.name for one in derived)


def register_metric(spec: MetricSpec, function: MetricFunction | None = None) -> MetricSpec:
    """Add a metric to the registry; a ``calibration`` metric needs its ``function(probs, labels) -> float``.

    A calibration metric is then computed for both models of every audit, compared with a
    paired bootstrap (the function is evaluated on each resample of rows), shown in the
    report's calibration table and judged by the gate keys ``max_<key>_increase`` (or
    ``max_<key>_drop`` when higher is better) and ``max_<key>_difference``. Returns ``spec``.

    Parameters
    ----------
    spec : MetricSpec
        The metric's name, direction, bounds, key, label, unit and section.
    function : callable, optional
        ``function(probs, labels) -> float``; required for a ``calibration`` metric and
        refused for any other section. Default none.

    Returns
    -------
    MetricSpec
        ``spec``.

    Raises
    ------
    InvalidInputError
        If ``spec`` is not a :class:`MetricSpec`, its name or key is taken, or
        ``function`` is missing for a calibration metric or given for another section.

    Examples
    --------
    >>> from trustaudit.metrics import MetricSpec, register_metric
    >>> spec = MetricSpec("overconfidence_error", False, 0.0, 1.0, "share of confident errors",
    ...                   key="overconfidence", label="overconfidence", unit="points", section="calibration")
    >>> register_metric(spec, overconfidence)  # doctest: +SKIP
    MetricSpec(name='overconfidence_error', ...)
    >>> register_metric("overconfidence_error")
    Traceback (most recent call last):
    ...
    trustaudit.exceptions.InvalidInputError: spec must be a MetricSpec, got str
    """
    if not isinstance(spec, MetricSpec):
        raise InvalidInputError(f"spec must be a MetricSpec, got {type(spec).__name__}")
    if spec.section == "calibration" and not callable(function):
        raise InvalidInputError(f"{spec.name}: a calibration metric needs its function(probs, labels) -> float")
    if function is not None and spec.section != "calibration":
        raise InvalidInputError(f"{spec.name}: only calibration metrics are computed from a function; section is {spec.section!r}")
    _register(spec, function)
    return spec


def unregister_metric(name: str) -> None:
    """Remove a metric added by :func:`register_metric` (by name or key), with its comparisons."""
    name = ALIASES.get(name, name)
    if name not in _DERIVED or name in _BUILT_IN:
        raise InvalidInputError(f"{name!r} is not a metric registered at run time")
    for derived in _DERIVED.pop(name):
        _remove(derived)
    _FUNCTIONS.pop(name, None)
    _remove(name)


@contextmanager
def registered_metric(spec: MetricSpec, function: MetricFunction | None = None) -> Iterator[MetricSpec]:
    """Register a metric for the duration of a ``with`` block (tests, one-off audits)."""
    register_metric(spec, function)
    try:
        yield spec
    finally:
        unregister_metric(spec.name)


def get_metric(name: str) -> MetricSpec:
    """The spec of a metric by registered name or result key (alias)."""
    spec = METRICS.get(ALIASES.get(name, name))
    if spec is None:
        raise InvalidInputError(f"unknown metric {name!r}; known: {', '.join(sorted(METRICS))}")
    return spec


def metric_function(name: str) -> MetricFunction | None:
    """The function of a metric registered at run time, None for built-in ones (computed in their own module)."""
    return _FUNCTIONS.get(get_metric(name).name)


def metrics_in(section: str) -> tuple[MetricSpec, ...]:
    """The metrics of one section of an audit, in registration order (built-in ones first)."""
    return tuple(spec for spec in METRICS.values() if spec.section == section)


def comparisons_of(name: str) -> tuple[MetricSpec, MetricSpec]:
    """A calibration metric's worsening and absolute difference, as registered with it."""
    spec = get_metric(name)
    derived = _DERIVED.get(spec.name) or ()
    if len(derived) != 2:
        raise InvalidInputError(f"{spec.name} is not a calibration metric; only those are compared small vs base")
    return METRICS[derived[0]], METRICS[derived[1]]


for _spec in _CALIBRATION + _OTHERS:
    _register(_spec, None)
_BUILT_IN = frozenset(METRICS)
