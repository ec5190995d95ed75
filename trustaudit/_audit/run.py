"""The audit facade: one call loads the pair, predicts, compares, explains, and judges the result."""

from __future__ import annotations

import dataclasses
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
from trustaudit._audit.document import (
    AttributionSection,
    AuditDocument,
    BatchSizeSection,
    BiasSection,
    ConfigSection,
    DataSection,
    EngineSection,
    EngineWork,
    Example,
    ExtrasSection,
    ModelInfo,
    ModelsSection,
    PrecisionSection,
    Timings,
    ToolInfo,
    VerdictSection,
)
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
    from trustaudit.scale import Executor


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
    executor: Executor | None = None,
    resume: bool = False,
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
    executor : Executor, optional
        Where predictions and explanations run (:mod:`trustaudit.scale`):
        ``RayExecutor(address, actors=N)`` shards both over Ray actors,
        ``ProcessExecutor(workers=N)`` the explanations over local processes. Default: from
        ``config.workers`` (one process when 1). The results are the same; the executor is
        recorded in the results (``executor``) when it is not the default. An executor
        given here stays open for the caller to reuse or close.
    resume : bool, default False
        Take the explained examples that an interrupted audit with the same models and
        explanation settings already finished (written to the ``cache`` directory as each
        finishes) instead of explaining them again. Needs ``cache``.

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
    MissingDependencyError
        If a :class:`~trustaudit.scale.RayExecutor` is given and Ray is not installed.

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
    from trustaudit.scale._executors import resolve_executor

    config = config or AuditConfig()
    runner = resolve_executor(executor, config.workers)
    if resume and resolve_cache(cache) is None:
        raise InvalidInputError("`resume`=True reads the finished examples from the cache directory; give a `cache`")
    try:
        return _audit(base, small, dataset, config, runner, cache=cache, progress=progress, command=command,
                      data_options=data_options, resume=resume)
    finally:
        if executor is None:
            runner.close()


def _audit(
    base: str | os.PathLike[str] | ModelBundle | ModelPair,
    small: str | os.PathLike[str] | ModelBundle | None,
    dataset: str | os.PathLike[str] | Dataset,
    config: AuditConfig,
    executor: Executor,
    *,
    cache: bool | str | os.PathLike[str] | EvalCache | None,
    progress: bool | None,
    command: str | None,
    data_options: Mapping[str, Any] | None,
    resume: bool,
) -> AuditResult:
    """:func:`audit` with its executor resolved."""
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
    if executor.shards_predictions:
        from trustaudit.scale._sharded import ShardedEvaluator

        if config.precision != "fp32":
            raise InvalidInputError(
                f"`precision`={config.precision!r} is not supported with an executor that shards predictions (Ray); use fp32"
            )
        base_engine: Evaluator = ShardedEvaluator(executor, pair, "base", device=device, batch_size=batch_size,
                                                  cache=eval_cache, progress=progress, desc="predict base")
        small_engine: Evaluator = ShardedEvaluator(executor, pair, "small", device=device, batch_size=batch_size,
                                                   cache=eval_cache, progress=progress, desc="predict small")
    else:
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
    sample = dataset.pairs()[: max(batch_size, 8)]
    latency = measure_latency({"base": pair.base, "small": pair.small}, sample, device, batch_size=batch_size,
                              precision=config.precision)
    timings["latency"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    rows = sample_rows(dataset, config.explain_n, config.seed)
    attribution = AttributionSection.unavailable()
    examples: list[Example] = []
    explanations: PairExplanations | None = None
    if len(rows):
        stage(f"explaining {len(rows)} rows with {' and '.join(config.explainers)} on both models")
        from trustaudit._audit.attribution import compare_explanations, explain_rows

        explanations = explain_rows(pair, dataset, rows, config, cache=eval_cache, progress=progress, executor=executor,
                                    resume=resume)
        attribution, examples = compare_explanations(pair, dataset, explanations, config)
    timings["explain"] = time.perf_counter() - t0

    extras: ExtrasSection | None = None
    if config.extras:
        t0 = time.perf_counter()
        stage("comparing representations and adversarial transfer")
        from trustaudit._audit.extras import extras_section

        extras = extras_section(pair, dataset, rows, explanations, config, eval_cache)
        timings["extras"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    bias = BiasSection.unavailable(BIAS_OFF)
    if suite is not None:
        stage("comparing bias")
        bias = bias_section(pair, dataset, rows, suite, config, device, (base_engine, small_engine))
    timings["bias"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - started

    models = ModelsSection(
        base=ModelInfo.from_dict({**jsonable(pair.base.describe()), "latency": latency["base"].to_dict()}),
        small=ModelInfo.from_dict({**jsonable(pair.small.describe()), "latency": latency["small"].to_dict()}),
        permutation=list(pair.permutation),
        reordered=list(pair.permutation) != list(range(len(pair.labels))),
        param_ratio=pair.small.n_params / pair.base.n_params if pair.base.n_params else None,
        size_ratio=pair.small.bytes_on_disk / pair.base.bytes_on_disk if pair.base.bytes_on_disk else None,
        speedup_batch1=latency["base"].batch1_ms / latency["small"].batch1_ms,  # type: ignore[operator]
        speedup_batched=latency["base"].batched_ms_per_example / latency["small"].batched_ms_per_example,  # type: ignore[operator]
    )
    document = AuditDocument(
        schema_version=SCHEMA_VERSION,
        tool=ToolInfo(name="trustaudit", version=__version__),
        created=_dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        command=command or "trustaudit.audit(...)",
        verdict=VerdictSection(keys=()),
        models=models,
        data=DataSection.from_dict(jsonable(dataset.describe())),
        config=ConfigSection.from_dict(requested.to_dict()),
        executor=executor.describe(),
        predictions=predictions,
        calibration=calibration,
        attribution=attribution,
        examples=examples,
        bias=bias,
        extras=extras,
        engine=EngineSection(base=EngineWork.from_dict(jsonable(vars(base_engine.stats))),
                             small=EngineWork.from_dict(jsonable(vars(small_engine.stats)))),
        batch_size=BatchSizeSection.from_dict(batch_choice.to_dict()) if batch_choice is not None else None,
        precision=PrecisionSection.from_dict(jsonable(precision)) if precision is not None else None,
        timings=Timings.from_dict({k: round(v, 3) for k, v in timings.items()}),
        versions=_versions(),
    )
    verdict = verdict_section(document.to_dict(), requested.gate, requested.gate_source)
    return AuditResult(dataclasses.replace(document, verdict=verdict).to_dict())
