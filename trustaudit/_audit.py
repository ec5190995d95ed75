"""The audit facade: one call runs predictions, calibration, explanations and the gate.

The result is an :class:`AuditResult` wrapping one plain-JSON document (documented in the
README), so ``to_dict()``/``from_dict()`` round-trip exactly and a report can be
re-rendered from the JSON alone.
"""

from __future__ import annotations

import copy
import datetime as _dt
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from trustaudit._cache import EvalCache
from trustaudit._engine import Evaluator, resolve_cache, resolve_device
from trustaudit._io import write_text_atomic
from trustaudit._progress import progress_enabled
from trustaudit._version import __version__
from trustaudit.data import Dataset, load_dataset
from trustaudit.exceptions import InvalidInputError
from trustaudit.explain import EXPLAINERS, SEGMENTS, TARGETS, explainer_names, get_explainer
from trustaudit.explain._registry import BUDGET_FIELDS
from trustaudit.gate import GateConfig, GateResult, Measurement, evaluate, verdict_sentence
from trustaudit.models import ModelBundle, ModelPair, load_pair
from trustaudit._predict import Predictions, predict

if TYPE_CHECKING:
    from trustaudit.bias import BiasTestSuite

SCHEMA_VERSION = 2
BIAS_POOLINGS = ("mean", "cls")
#: Why a bias check is not measured when the user turned the comparison off.
BIAS_OFF = "the bias comparison was turned off (--no-bias)"


@dataclass(frozen=True)
class AuditConfig:
    """Every setting of an audit. Defaults are the CLI's defaults.

    ``bias`` runs the bias comparison (``bias_tests``: a JSON file of association tests, None
    for the shipped WEAT 3-8; ``bias_pooling``: ``mean`` and/or ``cls``; ``bias_permutations``
    per test's p-value); its bootstrap uses ``n_resamples`` and ``seed``.

    ``explainers`` are registered explainer names (:func:`~trustaudit.explain.explainer_names`).
    LIME's budget is ``lime_samples`` and SHAP's ``shap_max_evals``; any other explainer's is
    ``budgets[name]``, else its default (see :meth:`budget`).
    """

    explain_n: int = 100
    lime_samples: int = 1000
    shap_max_evals: int = 500
    top_k: tuple[int, ...] = (5,)
    seed: int = 0
    n_bins: int = 15
    n_resamples: int = 1000
    segment: str = "both"
    target: str = "base_predicted"
    explainers: tuple[str, ...] = EXPLAINERS
    self_agreement: bool = True
    batch_size: int = 32
    device: str = "auto"
    max_disagreements: int = 200
    gate: GateConfig = field(default_factory=GateConfig)
    gate_source: str = "defaults"
    bias: bool = True
    bias_tests: str | None = None
    bias_pooling: tuple[str, ...] = BIAS_POOLINGS
    bias_permutations: int = 10_000
    budgets: Mapping[str, int] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "budgets", dict(self.budgets))
        registered = explainer_names()
        if isinstance(self.bias_tests, os.PathLike):
            object.__setattr__(self, "bias_tests", os.fspath(self.bias_tests))
        if isinstance(self.bias_pooling, str):
            object.__setattr__(self, "bias_pooling", tuple(p.strip() for p in self.bias_pooling.split(",")))
        elif not isinstance(self.bias_pooling, tuple):
            object.__setattr__(self, "bias_pooling", tuple(self.bias_pooling))
        checks = [
            (self.explain_n >= 0, f"explain_n must be >= 0, got {self.explain_n}"),
            (self.lime_samples >= 10, f"lime_samples must be >= 10, got {self.lime_samples}"),
            (self.shap_max_evals >= 10, f"shap_max_evals must be >= 10, got {self.shap_max_evals}"),
            (len(self.top_k) > 0 and all(k >= 1 for k in self.top_k), f"top_k must be positive integers, got {self.top_k}"),
            (self.n_bins >= 1, f"n_bins must be >= 1, got {self.n_bins}"),
            (self.n_resamples >= 0, f"n_resamples must be >= 0, got {self.n_resamples}"),
            (self.segment in SEGMENTS, f"segment must be one of {', '.join(SEGMENTS)}, got {self.segment!r}"),
            (self.target in TARGETS, f"target must be one of {', '.join(TARGETS)}, got {self.target!r}"),
            (set(self.explainers) <= set(registered) and len(self.explainers) > 0,
             f"explainers must be among {', '.join(registered)}, got {self.explainers}"),
            (self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}"),
            (isinstance(self.bias, bool), f"bias must be true or false, got {self.bias!r}"),
            (self.bias_tests is None or (isinstance(self.bias_tests, str) and self.bias_tests != ""),
             f"bias_tests must be a JSON file path or None (the shipped WEAT 3-8), got {self.bias_tests!r}"),
            (len(self.bias_pooling) > 0 and set(self.bias_pooling) <= set(BIAS_POOLINGS) and len(set(self.bias_pooling)) == len(self.bias_pooling),
             f"bias_pooling must be distinct methods among {', '.join(BIAS_POOLINGS)}, got {self.bias_pooling}"),
            (isinstance(self.bias_permutations, int) and not isinstance(self.bias_permutations, bool) and self.bias_permutations >= 1,
             f"bias_permutations must be an integer >= 1, got {self.bias_permutations!r}"),
        ]
        for ok, message in checks:
            if not ok:
                raise InvalidInputError(message)
        for name, budget in self.budgets.items():
            if name not in registered or name in BUDGET_FIELDS:
                others = [n for n in registered if n not in BUDGET_FIELDS]
                raise InvalidInputError(
                    f"budgets holds registered explainers without a config field of their own ({', '.join(others) or 'none'}), got {name!r}"
                    + (f"; set {BUDGET_FIELDS[name]} instead" if name in BUDGET_FIELDS else "")
                )
            get_explainer(name).check_budget(budget, f"budgets[{name!r}]")

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["top_k"] = list(self.top_k)
        out["explainers"] = list(self.explainers)
        out["bias_pooling"] = list(self.bias_pooling)
        out["gate"] = self.gate.to_dict()
        if self.budgets:
            out["budgets"] = dict(self.budgets)
        else:
            del out["budgets"]
        return out

    def budget(self, name: str) -> int:
        """The budget (model evaluations per explanation) of explainer ``name`` in this audit."""
        if name in BUDGET_FIELDS:
            return int(getattr(self, BUDGET_FIELDS[name]))
        return int(self.budgets.get(name, get_explainer(name).default_budget))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditConfig:
        """Inverse of :meth:`to_dict`; a config stored before a setting existed gets its default."""
        values = dict(data)
        values["bias_pooling"] = tuple(values.get("bias_pooling", BIAS_POOLINGS))
        values["top_k"] = tuple(values.get("top_k", (5,)))
        values["explainers"] = tuple(values.get("explainers", EXPLAINERS))
        values["gate"] = GateConfig.from_dict(values.get("gate", {}), "stored thresholds", warn=False)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


@dataclass(frozen=True, eq=False)
class AuditResult:
    """The outcome of an audit: one plain-JSON document with typed accessors."""

    document: Mapping[str, Any]

    @property
    def passed(self) -> bool:
        """True only when the verdict is ``trust-equivalent``."""
        return bool(self.document["verdict"]["passed"])

    @property
    def status(self) -> str:
        """The verdict: ``trust-equivalent``, ``not trust-equivalent``, ``inconclusive`` or ``incomplete``."""
        return str(self.document["verdict"]["status"])

    @property
    def gate(self) -> GateResult:
        """The gate checks as objects."""
        from trustaudit.gate import CheckResult

        verdict = self.document["verdict"]
        return GateResult(tuple(CheckResult.from_dict(c) for c in verdict["checks"]), str(verdict.get("decision", "interval")))

    def __getitem__(self, key: str) -> Any:
        return self.document[key]

    def get(self, path: str, default: Any = None) -> Any:
        """A value by dotted path, e.g. ``result.get("calibration.small.ece")``."""
        node: Any = self.document
        for part in path.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return default
            node = node[part]
        return node

    def to_dict(self) -> dict[str, Any]:
        """A deep copy of the document (plain JSON types only)."""
        return copy.deepcopy(dict(self.document))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditResult:
        """Wrap a document read back from JSON, validated against the results schema of its version.

        A document of an earlier schema is brought to the current one: its verdict is
        judged again under the current rules from its stored values and intervals (with
        its stored thresholds), and ``verdict.rejudged`` says so. Raises
        :class:`~trustaudit._schema.SchemaError` (an :class:`InvalidInputError`) naming the
        JSON path of the first problem.
        """
        from trustaudit._schema import validate_results

        version = data.get("schema_version") if isinstance(data, Mapping) else None
        if version is None:
            raise InvalidInputError("not a trustaudit results document (no schema_version)")
        if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
            raise InvalidInputError(f"results schema_version {version} is newer than this trustaudit reads ({SCHEMA_VERSION})")
        validate_results(data)
        doc = copy.deepcopy(dict(data))
        if doc["schema_version"] < SCHEMA_VERSION:
            doc = _upgrade(doc, doc["schema_version"])
        return cls(doc)

    def to_json(self) -> str:
        """The document as JSON text (no NaN: missing values are null)."""
        return json.dumps(self.document, indent=1, ensure_ascii=False, allow_nan=False) + "\n"

    def write_json(self, path: str | os.PathLike[str]) -> Path:
        """Write the JSON atomically."""
        write_text_atomic(path, self.to_json())
        return Path(path)

    @classmethod
    def read_json(cls, path: str | os.PathLike[str]) -> AuditResult:
        """Read a results file written by :meth:`write_json`; every problem is named with ``path``."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InvalidInputError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise InvalidInputError(f"{path}: is a directory, not a results file") from None
        except UnicodeDecodeError:
            raise InvalidInputError(f"{path}: not UTF-8 text, so not a results file") from None
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
        try:
            return cls.from_dict(data)
        except InvalidInputError as exc:
            raise InvalidInputError(f"{path}: {exc}") from None


def jsonable(value: Any) -> Any:
    """Plain JSON types: arrays to lists, numpy scalars to Python, NaN/inf to None."""
    from trustaudit.metrics._serialize import to_jsonable

    return to_jsonable(value)


def stratified_sample(labels: np.ndarray | None, n: int, seed: int) -> np.ndarray:
    """``n`` row positions drawn without replacement, stratified by label, sorted.

    Each class gets its proportional share (largest remainders first); without labels, a
    plain random sample.
    """
    rng = np.random.default_rng(seed)
    total = len(labels) if labels is not None else 0
    if labels is None:
        raise InvalidInputError("stratified sampling needs labels")
    n = min(n, total)
    classes, counts = np.unique(labels, return_counts=True)
    quotas = counts * n / total
    take = np.floor(quotas).astype(int)
    order = np.argsort(-(quotas - take), kind="stable")
    for i in order[: n - int(take.sum())]:
        take[i] += 1
    chosen = [rng.choice(np.flatnonzero(labels == c), size=t, replace=False) for c, t in zip(classes, take) if t > 0]
    return np.sort(np.concatenate(chosen)) if chosen else np.array([], dtype=int)


def _sample_rows(dataset: Dataset, n: int, seed: int) -> np.ndarray:
    if n <= 0:
        return np.array([], dtype=int)
    if dataset.labels is not None:
        return stratified_sample(dataset.labels, n, seed)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(len(dataset), size=min(n, len(dataset)), replace=False))


def _timed_forward(bundle: ModelBundle, chunk: Sequence[tuple[str, str | None]], device: torch.device) -> float:
    """Seconds for tokenizing ``chunk`` and one forward pass over it."""
    texts_b = [b for _, b in chunk]
    start = time.perf_counter()
    enc = bundle.tokenizer(
        [a for a, _ in chunk], texts_b if texts_b[0] is not None else None,
        padding=True, truncation=True, max_length=bundle.max_length, return_tensors="pt",
    ).to(device)
    with torch.inference_mode():
        bundle.model(**enc)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def measure_latency(
    bundles: Mapping[str, ModelBundle],
    pairs: Sequence[tuple[str, str | None]],
    device: torch.device,
    batch_size: int = 32,
    repeats: int = 7,
) -> dict[str, dict[str, Any]]:
    """Median wall time of tokenization plus a forward pass, at batch 1 and at ``batch_size``.

    The models are measured in alternation, round after round, so that a burst of load
    on the machine slows all of them alike and the speed-up stays fair.
    """
    singles = list(pairs[: min(len(pairs), 8)])
    batch = list(pairs[:batch_size])
    for bundle in bundles.values():
        bundle.model.to(device).eval()
        _timed_forward(bundle, batch, device)
    one: dict[str, list[float]] = {name: [] for name in bundles}
    many: dict[str, list[float]] = {name: [] for name in bundles}
    for _ in range(repeats):
        for name, bundle in bundles.items():
            one[name].append(sum(_timed_forward(bundle, [p], device) for p in singles) / len(singles))
            many[name].append(_timed_forward(bundle, batch, device) / len(batch))
    return {
        name: {
            "batch1_ms": statistics.median(one[name]) * 1000,
            "batched_ms_per_example": statistics.median(many[name]) * 1000,
            "batch_size": len(batch),
            "device": device.type,
            "threads": torch.get_num_threads(),
            "repeats": repeats,
        }
        for name in bundles
    }


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version(), "platform": platform.platform(terse=True), "trustaudit": __version__}
    for name in ("torch", "transformers", "shap", "lime", "numpy", "scipy", "scikit-learn", "matplotlib", "jinja2"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _interval(low: float | None, high: float | None) -> list[float] | None:
    if low is None or high is None:
        return None
    return [float(low), float(high)]


def _bootstrap_mean(values: np.ndarray, n_resamples: int, seed: int) -> list[float] | None:
    from trustaudit.metrics._bootstrap import count_weights, percentile_interval

    if n_resamples <= 0 or len(values) == 0:
        return None
    means = np.concatenate([w @ values / len(values) for w in count_weights(len(values), n_resamples, seed)])
    return list(percentile_interval(means, 0.95))


def _predictions_section(pair: ModelPair, dataset: Dataset, base: Predictions, small: Predictions, config: AuditConfig) -> dict[str, Any]:
    from trustaudit.metrics import flip_kinds, flip_rates, flips_by_confidence, per_class_comparison, prediction_agreement

    gold = dataset.labels
    agreement = prediction_agreement(
        base.predicted, small.predicted, gold, n_classes=len(pair.labels), n_resamples=config.n_resamples, seed=config.seed
    )
    same = (base.predicted == small.predicted).astype(np.float64)
    drop = None if agreement.accuracy_diff is None else -agreement.accuracy_diff
    drop_interval = None
    if agreement.accuracy_diff_ci is not None:
        drop_interval = [-agreement.accuracy_diff_ci[1], -agreement.accuracy_diff_ci[0]]
    flipped = np.flatnonzero(base.predicted != small.predicted)
    shown = flipped[: config.max_disagreements]
    kinds = flip_kinds(base.predicted[shown], small.predicted[shown], None if gold is None else gold[shown]) if len(shown) else []
    disagreements = []
    for i, kind in zip(shown, kinds):
        disagreements.append({
            "row": int(dataset.rows[i]),
            "text_a": dataset.text_a[i],
            "text_b": dataset.text_b[i] if dataset.text_b is not None else None,
            "gold": pair.labels[int(gold[i])] if gold is not None else None,
            "base": pair.labels[int(base.predicted[i])],
            "base_confidence": float(base.confidence[i]),
            "small": pair.labels[int(small.predicted[i])],
            "small_confidence": float(small.confidence[i]),
            "kind": kind,
        })
    bootstrap = {"n_resamples": config.n_resamples, "seed": config.seed}
    rates = None if gold is None else flip_rates(base.predicted, small.predicted, gold, **bootstrap)
    classes = None if gold is None else per_class_comparison(base.predicted, small.predicted, gold, len(pair.labels), **bootstrap)
    per_class = None
    if classes is not None:
        per_class = [
            {
                "label": label,
                "support": int(classes.support[c]),
                "base_recall": classes.base_recall[c],
                "small_recall": classes.small_recall[c],
                "recall_drop": classes.recall_drop[c],
                "recall_drop_interval": _interval(jsonable(classes.recall_drop_ci_low[c]), jsonable(classes.recall_drop_ci_high[c])),
                "base_precision": classes.base_precision[c],
                "small_precision": classes.small_precision[c],
                "precision_drop": classes.precision_drop[c],
                "precision_drop_interval": _interval(jsonable(classes.precision_drop_ci_low[c]), jsonable(classes.precision_drop_ci_high[c])),
            }
            for c, label in enumerate(pair.labels)
        ]
    worst = None if classes is None else classes.worst_class
    bands = flips_by_confidence(base.confidence, base.predicted, small.predicted, gold)
    return {
        "n": len(dataset),
        "labels": list(pair.labels),
        "base": {"accuracy": agreement.base_accuracy, "mean_confidence": float(base.confidence.mean()), "n_truncated": base.n_truncated},
        "small": {"accuracy": agreement.small_accuracy, "mean_confidence": float(small.confidence.mean()), "n_truncated": small.n_truncated},
        "accuracy_drop": drop,
        "accuracy_drop_interval": drop_interval,
        "agreement": agreement.agreement,
        "agreement_interval": _bootstrap_mean(same, config.n_resamples, config.seed),
        "kappa": agreement.cohen_kappa,
        "flips": agreement.n_flips,
        "flip_matrix": agreement.flip_matrix.tolist(),
        "mcnemar": {
            "statistic": agreement.mcnemar_statistic,
            "p_value": agreement.mcnemar_p_value,
            "method": agreement.mcnemar_method,
            "base_only_errors": agreement.small_only_correct,
            "small_only_errors": agreement.base_only_correct,
        },
        "error_jaccard": agreement.error_jaccard,
        "negative_flip_rate": None if rates is None else rates.negative_flip_rate,
        "negative_flip_rate_interval": None if rates is None or rates.negative_flip_rate_ci is None else list(rates.negative_flip_rate_ci),
        "positive_flip_rate": None if rates is None else rates.positive_flip_rate,
        "positive_flip_rate_interval": None if rates is None or rates.positive_flip_rate_ci is None else list(rates.positive_flip_rate_ci),
        "negative_flips": None if rates is None else rates.negative_flips,
        "positive_flips": None if rates is None else rates.positive_flips,
        "per_class": per_class,
        "worst_class_recall_drop": None if classes is None else classes.worst_recall_drop,
        "worst_class_recall_drop_interval": None if classes is None or classes.worst_recall_drop_ci is None else list(classes.worst_recall_drop_ci),
        "worst_class": None if worst is None else pair.labels[worst],
        "confidence_bands": [band.to_dict() for band in bands],
        "disagreements": disagreements,
    }


#: Calibration metrics whose increase and absolute difference the section also states under
#: their own keys (``ece_increase``...), as results files always have; the gate derives the
#: other metrics' comparisons from ``comparison`` (see :func:`_calibration_changes`).
_STATED_CHANGES = ("ece", "mce", "brier")


def _calibration_section(base: Predictions, small: Predictions, labels: np.ndarray | None, config: AuditConfig) -> dict[str, Any]:
    """Every registered calibration metric of both models, and each one's paired small - base comparison."""
    if labels is None:
        return {"available": False}
    from trustaudit.metrics import calibration_metrics, compare_calibration

    comparison = compare_calibration(base.probs, small.probs, labels, n_bins=config.n_bins, n_resamples=config.n_resamples, seed=config.seed)
    section: dict[str, Any] = {"available": True, "settings": jsonable({**comparison.settings, "n_bins": comparison.n_bins, "n_resamples": comparison.n_resamples, "seed": comparison.seed})}
    for name, result in (("base", comparison.base), ("small", comparison.small)):
        section[name] = {
            **{key: jsonable(result.value(key)) for key in calibration_metrics()},
            "accuracy": result.accuracy,
            "mean_confidence": result.mean_confidence,
            "smooth_ece_bandwidth": jsonable(result.smooth_ece_sigma),
            "bins": jsonable(result.bins.to_dict()),
        }
    section["comparison"] = {name: jsonable(m.to_dict()) for name, m in comparison.metrics.items()}
    for name in _STATED_CHANGES:
        metric = comparison.metrics[name]
        interval = _interval(metric.ci_low, metric.ci_high)
        section[f"{name}_increase"] = metric.diff
        section[f"{name}_increase_interval"] = interval
        section[f"{name}_difference"] = abs(metric.diff)
        section[f"{name}_difference_interval"] = _absolute_interval(interval)
    return section


def _bias_suite(config: AuditConfig) -> BiasTestSuite | None:
    """The association tests of the audit, read before any model work so that a bad file fails at once; None when bias is off."""
    if not config.bias:
        return None
    from trustaudit.bias._compare import resolve_tests

    return resolve_tests(config.bias_tests)


def _bias_section(
    pair: ModelPair,
    dataset: Dataset,
    rows: np.ndarray,
    suite: BiasTestSuite,
    config: AuditConfig,
    device: torch.device,
    evaluators: tuple[Evaluator, Evaluator],
) -> dict[str, Any]:
    """The ``bias`` section: association tests on both models and counterfactual flips of the explained rows.

    A model that cannot give its hidden states (an ONNX export) cannot be tested; the section
    then says why instead of failing the audit. The counterfactual flips reuse the audit's
    evaluators, so their predictions share its cache.
    """
    from trustaudit.bias import compare_bias, counterfactual_flips

    try:
        embedding = compare_bias(
            pair.base, pair.small, suite, pooling=config.bias_pooling, n_permutations=config.bias_permutations,
            n_resamples=config.n_resamples, seed=config.seed, batch_size=config.batch_size, device=device,
        )
    except InvalidInputError as exc:
        return {"available": False, "reason": str(exc)}
    counterfactual = None
    if len(rows):
        texts = dataset.pairs()
        counterfactual = counterfactual_flips(
            pair, [texts[int(i)] for i in rows], n_resamples=config.n_resamples, seed=config.seed,
            batch_size=config.batch_size, device=device, evaluators=evaluators,
        ).to_dict()
    return {
        "available": True,
        "reason": "",
        "embedding": embedding.to_dict(),
        "counterfactual": counterfactual,
        "rows": [int(dataset.rows[int(i)]) for i in rows],
    }


def bias_measurement(doc: Mapping[str, Any]) -> Measurement:
    """The gate's measurement of the largest change in bias effect size, over tests and poolings.

    The value is ``max |d_small - d_base|``; the interval is ``[max of the lower ends, max of
    the upper ends]`` of the per-test 95% intervals of ``|d_small - d_base|``. Judged with the
    ``max`` rule this passes exactly when every test's interval is below the limit, fails
    exactly when some test's interval is wholly above it, and is inconclusive otherwise,
    unlike a bootstrap interval of the maximum, which is biased upwards. ``n`` is None:
    word sets, not rows, limit the precision.
    """
    section = doc.get("bias")
    if section is None:
        return Measurement(None, None, None, "not in this results file (written before the bias comparison)")
    if not section.get("available"):
        return Measurement(None, None, None, str(section.get("reason") or "the bias comparison was not run"))
    changes = [r["change"] for t in section["embedding"]["tests"] for r in t["results"]]
    defined = [c for c in changes if c.get("absolute_difference") is not None]
    if not defined:
        return Measurement(None, None, None, "no effect size is defined (a word set embeds to a constant)")
    value = max(float(c["absolute_difference"]) for c in defined)
    intervals = [c.get("absolute_difference_ci") for c in defined]
    interval = None
    if all(i is not None for i in intervals):
        interval = (max(float(i[0]) for i in intervals), max(float(i[1]) for i in intervals))
    return Measurement(value, interval, None, "")


def _absolute_interval(interval: list[float] | None) -> list[float] | None:
    """The interval of ``|d|`` implied by an interval of ``d``.

    Judging ``|d| <= limit`` on it is judging whether the interval of ``d`` lies inside
    ``[-limit, limit]`` (pass), wholly outside it (fail) or across its edge (inconclusive):
    the equivalence test of two one-sided tests, read off the percentile interval.
    """
    if interval is None:
        return None
    low, high = interval
    if low >= 0:
        return [low, high]
    if high <= 0:
        return [-high, -low]
    return [0.0, max(-low, high)]


def _tuple(value: Any) -> tuple[float, float] | None:
    return (float(value[0]), float(value[1])) if value else None


def _calibration_changes(section: Mapping[str, Any], n: int, reason: str) -> dict[str, Measurement]:
    """The worsening and absolute difference of every registered calibration metric, by comparison key.

    The metrics of :data:`_STATED_CHANGES` are read from their own keys (``ece_increase``),
    so a results file written before one of them was stated says so; the others follow from
    the metric's ``comparison`` entry: ``diff`` (``-diff`` for a higher-is-better metric's
    drop) and its interval, or ``|diff|`` and the interval of ``|d|`` implied by the
    interval of ``d``.
    """
    from trustaudit.metrics import comparisons_of, metrics_in

    out: dict[str, Measurement] = {}
    for spec in metrics_in("calibration"):
        worsening, difference = comparisons_of(spec.name)
        compared = (section.get("comparison") or {}).get(spec.key)
        if spec.key in _STATED_CHANGES or compared is None:
            why = reason
            if spec.key not in _STATED_CHANGES and section.get("available"):
                why = f"not in this results file ({spec.key} was not computed when it was written)"
            for key in (worsening.key, difference.key):
                value = section.get(key)
                out[key] = Measurement(value, _tuple(section.get(f"{key}_interval")), n, "" if value is not None else why)
            continue
        sign = -1.0 if spec.higher_is_better else 1.0
        diff = compared.get("diff")
        interval = _interval(compared.get("ci_low"), compared.get("ci_high"))
        signed = None if interval is None else sorted(sign * v for v in interval)
        out[worsening.key] = Measurement(None if diff is None else sign * diff, _tuple(signed), n, "" if diff is not None else reason)
        out[difference.key] = Measurement(None if diff is None else abs(diff), _tuple(_absolute_interval(interval)), n,
                                          "" if diff is not None else reason)
    return out


def gate_measurements(doc: Mapping[str, Any]) -> dict[str, Measurement]:
    """What a results document measured for every gate check: value, interval, rows, or why not.

    Reads only the document, so stored results can be judged again (``render --gate``).
    """
    p, c, a = doc["predictions"], doc.get("calibration") or {}, doc.get("attribution") or {}
    n_rows = int(p.get("n") or doc.get("data", {}).get("rows_used") or 0)
    labelled = c.get("available", False) or p.get("base", {}).get("accuracy") is not None
    no_labels = "the data has no gold labels"
    out: dict[str, Measurement] = {}

    def put(metric: str, section: Mapping[str, Any], key: str, n: int, reason: str, interval_key: str | None = None) -> None:
        value = section.get(key)
        out[metric] = Measurement(
            value if value is not None else None,
            _tuple(section.get(interval_key or f"{key}_interval")),
            n,
            "" if value is not None else reason,
        )

    put("predictions.accuracy_drop", p, "accuracy_drop", n_rows, no_labels)
    put("predictions.agreement", p, "agreement", n_rows, "no predictions")
    missing = no_labels if not labelled else "not in this results file (written by an earlier trustaudit)"
    put("predictions.negative_flip_rate", p, "negative_flip_rate", n_rows, missing)
    put("predictions.worst_class_recall_drop", p, "worst_class_recall_drop", n_rows, missing)
    for key, measured in _calibration_changes(c, n_rows, missing).items():
        out[f"calibration.{key}"] = measured
    explained = int(a.get("explained") or 0)
    run = set(a.get("explainers") or [])
    for name in explainer_names():
        section = a.get(name) or {}
        if not a.get("available"):
            reason = "no rows were explained (explain_n = 0)"
        elif name not in run:
            reason = f"the {name.upper()} explainer was not run"
        else:
            reason = ""
        k = a.get("k")
        jaccard = (section.get("metrics") or {}).get(f"topk_jaccard@{k}") or {}
        put(f"attribution.{name}.feature_agreement", section, "feature_agreement", explained, reason)
        out[f"attribution.{name}.topk_jaccard"] = Measurement(
            jaccard.get("mean"),
            _tuple([jaccard["ci_low"], jaccard["ci_high"]]) if jaccard.get("ci_low") is not None else None,
            explained,
            reason,
        )
        floor_reason = reason or ("no noise floor was measured" if section.get("floor") is None else "the noise floor is not positive")
        put(f"attribution.{name}.floor_ratio", section, "floor_ratio", explained, floor_reason)
    out["bias.max_abs_effect_change"] = bias_measurement(doc)
    for metric, measured in out.items():
        if measured.value is None and not measured.reason:
            out[metric] = Measurement(None, None, measured.n, "not in this results file")
    return out


def verdict_section(doc: Mapping[str, Any], gate: GateConfig, source: str) -> dict[str, Any]:
    """Judge a results document against ``gate``; pure, so ``render`` can re-judge stored results."""
    result = evaluate(gate_measurements(doc), gate)
    return {
        "status": result.status,
        "passed": result.passed,
        "source": source,
        "decision": gate.decision,
        "level": 0.95,
        "checks": [c.to_dict() for c in result.checks],
        "sentence": verdict_sentence(result),
    }


def audit(
    base: str | os.PathLike[str] | ModelBundle | ModelPair,
    small: str | os.PathLike[str] | ModelBundle | None,
    dataset: str | os.PathLike[str] | Dataset,
    config: AuditConfig | None = None,
    *,
    cache: bool | str | os.PathLike[str] | EvalCache | None = True,
    progress: bool | None = None,
    command: str | None = None,
    data_options: Mapping[str, Any] | None = None,
) -> AuditResult:
    """Audit a base/small model pair on a dataset and judge it against the gate.

    ``base`` may be a :class:`ModelPair` (then ``small`` is ``None``). ``dataset`` may be a
    path, read with ``data_options`` (the keyword arguments of :func:`load_dataset`).
    """
    config = config or AuditConfig()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    show = progress_enabled(progress)

    stages, done = 4 + bool(config.explain_n) + config.bias, 0

    def stage(name: str) -> None:
        nonlocal done
        done += 1
        if show:
            elapsed = time.perf_counter() - started
            print(f"trustaudit: [{done}/{stages}] {name} ({elapsed:.0f} s elapsed)", file=sys.stderr, flush=True)

    suite = _bias_suite(config)
    t0 = time.perf_counter()
    stage("loading models")
    pair = base if isinstance(base, ModelPair) else load_pair(base, small)
    if not isinstance(dataset, Dataset):
        dataset = load_dataset(dataset, pair.labels, **dict(data_options or {}))
    elif dataset.labels is not None and tuple(dataset.label_names) != tuple(pair.labels):
        raise InvalidInputError(
            f"the dataset's labels ({', '.join(dataset.label_names)}) are not the base model's ({', '.join(pair.labels)}); "
            "load it with load_dataset(path, pair.labels)"
        )
    timings["load"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    stage(f"predicting {len(dataset):,} rows with both models")
    device = resolve_device(config.device)
    eval_cache = resolve_cache(cache)
    base_engine = Evaluator(pair.base, device=device, batch_size=config.batch_size, cache=eval_cache, progress=progress, desc="predict base")
    small_engine = Evaluator(pair.small, device=device, batch_size=config.batch_size, cache=eval_cache, progress=progress, desc="predict small")
    base_preds = predict(pair.base, dataset, evaluator=base_engine)
    small_preds = predict(pair.small, dataset, evaluator=small_engine).reorder(pair.permutation, pair.labels)
    timings["predict"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    stage("comparing predictions and calibration")
    predictions = _predictions_section(pair, dataset, base_preds, small_preds, config)
    calibration = _calibration_section(base_preds, small_preds, dataset.labels, config)
    timings["calibration"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    stage("measuring latency")
    sample = dataset.pairs()[:32]
    latency = measure_latency({"base": pair.base, "small": pair.small}, sample, device)
    timings["latency"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    rows = _sample_rows(dataset, config.explain_n, config.seed)
    attribution: dict[str, Any] = {"available": False, "explained": 0}
    examples: list[dict[str, Any]] = []
    if len(rows):
        stage(f"explaining {len(rows)} rows with {' and '.join(config.explainers)} on both models")
        from trustaudit._alignment import explain_and_compare

        attribution, examples = explain_and_compare(pair, dataset, rows, config, cache=eval_cache, progress=progress)
    timings["explain"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    bias: dict[str, Any] = {"available": False, "reason": BIAS_OFF}
    if suite is not None:
        stage("comparing bias")
        bias = _bias_section(pair, dataset, rows, suite, config, device, (base_engine, small_engine))
    timings["bias"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - started

    models = {
        "base": {**jsonable(pair.base.describe()), "latency": latency["base"]},
        "small": {**jsonable(pair.small.describe()), "latency": latency["small"]},
        "permutation": list(pair.permutation),
        "reordered": list(pair.permutation) != list(range(len(pair.labels))),
        "param_ratio": pair.small.n_params / pair.base.n_params if pair.base.n_params else None,
        "size_ratio": pair.small.bytes_on_disk / pair.base.bytes_on_disk if pair.base.bytes_on_disk else None,
        "speedup_batch1": latency["base"]["batch1_ms"] / latency["small"]["batch1_ms"],
        "speedup_batched": latency["base"]["batched_ms_per_example"] / latency["small"]["batched_ms_per_example"],
    }
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "trustaudit", "version": __version__},
        "created": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "command": command or "trustaudit.audit(...)",
        "verdict": {},
        "models": models,
        "data": jsonable(dataset.describe()),
        "config": config.to_dict(),
        "predictions": jsonable(predictions),
        "calibration": jsonable(calibration),
        "attribution": jsonable(attribution),
        "examples": jsonable(examples),
        "bias": jsonable(bias),
        "engine": {
            "base": jsonable(vars(base_engine.stats)),
            "small": jsonable(vars(small_engine.stats)),
        },
        "timings": {k: round(v, 3) for k, v in timings.items()},
        "versions": _versions(),
    }
    doc["verdict"] = verdict_section(doc, config.gate, config.gate_source)
    return AuditResult(doc)


def rejudge(result: AuditResult, gate: GateConfig, source: str) -> AuditResult:
    """The same results judged against another gate configuration."""
    doc = result.to_dict()
    previous = doc["verdict"].get("rejudged")
    doc["verdict"] = verdict_section(doc, gate, source)
    if previous:
        doc["verdict"]["rejudged"] = previous
    doc["config"]["gate"] = gate.to_dict()
    doc["config"]["gate_source"] = source
    return AuditResult(doc)


def _upgrade(doc: dict[str, Any], version: int) -> dict[str, Any]:
    """A results document of an earlier schema, in the current one, its verdict judged again.

    Schema 1 judged point estimates by default and let a check that could not be measured
    pass; its stored thresholds are kept and judged under the current rules (decision
    ``interval``, four-valued verdict). A schema-1 noise floor paired the base and the small
    model on shared LIME samples, which favours the comparison over its floor.
    """
    stored = dict(doc.get("config", {}).get("gate") or {})
    stored.pop("use_intervals", None)
    gate = GateConfig.from_dict(stored, "stored thresholds", warn=False)
    source = doc.get("verdict", {}).get("source", "stored thresholds")
    written_by = doc.get("tool", {}).get("version", "an earlier version")
    doc["config"]["gate"] = gate.to_dict()
    doc["verdict"] = verdict_section(doc, gate, source)
    doc["verdict"]["rejudged"] = (
        f"Re-judged under the rules of trustaudit {__version__} (decision \"interval\", four-valued verdict) from "
        f"results of schema {version} written by trustaudit {written_by}; their noise floors were measured with "
        "the earlier pairing (base and small model on shared LIME samples)."
    )
    doc["schema_version"] = SCHEMA_VERSION
    return doc


__all__ = ["AuditConfig", "AuditResult", "audit", "measure_latency", "rejudge", "stratified_sample", "verdict_section"]
