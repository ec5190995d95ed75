"""The ``attribution`` section (each explainer's agreement against its noise floor) and the explained ``examples``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from trustaudit._audit.document._section import Section, by_name, many, one, optional_key


def share_of_floor(value: float | None, floor: float | None) -> float | None:
    """``value`` as a share of its noise floor; ``None`` where either is missing or the floor is not positive.

    The attribution stage stores these shares (``floor_ratios``); results written before
    it did are read with this same rule (:meth:`ExplainerAgreement.share_of_floor`).
    """
    if value is None or floor is None:
        return None
    import math

    from trustaudit.metrics import fraction_of_floor

    ratio = fraction_of_floor(value, floor)
    return None if math.isnan(ratio) else float(ratio)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Statistic(Section):
    """The mean of a per-example agreement metric and its bootstrap 95% interval."""

    mean: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None

    @property
    def interval(self) -> list[float] | None:
        """``[ci_low, ci_high]``, or None without an interval."""
        return None if self.ci_low is None else [self.ci_low, self.ci_high]


@dataclasses.dataclass(frozen=True, kw_only=True)
class AgreementSummary(Section):
    """Agreement of two sets of attributions: the headline figures and every metric (``feature_agreement@5``...)."""

    feature_agreement: float | None = None
    feature_agreement_interval: list[float] | None = None
    rank_correlation: float | None = None
    rank_correlation_interval: list[float] | None = None
    metrics: Mapping[str, Statistic] | None = None

    _nested: ClassVar[Mapping[str, Callable[[Any], Any]]] = {"metrics": by_name(Statistic)}


@dataclasses.dataclass(frozen=True, kw_only=True)
class SelfAgreement(AgreementSummary):
    """An explainer's agreement with itself at another seed on the base model: the noise floor."""

    deterministic_examples: int | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class ExplainerAgreement(AgreementSummary):
    """One explainer's base-vs-small agreement, set beside its noise floor.

    ``floor`` is the self-agreement's feature agreement, ``floor_ratio`` the feature
    agreement as a share of it (with ``floor_ratio_interval``), ``floor_ratios`` the share
    of every metric; all ``None`` when no floor was measured.
    """

    params: Mapping[str, Any] | None = None
    pairing: str | None = None
    self_agreement: SelfAgreement | None = None
    floor: float | None = None
    floor_exact_examples: int | None = None
    floor_exact: bool | None = None
    floor_ratios: Mapping[str, float | None] | None = None
    floor_ratio: float | None = None
    floor_ratio_interval: list[float] | None = None

    _nested: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        "metrics": by_name(Statistic),
        "self_agreement": one(SelfAgreement),
    }

    def share_of_floor(self, key: str) -> float | None:
        """Metric ``key`` as a share of its floor: the stored ``floor_ratios``; in results written
        before they were stored, by the rule that computes them (:func:`share_of_floor`)."""
        if self.floor_ratios is not None:
            return self.floor_ratios.get(key)
        stat = (self.metrics or {}).get(key)
        own = ((self.self_agreement.metrics if self.self_agreement else None) or {}).get(key)
        return share_of_floor(stat.mean if stat else None, own.mean if own else None)


@dataclasses.dataclass(frozen=True, kw_only=True)
class AttributionSection(Section):
    """The ``attribution`` section: each explainer's agreement (a key per explainer, see :meth:`explainer`).

    ``k`` is the headline top-k; ``cross_explainer`` compares the explainers on the base
    model when LIME and SHAP both ran. Unavailable when no rows were explained.
    """

    available: bool = False
    explained: int | None = None
    explainers: list[str] | None = None
    segment: str | None = None
    target: str | None = None
    ks: list[int] | None = None
    k: int | None = None
    seed: int | None = None
    seconds: float | None = None
    engine: Mapping[str, Mapping[str, Any]] | None = None
    by_explainer: Mapping[str, ExplainerAgreement] = dataclasses.field(default_factory=dict)
    cross_explainer: AgreementSummary | None = optional_key()

    _nested: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        "by_explainer": one(ExplainerAgreement),
        "cross_explainer": one(AgreementSummary),
    }
    _spread: ClassVar[str | None] = "by_explainer"

    @classmethod
    def _spread_keys(cls, data: Mapping[str, Any]) -> Sequence[str]:
        return [name for name in data.get("explainers") or [] if isinstance(data.get(name), Mapping)]

    @classmethod
    def unavailable(cls) -> AttributionSection:
        """The section of an audit that explained no rows."""
        return cls(available=False, explained=0, keys=("available", "explained"))

    def explainer(self, name: str) -> ExplainerAgreement | None:
        """The agreement of explainer ``name``, or None if it did not run."""
        return self.by_explainer.get(name)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Feature(Section):
    """A word of an explained input: its position, text segment (``a``/``b``) and character span."""

    index: int | None = None
    word: str | None = None
    segment: str | None = None
    start: int | None = None
    end: int | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class ExampleScores(Section):
    """One explainer's scores of an example's features: base, small, and the base's second draw (the floor)."""

    base: list[float] | None = None
    small: list[float] | None = None
    base_repeat: list[float] | None = None
    algorithm: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class ExampleAgreement(Section):
    """One explained row's agreement figures for one explainer: base against small, and the base against its own rerun."""

    feature_agreement: float | None = None
    rank_correlation: float | None = None
    self_feature_agreement: float | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Example(Section):
    """An explained row: both models' probabilities, the explained label, the features and their scores.

    ``agreement[explainer]`` holds the row's agreement figures, ``divergence`` is one minus
    the mean feature agreement over explainers (the report's order).
    """

    row: int | None = None
    text_a: str | None = None
    text_b: str | None = None
    gold: str | None = None
    base_probs: Mapping[str, float] | None = None
    small_probs: Mapping[str, float] | None = None
    target: str | None = None
    target_source: str | None = None
    features: list[Feature] | None = None
    scores: Mapping[str, ExampleScores] | None = None
    agreement: Mapping[str, ExampleAgreement] | None = None
    divergence: float | None = None

    _nested: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        "features": many(Feature),
        "scores": by_name(ExampleScores),
        "agreement": by_name(ExampleAgreement),
    }
