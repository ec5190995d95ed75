"""The ``config`` section (the audit's settings and gate thresholds, as requested) and the ``tool`` that wrote the document."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from trustaudit._audit.document._section import Section


@dataclasses.dataclass(frozen=True, kw_only=True)
class ToolInfo(Section):
    """The program that wrote the results document and its version."""

    name: str | None = None
    version: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConfigSection(Section):
    """The ``config`` section: the settings of the audit as requested (``AuditConfig.to_dict()``).

    ``gate`` holds the thresholds (``GateConfig.to_dict()``: one key per gate check, ``None``
    when off, and the decision rule) and stays a mapping: its keys follow the registered
    metrics and explainers. A setting stored only when it is not its default (``workers``,
    ``ece_strategy``, ``extras``, ``attack_n``, ``precision``, ``budgets``) reads ``None``
    when absent; :meth:`settings` gives exactly the settings the document holds.
    """

    explain_n: int | None = None
    lime_samples: int | None = None
    shap_max_evals: int | None = None
    top_k: list[int] | None = None
    seed: int | None = None
    n_bins: int | None = None
    n_resamples: int | None = None
    segment: str | None = None
    target: str | None = None
    explainers: list[str] | None = None
    self_agreement: bool | None = None
    batch_size: int | str | None = None
    device: str | None = None
    max_disagreements: int | None = None
    gate: Mapping[str, Any] | None = None
    gate_source: str | None = None
    bias: bool | None = None
    bias_tests: str | None = None
    bias_pooling: list[str] | None = None
    bias_permutations: int | None = None
    budgets: Mapping[str, int] | None = None
    workers: int | None = None
    ece_strategy: str | None = None
    extras: bool | None = None
    attack_n: int | None = None
    precision: str | None = None

    def settings(self) -> dict[str, Any]:
        """Every setting the document holds, in its order, as plain JSON (the gate's thresholds under ``gate``)."""
        return self.to_dict()
