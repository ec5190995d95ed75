"""The CI gate: thresholds -> verdict, as a pure function, plus JUnit and Markdown outputs.

Thresholds come from a TOML file (``--gate FILE``: top-level keys or a ``[gate]`` table) or
from ``[tool.trustaudit.gate]`` in the working directory's ``pyproject.toml``; keys not
given keep their defaults, a key set to ``false`` or ``"off"`` disables its check, and an
unknown key is an error.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from trustaudit.exceptions import GateConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


@dataclass(frozen=True)
class CheckSpec:
    """One gate check: the result value it reads, its direction and how to say it."""

    key: str
    metric: str
    kind: str  # "max": value must be <= limit; "min": value must be >= limit
    what: str
    unit: str = ""


CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec("max_accuracy_drop", "predictions.accuracy_drop", "max", "accuracy drop (base - small)", "points"),
    CheckSpec("min_prediction_agreement", "predictions.agreement", "min", "prediction agreement"),
    CheckSpec("max_ece_increase", "calibration.ece_increase", "max", "ECE increase (small - base)", "points"),
    CheckSpec("max_brier_increase", "calibration.brier_increase", "max", "Brier score increase (small - base)"),
    CheckSpec("min_lime_feature_agreement", "attribution.lime.feature_agreement", "min", "LIME top-k feature agreement"),
    CheckSpec("min_shap_feature_agreement", "attribution.shap.feature_agreement", "min", "SHAP top-k feature agreement"),
    CheckSpec("min_lime_floor_ratio", "attribution.lime.floor_ratio", "min", "LIME feature agreement as a share of its noise floor"),
    CheckSpec("min_shap_floor_ratio", "attribution.shap.floor_ratio", "min", "SHAP feature agreement as a share of its noise floor"),
)
_SPECS = {spec.key: spec for spec in CHECKS}


@dataclass(frozen=True)
class GateConfig:
    """Thresholds of trust-equivalence; ``None`` disables a check.

    Defaults: the small model may lose at most 2 accuracy points, must agree with the base on
    at least 90% of the rows, may add at most 3 ECE points and 0.03 Brier, and must share at
    least half of its top-k words with the base under LIME and under SHAP. The noise-floor
    ratios are off by default. ``use_intervals`` judges each check on the pessimistic end of
    its 95% interval instead of the point estimate.
    """

    max_accuracy_drop: float | None = 0.02
    min_prediction_agreement: float | None = 0.90
    max_ece_increase: float | None = 0.03
    max_brier_increase: float | None = 0.03
    min_lime_feature_agreement: float | None = 0.5
    min_shap_feature_agreement: float | None = 0.5
    min_lime_floor_ratio: float | None = None
    min_shap_floor_ratio: float | None = None
    use_intervals: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (``None`` for a disabled check)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "gate configuration") -> GateConfig:
        """Validate keys and values; unknown keys are an error naming the valid ones."""
        valid = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - valid)
        if unknown:
            raise GateConfigError(
                f"{source}: unknown gate key(s) {', '.join(unknown)}; valid keys are {', '.join(sorted(valid))}"
            )
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key == "use_intervals":
                if not isinstance(value, bool):
                    raise GateConfigError(f"{source}: use_intervals must be true or false, got {value!r}")
                values[key] = value
                continue
            if value is None or value is False or (isinstance(value, str) and value.lower() == "off"):
                values[key] = None
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise GateConfigError(f"{source}: {key} must be a number (or false to disable), got {value!r}")
            value = float(value)
            if key.startswith("min_") and not key.endswith("floor_ratio") and not 0 <= value <= 1:
                raise GateConfigError(f"{source}: {key} must lie in [0, 1], got {value}")
            if key.startswith("max_") and value < 0:
                raise GateConfigError(f"{source}: {key} must be >= 0, got {value}")
            values[key] = value
        return replace(cls(), **values)


def load_gate_config(path: str | Path | None = None, cwd: str | Path | None = None) -> tuple[GateConfig, str]:
    """The gate configuration and where it came from.

    ``path`` (a TOML file) wins; otherwise ``[tool.trustaudit.gate]`` in ``cwd``'s
    ``pyproject.toml``; otherwise the defaults.
    """
    if path is not None:
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise GateConfigError(f"{path}: no such gate file") from None
        except tomllib.TOMLDecodeError as exc:
            raise GateConfigError(f"{path}: not valid TOML ({exc})") from None
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
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise GateConfigError(f"{pyproject}: not valid TOML ({exc})") from None
        section = data.get("tool", {}).get("trustaudit", {}).get("gate")
        if isinstance(section, Mapping):
            return GateConfig.from_dict(section, f"{pyproject} [tool.trustaudit.gate]"), f"{pyproject} [tool.trustaudit.gate]"
    return GateConfig(), "defaults"


@dataclass(frozen=True)
class CheckResult:
    """One threshold's outcome. ``status`` is ``pass``, ``fail`` or ``skipped`` (no value)."""

    key: str
    metric: str
    kind: str
    limit: float
    value: float | None
    interval: tuple[float, float] | None
    judged: float | None
    status: str
    message: str

    @property
    def passed(self) -> bool:
        """A skipped check does not fail the gate."""
        return self.status != "fail"

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
            "message": self.message,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckResult:
        """Inverse of :meth:`to_dict`."""
        interval = data.get("interval")
        return cls(
            key=data["key"],
            metric=data["metric"],
            kind=data["kind"],
            limit=data["limit"],
            value=data["value"],
            interval=tuple(interval) if interval is not None else None,
            judged=data["judged"],
            status=data["status"],
            message=data["message"],
        )


@dataclass(frozen=True)
class GateResult:
    """Every check and the overall verdict."""

    checks: tuple[CheckResult, ...]
    use_intervals: bool

    @property
    def passed(self) -> bool:
        """True when no check failed."""
        return all(check.passed for check in self.checks)

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        """The checks that failed."""
        return tuple(c for c in self.checks if c.status == "fail")


def _fmt(value: float, unit: str) -> str:
    if unit == "points":
        return f"{100 * value:+.1f} points"
    return f"{value:.3f}"


def _check(spec: CheckSpec, limit: float, value: float | None, interval: tuple[float, float] | None, use_intervals: bool) -> CheckResult:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        message = f"{spec.what}: not measured in this audit, so not judged"
        return CheckResult(spec.key, spec.metric, spec.kind, limit, None, interval, None, "skipped", message)
    on_interval = use_intervals and interval is not None
    judged = (interval[1] if spec.kind == "max" else interval[0]) if on_interval else value
    ok = judged <= limit if spec.kind == "max" else judged >= limit
    relation = "at most" if spec.kind == "max" else "at least"
    basis = " (judged on the pessimistic end of the 95% interval)" if on_interval else ""
    message = (
        f"{spec.what} is {_fmt(value, spec.unit)}"
        + (f" [95% interval {_fmt(interval[0], spec.unit)} to {_fmt(interval[1], spec.unit)}]" if interval else "")
        + f"; required {relation} {_fmt(limit, spec.unit)}{basis}"
    )
    return CheckResult(spec.key, spec.metric, spec.kind, limit, float(value), interval, float(judged), "pass" if ok else "fail", message)


def evaluate(values: Mapping[str, float | None], config: GateConfig, intervals: Mapping[str, tuple[float, float]] | None = None) -> GateResult:
    """Judge metric ``values`` (keyed by each check's ``metric`` path) against ``config``.

    A pure function: no I/O. A check whose value is missing is ``skipped``, not failed.
    """
    intervals = intervals or {}
    results = []
    for spec in CHECKS:
        limit = getattr(config, spec.key)
        if limit is None:
            continue
        interval = intervals.get(spec.metric)
        results.append(_check(spec, float(limit), values.get(spec.metric), tuple(interval) if interval else None, config.use_intervals))
    return GateResult(tuple(results), config.use_intervals)


def junit_xml(result: GateResult, name: str = "trustaudit") -> str:
    """A JUnit XML report with one test case per check (skipped checks marked skipped)."""
    failures = len(result.failed)
    skipped = sum(1 for c in result.checks if c.status == "skipped")
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<testsuites name={quoteattr(name)} tests="{len(result.checks)}" failures="{failures}" skipped="{skipped}">',
        f'  <testsuite name={quoteattr(name + ".gate")} tests="{len(result.checks)}" failures="{failures}" skipped="{skipped}" errors="0">',
    ]
    for check in result.checks:
        lines.append(f'    <testcase classname="trustaudit.gate" name={quoteattr(check.key)}>')
        if check.status == "fail":
            lines.append(f"      <failure message={quoteattr(check.message)}>{escape(check.message)}</failure>")
        elif check.status == "skipped":
            lines.append(f"      <skipped message={quoteattr(check.message)}/>")
        else:
            lines.append(f"      <system-out>{escape(check.message)}</system-out>")
        lines.append("    </testcase>")
    lines += ["  </testsuite>", "</testsuites>", ""]
    return "\n".join(lines)
