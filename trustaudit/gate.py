"""The CI gate: thresholds -> a three-valued judgement per check -> a four-valued verdict.

A check is judged on its 95% interval by default (``decision = "interval"``): **pass** when
the whole interval is on the good side of the limit, **fail** when the whole interval is on
the bad side, **inconclusive** when it straddles the limit. ``decision = "point"`` judges the
point estimate instead. A check enabled in the gate whose value the audit could not measure
is **not measured**, and the verdict is then ``incomplete``, never trust-equivalent.

Thresholds come from a TOML file (``--gate FILE``: top-level keys or a ``[gate]`` table) or
from ``[tool.trustaudit.gate]`` in the working directory's ``pyproject.toml``; keys not
given keep their defaults, a key set to ``false`` or ``"off"`` disables its check (it is
then absent from the verdict), and an unknown key is an error.
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, make_dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trustaudit.exceptions import GateConfigError
from trustaudit.explain import EXPLAINERS, explainer_names

if TYPE_CHECKING:
    from trustaudit.metrics import MetricSpec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

DECISIONS = ("interval", "point")
#: The outcome of one check.
PASS, FAIL, INCONCLUSIVE, NOT_MEASURED = "pass", "fail", "inconclusive", "not measured"
CHECK_STATUSES = (PASS, FAIL, INCONCLUSIVE, NOT_MEASURED)
#: The verdict of a whole audit, from the best to the worst news for shipping.
TRUST_EQUIVALENT, NOT_TRUST_EQUIVALENT, VERDICT_INCONCLUSIVE, INCOMPLETE = (
    "trust-equivalent", "not trust-equivalent", "inconclusive", "incomplete",
)
VERDICTS = (TRUST_EQUIVALENT, NOT_TRUST_EQUIVALENT, VERDICT_INCONCLUSIVE, INCOMPLETE)
LEVEL = 0.95


class GateDeprecationWarning(UserWarning):
    """A gate setting that still works but will be removed (the CLI prints it in one line)."""


@dataclass(frozen=True)
class CheckSpec:
    """One gate check: its key, the value it reads, its default limit and what its rows count.

    ``metric`` is the value's path in a results document; its last part is the result key of
    a metric in :mod:`trustaudit.metrics`' registry, which gives the check's direction
    (``kind``), ``unit`` and wording (``what``), so no check restates them. ``rows`` names
    what the check's sample size counts ("labelled rows", "rows", "explained rows"): an
    inconclusive check says how many of those would decide it. ``qualifier`` is put before
    the metric's label in messages (``LIME`` for an explainer's check).
    """

    key: str
    metric: str
    default: float | None
    rows: str
    qualifier: str = ""

    @property
    def measure(self) -> MetricSpec:
        """The registry's spec of the value this check reads."""
        from trustaudit.metrics import get_metric

        return get_metric(self.metric.rsplit(".", 1)[-1])

    @property
    def kind(self) -> str:
        """``max`` (the value must be at most the limit; lower is better) or ``min`` (at least)."""
        return "min" if self.measure.higher_is_better else "max"

    @property
    def what(self) -> str:
        """The checked value in words, as messages name it."""
        return f"{self.qualifier} {self.measure.label}".strip()

    @property
    def unit(self) -> str:
        """``points`` shows a share as percentage points; ``""`` a plain number."""
        return self.measure.unit

    @property
    def bounded(self) -> bool:
        """Whether a ``min`` limit must lie in [0, 1] (shares); ratios to a floor only need to be non-negative."""
        return math.isfinite(self.measure.upper)


def explainer_checks(names: tuple[str, ...]) -> tuple[CheckSpec, ...]:
    """The attribution checks of registered explainers, by check then explainer (``min_<name>_...``).

    Feature agreement is on at 0.5 by default for the built-in explainers, as the default
    gate always judged LIME and SHAP; every other check, and every check of an explainer
    registered later, is off by default.
    """
    made = []
    for suffix, metric in (("feature_agreement", "feature_agreement"), ("jaccard", "topk_jaccard"), ("floor_ratio", "floor_ratio")):
        for name in names:
            default = 0.5 if suffix == "feature_agreement" and name in EXPLAINERS else None
            made.append(CheckSpec(f"min_{name}_{suffix}", f"attribution.{name}.{metric}", default, "explained rows", name.upper()))
    return tuple(made)


CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec("max_accuracy_drop", "predictions.accuracy_drop", 0.02, "labelled rows"),
    CheckSpec("min_prediction_agreement", "predictions.agreement", 0.90, "rows"),
    CheckSpec("max_negative_flip_rate", "predictions.negative_flip_rate", None, "labelled rows"),
    CheckSpec("max_class_recall_drop", "predictions.worst_class_recall_drop", None, "labelled rows"),
    CheckSpec("max_ece_increase", "calibration.ece_increase", 0.03, "labelled rows"),
    CheckSpec("max_mce_increase", "calibration.mce_increase", None, "labelled rows"),
    CheckSpec("max_brier_increase", "calibration.brier_increase", 0.03, "labelled rows"),
    CheckSpec("max_ece_difference", "calibration.ece_difference", None, "labelled rows"),
    CheckSpec("max_brier_difference", "calibration.brier_difference", None, "labelled rows"),
    *explainer_checks(EXPLAINERS),
    # Judged on [max of the lower ends, max of the upper ends] of the per-test intervals of
    # |d_small - d_base|: pass iff every test's interval is below the limit, fail iff some
    # test's interval is wholly above it, inconclusive otherwise.
    CheckSpec("max_bias_effect_change", "bias.max_abs_effect_change", None, "word sets"),
    # Linear CKA of the mean-pooled final hidden states, with its paired bootstrap interval.
    CheckSpec("min_cka", "extras.cka", None, "representation rows"),
    # transfer_gap of metrics.adversarial: the larger over both directions of
    # success_rate(source) - transferred_rate(source -> target), over the attacked rows.
    CheckSpec("max_adversarial_transfer_gap", "extras.transfer_gap", None, "attacked rows"),
)
SPECS: dict[str, CheckSpec] = {spec.key: spec for spec in CHECKS}


def calibration_checks() -> tuple[CheckSpec, ...]:
    """Checks of every registered calibration metric not already in :data:`CHECKS`, all off by default.

    Each calibration metric ``<key>`` gets ``max_<key>_increase`` (``max_<key>_drop`` when
    higher is better) and ``max_<key>_difference``, read from ``calibration.<comparison key>``;
    so a metric registered at run time can be gated without touching this module.
    """
    from trustaudit.metrics import comparisons_of, metrics_in

    return tuple(
        CheckSpec(f"max_{comparison.key}", f"calibration.{comparison.key}", None, "labelled rows")
        for spec in metrics_in("calibration")
        for comparison in comparisons_of(spec.name)
        if f"max_{comparison.key}" not in SPECS
    )


def checks() -> tuple[CheckSpec, ...]:
    """Every gate check now, in judging order.

    :data:`CHECKS`, with the checks of explainers registered since import after the built-in
    explainers' ones, then :func:`calibration_checks` (registered calibration metrics and the
    comparisons of built-in ones that :data:`CHECKS` does not hold).
    """
    extra = tuple(name for name in explainer_names() if name not in EXPLAINERS)
    ordered = CHECKS
    if extra:
        builtin = {spec.key for spec in explainer_checks(EXPLAINERS)}
        end = max(i for i, spec in enumerate(CHECKS) if spec.key in builtin) + 1
        ordered = CHECKS[:end] + explainer_checks(extra) + CHECKS[end:]
    return ordered + calibration_checks()


def all_checks() -> tuple[CheckSpec, ...]:
    """Every key a gate configuration may set now (the same as :func:`checks`)."""
    return checks()


def check_spec(key: str) -> CheckSpec | None:
    """The check of gate key ``key`` (registered explainers' and calibration metrics' included), or None."""
    return SPECS.get(key) or next((spec for spec in checks() if spec.key == key), None)


class _GateConfigBase:
    """Behaviour of :class:`GateConfig`, whose fields are made from :data:`CHECKS`.

    Checks of explainers registered after import and of :func:`calibration_checks` have no
    field: their enabled limits are
    held in ``extra_limits`` (a mapping given, kept as sorted ``(key, limit)`` pairs) and
    read like fields (``config.min_<name>_feature_agreement``, ``None`` when off).
    """

    decision: str
    extra_limits: tuple[tuple[str, float], ...]

    def __post_init__(self) -> None:
        if self.decision not in DECISIONS:
            raise GateConfigError(f"decision must be one of {', '.join(DECISIONS)}, got {self.decision!r}")
        extra = dict(self.extra_limits)
        known = {spec.key for spec in checks()} - set(SPECS)
        unknown = sorted(set(extra) - known)
        if unknown:
            raise GateConfigError(
                f"extra_limits: unknown gate key(s) {', '.join(unknown)}; the keys without a field are those of registered "
                f"explainers and calibration metrics: {', '.join(sorted(known)) or 'none'}"
            )
        object.__setattr__(self, "extra_limits", tuple(sorted((k, v) for k, v in extra.items() if v is not None)))
        for key, value in (*((spec.key, getattr(self, spec.key)) for spec in CHECKS), *self.extra_limits):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)):
                raise GateConfigError(f"{key} must be a number or None, got {value!r}")

    def __getattr__(self, name: str) -> Any:
        """A check without a field (a later-registered explainer's or calibration metric's) read like one: its limit, or None when off."""
        if name.startswith("__") or not name.startswith(("min_", "max_")):
            raise AttributeError(name)
        extra = dict(self.__dict__.get("extra_limits", ()))
        if name in extra:
            return extra[name]
        if check_spec(name) is not None:
            return None
        raise AttributeError(f"{type(self).__name__} has no gate key {name!r}")

    @property
    def limits(self) -> dict[str, float | None]:
        """Every check key of :data:`CHECKS` and its limit (``None``: disabled), then the enabled extra limits."""
        return {**{spec.key: getattr(self, spec.key) for spec in CHECKS}, **dict(self.extra_limits)}

    @property
    def enabled(self) -> tuple[CheckSpec, ...]:
        """The checks this configuration judges, in :func:`checks` order."""
        limits = self.limits
        return tuple(spec for spec in checks() if limits.get(spec.key) is not None)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form: every check key (``None`` when disabled) and ``decision``."""
        return {**self.limits, "decision": self.decision}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "gate configuration", *, warn: bool = True) -> Any:
        """Validate keys and values; unknown keys are an error naming the valid ones.

        Valid keys are those of :func:`checks` (including registered explainers' and
        calibration metrics'), ``decision``, and ``use_intervals``: the deprecated spelling
        of ``decision`` (true/false for "interval"/"point"); with ``warn`` it raises a
        :class:`GateDeprecationWarning`.
        """
        valid = {*(spec.key for spec in checks()), "decision", "use_intervals"}
        unknown = sorted(set(data) - valid)
        if unknown:
            raise GateConfigError(
                f"{source}: unknown gate key(s) {', '.join(unknown)}; valid keys are {', '.join(sorted(valid - {'use_intervals'}))}"
            )
        values: dict[str, Any] = {}
        if "use_intervals" in data:
            flag = data["use_intervals"]
            if not isinstance(flag, bool):
                raise GateConfigError(f"{source}: use_intervals must be true or false, got {flag!r}")
            if "decision" in data:
                raise GateConfigError(f"{source}: give decision or the deprecated use_intervals, not both")
            values["decision"] = "interval" if flag else "point"
            if warn:
                warnings.warn(
                    f"{source}: use_intervals is deprecated; write decision = \"{values['decision']}\" instead",
                    GateDeprecationWarning,
                    stacklevel=2,
                )
        if "decision" in data:
            if data["decision"] not in DECISIONS:
                raise GateConfigError(f"{source}: decision must be \"interval\" or \"point\", got {data['decision']!r}")
            values["decision"] = data["decision"]
        for key, value in data.items():
            if key in ("decision", "use_intervals"):
                continue
            spec = check_spec(key)
            if value is None or value is False or (isinstance(value, str) and value.lower() == "off"):
                values[key] = None
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise GateConfigError(f"{source}: {key} must be a number (or false to disable), got {value!r}")
            value = float(value)
            if spec is not None and spec.kind == "min" and spec.bounded and not 0 <= value <= 1:
                raise GateConfigError(f"{source}: {key} must lie in [0, 1], got {value}")
            if value < 0:
                raise GateConfigError(f"{source}: {key} must be >= 0, got {value}")
            values[key] = value
        extra = {key: values.pop(key) for key in list(values) if key not in SPECS and key != "decision"}
        return cls(**values, extra_limits=extra)


GateConfig = make_dataclass(
    "GateConfig",
    [(spec.key, "float | None", field(default=spec.default)) for spec in CHECKS]
    + [("decision", str, field(default="interval")), ("extra_limits", "tuple[tuple[str, float], ...]", field(default=()))],
    bases=(_GateConfigBase,),
    frozen=True,
)
GateConfig.__module__ = __name__
GateConfig.__doc__ = """Thresholds of trust-equivalence, one keyword per check of :data:`CHECKS` (``None`` disables it), and the decision rule.

Defaults: the small model may lose at most 2 accuracy points, must agree with the base on
at least 90% of the rows, may add at most 3 ECE points and 0.03 Brier, and must share at
least half of its top-k words with the base under LIME and under SHAP; every other check
is off. ``decision`` is ``interval`` (judge each check's 95% interval, three-valued) or
``point`` (judge the point estimate, two-valued). ``extra_limits`` (a mapping or
``(key, limit)`` pairs) sets the checks that have no field: those of explainers registered
after import (``min_<name>_feature_agreement``...) and of :func:`calibration_checks`
(calibration metrics registered at run time, comparisons of built-in ones not in
:data:`CHECKS`); :meth:`from_dict` puts such keys there. Example::

    GateConfig(max_accuracy_drop=0.01, min_shap_feature_agreement=None, decision="interval")
    GateConfig.from_dict({"max_smooth_ece_increase": 0.02})

Examples
--------
>>> from trustaudit import GateConfig
>>> config = GateConfig(max_accuracy_drop=0.01, min_shap_feature_agreement=None)
>>> config.max_accuracy_drop, config.min_shap_feature_agreement, config.decision
(0.01, None, 'interval')
>>> [check.key for check in config.enabled]  # doctest: +NORMALIZE_WHITESPACE
['max_accuracy_drop', 'min_prediction_agreement', 'max_ece_increase', 'max_brier_increase',
 'min_lime_feature_agreement']
>>> GateConfig.from_dict({"max_accuracy_drop": False}).max_accuracy_drop is None
True
"""


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise GateConfigError(f"{path}: no such gate file") from None
    except IsADirectoryError:
        raise GateConfigError(f"{path}: is a directory, not a gate file") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise GateConfigError(f"{path}: line {line}: bytes that are not UTF-8; a gate file is UTF-8 TOML") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise GateConfigError(f"{path}: not valid TOML ({exc})") from None


def load_gate_config(path: str | Path | None = None, *, cwd: str | Path | None = None) -> tuple[GateConfig, str]:
    """The gate configuration and where it came from.

    ``path`` (a TOML file) wins; otherwise ``[tool.trustaudit.gate]`` in ``cwd``'s
    ``pyproject.toml``; otherwise the defaults.

    Parameters
    ----------
    path : str or Path, optional
        A TOML gate file: thresholds at top level, or in a ``[gate]`` or
        ``[tool.trustaudit.gate]`` table. ``None`` (default) looks in ``pyproject.toml``.
    cwd : str or Path, optional
        The folder whose ``pyproject.toml`` is read when ``path`` is ``None``; default the
        current directory.

    Returns
    -------
    config : GateConfig
        The thresholds and the decision rule.
    source : str
        Where they came from: the file, ``"<pyproject.toml> [tool.trustaudit.gate]"`` or
        ``"defaults"``.

    Raises
    ------
    GateConfigError
        If ``path`` does not exist, is not UTF-8 TOML, has keys outside its table, or
        holds an unknown key or a threshold out of range.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from trustaudit import load_gate_config
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "gate.toml").write_text("max_accuracy_drop = 0.01\\ndecision = 'point'\\n")
    >>> config, source = load_gate_config(folder / "gate.toml")
    >>> config.max_accuracy_drop, config.decision, source.endswith("gate.toml")
    (0.01, 'point', True)
    >>> load_gate_config(cwd=folder)[1]
    'defaults'
    """
    if path is not None:
        path = Path(path)
        data = _read_toml(path)
        for table in (("tool", "trustaudit", "gate"), ("gate",)):
            section: Any = data
            for part in table:
                section = section.get(part) if isinstance(section, Mapping) else None
            if isinstance(section, Mapping):
                stray = sorted(set(data) - {table[0]})
                if stray:
                    raise GateConfigError(
                        f"{path}: keys outside the [{'.'.join(table)}] table: {', '.join(stray)}; "
                        "put every threshold in that table"
                    )
                return GateConfig.from_dict(section, str(path)), str(path)
        return GateConfig.from_dict(data, str(path)), str(path)
    pyproject = Path(cwd or Path.cwd()) / "pyproject.toml"
    if pyproject.is_file():
        data = _read_toml(pyproject)
        section = data.get("tool", {}).get("trustaudit", {}).get("gate")
        if isinstance(section, Mapping):
            where = f"{pyproject} [tool.trustaudit.gate]"
            return GateConfig.from_dict(section, where), where
    return GateConfig(), "defaults"


@dataclass(frozen=True)
class Measurement:
    """What an audit measured for one check: the value, its 95% interval and the rows behind it.

    ``value`` is ``None`` when the audit could not measure it, with ``reason`` saying why.
    """

    value: float | None
    interval: tuple[float, float] | None = None
    n: int | None = None
    reason: str = ""


@dataclass(frozen=True)
class CheckResult:
    """One threshold's outcome: ``status`` is ``pass``, ``fail``, ``inconclusive`` or ``not measured``.

    ``judged`` is the number compared with the limit: the point estimate, or (interval
    decision) the interval's end on the bad side. ``rows_to_decide`` (inconclusive checks)
    is about how many ``rows`` (of the check's kind) would make the interval clear the limit
    at the observed effect size; ``None`` when the value sits on the limit.
    """

    key: str
    metric: str
    kind: str
    limit: float
    value: float | None
    interval: tuple[float, float] | None
    judged: float | None
    status: str
    message: str
    decision: str = "interval"
    n: int | None = None
    rows: str = "rows"
    rows_to_decide: int | None = None
    unit: str = ""

    @property
    def passed(self) -> bool:
        """True only for a check that passed."""
        return self.status == PASS

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "key": self.key,
            "metric": self.metric,
            "kind": self.kind,
            "limit": self.limit,
            "value": self.value,
            "interval": list(self.interval) if self.interval is not None else None,
            "judged": self.judged,
            "status": self.status,
            "passed": self.passed,
            "decision": self.decision,
            "n": self.n,
            "rows": self.rows,
            "rows_to_decide": self.rows_to_decide,
            "unit": self.unit,
            "message": self.message,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckResult:
        """Inverse of :meth:`to_dict`."""
        interval = data.get("interval")
        spec = check_spec(data["key"])
        return cls(
            key=data["key"],
            metric=data["metric"],
            kind=data["kind"],
            limit=data["limit"],
            value=data["value"],
            interval=tuple(interval) if interval is not None else None,
            judged=data.get("judged"),
            status=data["status"],
            message=data["message"],
            decision=data.get("decision", "point"),
            n=data.get("n"),
            rows=data.get("rows", spec.rows if spec else "rows"),
            rows_to_decide=data.get("rows_to_decide"),
            unit=data.get("unit", spec.unit if spec else ""),
        )


@dataclass(frozen=True)
class GateResult:
    """Every check and the overall verdict (one of :data:`VERDICTS`)."""

    checks: tuple[CheckResult, ...]
    decision: str = "interval"

    @property
    def status(self) -> str:
        """``not trust-equivalent`` if any check failed, else ``incomplete`` if any was not
        measured, else ``inconclusive`` if any straddles its limit, else ``trust-equivalent``."""
        statuses = {check.status for check in self.checks}
        if FAIL in statuses:
            return NOT_TRUST_EQUIVALENT
        if NOT_MEASURED in statuses:
            return INCOMPLETE
        if INCONCLUSIVE in statuses:
            return VERDICT_INCONCLUSIVE
        return TRUST_EQUIVALENT

    @property
    def passed(self) -> bool:
        """True only when the pair is trust-equivalent: every enabled check passed."""
        return self.status == TRUST_EQUIVALENT

    def of_status(self, status: str) -> tuple[CheckResult, ...]:
        """The checks with this status."""
        return tuple(c for c in self.checks if c.status == status)

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        """The checks that failed."""
        return self.of_status(FAIL)


def fmt_value(value: float, unit: str, signed: bool = False) -> str:
    """A check's number as people read it: percentage points for shares, else 3 decimals; never ``-0.0``."""
    if unit == "points":
        text = f"{100 * value:+.1f}" if signed or value < 0 else f"{100 * value:.1f}"
        suffix = " points"
    else:
        text = f"{value:+.3f}" if signed else f"{value:.3f}"
        suffix = ""
    if text.startswith("-") and not text.strip("-+0."):
        text = ("+" if signed else "") + text[1:]
    return text + suffix


def rows_to_decide(value: float, interval: tuple[float, float], n: int, limit: float, kind: str) -> int | None:
    """Rows that would make an interval clear ``limit`` at the observed effect size.

    The interval's half-width on the side facing the limit, ``h``, scales as 1/sqrt(n), so the
    interval stops reaching the limit once ``h * sqrt(n / n') < |value - limit|``:
    ``n' = ceil(n * (h / |value - limit|)**2)``. ``None`` when the value sits on the limit (no
    amount of data decides it at this effect size) or the interval has no width.
    """
    low, high = interval
    gap = abs(value - limit)
    if gap <= 1e-15 or n <= 0:
        return None
    good_side = value <= limit if kind == "max" else value >= limit
    if kind == "max":
        half = (high - value) if good_side else (value - low)
    else:
        half = (value - low) if good_side else (high - value)
    if half <= 0:
        return None
    return max(n + 1, math.ceil(n * (half / gap) ** 2 - 1e-9))


def _about(count: int) -> str:
    """A round figure: two significant digits, with thousands separators."""
    if count < 100:
        return f"{count:,}"
    digits = len(str(count)) - 2
    return f"{round(count, -digits):,}"


def decide_text(check: CheckResult) -> str:
    """How much more data would decide an inconclusive check, in words.

    The bias check's precision is set by the words per set, not by rows (its ``n`` is None),
    so it says that instead of a number of rows.
    """
    if check.rows == "word sets":
        return "more words per set would decide it"
    if check.rows_to_decide is None:
        return "the value sits on the limit: more data alone will not decide it"
    if check.rows == "explained rows":
        return f"explain about {_about(check.rows_to_decide)} rows to decide (now {check.n:,} explained)"
    return f"about {_about(check.rows_to_decide)} {check.rows} would decide it (now {check.n:,})"


def judge(spec: CheckSpec, limit: float, measured: Measurement, decision: str = "interval") -> CheckResult:
    """Judge one measurement against one limit (a pure function)."""
    value = measured.value
    relation = "at most" if spec.kind == "max" else "at least"
    if value is None or (isinstance(value, float) and math.isnan(value)):
        why = f": {measured.reason}" if measured.reason else ""
        message = f"{spec.what}: not measured in this audit{why}"
        return CheckResult(spec.key, spec.metric, spec.kind, limit, None, measured.interval, None, NOT_MEASURED, message,
                           decision, measured.n, spec.rows, None, spec.unit)
    value = float(value)
    interval = tuple(float(v) for v in measured.interval) if measured.interval is not None else None
    shown = f"{spec.what} is {fmt_value(value, spec.unit)}"
    if interval is not None:
        shown += f" [95% interval {fmt_value(interval[0], spec.unit)} to {fmt_value(interval[1], spec.unit)}]"
    required = f"required {relation} {fmt_value(limit, spec.unit)}"
    good = (lambda x: x <= limit) if spec.kind == "max" else (lambda x: x >= limit)
    to_decide = None
    if decision == "point":
        status = PASS if good(value) else FAIL
        judged = value
        basis = "judged on the point estimate"
    elif interval is None:
        status, judged = INCONCLUSIVE, None
        basis = "it has no interval (none is computed with n_resamples = 0), so the interval rule cannot decide it"
    else:
        low, high = interval
        bad_end, good_end = (high, low) if spec.kind == "max" else (low, high)
        judged = bad_end
        if good(bad_end):
            status, basis = PASS, "the whole interval is on the good side"
        elif not good(good_end):
            status, basis = FAIL, "the whole interval is on the bad side"
        else:
            status = INCONCLUSIVE
            to_decide = rows_to_decide(value, interval, measured.n or 0, limit, spec.kind)
            basis = "the interval straddles the limit"
    message = f"{shown}; {required}: {status} ({basis})"
    result = CheckResult(spec.key, spec.metric, spec.kind, limit, value, interval, judged, status, message,
                         decision, measured.n, spec.rows, to_decide, spec.unit)
    if status == INCONCLUSIVE and interval is not None:
        result = replace(result, message=f"{message}; {decide_text(result)}")
    return result


def evaluate(
    values: Mapping[str, float | None | Measurement],
    config: GateConfig,
    *,
    intervals: Mapping[str, tuple[float, float]] | None = None,
    sizes: Mapping[str, int] | None = None,
) -> GateResult:
    """Judge measured values (keyed by each check's ``metric`` path) against ``config``.

    A pure function: no I/O. ``values`` holds :class:`Measurement` objects or bare numbers
    (then ``intervals`` and ``sizes`` give their intervals and sample sizes). A check whose
    value is missing is ``not measured``; a check disabled in ``config`` is absent.

    Parameters
    ----------
    values : mapping of str to float, None or Measurement
        The measured values, keyed by each check's ``metric`` path
        (``"predictions.accuracy_drop"``, ``"calibration.ece_increase"``...).
    config : GateConfig
        The thresholds (``None`` disables a check) and the decision rule.
    intervals : mapping of str to (float, float), optional
        95% intervals of the bare numbers in ``values``, by the same keys. Default none.
    sizes : mapping of str to int, optional
        Number of rows behind the bare numbers in ``values``. Default none.

    Returns
    -------
    GateResult
        One :class:`CheckResult` per enabled check, in the order of ``config.enabled``, and
        the overall ``status``.

    Examples
    --------
    >>> from trustaudit import GateConfig, evaluate
    >>> config = GateConfig(max_ece_increase=None, max_brier_increase=None,
    ...                     min_lime_feature_agreement=None, min_shap_feature_agreement=None)
    >>> values = {"predictions.accuracy_drop": 0.004, "predictions.agreement": 0.95}
    >>> intervals = {"predictions.accuracy_drop": (-0.01, 0.018), "predictions.agreement": (0.93, 0.97)}
    >>> result = evaluate(values, config, intervals=intervals)
    >>> result.status, [check.status for check in result.checks]
    ('trust-equivalent', ['pass', 'pass'])
    >>> from dataclasses import replace
    >>> evaluate(values, replace(config, decision="point")).passed
    True
    """
    intervals = intervals or {}
    sizes = sizes or {}
    results = []
    for spec in config.enabled:
        raw = values.get(spec.metric)
        if isinstance(raw, Measurement):
            measured = raw
        else:
            interval = intervals.get(spec.metric)
            measured = Measurement(raw, tuple(interval) if interval is not None else None, sizes.get(spec.metric))
        results.append(judge(spec, float(config.limits[spec.key]), measured, config.decision))
    return GateResult(tuple(results), config.decision)


def verdict_sentence(result: GateResult) -> str:
    """The verdict in one sentence, then what it rests on."""
    checks = result.checks
    status = result.status
    rule = "on their 95% intervals" if result.decision == "interval" else "on their point estimates"
    if not checks:
        return "No check is enabled in the gate, so nothing was judged."
    if status == TRUST_EQUIVALENT:
        return f"Trust-equivalent: all {len(checks)} checks pass {rule}, so the small model can stand in for the base model under these thresholds."
    if status == NOT_TRUST_EQUIVALENT:
        failed = result.of_status(FAIL)
        text = (f"Not trust-equivalent: {len(failed)} of {len(checks)} checks fail {rule} ({', '.join(c.key for c in failed)}); "
                "do not ship the small model as a drop-in replacement without looking closer.")
    elif status == INCOMPLETE:
        missing = result.of_status(NOT_MEASURED)
        text = (f"Incomplete: {len(missing)} of {len(checks)} enabled checks could not be measured "
                f"({', '.join(c.key for c in missing)}), so the audit cannot show trust-equivalence; "
                "measure them, or turn them off in the gate file if they do not apply.")
    else:
        open_ = result.of_status(INCONCLUSIVE)
        parts = [f"{c.key}: {decide_text(c)}" if c.interval is not None else f"{c.key}: no interval" for c in open_]
        text = (f"Inconclusive: no check fails, but {len(open_)} of {len(checks)} have intervals that straddle their limits "
                f"({'; '.join(parts)}).")
    others = [c for c in checks if c.status in (INCONCLUSIVE, NOT_MEASURED) and status == NOT_TRUST_EQUIVALENT]
    if others:
        text += f" Also undecided: {', '.join(f'{c.key} ({c.status})' for c in others)}."
    return text
