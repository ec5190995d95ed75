"""The search itself: checks its arguments, then audits candidates cheap pass first, one family at a time."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from trustaudit._audit.config import AuditConfig
from trustaudit._cache import EvalCache
from trustaudit._io import write_text_atomic
from trustaudit._progress import progress_enabled
from trustaudit.compress._search.candidates import (
    _Candidates,
    _latency,
    _Plan,
    _size,
)
from trustaudit.compress._search.document import _Document
from trustaudit.compress._search.records import (
    ASC_METHODS,
    AUDITED,
    DEFAULT_METHODS,
    DEFAULT_THRESHOLDS,
    FAILED,
    METHODS,
    OBJECTIVES,
    ONNX_METHODS,
    PLANNED,
    REJECTED_CHEAP,
    SKIPPED,
    STRATEGIES,
    SearchResult,
    cheap_gate,
)
from trustaudit.data import Dataset
from trustaudit.exceptions import ExportError, InvalidInputError, MissingDependencyError
from trustaudit.gate import (
    NOT_TRUST_EQUIVALENT,
    TRUST_EQUIVALENT,
    decide_text,
)
from trustaudit.models import ModelBundle

#: The clock of budgets and elapsed times (one name, so a test can drive it).
_clock = time.monotonic


def _check_choice(name: str, values: Sequence[str], allowed: Sequence[str]) -> tuple[str, ...]:
    if isinstance(values, str):
        values = tuple(v.strip() for v in values.split(","))
    values = tuple(values)
    if not values or not set(values) <= set(allowed) or len(set(values)) != len(values):
        raise InvalidInputError(f"`{name}` must be distinct values among {', '.join(allowed)}, got {list(values)}")
    return values


def _require_onnx(methods: Sequence[str]) -> None:
    """Refuse the ONNX families, before any work, when onnxruntime or onnx is missing."""
    from trustaudit.models import ONNX_HINT, import_onnx, import_onnxruntime

    wanted = [m for m in methods if m in ONNX_METHODS]
    if not wanted:
        return
    try:
        import_onnxruntime()
        import_onnx()
    except MissingDependencyError:
        raise MissingDependencyError(f"ONNX Runtime candidates (`methods` {', '.join(wanted)}) need onnxruntime and onnx: {ONNX_HINT}") from None


def search(
    base: ModelBundle,
    train: Dataset,
    eval_data: Dataset,
    out: str | os.PathLike[str],
    *,
    methods: Sequence[str] = DEFAULT_METHODS,
    thresholds: Sequence[float] | None = None,
    n_remove: Sequence[int] | None = None,
    config: AuditConfig | None = None,
    objective: str = "size",
    strategy: str = "binary",
    budget_minutes: float | None = None,
    asc_options: Mapping[str, Any] | None = None,
    alad_options: Mapping[str, Any] | None = None,
    max_rows: int | None = None,
    cache: bool | str | os.PathLike[str] | EvalCache | None = True,
    progress: bool | None = None,
    command: str | None = None,
) -> SearchResult:
    """Find the smallest (or fastest) compressed candidate of ``base`` that is trust-equivalent to it.

    Candidates are ASC models over a ladder of ``thresholds`` (or of ``n_remove`` layer
    counts), PyTorch dynamic int8 of the base (``quantize``) and of each ASC model
    (``asc+quantize``), ONNX Runtime dynamic int8 of the base (``onnx-int8``) and of each ASC
    model (``asc+onnx-int8``; these need the ``[onnx]`` extra) and AlAd over each ASC model
    (``alad``). Each family is searched from its most compressed candidate to its least
    (binary search by default); each audited candidate gets a cheap pass (predictions and
    calibration, judged by those checks of ``config.gate``) and only a survivor is explained
    in a full audit. ``out`` receives every built candidate in
    ``candidates/`` (a ``.pt`` bundle, or an ONNX model directory for the ONNX families, with
    results JSON and report), ``search.json`` and ``search.html`` (rewritten after every
    candidate) and, when one is found, the chosen model as ``model.pt`` (or, for an ONNX
    candidate, the model directory ``model/``) with its ``results.json`` and ``report.html``.

    An ONNX candidate is built as ``compress onnx --quantize dynamic`` builds one: its fp32
    graph must give the PyTorch model's probabilities within 1e-4 on the check inputs and the
    first rows of ``eval_data``, else it is recorded as ``failed to build`` with the reason
    and the search goes on. Before it is built its size is that of the quantized graph of
    its untrained structure (exported and quantized in a temporary folder, unchecked): the
    graph's tensors and their widths do not depend on the weights' values.

    Parameters
    ----------
    base : ModelBundle
        The fine-tuned base model: a plain Hugging Face encoder classifier.
    train : Dataset
        Labelled training data (ASC's similarities and fine-tuning, AlAd's training).
    eval_data : Dataset
        Labelled evaluation data in the base model's label order; every audit runs on it.
    out : str or path-like
        The output folder; it must not exist or be empty.
    methods : sequence of str, default ("asc", "quantize", "asc+quantize")
        Candidate families among ``asc``, ``quantize``, ``asc+quantize``, ``alad``,
        ``onnx-int8`` and ``asc+onnx-int8``.
    thresholds : sequence of float, optional
        ASC similarity thresholds (default :data:`DEFAULT_THRESHOLDS`); thresholds that
        remove the same layers make one candidate.
    n_remove : sequence of int, optional
        Numbers of layers to remove instead of ``thresholds``.
    config : AuditConfig, optional
        Settings of every audit, ``config.gate`` the thresholds of trust-equivalence.
        Default ``AuditConfig()``.
    objective : {"size", "latency"}, default "size"
        What "best" means: the smallest state dict (graph file for ONNX), or the lowest
        batch-1 latency measured in the candidate's audit.
    strategy : {"binary", "linear", "exhaustive"}, default "binary"
        Binary search within each family, a scan from its most compressed rung, or a full
        audit of every candidate (no early exit).
    budget_minutes : float, optional
        Stop before starting a candidate once this much time has passed; the answer is then
        the best found so far. Default no limit.
    asc_options : mapping, optional
        Keyword arguments of :func:`~trustaudit.compress.asc` (``epochs``, ``lr``,
        ``margin``, ``seed``, ``task_kind``...); ``margin`` also sets the ladder.
    alad_options : mapping, optional
        Keyword arguments of :func:`~trustaudit.compress.alad` (``setup``, ``epochs``...).
    max_rows : int, optional
        Training rows used by ASC and AlAd. Default all.
    cache : bool, str, path-like or EvalCache, default True
        The evaluation cache shared by every audit; ``False`` uses a temporary one, removed
        at the end (the base model is still evaluated once).
    progress : bool, optional
        Print one line per candidate (candidates done, time left) and progress bars on
        stderr. Default: the process setting, else whether stderr is a terminal.
    command : str, optional
        The command line recorded in ``search.json``.

    Returns
    -------
    SearchResult
        The answer, the chosen candidate and every candidate as a table row.

    Raises
    ------
    InvalidInputError
        If an option is invalid, ``out`` is not empty, ``base`` cannot be pruned, or no
        threshold removes a layer.
    MissingDependencyError
        If ``methods`` asks for an ONNX family and onnxruntime or onnx is not installed
        (raised before any work).

    Examples
    --------
    >>> from trustaudit import AuditConfig, GateConfig, load_dataset, load_model
    >>> from trustaudit.compress import search
    >>> base = load_model("models/base")  # doctest: +SKIP
    >>> train = load_dataset("train.tsv", base.labels)  # doctest: +SKIP
    >>> dev = load_dataset("dev.tsv", base.labels)  # doctest: +SKIP
    >>> found = search(base, train, dev, "best", n_remove=[2, 4, 6],
    ...                config=AuditConfig(explain_n=50, gate=GateConfig(max_accuracy_drop=0.02)))  # doctest: +SKIP
    >>> found.answer, found.chosen.name  # doctest: +SKIP
    ('found', 'asc-4-int8')
    """
    from trustaudit.compress._arch import architecture

    methods = _check_choice("methods", methods, METHODS)
    _require_onnx(methods)
    if objective not in OBJECTIVES:
        raise InvalidInputError(f"`objective` must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    if strategy not in STRATEGIES:
        raise InvalidInputError(f"`strategy` must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    if budget_minutes is not None and (isinstance(budget_minutes, bool) or not budget_minutes > 0):
        raise InvalidInputError(f"`budget_minutes` must be a positive number, got {budget_minutes!r}")
    if thresholds is not None and n_remove is not None:
        raise InvalidInputError("give `thresholds` or `n_remove`, not both")
    if not isinstance(base, ModelBundle):
        raise InvalidInputError(f"`base` must be a ModelBundle (see load_model), got {type(base).__name__}")
    for name, data in (("train", train), ("eval_data", eval_data)):
        if not isinstance(data, Dataset) or data.labels is None:
            raise InvalidInputError(f"`{name}` must be a labelled Dataset (see load_dataset)")
    if tuple(eval_data.label_names) != tuple(base.labels):
        raise InvalidInputError(
            f"`eval_data` holds labels ({', '.join(eval_data.label_names)}), not the base model's ({', '.join(base.labels)}); "
            "load it with load_dataset(path, base.labels)"
        )
    if any(m in methods for m in ASC_METHODS):
        architecture(base, "base")
    elif base.kind != "hf":
        raise InvalidInputError(f"{base.path}: only a plain Hugging Face classifier can be quantized or exported, got a {base.kind!r} model")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInputError(f"`out` {out} must be a new or empty folder")
    config = config or AuditConfig()
    asc_options = dict(asc_options or {})
    alad_options = dict(alad_options or {})
    tmp_cache: str | None = None
    if cache is None or cache is False:
        tmp_cache = tempfile.mkdtemp(prefix="trustaudit-search-cache-")
        cache = EvalCache(tmp_cache)
    from trustaudit._evaluation import resolve_cache

    eval_cache = resolve_cache(cache)
    try:
        return _Search(base, train, eval_data, out, methods, thresholds, n_remove, config, objective, strategy,
                       budget_minutes, asc_options, alad_options, max_rows, eval_cache, progress, command).run()
    finally:
        if tmp_cache is not None:
            if eval_cache is not None:
                eval_cache.close()
            shutil.rmtree(tmp_cache, ignore_errors=True)


class _Search(_Candidates, _Document):
    """The state of one search (see :func:`search`); planning and building in its first base, the answer in its second."""

    def __init__(self, base: ModelBundle, train: Dataset, eval_data: Dataset, out: Path, methods: tuple[str, ...],
                 thresholds: Sequence[float] | None, n_remove: Sequence[int] | None, config: AuditConfig, objective: str,
                 strategy: str, budget_minutes: float | None, asc_options: dict[str, Any], alad_options: dict[str, Any],
                 max_rows: int | None, cache: EvalCache | None, progress: bool | None, command: str | None) -> None:
        from trustaudit._evaluation import resolve_device

        self.base, self.train, self.eval_data, self.out = base, train, eval_data, out
        self.methods, self.config, self.objective, self.strategy = methods, config, objective, strategy
        self.thresholds = None if n_remove is not None else tuple(thresholds if thresholds is not None else DEFAULT_THRESHOLDS)
        self.n_remove = tuple(n_remove) if n_remove is not None else None
        self.asc_options, self.alad_options, self.max_rows = asc_options, alad_options, max_rows
        self.cache, self.progress, self.command = cache, progress, command
        self.show = progress_enabled(progress)
        self.device = resolve_device(config.device)
        self.started = _clock()
        self.deadline = self.started + budget_minutes * 60 if budget_minutes is not None else None
        self.budget_minutes = budget_minutes
        self.plans: list[_Plan] = []
        self.by_name: dict[str, _Plan] = {}
        self.ladder: list[dict[str, Any]] = []
        self.stopped = False
        self.candidates_dir = out / "candidates"
        self.base_size = _size(base)
        self.pairs = eval_data.pairs()[:32]
        self.base_latency = _latency(base, self.pairs, self.device) if objective == "latency" else None
        self.cheap = cheap_gate(config.gate)

    def _elapsed(self) -> float:
        """Seconds since the search started."""
        return _clock() - self.started

    # -- auditing ---------------------------------------------------------------------------

    def _line(self, text: str) -> None:
        if self.show:
            print(f"trustaudit search: {text}", file=sys.stderr, flush=True)

    def _left(self) -> str:
        if self.deadline is None:
            return f"{self._elapsed() / 60:.1f} min elapsed, no budget"
        return f"{max(0.0, self.deadline - _clock()) / 60:.1f} min of the budget left"

    def _out_of_time(self) -> bool:
        if self.deadline is not None and _clock() >= self.deadline:
            self.stopped = True
        return self.stopped

    def evaluate(self, plan: _Plan) -> str | None:
        """Build (if needed) and audit one candidate; its verdict status, or None when the budget stopped it."""
        from trustaudit._audit import audit, rejudge
        from trustaudit.models import ModelPair, label_permutation

        row = plan.row
        if row["state"] in (AUDITED, REJECTED_CHEAP):
            return row["status"]
        if row["state"] == FAILED:
            return FAILED
        if self._out_of_time():
            return None
        done = sum(1 for p in self.plans if p.row["state"] in (AUDITED, REJECTED_CHEAP))
        total = sum(1 for p in self.plans if p.row["in_search"])
        self._line(f"[{done} of {total} candidates audited] auditing {row['name']} ({row['size_bytes'] / 1e6:.1f} MB); "
                   f"{self._left()}")
        if plan.bundle is None:
            if row.get("bundle"):
                from trustaudit.models import load_model

                plan.bundle = load_model(self.out / row["bundle"])
            else:
                started = time.perf_counter()
                try:
                    self._build(plan)
                except ExportError as exc:
                    row.update(state=FAILED, note=f"not built: {exc}", build_seconds=round(time.perf_counter() - started, 3))
                    self.save()
                    self._line(f"{row['name']}: {FAILED} ({exc})")
                    return FAILED
        assert plan.bundle is not None
        pair = ModelPair(self.base, plan.bundle, label_permutation(self.base.labels, plan.bundle.labels))
        start = time.perf_counter()
        full = self.strategy == "exhaustive"
        if not full:
            cheap_config = replace(self.config, explain_n=0, extras=False, bias=False)
            result = audit(pair, None, self.eval_data, cheap_config, cache=self.cache, progress=self.progress, command=self.command)
            judged = rejudge(result, self.cheap, "the gate's prediction and calibration checks (cheap pass)")
            self._record(row, judged, "cheap")
            if judged.status == NOT_TRUST_EQUIVALENT:
                row.update(state=REJECTED_CHEAP, audit_seconds=round(time.perf_counter() - start, 3))
                self._write_audit(row, judged)
                self.save()
                return row["status"]
        result = audit(pair, None, self.eval_data, self.config, cache=self.cache, progress=self.progress, command=self.command)
        self._record(row, result, "full")
        row.update(state=AUDITED, audit_seconds=round(time.perf_counter() - start, 3))
        self._write_audit(row, result)
        self.save()
        self._line(f"{row['name']}: {row['status']}")
        return row["status"]

    def _record(self, row: dict[str, Any], result: Any, stage: str) -> None:
        """Copy an audit's key numbers into the candidate's row (read from the typed sections of its results)."""
        doc = result.sections
        undecided = [
            {"key": c.key, "rows_to_decide": c.rows_to_decide, "rows": c.rows, "n": c.n, "text": decide_text(c)}
            for c in result.gate.checks if c.status == "inconclusive"
        ]
        p, cal, a = doc.predictions, doc.calibration, doc.attribution
        engine, timings, small = doc.engine, doc.timings, doc.models.small

        def agreement_of(name: str) -> float | None:
            entry = a.explainer(name) if a is not None else None
            return entry.feature_agreement if entry is not None else None

        row.update(
            status=result.status, stage=stage, accuracy=p.small.accuracy, agreement=p.agreement,
            ece=cal.small.ece if cal is not None and cal.small is not None else None,
            ece_increase=cal.ece_increase if cal is not None else None,
            lime_agreement=agreement_of("lime"), shap_agreement=agreement_of("shap"),
            explained=int((a.explained if a is not None else None) or 0),
            evaluations=row.get("evaluations", 0) + (engine.evaluated if engine is not None else 0),
            explain_seconds=round(float((timings.explain if timings is not None else None) or 0.0), 3),
            latency_ms=small.latency.batch1_ms if small.latency is not None else None, latency_estimated=False, undecided=undecided,
        )
        if stage == "cheap":
            row["note"] = "judged by the prediction and calibration checks only"
        else:
            row["note"] = ""

    def _write_audit(self, row: dict[str, Any], result: Any) -> None:
        from trustaudit.report import render_html

        stem = self.candidates_dir / row["name"]
        html = render_html(result)
        write_text_atomic(stem.with_suffix(".json"), result.to_json())
        write_text_atomic(stem.with_suffix(".html"), html)
        row.update(results=str(stem.with_suffix(".json").relative_to(self.out)),
                   report=str(stem.with_suffix(".html").relative_to(self.out)))

    # -- the search ---------------------------------------------------------------------------

    def _families(self) -> list[list[_Plan]]:
        families: dict[str, list[_Plan]] = {}
        for plan in self.plans:
            if plan.row["in_search"]:
                families.setdefault(plan.row["family"], []).append(plan)
        ordered = [sorted(members, key=lambda p: p.cost) for members in families.values()]
        return sorted(ordered, key=lambda members: members[0].cost)

    def _best(self) -> _Plan | None:
        passed = [p for p in self.plans if p.row["state"] == AUDITED and p.row["status"] == TRUST_EQUIVALENT]
        if not passed:
            return None
        key = (lambda p: (p.row["latency_ms"], p.row["size_bytes"])) if self.objective == "latency" else (lambda p: (p.row["size_bytes"], p.row["latency_ms"] or 0))
        return min(passed, key=key)

    def _cost(self, plan: _Plan) -> float:
        row = plan.row
        if self.objective == "latency":
            return float(row["latency_ms"]) if row["latency_ms"] is not None else plan.cost
        return float(row["size_bytes"])

    def _search_family(self, members: list[_Plan]) -> None:
        best = self._best()
        if self.strategy != "exhaustive" and best is not None:
            skipped = [p for p in members if p.cost >= self._cost(best) and p.row["state"] != FAILED]
            for p in skipped:
                p.row["note"] = f"skipped: it cannot beat {best.row['name']}, already trust-equivalent"
                if p.row["state"] == PLANNED:
                    p.row["state"] = SKIPPED
            members = [p for p in members if p.cost < self._cost(best)]
        if self.strategy == "exhaustive":
            for plan in members:
                if self.evaluate(plan) is None:
                    return
            return
        if self.strategy == "linear":
            for plan in members:
                status = self.evaluate(plan)
                if status is None or status == TRUST_EQUIVALENT:
                    return
            return
        low, high = 0, len(members) - 1
        while low <= high:
            mid = (low + high) // 2
            status = self.evaluate(members[mid])
            if status is None:
                return
            if status == TRUST_EQUIVALENT:
                high = mid - 1
            else:
                low = mid + 1
        self._explain_gaps(members)

    def _explain_gaps(self, members: list[_Plan]) -> None:
        """Say, for each candidate of a binary-searched family left unaudited, why the search did not need it."""
        judged = [p for p in members if p.row["state"] in (AUDITED, REJECTED_CHEAP)]
        for plan in members:
            if plan in judged or plan.row.get("note"):
                continue
            passed = [p for p in judged if p.cost < plan.cost and p.row["status"] == TRUST_EQUIVALENT]
            failed = [p for p in judged if p.cost > plan.cost and p.row["status"] != TRUST_EQUIVALENT]
            if passed:
                plan.row["note"] = f"not needed: {passed[-1].row['name']}, more compressed, is trust-equivalent"
            elif failed:
                plan.row["note"] = (f"not audited: {failed[0].row['name']}, less compressed, is {failed[0].row['status']}, "
                                    "so by the ordering assumption this one would not be shown trust-equivalent either")

    def run(self) -> SearchResult:
        self.out.mkdir(parents=True, exist_ok=True)
        self.candidates_dir.mkdir(exist_ok=True)
        self._line("planning the candidates (ASC layer similarities, sizes)")
        self.plan()
        self.save()
        for members in self._families():
            if self._out_of_time():
                break
            self._search_family(members)
        self._out_of_time()
        return self.finish()

