"""The ``batch_size`` section (the size ``batch_size="auto"`` chose, and each size tried) and the ``precision`` section (a reduced precision against fp32)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from trustaudit._audit.document._section import Section, many, optional_key


@dataclasses.dataclass(frozen=True, kw_only=True)
class BatchTrial(Section):
    """One batch size tried: whether it fit in memory, its time per input and (on CUDA) its peak memory."""

    batch_size: int | None = None
    fits: bool | None = None
    ms_per_input: float | None = optional_key()
    peak_bytes: int | None = optional_key()


@dataclasses.dataclass(frozen=True, kw_only=True)
class BatchSizeSection(Section):
    """The ``batch_size`` section: the size chosen by doubling on the longest inputs, why the doubling stopped, every trial."""

    requested: str | None = None
    chosen: int | None = None
    reason: str | None = None
    device: str | None = None
    precision: str | None = None
    probe_tokens: int | None = None
    trials: list[BatchTrial] | None = None
    seconds: float | None = None

    _nested: ClassVar[Mapping[str, Callable[[Any], Any]]] = {"trials": many(BatchTrial)}


@dataclasses.dataclass(frozen=True, kw_only=True)
class PrecisionSection(Section):
    """The ``precision`` section: how far each model's probabilities in a reduced precision are from fp32's.

    ``max_abs_diff``, ``mean_abs_diff`` and ``changed_predictions`` map each model
    (``base``, ``small``) to its value.
    """

    precision: str | None = None
    reference: str | None = None
    rows: int | None = None
    max_abs_diff: Mapping[str, float] | None = None
    mean_abs_diff: Mapping[str, float] | None = None
    changed_predictions: Mapping[str, int] | None = None
    seconds: float | None = None
