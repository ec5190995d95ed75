"""The ``models`` section (both models, their latency, size and speed ratios) and the ``data`` section."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from trustaudit._audit.document._section import Section, one, optional_key


@dataclasses.dataclass(frozen=True, kw_only=True)
class Latency(Section):
    """Median wall time of tokenization plus a forward pass: per example at batch 1 and batched."""

    batch1_ms: float | None = None
    batched_ms_per_example: float | None = None
    batch_size: int | None = None
    device: str | None = None
    threads: int | None = None
    repeats: int | None = None
    precision: str | None = optional_key()


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelInfo(Section):
    """One model as audited: where it came from, its labels, size, fingerprint, provenance and latency."""

    path: str | None = None
    kind: str | None = None
    model_type: str | None = None
    labels: list[str] | None = None
    task: str | None = None
    parameters: int | None = None
    bytes: int | None = None
    fingerprint: str | None = None
    max_length: int | None = None
    layers: int | None = None
    hidden_size: int | None = None
    provenance: Mapping[str, Any] | None = None
    source: Mapping[str, Any] | None = optional_key()
    runtime: str | None = optional_key()
    latency: Latency | None = None

    _nested: ClassVar[Mapping[str, Callable[[Any], Any]]] = {"latency": one(Latency)}


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelsSection(Section):
    """The ``models`` section: both models, the label permutation of the small one, and size and speed ratios."""

    base: ModelInfo | None = None
    small: ModelInfo | None = None
    permutation: list[int] | None = None
    reordered: bool | None = None
    param_ratio: float | None = None
    size_ratio: float | None = None
    speedup_batch1: float | None = None
    speedup_batched: float | None = None

    _nested: ClassVar[Mapping[str, Callable[[Any], Any]]] = {"base": one(ModelInfo), "small": one(ModelInfo)}


@dataclasses.dataclass(frozen=True, kw_only=True)
class DataSection(Section):
    """The ``data`` section: the file, its hash, rows used and skipped (and why), columns and labels."""

    path: str | None = None
    sha256: str | None = None
    rows_used: int | None = None
    rows_skipped: int | None = None
    skipped: Mapping[str, int] | None = None
    task: str | None = None
    columns: Mapping[str, Any] | None = None
    label_names: list[str] | None = None
    has_labels: bool | None = None
