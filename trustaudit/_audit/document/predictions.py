"""The ``predictions`` section: agreement, flips and their forensics, per-class drops, disagreeing rows."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from trustaudit._audit.document._section import Section, many, one


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelPredictions(Section):
    """One model's accuracy (None without gold labels), mean confidence and inputs cut at its maximum length."""

    accuracy: float | None = None
    mean_confidence: float | None = None
    n_truncated: int | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class McNemar(Section):
    """McNemar's test of the two models' errors: ``base_only_errors`` are rows only the base got wrong."""

    statistic: float | None = None
    p_value: float | None = None
    method: str | None = None
    base_only_errors: int | None = None
    small_only_errors: int | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class ClassComparison(Section):
    """Recall and precision of one class on both models, and their drops (base - small) with intervals."""

    label: str | None = None
    support: int | None = None
    base_recall: float | None = None
    small_recall: float | None = None
    recall_drop: float | None = None
    recall_drop_interval: list[float] | None = None
    base_precision: float | None = None
    small_precision: float | None = None
    precision_drop: float | None = None
    precision_drop_interval: list[float] | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConfidenceBand(Section):
    """Flips among the rows whose base confidence lies in ``[low, high)`` (``[low, high]`` for the last band)."""

    low: float | None = None
    high: float | None = None
    n: int | None = None
    flips: int | None = None
    flip_rate: float | None = None
    negative_flips: int | None = None
    positive_flips: int | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Disagreement(Section):
    """A row where the two models predict different labels; ``kind`` says who was right."""

    row: int | None = None
    text_a: str | None = None
    text_b: str | None = None
    gold: str | None = None
    base: str | None = None
    base_confidence: float | None = None
    small: str | None = None
    small_confidence: float | None = None
    kind: str | None = None

    @property
    def flip_kind(self) -> str:
        """``kind`` as stored; in results written before it was, derived from the three labels the same way."""
        if self.kind:
            return self.kind
        if self.gold is None:
            return "unlabelled"
        if self.base == self.gold:
            return "negative"
        return "positive" if self.small == self.gold else "both wrong"


@dataclasses.dataclass(frozen=True, kw_only=True)
class PredictionsSection(Section):
    """The ``predictions`` section: how often and where the small model's predictions differ from the base's.

    ``accuracy_drop`` is base - small accuracy (positive: the small model is worse);
    ``kappa`` is Cohen's kappa of the two models' predictions.
    """

    n: int | None = None
    labels: list[str] | None = None
    base: ModelPredictions | None = None
    small: ModelPredictions | None = None
    accuracy_drop: float | None = None
    accuracy_drop_interval: list[float] | None = None
    agreement: float | None = None
    agreement_interval: list[float] | None = None
    kappa: float | None = None
    flips: int | None = None
    flip_matrix: list[list[int]] | None = None
    mcnemar: McNemar | None = None
    error_jaccard: float | None = None
    negative_flip_rate: float | None = None
    negative_flip_rate_interval: list[float] | None = None
    positive_flip_rate: float | None = None
    positive_flip_rate_interval: list[float] | None = None
    negative_flips: int | None = None
    positive_flips: int | None = None
    per_class: list[ClassComparison] | None = None
    worst_class_recall_drop: float | None = None
    worst_class_recall_drop_interval: list[float] | None = None
    worst_class: str | None = None
    confidence_bands: list[ConfidenceBand] | None = None
    disagreements: list[Disagreement] | None = None

    _nested: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        "base": one(ModelPredictions),
        "small": one(ModelPredictions),
        "mcnemar": one(McNemar),
        "per_class": many(ClassComparison),
        "confidence_bands": many(ConfidenceBand),
        "disagreements": many(Disagreement),
    }

    @property
    def has_flip_rates(self) -> bool:
        """Whether the section holds the flip forensics (results written before them do not)."""
        return self.keys is None or "negative_flip_rate" in self.keys
