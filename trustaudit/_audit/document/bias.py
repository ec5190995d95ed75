"""The ``bias`` section (association tests, counterfactual flips) and the ``extras`` section (CKA, adversarial transfer)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from trustaudit._audit.document._section import Section, one


@dataclasses.dataclass(frozen=True, kw_only=True)
class BiasEmbedding(Section):
    """Association tests on both models: per test and pooling, both effect sizes and their change."""

    tests: list[Mapping[str, Any]] | None = None
    poolings: list[str] | None = None
    largest_change: Mapping[str, Any] | None = None
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
    seconds: float | None = None

    _renamed: ClassVar[Mapping[str, str]] = {"confidence": "ci_level"}


@dataclasses.dataclass(frozen=True, kw_only=True)
class BiasSection(Section):
    """The ``bias`` section: association tests and counterfactual flips, or why they were not run (``reason``)."""

    available: bool = False
    reason: str | None = None
    embedding: BiasEmbedding | None = None
    counterfactual: Mapping[str, Any] | None = None
    rows: list[int] | None = None

    _nested: ClassVar[Mapping[str, Callable[[Any], Any]]] = {"embedding": one(BiasEmbedding)}

    @classmethod
    def unavailable(cls, reason: str) -> BiasSection:
        """The section of an audit that did not compare bias, and why."""
        return cls(available=False, reason=reason, keys=("available", "reason"))


@dataclasses.dataclass(frozen=True, kw_only=True)
class RepresentationSection(Section):
    """Linear CKA of the two models' final representations (``cls``, ``mean``) and of every pair of hidden states."""

    available: bool = False
    reason: str | None = None
    rows: int | None = None
    row_source: str | None = None
    cls: Mapping[str, Any] | None = None
    mean: Mapping[str, Any] | None = None
    cka: float | None = None
    cka_interval: list[float] | None = None
    layers: Mapping[str, Any] | None = None
    seconds: float | None = None

    @classmethod
    def unavailable(cls, reason: str) -> RepresentationSection:
        """The section when the representations could not be compared, and why."""
        return cls(available=False, reason=reason, keys=("available", "reason"))


@dataclasses.dataclass(frozen=True, kw_only=True)
class AdversarialSection(Section):
    """Transfer of attribution-guided word-substitution attacks between the models, both directions."""

    available: bool = False
    reason: str | None = None
    explainer: str | None = None
    attacked: int | None = None
    transfer_gap: float | None = None
    transfer_gap_interval: list[float] | None = None
    rates: Mapping[str, Any] | None = None
    params: Mapping[str, Any] | None = None
    evaluations: Mapping[str, int] | None = None
    seconds: float | None = None
    rows: list[Mapping[str, Any]] | None = None

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
