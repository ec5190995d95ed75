"""The ``engine`` section (the work of each model's evaluation engine) and the ``timings`` section (seconds per stage)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from trustaudit._audit.document._section import Section, one


@dataclasses.dataclass(frozen=True, kw_only=True)
class EngineWork(Section):
    """What one model's evaluation engine did: inputs asked for, unique ones, cache hits, model work and time."""

    requested: int | None = None
    unique: int | None = None
    cache_hits: int | None = None
    evaluated: int | None = None
    real_tokens: int | None = None
    padded_tokens: int | None = None
    batches: int | None = None
    model_seconds: float | None = None
    seconds: float | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class EngineSection(Section):
    """The ``engine`` section: the evaluation engine's work for the base and the small model."""

    base: EngineWork | None = None
    small: EngineWork | None = None

    _nested: ClassVar[Mapping[str, Callable[[Any], Any]]] = {"base": one(EngineWork), "small": one(EngineWork)}

    @property
    def evaluated(self) -> int:
        """Inputs run through either model (cache hits and duplicates not counted)."""
        return sum(int(work.evaluated or 0) for work in (self.base, self.small) if work is not None)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Timings(Section):
    """The ``timings`` section: wall seconds of each stage of the audit, in the order they ran, and the total.

    A stage that did not run (``precision`` in fp32, ``extras`` or ``bias`` when off, or in
    results written before them) is absent and reads ``None``; :meth:`stages` gives exactly
    the stages the document holds.
    """

    load: float | None = None
    predict: float | None = None
    precision: float | None = None
    calibration: float | None = None
    latency: float | None = None
    explain: float | None = None
    extras: float | None = None
    bias: float | None = None
    total: float | None = None

    def stages(self) -> dict[str, float]:
        """Seconds per stage as the document holds them, in order, ``total`` included."""
        return self.to_dict()
