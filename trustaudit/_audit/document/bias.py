"""The ``bias`` section (association tests, counterfactual flips) and the ``extras`` section (CKA, adversarial transfer).

Every part a reader reads by key is a section of its own: an association test and its word
sets, each pooling's effect sizes and their change, the largest change, the counterfactual
flips (their comparison, examples and swaps), each pooling's CKA and the CKA of every pair of
hidden states, the attack's parameters and both directions of its transfer rates. The
per-row attack records (``adversarial.rows``) and the bias comparison's stage times
(``embedding.seconds``) stay plain: no output reads them by key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from trustaudit._audit.document._section import Section, many, one


@dataclasses.dataclass(frozen=True, kw_only=True)
class WordSet(Section):
    """One word set of an association test (``X``, ``Y``, ``A`` or ``B``): its label, kind and words."""

    label: str | None = None
    kind: str | None = None
    words: list[str] | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class AssociationTest(Section):
    """An association test: its name, description and the four word sets (targets ``X``, ``Y``; attributes ``A``, ``B``)."""

    name: str | None = None
    description: str | None = None
    X: WordSet | None = None
    Y: WordSet | None = None
    A: WordSet | None = None
    B: WordSet | None = None

    _nested: ClassVar[Mapping[str, Callable[[Any], Any]]] = {key: one(WordSet) for key in ("X", "Y", "A", "B")}


@dataclasses.dataclass(frozen=True, kw_only=True)
class EffectSize(Section):
    """One model's effect size d on one test and pooling, with its permutation p-value."""

    effect_size: float | None = None
    p_value: float | None = None
    statistic: float | None = None
    exact: bool | None = None
    n_permutations: int | None = None
    seed: int | None = None
    n_x: int | None = None
    n_y: int | None = None
    n_a: int | None = None
    n_b: int | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class EffectChange(Section):
    """The change of d from the base to the small model, with paired bootstrap intervals."""

    base: float | None = None
    small: float | None = None
    difference: float | None = None
    difference_ci: list[float] | None = None
    magnitude_difference: float | None = None
    magnitude_difference_ci: list[float] | None = None
    absolute_difference: float | None = None
    absolute_difference_ci: list[float] | None = None
    n_resamples: int | None = None
    n_defined: int | None = None
    seed: int | None = None
    ci_level: float | None = None
    _renamed: ClassVar[Mapping[str, str]] = {"confidence": "ci_level"}


@dataclasses.dataclass(frozen=True, kw_only=True)
class PoolingResult(Section):
    """One test under one pooling: both models' effect sizes and their change."""

    pooling: str | None = None
    base: EffectSize | None = None
    small: EffectSize | None = None
    change: EffectChange | None = None

    _nested: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        "base": one(EffectSize), "small": one(EffectSize), "change": one(EffectChange),
    }


@dataclasses.dataclass(frozen=True, kw_only=True)
class AssociationResult(Section):
    """An association test and its result under every pooling."""

    test: AssociationTest | None = None
    results: list[PoolingResult] | None = None

    _nested: ClassVar[Mapping[str, Callable[[Any], Any]]] = {"test": one(AssociationTest), "results": many(PoolingResult)}


@dataclasses.dataclass(frozen=True, kw_only=True)
class LargestChange(Section):
    """The test and pooling whose effect size changed most, and both effect sizes."""

    test: str | None = None
    pooling: str | None = None
    base: float | None = None
    small: float | None = None
    difference: float | None = None
    absolute_difference: float | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class BiasEmbedding(Section):
    """Association tests on both models: per test and pooling, both effect sizes and their change."""

    tests: list[AssociationResult] | None = None
    poolings: list[str] | None = None
    largest_change: LargestChange | None = None
    max_abs_effect_change: float | None = None
    max_abs_effect_change_ci: list[float] | None = None
    n_defined: int | None = None
    n_permutations: int | None = None
    exact_limit: int | None = None
    n_resamples: int | None = None
    seed: int | None = None
    ci_level: float | None = None
    templates: Mapping[str, list[str]] | None = None
    source: str | None = None
    citation: str | None = None
    base_model: str | None = None
    small_model: str | None = None
    n_sentences: int | None = None
    seconds: Mapping[str, float] | None = None

    _nested: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        "tests": many(AssociationResult), "largest_change": one(LargestChange),
    }
    _renamed: ClassVar[Mapping[str, str]] = {"confidence": "ci_level"}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Swap(Section):
    """One word swapped to make a counterfactual text: where, which word, and its counterpart."""

    segment: str | None = None
    start: int | None = None
    original: str | None = None
    replacement: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class CounterfactualExample(Section):
    """One explained text with its listed words swapped, and both models' predictions before and after."""

    index: int | None = None
    text_a: str | None = None
    text_b: str | None = None
    swapped_a: str | None = None
    swapped_b: str | None = None
    swaps: list[Swap] | None = None
    base_before: str | None = None
    base_after: str | None = None
    small_before: str | None = None
    small_after: str | None = None
    base_flipped: bool | None = None
    small_flipped: bool | None = None

    _nested: ClassVar[Mapping[str, Callable[[Any], Any]]] = {"swaps": many(Swap)}

    @property
    def flipped(self) -> bool:
        """True when either model's predicted class changed with the swap."""
        return self.base_before != self.base_after or self.small_before != self.small_after


@dataclasses.dataclass(frozen=True, kw_only=True)
class FlipComparison(Section):
    """Counterfactual flip rates of both models, their difference with an interval, and McNemar's test."""

    n: int | None = None
    base_flips: int | None = None
    small_flips: int | None = None
    base_flip_rate: float | None = None
    small_flip_rate: float | None = None
    difference: float | None = None
    difference_ci: list[float] | None = None
    base_only: int | None = None
    small_only: int | None = None
    mcnemar_statistic: float | None = None
    mcnemar_p_value: float | None = None
    mcnemar_method: str | None = None
    p_value_small_more: float | None = None
    n_resamples: int | None = None
    seed: int | None = None
    ci_level: float | None = None
    _renamed: ClassVar[Mapping[str, str]] = {"confidence": "ci_level"}


@dataclasses.dataclass(frozen=True, kw_only=True)
class CounterfactualFlips(Section):
    """Counterfactual flips of the explained texts: how many held a listed word, the comparison, every example."""

    n_texts: int | None = None
    n_applicable: int | None = None
    not_applicable: list[int] | None = None
    comparison: FlipComparison | None = None
    examples: list[CounterfactualExample] | None = None
    labels: list[str] | None = None
    swap_pairs: list[list[str]] | None = None

    _nested: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        "comparison": one(FlipComparison), "examples": many(CounterfactualExample),
    }


@dataclasses.dataclass(frozen=True, kw_only=True)
class BiasSection(Section):
    """The ``bias`` section: association tests and counterfactual flips, or why they were not run (``reason``)."""

    available: bool = False
    reason: str | None = None
    embedding: BiasEmbedding | None = None
    counterfactual: CounterfactualFlips | None = None
    rows: list[int] | None = None

    _nested: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        "embedding": one(BiasEmbedding), "counterfactual": one(CounterfactualFlips),
    }

    @classmethod
    def unavailable(cls, reason: str) -> BiasSection:
        """The section of an audit that did not compare bias, and why."""
        return cls(available=False, reason=reason, keys=("available", "reason"))


@dataclasses.dataclass(frozen=True, kw_only=True)
class PoolingCka(Section):
    """Linear CKA of the two models' final representations under one pooling, against the base's self-reference."""

    n: int | None = None
    base_width: int | None = None
    small_width: int | None = None
    cka: float | None = None
    cka_ci: list[float] | None = None
    self_reference: float | None = None
    self_reference_ci: list[float] | None = None
    normalized: float | None = None
    n_resamples: int | None = None
    n_reference: int | None = None
    seed: int | None = None
    ci_level: float | None = None
    _renamed: ClassVar[Mapping[str, str]] = {"confidence": "ci_level"}


@dataclasses.dataclass(frozen=True, kw_only=True)
class LayerCka(Section):
    """Linear CKA of every pair of hidden states (base state by small state), per pooling; state 0 is the embeddings."""

    base_states: int | None = None
    small_states: int | None = None
    cls: list[list[float | None]] | None = None
    mean: list[list[float | None]] | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class RepresentationSection(Section):
    """Linear CKA of the two models' final representations (``cls``, ``mean``) and of every pair of hidden states."""

    available: bool = False
    reason: str | None = None
    rows: int | None = None
    row_source: str | None = None
    cls: PoolingCka | None = None
    mean: PoolingCka | None = None
    cka: float | None = None
    cka_interval: list[float] | None = None
    layers: LayerCka | None = None
    seconds: float | None = None

    _nested: ClassVar[Mapping[str, Callable[[Any], Any]]] = {"cls": one(PoolingCka), "mean": one(PoolingCka), "layers": one(LayerCka)}

    @classmethod
    def unavailable(cls, reason: str) -> RepresentationSection:
        """The section when the representations could not be compared, and why."""
        return cls(available=False, reason=reason, keys=("available", "reason"))


@dataclasses.dataclass(frozen=True, kw_only=True)
class TransferDirection(Section):
    """Attacks on one model (``source``) given to the other (``target``): success and transfer rates, with intervals."""

    source: str | None = None
    target: str | None = None
    n_attacked: int | None = None
    successes: int | None = None
    transferred: int | None = None
    success_rate: float | None = None
    transferred_rate: float | None = None
    transfer: float | None = None
    gap: float | None = None
    success_rate_ci: list[float] | None = None
    transferred_rate_ci: list[float] | None = None
    transfer_ci: list[float] | None = None
    gap_ci: list[float] | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class TransferRates(Section):
    """Both directions of adversarial transfer and the transfer gap (the larger of the two)."""

    n: int | None = None
    base_to_small: TransferDirection | None = None
    small_to_base: TransferDirection | None = None
    transfer_gap: float | None = None
    transfer_gap_ci: list[float] | None = None
    n_resamples: int | None = None
    seed: int | None = None
    ci_level: float | None = None
    _renamed: ClassVar[Mapping[str, str]] = {"confidence": "ci_level"}

    _nested: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        "base_to_small": one(TransferDirection), "small_to_base": one(TransferDirection),
    }


@dataclasses.dataclass(frozen=True, kw_only=True)
class AttackParams(Section):
    """The settings of the word-substitution attack."""

    max_fraction: float | None = None
    n_candidates: int | None = None
    max_words: int | None = None
    rows: int | None = None
    explainer: str | None = None
    embedding_candidates: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class AdversarialSection(Section):
    """Transfer of attribution-guided word-substitution attacks between the models, both directions."""

    available: bool = False
    reason: str | None = None
    explainer: str | None = None
    attacked: int | None = None
    transfer_gap: float | None = None
    transfer_gap_interval: list[float] | None = None
    rates: TransferRates | None = None
    params: AttackParams | None = None
    evaluations: Mapping[str, int] | None = None
    seconds: float | None = None
    rows: list[Mapping[str, Any]] | None = None

    _nested: ClassVar[Mapping[str, Callable[[Any], Any]]] = {"rates": one(TransferRates), "params": one(AttackParams)}

    @classmethod
    def unavailable(cls, reason: str) -> AdversarialSection:
        """The section when no attack was run, and why."""
        return cls(available=False, reason=reason, keys=("available", "reason"))


@dataclasses.dataclass(frozen=True, kw_only=True)
class ExtrasSection(Section):
    """The ``extras`` section: is the small model a miniature of the base beyond its outputs?"""

    representation: RepresentationSection | None = None
    adversarial: AdversarialSection | None = None

    _nested: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        "representation": one(RepresentationSection),
        "adversarial": one(AdversarialSection),
    }
