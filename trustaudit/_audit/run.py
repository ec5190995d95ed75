"""The audit facade: one call loads the pair, predicts, compares, explains, and judges the result."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import sys
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from trustaudit._audit.config import BIAS_OFF, AuditConfig
from trustaudit._audit.latency import measure_latency
from trustaudit._audit.result import SCHEMA_VERSION, AuditResult
from trustaudit._audit.sections import (
    bias_section,
    bias_suite,
    calibration_section,
    predictions_section,
    sample_rows,
    jsonable,
)
from trustaudit._audit.verdict import verdict_section
from trustaudit._batching import resolve_batch_size
from trustaudit._cache import EvalCache
from trustaudit._evaluation import Evaluator, check_precision, resolve_cache, resolve_device
from trustaudit._predict import predict
from trustaudit._progress import progress_enabled
from trustaudit._version import __version__
from trustaudit.data import Dataset, load_dataset
from trustaudit.exceptions import InvalidInputError
from trustaudit.models import ModelBundle, ModelPair, load_pair

if TYPE_CHECKING:
    from trustaudit.explain import PairExplanations


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version(), "platform": platform.platform(terse=True), "trustaudit": __version__}
    for name in ("torch", "transformers", "shap", "lime", "numpy", "scipy", "scikit-learn", "matplotlib", "jinja2"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def precision_section(
    dataset: Dataset,
    reduced: Mapping[str, np.ndarray],
    engines: Mapping[str, Evaluator],
    precision: str,
) -> dict[str, Any]:
    """How far the probabilities in ``precision`` are from fp32's on every audited row, per model.

    ``reduced`` holds each model's probabilities in ``precision``, columns in its own order;
    the fp32 ones are computed by the fp32 ``engines`` (through the cache, under fp32's key).
    """
    start = time.perf_counter()
    pairs = dataset.pairs()
    out: dict[str, Any] = {
        "precision": precision, "reference": "fp32", "rows": len(pairs),
        "max_abs_diff": {}, "mean_abs_diff": {}, "changed_predictions": {},
    }
    for name in ("base", "small"):
        exact = engines[name].probs(pairs)
        diff = np.abs(np.asarray(reduced[name], dtype=np.float64) - exact)
        out["max_abs_diff"][name] = float(diff.max()) if diff.size else 0.0
        out["mean_abs_diff"][name] = float(diff.mean()) if diff.size else 0.0
        out["changed_predictions"][name] = int(np.sum(reduced[name].argmax(axis=1) != exact.argmax(axis=1))) if diff.size else 0
    out["seconds"] = round(time.perf_counter() - start, 3)
    return out


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

    Parameters
    ----------
    base : str, path-like, ModelBundle or ModelPair
        The large model (anything :func:`load_model` reads), or both models as a pair.
    small : str, path-like, ModelBundle or None
        The compressed model; ``None`` when ``base`` is a :class:`ModelPair`.
    dataset : str, path-like or Dataset
        The labelled evaluation data, or a file that :func:`load_dataset` reads with the
        base model's labels.
    config : AuditConfig, optional
        Every setting of the audit (explanation budgets, bootstrap, gate...); default
        ``AuditConfig()``, the CLI's defaults.
    cache : bool, str, path-like or EvalCache, default True
        The on-disk cache of model outputs: ``True`` the default folder
        (``$TRUSTAUDIT_CACHE_DIR``, else ``~/.cache/trustaudit``), a folder, an
        :class:`EvalCache`, or ``False``/``None`` for none.
    progress : bool, optional
        Show progress on stderr; default (``None``) the process setting, else whether
        stderr is a terminal.
    command : str, optional
        The command line recorded in the results; default none.
    data_options : mapping, optional
        Keyword arguments of :func:`load_dataset` when ``dataset`` is a path.

    Returns
    -------
    AuditResult
        The measurements, the explanations of the sampled rows and the verdict of
        ``config.gate``.

    Raises
    ------
    InvalidInputError
        If a :class:`Dataset`'s labels are not the base model's, or an input is invalid.
    ModelLoadError
        If a model cannot be loaded.
    LabelMismatchError
        If the two models' label sets differ.

    Examples
    --------
    >>> import trustaudit
    >>> from trustaudit import AuditConfig, GateConfig
    >>> config = AuditConfig(explain_n=50, gate=GateConfig(max_accuracy_drop=0.01))
    >>> result = trustaudit.audit("models/base", "models/small", "dev.tsv", config)  # doctest: +SKIP
    >>> result.status  # doctest: +SKIP
    'trust-equivalent'
    >>> trustaudit.write_report(result, "report.html")  # doctest: +SKIP
    PosixPath('report.html')
    """
    config = config or AuditConfig()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    show = progress_enabled(progress)

    stages, done = 4 + bool(config.explain_n) + config.extras + config.bias + (config.precision != "fp32"), 0

    def stage(name: str) -> None:
        nonlocal done
        done += 1
        if show:
            elapsed = time.perf_counter() - started
            print(f"trustaudit: [{done}/{stages}] {name} ({elapsed:.0f} s elapsed)", file=sys.stderr, flush=True)

    suite = bias_suite(config)
    device = resolve_device(config.device)
    check_precision(config.precision, device)
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
    eval_cache = resolve_cache(cache)
    batch_size, batch_choice = resolve_batch_size(
        config.batch_size, [pair.base, pair.small], dataset.pairs(), device=device, precision=config.precision
    )
    requested, config = config, replace(config, batch_size=batch_size)
    engine_options: dict[str, Any] = dict(device=device, batch_size=batch_size, cache=eval_cache, progress=progress)
    base_engine = Evaluator(pair.base, desc="predict base", precision=config.precision, **engine_options)
    small_engine = Evaluator(pair.small, desc="predict small", precision=config.precision, **engine_options)
    base_preds = predict(pair.base, dataset, evaluator=base_engine)
    small_own = predict(pair.small, dataset, evaluator=small_engine)
    small_preds = small_own.reorder(pair.permutation, pair.labels)
    timings["predict"] = time.perf_counter() - t0
    precision: dict[str, Any] | None = None
    if config.precision != "fp32":
        t0 = time.perf_counter()
        stage(f"predicting {len(dataset):,} rows in fp32 to measure what {config.precision} changes")
        reference = {name: Evaluator(bundle, desc=f"fp32 {name}", **engine_options) for name, bundle in (("base", pair.base), ("small", pair.small))}
        precision = precision_section(dataset, {"base": base_preds.probs, "small": small_own.probs}, reference, config.precision)
        timings["precision"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    stage("comparing predictions and calibration")
    predictions = predictions_section(pair, dataset, base_preds, small_preds, config)
    calibration = calibration_section(base_preds, small_preds, dataset.labels, config)
    timings["calibration"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    stage("measuring latency")
    sample = dataset.pairs()[:32]
    latency = measure_latency({"base": pair.base, "small": pair.small}, sample, device, precision=config.precision)
    timings["latency"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    rows = sample_rows(dataset, config.explain_n, config.seed)
    attribution: dict[str, Any] = {"available": False, "explained": 0}
    examples: list[dict[str, Any]] = []
    explanations: PairExplanations | None = None
    if len(rows):
        stage(f"explaining {len(rows)} rows with {' and '.join(config.explainers)} on both models")
        from trustaudit._audit.attribution import compare_explanations, explain_rows

        explanations = explain_rows(pair, dataset, rows, config, cache=eval_cache, progress=progress)
        attribution, examples = compare_explanations(pair, dataset, explanations, config)
    timings["explain"] = time.perf_counter() - t0

    extras: dict[str, Any] | None = None
    if config.extras:
        t0 = time.perf_counter()
        stage("comparing representations and adversarial transfer")
        from trustaudit._audit.extras import extras_section

        extras = extras_section(pair, dataset, rows, explanations, config, eval_cache)
        timings["extras"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    bias: dict[str, Any] = {"available": False, "reason": BIAS_OFF}
    if suite is not None:
        stage("comparing bias")
        bias = bias_section(pair, dataset, rows, suite, config, device, (base_engine, small_engine))
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
        "config": requested.to_dict(),
        "predictions": jsonable(predictions),
        "calibration": jsonable(calibration),
        "attribution": jsonable(attribution),
        "examples": jsonable(examples),
        "bias": jsonable(bias),
        **({"extras": jsonable(extras)} if extras is not None else {}),
        "engine": {
            "base": jsonable(vars(base_engine.stats)),
            "small": jsonable(vars(small_engine.stats)),
        },
        **({"batch_size": batch_choice.to_dict()} if batch_choice is not None else {}),
        **({"precision": jsonable(precision)} if precision is not None else {}),
        "timings": {k: round(v, 3) for k, v in timings.items()},
        "versions": _versions(),
    }
    doc["verdict"] = verdict_section(doc, requested.gate, requested.gate_source)
    return AuditResult(doc)
