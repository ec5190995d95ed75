"""What a search reports: the families and states it knows, a candidate's row, the outcome, and the cheap pass's gate."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from trustaudit.gate import (
    GateConfig,
    check_spec,
)

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
