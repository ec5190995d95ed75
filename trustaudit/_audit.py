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
from typing import Any

import numpy as np
import torch

from trustaudit._cache import EvalCache
from trustaudit._engine import Evaluator, resolve_cache, resolve_device
from trustaudit._io import write_text_atomic
from trustaudit._progress import progress_enabled
from trustaudit._version import __version__
from trustaudit.data import Dataset, load_dataset
from trustaudit.exceptions import InvalidInputError
from trustaudit.gate import GateConfig, GateResult, evaluate
from trustaudit.models import ModelBundle, ModelPair, load_pair
from trustaudit._predict import Predictions, predict

SCHEMA_VERSION = 1
EXPLAINERS = ("lime", "shap")
SEGMENTS = ("both", "a", "b")
TARGETS = ("base_predicted", "gold")


@dataclass(frozen=True)
class AuditConfig:
    """Every setting of an audit. Defaults are the CLI's defaults."""

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

    def __post_init__(self) -> None:
        checks = [
            (self.explain_n >= 0, f"explain_n must be >= 0, got {self.explain_n}"),
            (self.lime_samples >= 10, f"lime_samples must be >= 10, got {self.lime_samples}"),
            (self.shap_max_evals >= 10, f"shap_max_evals must be >= 10, got {self.shap_max_evals}"),
            (len(self.top_k) > 0 and all(k >= 1 for k in self.top_k), f"top_k must be positive integers, got {self.top_k}"),
            (self.n_bins >= 1, f"n_bins must be >= 1, got {self.n_bins}"),
            (self.n_resamples >= 0, f"n_resamples must be >= 0, got {self.n_resamples}"),
            (self.segment in SEGMENTS, f"segment must be one of {', '.join(SEGMENTS)}, got {self.segment!r}"),
            (self.target in TARGETS, f"target must be one of {', '.join(TARGETS)}, got {self.target!r}"),
            (set(self.explainers) <= set(EXPLAINERS) and len(self.explainers) > 0, f"explainers must be among lime, shap, got {self.explainers}"),
            (self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}"),
        ]
        for ok, message in checks:
            if not ok:
                raise InvalidInputError(message)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["top_k"] = list(self.top_k)
        out["explainers"] = list(self.explainers)
        out["gate"] = self.gate.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditConfig:
        """Inverse of :meth:`to_dict`."""
        values = dict(data)
        values["top_k"] = tuple(values.get("top_k", (5,)))
        values["explainers"] = tuple(values.get("explainers", EXPLAINERS))
        values["gate"] = GateConfig.from_dict(values.get("gate", {}))
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


@dataclass(frozen=True, eq=False)
class AuditResult:
    """The outcome of an audit: one plain-JSON document with typed accessors."""

    document: Mapping[str, Any]

    @property
    def passed(self) -> bool:
        """The gate's verdict: True when the pair is trust-equivalent under the thresholds."""
        return bool(self.document["verdict"]["passed"])

    @property
    def gate(self) -> GateResult:
        """The gate checks as objects."""
        from trustaudit.gate import CheckResult

        verdict = self.document["verdict"]
        return GateResult(tuple(CheckResult.from_dict(c) for c in verdict["checks"]), bool(verdict["use_intervals"]))

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
        """Wrap a document read back from JSON, validated against the results schema.

        Raises :class:`~trustaudit._schema.SchemaError` (an :class:`InvalidInputError`)
        naming the JSON path of the first problem.
        """
        from trustaudit._schema import validate_results

        version = data.get("schema_version") if isinstance(data, Mapping) else None
        if version is None:
            raise InvalidInputError("not a trustaudit results document (no schema_version)")
        if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
            raise InvalidInputError(f"results schema_version {version} is newer than this trustaudit reads ({SCHEMA_VERSION})")
        validate_results(data)
        return cls(copy.deepcopy(dict(data)))

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
    from trustaudit.metrics import prediction_agreement

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
    disagreements = []
    for i in flipped[: config.max_disagreements]:
        disagreements.append({
            "row": int(dataset.rows[i]),
            "text_a": dataset.text_a[i],
            "text_b": dataset.text_b[i] if dataset.text_b is not None else None,
            "gold": pair.labels[int(gold[i])] if gold is not None else None,
            "base": pair.labels[int(base.predicted[i])],
            "base_confidence": float(base.confidence[i]),
            "small": pair.labels[int(small.predicted[i])],
            "small_confidence": float(small.confidence[i]),
        })
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
        "disagreements": disagreements,
    }


_CALIBRATION_KEYS = ("ece", "ece_quantile", "mce", "classwise_ece", "smooth_ece", "brier", "nll")


def _calibration_section(base: Predictions, small: Predictions, labels: np.ndarray | None, config: AuditConfig) -> dict[str, Any]:
    if labels is None:
        return {"available": False}
    from trustaudit.metrics import compare_calibration

    comparison = compare_calibration(base.probs, small.probs, labels, n_bins=config.n_bins, n_resamples=config.n_resamples, seed=config.seed)
    section: dict[str, Any] = {"available": True, "settings": jsonable({**comparison.settings, "n_bins": comparison.n_bins, "n_resamples": comparison.n_resamples, "seed": comparison.seed})}
    for name, result in (("base", comparison.base), ("small", comparison.small)):
        section[name] = {
            **{key: jsonable(getattr(result, key)) for key in _CALIBRATION_KEYS},
            "accuracy": result.accuracy,
            "mean_confidence": result.mean_confidence,
            "smooth_ece_bandwidth": jsonable(result.smooth_ece_sigma),
            "bins": jsonable(result.bins.to_dict()),
        }
    section["comparison"] = {name: jsonable(m.to_dict()) for name, m in comparison.metrics.items()}
    section["ece_increase"] = comparison.metrics["ece"].diff
    section["ece_increase_interval"] = _interval(comparison.metrics["ece"].ci_low, comparison.metrics["ece"].ci_high)
    section["brier_increase"] = comparison.metrics["brier"].diff
    section["brier_increase_interval"] = _interval(comparison.metrics["brier"].ci_low, comparison.metrics["brier"].ci_high)
    return section


def _gate_values(doc: Mapping[str, Any]) -> tuple[dict[str, float | None], dict[str, tuple[float, float]]]:
    p, c, a = doc["predictions"], doc["calibration"], doc.get("attribution", {})
    values: dict[str, float | None] = {
        "predictions.accuracy_drop": p.get("accuracy_drop"),
        "predictions.agreement": p.get("agreement"),
        "calibration.ece_increase": c.get("ece_increase"),
        "calibration.brier_increase": c.get("brier_increase"),
    }
    intervals: dict[str, tuple[float, float]] = {}
    for metric, key in (("predictions.accuracy_drop", p.get("accuracy_drop_interval")), ("predictions.agreement", p.get("agreement_interval")),
                        ("calibration.ece_increase", c.get("ece_increase_interval")), ("calibration.brier_increase", c.get("brier_increase_interval"))):
        if key:
            intervals[metric] = tuple(key)
    for explainer in EXPLAINERS:
        section = a.get(explainer) or {}
        values[f"attribution.{explainer}.feature_agreement"] = section.get("feature_agreement")
        values[f"attribution.{explainer}.floor_ratio"] = section.get("floor_ratio")
        if section.get("feature_agreement_interval"):
            intervals[f"attribution.{explainer}.feature_agreement"] = tuple(section["feature_agreement_interval"])
    return values, intervals


def verdict_section(doc: Mapping[str, Any], gate: GateConfig, source: str) -> dict[str, Any]:
    """Judge a results document against ``gate``; pure, so ``render`` can re-judge stored results."""
    values, intervals = _gate_values(doc)
    result = evaluate(values, gate, intervals)
    failed = [c.key for c in result.failed]
    skipped = [c.key for c in result.checks if c.status == "skipped"]
    if result.passed:
        sentence = f"All {len(result.checks) - len(skipped)} evaluated checks pass: the small model can stand in for the base model under these thresholds."
    else:
        sentence = f"{len(failed)} of {len(result.checks) - len(skipped)} evaluated checks fail ({', '.join(failed)}): do not ship the small model as a drop-in replacement without looking closer."
    if skipped:
        sentence += f" Not evaluated: {', '.join(skipped)}."
    return {
        "passed": result.passed,
        "source": source,
        "use_intervals": gate.use_intervals,
        "checks": [c.to_dict() for c in result.checks],
        "sentence": sentence,
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

    stages, done = (5 if config.explain_n else 4), 0

    def stage(name: str) -> None:
        nonlocal done
        done += 1
        if show:
            elapsed = time.perf_counter() - started
            print(f"trustaudit: [{done}/{stages}] {name} ({elapsed:.0f} s elapsed)", file=sys.stderr, flush=True)

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
    doc["verdict"] = verdict_section(doc, gate, source)
    doc["config"]["gate"] = gate.to_dict()
    doc["config"]["gate_source"] = source
    return AuditResult(doc)


__all__ = ["AuditConfig", "AuditResult", "audit", "measure_latency", "rejudge", "stratified_sample", "verdict_section"]
