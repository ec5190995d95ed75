"""Search for the smallest (or fastest) compressed candidate that is shown trust-equivalent.

Candidates come in families, each a ladder ordered from the most compressed rung to the
least: ASC over a ladder of similarity thresholds (or of layer counts), int8 of the base,
int8 of each ASC rung (PyTorch's or ONNX Runtime's dynamic int8), AlAd over each ASC rung.
The ASC similarity matrix is measured once and every rung's layers, size and (for
``objective="latency"``) latency are known before any model is trained, so candidates are
built only when the search reaches them.

Each audited candidate first gets a cheap pass: predictions and calibration only, judged
by the gate's prediction and calibration checks. A candidate that fails there is never
explained; one that passes or is undecided gets the full audit (explanations included).
Within a family the search is a binary search by default: it assumes that a rung that is
trust-equivalent makes every less compressed rung of its family trust-equivalent too, and
``search.json`` says whether any pair of audited rungs contradicted that. A family is only
searched over the rungs that could still beat the best trust-equivalent candidate found.

Every audit shares one evaluation cache, so the base model's outputs are computed once for
the whole search. ``search.json`` and ``search.html`` are rewritten (atomically) after every
candidate, so a crash loses nothing already audited.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from trustaudit._audit.config import AuditConfig
from trustaudit._cache import EvalCache
from trustaudit._io import atomic_write, write_text_atomic
from trustaudit._progress import progress_enabled
from trustaudit._version import __version__
from trustaudit.compress._common import serialized_bytes
from trustaudit.data import Dataset
from trustaudit.exceptions import ExportError, InvalidInputError, MissingDependencyError
from trustaudit.gate import (
    INCOMPLETE,
    NOT_TRUST_EQUIVALENT,
    TRUST_EQUIVALENT,
    VERDICT_INCONCLUSIVE,
    GateConfig,
    check_spec,
    decide_text,
)
from trustaudit.models import ModelBundle

__all__ = [
    "DEFAULT_METHODS",
    "DEFAULT_THRESHOLDS",
    "METHODS",
    "OBJECTIVES",
    "STRATEGIES",
    "SearchCandidate",
    "SearchResult",
    "cheap_gate",
    "search",
]

#: Candidate families the search can make.
METHODS = ("asc", "quantize", "asc+quantize", "alad", "onnx-int8", "asc+onnx-int8")
DEFAULT_METHODS = ("asc", "quantize", "asc+quantize")
#: Families of ONNX Runtime dynamic int8 models (they need the ``[onnx]`` extra).
ONNX_METHODS = ("onnx-int8", "asc+onnx-int8")
#: Families made from the ASC rungs (they need the ladder).
ASC_METHODS = ("asc", "asc+quantize", "alad", "asc+onnx-int8")
#: ASC similarity thresholds tried by default (rungs that remove the same layers are one rung).
DEFAULT_THRESHOLDS = (0.80, 0.85, 0.90, 0.93, 0.95, 0.97, 0.99)
OBJECTIVES = ("size", "latency")
#: binary: binary search within each family; linear: from the most compressed rung up to the
#: first trust-equivalent one; exhaustive: every candidate, each fully audited (no early exit).
STRATEGIES = ("binary", "linear", "exhaustive")
#: The answer of a search: a trust-equivalent candidate was found, none was, or none was shown
#: either way (the best candidates were inconclusive or incomplete).
FOUND, NONE_FOUND, UNDECIDED = "found", "none", "inconclusive"
#: Gate checks of the cheap pass: the ones predictions and calibration alone decide.
CHEAP_SECTIONS = ("predictions", "calibration")

#: The clock of budgets and elapsed times (one name, so a test can drive it).
_clock = time.monotonic

#: What happened to a candidate.
AUDITED, REJECTED_CHEAP, BUILT, PLANNED, SKIPPED, FAILED = (
    "audited", "rejected by the cheap pass", "built, not audited", "not built", "skipped", "failed to build",
)


@dataclass(frozen=True)
class SearchCandidate:
    """One row of the search table: a candidate, what was done with it and what its audit measured.

    ``state`` is ``audited`` (full audit), ``rejected by the cheap pass`` (failed the
    prediction and calibration checks, never explained), ``built, not audited`` (made as the
    parent of another candidate), ``not built`` (the search did not need it, or the budget
    ran out first: ``note`` says which), ``skipped`` (it could not beat a trust-equivalent
    candidate already found) or ``failed to build`` (its ONNX export did not reproduce the
    PyTorch probabilities, or could not be traced: ``note`` says why; never chosen).
    ``explained`` counts the rows its audit explained and ``evaluations`` the texts the models ran on for its predictions (evaluation-cache
    misses: the base model's count only once per search). ``status`` is the verdict (of the cheap gate for a rejected candidate). ``size_bytes``
    is the serialized state dict as it runs (int8 weights for a quantized model), or for an
    ONNX candidate the size of its quantized graph file(s); ``size_estimated`` says it was
    computed from the untrained structure. ``undecided`` lists the inconclusive checks and
    how many more rows would decide each.
    """

    name: str
    method: str
    family: str
    rung: int | None
    layers_removed: tuple[int, ...]
    layers: int | None
    parent: str | None
    size_bytes: int
    size_estimated: bool
    latency_ms: float | None
    latency_estimated: bool
    state: str
    status: str | None = None
    stage: str | None = None
    params: int | None = None
    accuracy: float | None = None
    agreement: float | None = None
    ece: float | None = None
    ece_increase: float | None = None
    lime_agreement: float | None = None
    shap_agreement: float | None = None
    explained: int = 0
    evaluations: int = 0
    explain_seconds: float = 0.0
    build_seconds: float = 0.0
    audit_seconds: float = 0.0
    undecided: tuple[Mapping[str, Any], ...] = ()
    bundle: str | None = None
    report: str | None = None
    results: str | None = None
    chosen: bool = False
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (a row of ``search.json``)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["layers_removed"] = list(self.layers_removed)
        out["undecided"] = [dict(u) for u in self.undecided]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SearchCandidate:
        """Inverse of :meth:`to_dict`."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["layers_removed"] = tuple(values.get("layers_removed") or ())
        values["undecided"] = tuple(dict(u) for u in values.get("undecided") or ())
        return cls(**values)


@dataclass(frozen=True)
class SearchResult:
    """The outcome of :func:`search`.

    ``answer`` is ``found`` (``chosen`` is the best trust-equivalent candidate by the
    objective), ``none`` (no candidate was shown trust-equivalent and none is undecided)
    or ``inconclusive`` (none was shown trust-equivalent, but some were inconclusive or
    incomplete: more rows might decide them). ``complete`` is False when the budget stopped
    the search early; the answer is then the best found so far. ``document`` is
    ``search.json``.
    """

    answer: str
    chosen: SearchCandidate | None
    candidates: tuple[SearchCandidate, ...]
    complete: bool
    out: Path
    document: Mapping[str, Any]

    @property
    def audited(self) -> tuple[SearchCandidate, ...]:
        """The candidates that were audited (fully or by the cheap pass only)."""
        return tuple(c for c in self.candidates if c.state in (AUDITED, REJECTED_CHEAP))


def cheap_gate(gate: GateConfig) -> GateConfig:
    """``gate`` with only its prediction and calibration checks on (the cheap pass's gate)."""
    values: dict[str, Any] = {}
    for key, limit in gate.limits.items():
        spec = check_spec(key)
        keep = spec is not None and spec.metric.split(".", 1)[0] in CHEAP_SECTIONS
        values[key] = limit if keep else None
    values["decision"] = gate.decision
    return GateConfig.from_dict(values, "the cheap pass", warn=False)


@dataclass
class _Plan:
    """A candidate before (and while) it is made: how to build it and what it will cost."""

    row: dict[str, Any]
    cost: float
    build: Callable[[], ModelBundle]
    bundle: ModelBundle | None = None


def _width(bundle: ModelBundle) -> int:
    config = bundle.config
    return int(config.get("hidden_size") or config.get("dim") or 0)


def _layers(bundle: ModelBundle) -> int | None:
    config = bundle.config
    value = config.get("num_hidden_layers", config.get("n_layers"))
    return int(value) if value is not None else None


def _size(bundle: ModelBundle) -> int:
    """Bytes of the model's state dict as it runs (int8 weights for a quantized model); of its graph file(s) for ONNX."""
    if bundle.kind == "onnx":
        return int(bundle.bytes_on_disk)
    return serialized_bytes(bundle.model.state_dict())


def _latency(bundle: ModelBundle, pairs: Sequence[tuple[str, str | None]], device: Any) -> float:
    """Median batch-1 latency in ms (tokenization and forward), 3 rounds."""
    from trustaudit._audit.latency import measure_latency

    return float(measure_latency({"m": bundle}, pairs, device, repeats=3)["m"].batch1_ms)


def _check_choice(name: str, values: Sequence[str], allowed: Sequence[str]) -> tuple[str, ...]:
    if isinstance(values, str):
        values = tuple(v.strip() for v in values.split(","))
    values = tuple(values)
    if not values or not set(values) <= set(allowed) or len(set(values)) != len(values):
        raise InvalidInputError(f"`{name}` must be distinct values among {', '.join(allowed)}, got {list(values)}")
    return values


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _copy_atomic(source: Path, target: Path) -> None:
    with open(source, "rb") as src, atomic_write(target, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)


def _copy_tree_atomic(source: Path, target: Path) -> None:
    """Copy a model directory beside ``target``, then rename it into place (never half written)."""
    staging = target.parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        shutil.copytree(source, staging)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


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


class _Search:
    """The state of one search (see :func:`search`)."""

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

    # -- planning ---------------------------------------------------------------------------

    def _asc_ladder(self) -> list[tuple[tuple[int, ...], dict[str, Any]]]:
        """The distinct layer sets of the ladder, most layers removed first, with the rule that picks each."""
        from trustaudit.compress._asc import PAPER_MARGIN, highest_similarity, layer_similarity, redundant_layers

        similarity = layer_similarity(self.base, self.train, batch_size=self.config.batch_size, max_rows=self.max_rows,
                                      device=self.config.device, progress=self.progress)
        margin = float(self.asc_options.get("margin", PAPER_MARGIN))
        rungs: dict[tuple[int, ...], dict[str, Any]] = {}
        if self.n_remove is not None:
            for k in sorted(set(self.n_remove), reverse=True):
                rungs.setdefault(redundant_layers(similarity, n_remove=k), {"n_remove": int(k)})
        else:
            for t in sorted(set(self.thresholds or ())):
                try:
                    layers = redundant_layers(similarity, t, margin=margin)
                except InvalidInputError:
                    continue  # this threshold would remove every layer
                if layers:
                    rungs.setdefault(layers, {"threshold": float(t), "margin": margin, "thresholds": []})["thresholds"].append(float(t))
            if not rungs:
                raise InvalidInputError(
                    f"no threshold of {sorted(self.thresholds or ())} removes a layer (minus margin {margin}; the highest "
                    f"similarity between two states is {highest_similarity(similarity):.4f}); give lower `thresholds` or `n_remove`"
                )
        return sorted(rungs.items(), key=lambda item: (-len(item[0]), item[0]))

    def plan(self) -> None:
        """Every candidate with its size (and latency) measured on its untrained structure."""
        from trustaudit.compress._asc import prune_layers
        from trustaudit.compress._quantize import quantize

        n_layers = _layers(self.base)
        asc_rows: list[tuple[str, tuple[int, ...], dict[str, Any]]] = []
        needs_asc = any(m in self.methods for m in ASC_METHODS)
        if needs_asc:
            for rung, (layers, rule) in enumerate(self._asc_ladder()):
                name = f"asc-{len(layers)}"
                if any(row["name"] == name for row in self.ladder):  # another layer set of the same size
                    name += f"-t{rule['threshold']:g}"
                self.ladder.append({"rung": rung, "name": name, "layers_removed": list(layers), **rule})
                asc_rows.append((name, layers, rule))
        for rung, (name, layers, rule) in enumerate(asc_rows):
            structure = prune_layers(self.base, layers)
            size, latency = _size(structure), self._estimate_latency(structure)
            kept = None if n_layers is None else n_layers - len(layers)
            self._add(dict(name=name, method="asc", family="asc", rung=rung, layers_removed=layers, layers=kept, parent=None,
                           size_bytes=size, latency_ms=latency), self._asc_builder(rule, layers), include="asc" in self.methods)
            if "asc+quantize" in self.methods:
                q = quantize(structure)
                self._add(dict(name=f"{name}-int8", method="asc+quantize", family="asc+quantize", rung=rung,
                               layers_removed=layers, layers=kept, parent=name, size_bytes=_size(q),
                               latency_ms=self._estimate_latency(q)), self._int8_builder(name))
            if "asc+onnx-int8" in self.methods:
                self._add_onnx(dict(name=f"{name}-onnx-int8", method="asc+onnx-int8", family="asc+onnx-int8", rung=rung,
                                    layers_removed=layers, layers=kept, parent=name), structure, name)
            if "alad" in self.methods:
                extra = self._alad_extra_bytes()
                self._add(dict(name=f"{name}-alad", method="alad", family="alad", rung=rung, layers_removed=layers,
                               layers=kept, parent=name, size_bytes=size + extra, latency_ms=latency), self._alad_builder(name))
        if "quantize" in self.methods:
            q = quantize(self.base)
            self._add(dict(name="base-int8", method="quantize", family="quantize", rung=0, layers_removed=(), layers=n_layers,
                           parent=None, size_bytes=_size(q), latency_ms=self._estimate_latency(q)), self._int8_builder(None))
        if "onnx-int8" in self.methods:
            self._add_onnx(dict(name="base-onnx-int8", method="onnx-int8", family="onnx-int8", rung=0, layers_removed=(),
                                layers=n_layers, parent=None), self.base, None)

    def _add_onnx(self, row: dict[str, Any], structure: ModelBundle, parent: str | None) -> None:
        """Plan an ONNX Runtime int8 candidate, sized by the quantized graph of its untrained structure.

        The structure is exported and quantized (unchecked) in a temporary folder; a structure
        the tracer cannot export makes the candidate ``failed to build`` at once, sized by its
        float state dict.
        """
        from trustaudit.compress._onnx import unchecked_dynamic_int8

        failure = None
        with tempfile.TemporaryDirectory(prefix="trustaudit-search-onnx-") as tmp:
            try:
                graph = unchecked_dynamic_int8(structure, Path(tmp) / "model")
                size, latency = _size(graph), self._estimate_latency(graph)
                del graph
            except ExportError as exc:
                failure = str(exc)
                size, latency = _size(structure), self._estimate_latency(structure)
        self._add({**row, "size_bytes": size, "latency_ms": latency}, self._onnx_builder(parent))
        if failure is not None:
            self.by_name[row["name"]].row.update(state=FAILED, note=f"export failed while planning: {failure}")

    def _estimate_latency(self, bundle: ModelBundle) -> float | None:
        return _latency(bundle, self.pairs, self.device) if self.objective == "latency" else None

    def _alad_extra_bytes(self) -> int:
        """float32 bytes AlAd adds to its small model: window adapter and a head of the base's width."""
        from trustaudit.compress._alad import PAPER_HIDDEN

        width, k = _width(self.base), len(self.base.labels)
        window, hidden = int(self.alad_options.get("window", 3)), int(self.alad_options.get("hidden", PAPER_HIDDEN))
        adapter = window * width * hidden + hidden + hidden * width + width
        head = width * width + width + width * k + k
        return 4 * (adapter + head)

    def _add(self, row: dict[str, Any], build: Callable[[], ModelBundle], include: bool = True) -> None:
        row = {**row, "size_estimated": True, "latency_estimated": row.get("latency_ms") is not None, "state": PLANNED}
        cost = float(row["latency_ms"] if self.objective == "latency" else row["size_bytes"])
        plan = _Plan(row, cost, build)
        plan.row["in_search"] = include
        self.by_name[row["name"]] = plan
        self.plans.append(plan)

    # -- building ---------------------------------------------------------------------------

    def _asc_builder(self, rule: Mapping[str, Any], layers: tuple[int, ...]) -> Callable[[], ModelBundle]:
        def build() -> ModelBundle:
            from trustaudit.compress._asc import asc

            options = {k: v for k, v in self.asc_options.items() if k != "margin"}
            if "n_remove" in rule:
                model, info = asc(self.base, self.train, n_remove=rule["n_remove"], max_rows=self.max_rows,
                                  batch_size=self.config.batch_size, device=self.config.device, progress=self.progress, **options)
            else:
                model, info = asc(self.base, self.train, threshold=rule["threshold"], margin=rule["margin"], max_rows=self.max_rows,
                                  batch_size=self.config.batch_size, device=self.config.device, progress=self.progress, **options)
            if tuple(info.layers_removed) != tuple(layers):
                raise InvalidInputError(
                    f"ASC removed layers {list(info.layers_removed)} where the ladder planned {list(layers)}: the similarities "
                    "changed between two passes over the same data (a non-deterministic device?)"
                )
            return model

        return build

    def _parent(self, name: str) -> ModelBundle:
        """An ASC rung's model: loaded from its bundle, or built (and saved) when no candidate made it yet."""
        from trustaudit.models import load_model

        plan = self.by_name[name]
        if plan.row.get("bundle"):
            return load_model(self.out / plan.row["bundle"])
        self._build(plan)
        assert plan.bundle is not None
        return plan.bundle

    def _int8_builder(self, parent: str | None) -> Callable[[], ModelBundle]:
        def build() -> ModelBundle:
            from trustaudit.compress._quantize import quantize

            return quantize(self.base if parent is None else self._parent(parent))

        return build

    def _onnx_builder(self, parent: str | None) -> Callable[[], ModelBundle]:
        """The PyTorch model an ONNX candidate exports (``_build`` exports and quantizes it)."""
        def build() -> ModelBundle:
            return self.base if parent is None else self._parent(parent)

        return build

    def _alad_builder(self, parent: str) -> Callable[[], ModelBundle]:
        def build() -> ModelBundle:
            from trustaudit.compress._alad import alad

            model, _ = alad(self.base, self._parent(parent), self.train, max_rows=self.max_rows, batch_size=self.config.batch_size,
                            device=self.config.device, progress=self.progress, **self.alad_options)
            return model

        return build

    def _build(self, plan: _Plan) -> None:
        """Make the candidate, save it in ``candidates/`` with its provenance, and load it back."""
        from trustaudit.models import load_model, save_bundle

        row = plan.row
        start = time.perf_counter()
        made = plan.build()
        where = {"name": row["name"], "family": row["family"], "rung": row["rung"], "parent": row["parent"],
                 "base_fingerprint": self.base.fingerprint}
        if row["method"] in ONNX_METHODS:
            path = self.candidates_dir / row["name"]
            self._export(made, path, where)
        else:
            path = self.candidates_dir / f"{row['name']}.pt"
            save_bundle(made, path, provenance={**dict(made.provenance), "search": where})
        bundle = load_model(path)
        row.update(bundle=str(path.relative_to(self.out)), size_bytes=_size(bundle), size_estimated=False,
                   params=bundle.n_params, build_seconds=round(time.perf_counter() - start, 3))
        if row["state"] in (PLANNED, SKIPPED):
            row["state"] = BUILT
        plan.bundle = bundle
        self.save(page=False)

    def _export(self, model: ModelBundle, path: Path, where: Mapping[str, Any]) -> None:
        """``model`` as a checked ONNX Runtime dynamic int8 directory at ``path``; its provenance says where in the search.

        Written in a staging folder and renamed into place, so ``path`` is complete or absent.
        Raises :class:`ExportError` (nothing written) when the fp32 graph does not reproduce
        the PyTorch probabilities within 1e-4 on the check inputs and the first rows of the
        evaluation data.
        """
        from trustaudit.compress._onnx import to_onnx
        from trustaudit.models import PROVENANCE_FILE

        staging = self.candidates_dir / f".{path.name}.staging-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        try:
            to_onnx(model, staging / "model", quantize="dynamic", calibration=self.eval_data)
            record = staging / "model" / PROVENANCE_FILE
            provenance = json.loads(record.read_text(encoding="utf-8"))
            provenance["search"] = dict(where)
            write_text_atomic(record, json.dumps(provenance, indent=1, sort_keys=True))
            os.replace(staging / "model", path)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    # -- auditing ---------------------------------------------------------------------------

    def _line(self, text: str) -> None:
        if self.show:
            print(f"trustaudit search: {text}", file=sys.stderr, flush=True)

    def _left(self) -> str:
        if self.deadline is None:
            return f"{(_clock() - self.started) / 60:.1f} min elapsed, no budget"
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

    # -- the answer ---------------------------------------------------------------------------

    def _monotonicity(self) -> dict[str, Any]:
        """Pairs of audited candidates of one family where a more compressed one passed and a less compressed one failed."""
        contradictions, pairs = [], 0
        for members in self._families():
            judged = [p for p in members if p.row["state"] in (AUDITED, REJECTED_CHEAP)]
            for i, small in enumerate(judged):
                for larger in judged[i + 1:]:
                    if larger.cost <= small.cost:
                        continue
                    pairs += 1
                    if small.row["status"] == TRUST_EQUIVALENT and larger.row["status"] == NOT_TRUST_EQUIVALENT:
                        contradictions.append([small.row["name"], larger.row["name"]])
        return {
            "assumed": self.strategy == "binary",
            "pairs_compared": pairs,
            "contradictions": contradictions,
            "held": not contradictions,
            "note": "a pair contradicts the assumption when a more compressed candidate of a family is trust-equivalent "
                    "and a less compressed one of the same family is not",
        }

    def _answer(self) -> tuple[str, _Plan | None]:
        best = self._best()
        if best is not None:
            return FOUND, best
        undecided = [p for p in self.plans if p.row["state"] in (AUDITED, REJECTED_CHEAP)
                     and p.row["status"] in (VERDICT_INCONCLUSIVE, INCOMPLETE)]
        return (UNDECIDED if undecided else NONE_FOUND), None

    def document(self, final: bool) -> dict[str, Any]:
        answer, best = self._answer() if final else (None, None)
        rows = []
        for plan in sorted(self.plans, key=lambda p: (p.cost, p.row["name"])):
            row = {k: v for k, v in plan.row.items() if k != "in_search"}
            row["chosen"] = best is plan
            if plan.row["state"] == PLANNED and final:
                if not plan.row["in_search"]:
                    row["note"] = row.get("note") or f"not in --methods ({', '.join(self.methods)}): made only as a parent"
                elif self.stopped and not row.get("note"):
                    row["note"] = "not reached: the budget ran out"
                elif not row.get("note"):
                    row["note"] = "not needed: the search decided without it"
            rows.append(SearchCandidate.from_dict(row).to_dict())
        audited = [p for p in self.plans if p.row["state"] in (AUDITED, REJECTED_CHEAP)]
        rejected = [p for p in audited if p.row["state"] == REJECTED_CHEAP]
        explain_n = self.config.explain_n
        state = "running" if not final else ("stopped by the budget" if self.stopped else "done")
        return {
            "tool": {"name": "trustaudit", "version": __version__},
            "created": _now(),
            "command": self.command or "trustaudit.compress.search(...)",
            "state": state,
            "complete": final and not self.stopped,
            "answer": answer,
            "chosen": best.row["name"] if best is not None else None,
            "model": _chosen_model(best.row) if best is not None else None,
            "objective": self.objective,
            "strategy": self.strategy,
            "methods": list(self.methods),
            "budget_minutes": self.budget_minutes,
            "elapsed_seconds": round(_clock() - self.started, 3),
            "base": {"path": self.base.path, "fingerprint": self.base.fingerprint, "size_bytes": self.base_size,
                     "params": self.base.n_params, "layers": _layers(self.base), "latency_ms": self.base_latency},
            "data": {"train": {"path": self.train.path, "sha256": self.train.sha256, "rows": len(self.train)},
                     "eval": {"path": self.eval_data.path, "sha256": self.eval_data.sha256, "rows": len(self.eval_data)}},
            "ladder": self.ladder,
            "asc_options": _plain(self.asc_options),
            "alad_options": _plain(self.alad_options),
            "gate": {**self.config.gate.to_dict(), "source": self.config.gate_source},
            "cheap_checks": [spec.key for spec in self.cheap.enabled],
            "audit_config": self.config.to_dict(),
            "candidates": rows,
            "counts": {
                "planned": len(self.plans),
                "built": sum(1 for p in self.plans if p.row.get("bundle")),
                "audited": len(audited),
                "rejected_by_cheap_pass": len(rejected),
                "failed_to_build": sum(1 for p in self.plans if p.row["state"] == FAILED),
                "fully_audited": len(audited) - len(rejected),
                "explained": sum(int(p.row.get("explained") or 0) for p in audited),
                "explanations_saved": len(rejected) * explain_n,
            },
            "monotonicity": self._monotonicity(),
        }

    def save(self, final: bool = False, page: bool = True) -> dict[str, Any]:
        """Rewrite ``search.json`` (and, with ``page``, ``search.html``) atomically."""
        from trustaudit.report.search import render_search_html

        doc = self.document(final)
        write_text_atomic(self.out / "search.json", json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False) + "\n")
        if page:
            write_text_atomic(self.out / "search.html", render_search_html(doc))
        return doc

    def finish(self) -> SearchResult:
        answer, best = self._answer()
        if best is not None:
            row = best.row
            source = self.out / row["bundle"]
            if source.is_dir():
                _copy_tree_atomic(source, self.out / _chosen_model(row))
            else:
                _copy_atomic(source, self.out / _chosen_model(row))
            _copy_atomic(self.out / row["results"], self.out / "results.json")
            _copy_atomic(self.out / row["report"], self.out / "report.html")
        doc = self.save(final=True)
        self._line(f"{doc['counts']['audited']} candidate(s) audited in {doc['elapsed_seconds'] / 60:.1f} min: "
                   + (f"chose {doc['chosen']}" if best is not None else f"answer {answer}"))
        candidates = tuple(SearchCandidate.from_dict(r) for r in doc["candidates"])
        chosen = next((c for c in candidates if c.chosen), None)
        return SearchResult(answer, chosen, candidates, bool(doc["complete"]), self.out, doc)


def _chosen_model(row: Mapping[str, Any]) -> str:
    """Where in the output folder the chosen candidate is copied: ``model/`` for an ONNX directory, else ``model.pt``."""
    return "model" if row["method"] in ONNX_METHODS else "model.pt"


def _plain(values: Mapping[str, Any]) -> dict[str, Any]:
    """Options as JSON values (anything else as its text)."""
    out = {}
    for key, value in values.items():
        if value is None or isinstance(value, (bool, int, str)) or (isinstance(value, float) and math.isfinite(value)):
            out[key] = value
        elif isinstance(value, (list, tuple)) and len(value) < 50:
            out[key] = [v if isinstance(v, (int, float, str, bool)) else str(v) for v in value]
        else:
            out[key] = f"<{type(value).__name__}>"
    return out

