"""Every setting of an audit (:class:`AuditConfig`), and the choices its settings take.

Imports nothing heavy, so the command line reads its defaults from here without loading torch."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from trustaudit._hardware import AUTO, PRECISIONS, is_batch_size
from trustaudit.exceptions import InvalidInputError
from trustaudit.explain import BUDGET_FIELDS, EXPLAINERS, SEGMENTS, TARGETS, explainer_names, get_explainer
from trustaudit.gate import GateConfig

BIAS_POOLINGS = ("mean", "cls")
#: Binnings of the gated ECE: equal-width or equal-mass bins.
ECE_STRATEGIES = ("uniform", "quantile")


#: Why a bias check is not measured when the user turned the comparison off.
BIAS_OFF = "the bias comparison was turned off (--no-bias)"
#: Why a representation or adversarial check is not measured when the user turned the extras off.
EXTRAS_OFF = "the representation and adversarial comparisons were turned off (--no-extras)"


@dataclass(frozen=True)
class AuditConfig:
    """Every setting of an audit. Defaults are the CLI's defaults.

    ``bias`` runs the bias comparison (``bias_tests``: a JSON file of association tests, None
    for the shipped WEAT 3-8; ``bias_pooling``: ``mean`` and/or ``cls``; ``bias_permutations``
    per test's p-value); its bootstrap uses ``n_resamples`` and ``seed``.

    ``explainers`` are registered explainer names (:func:`~trustaudit.explain.explainer_names`).
    LIME's budget is ``lime_samples`` and SHAP's ``shap_max_evals``; any other explainer's is
    ``budgets[name]``, else its default (see :meth:`budget`).

    ``workers`` is how many local processes explain the examples (the same results as one;
    stored in :meth:`to_dict` only when not 1, so records of one process are unchanged).

    ``ece_strategy`` is the binning of the ECE the gate judges (``max_ece_increase``,
    ``max_ece_difference``): ``uniform`` (equal-width bins, the default) or ``quantile``
    (equal-mass bins, as the trust-equivalence authors' code with ``n_bins=10``). Both ECEs
    are always reported; it is stored in :meth:`to_dict` only when not ``uniform``.

    ``extras`` runs the "not miniature" comparisons: linear CKA of the two models' final
    representations and adversarial transfer of word-substitution attacks on up to
    ``attack_n`` explained rows (0: no attack). Both are stored in :meth:`to_dict` only when
    not their defaults, so records written before them are unchanged.

    ``device`` is ``auto`` (CUDA when available, else the CPU), ``cpu`` or ``cuda[:N]``.
    ``batch_size`` is the inputs per forward pass, or ``"auto"``: the largest that fits,
    found by doubling on the longest inputs before the predictions (see
    :func:`trustaudit._batching.choose_batch_size`; the size chosen is recorded in the
    results' ``batch_size`` section). ``precision`` is the format of the forward passes of
    the classifiers (predictions, explanations, attacks, counterfactual flips, latency):
    ``fp32``, or autocast to ``bf16``/``fp16``; with a reduced one the audit also runs the
    data in fp32 and records the largest probability difference (the results'
    ``precision`` section). It is stored in :meth:`to_dict` only when not ``fp32``.
    """

    explain_n: int = 100
    lime_samples: int = 1000
    shap_max_evals: int = 500
    top_k: tuple[int, ...] = (5,)
    seed: int = 0
    n_bins: int = 15
    n_resamples: int = 1000
    segment: str = "both"
    target: str = "base_predicted"
    explainers: tuple[str, ...] = EXPLAINERS
    self_agreement: bool = True
    batch_size: int | str = 32
    device: str = "auto"
    max_disagreements: int = 200
    gate: GateConfig = field(default_factory=GateConfig)
    gate_source: str = "defaults"
    bias: bool = True
    bias_tests: str | None = None
    bias_pooling: tuple[str, ...] = BIAS_POOLINGS
    bias_permutations: int = 10_000
    budgets: Mapping[str, int] = field(default_factory=dict, hash=False)
    workers: int = 1
    ece_strategy: str = "uniform"
    extras: bool = True
    attack_n: int = 50
    precision: str = "fp32"

    def __post_init__(self) -> None:
        object.__setattr__(self, "budgets", dict(self.budgets))
        registered = explainer_names()
        if isinstance(self.bias_tests, os.PathLike):
            object.__setattr__(self, "bias_tests", os.fspath(self.bias_tests))
        if isinstance(self.bias_pooling, str):
            object.__setattr__(self, "bias_pooling", tuple(p.strip() for p in self.bias_pooling.split(",")))
        elif not isinstance(self.bias_pooling, tuple):
            object.__setattr__(self, "bias_pooling", tuple(self.bias_pooling))
        checks = [
            (self.explain_n >= 0, f"explain_n must be >= 0, got {self.explain_n}"),
            (self.lime_samples >= 10, f"lime_samples must be >= 10, got {self.lime_samples}"),
            (self.shap_max_evals >= 10, f"shap_max_evals must be >= 10, got {self.shap_max_evals}"),
            (len(self.top_k) > 0 and all(k >= 1 for k in self.top_k), f"top_k must be positive integers, got {self.top_k}"),
            (self.n_bins >= 1, f"n_bins must be >= 1, got {self.n_bins}"),
            (self.n_resamples >= 0, f"n_resamples must be >= 0, got {self.n_resamples}"),
            (self.segment in SEGMENTS, f"segment must be one of {', '.join(SEGMENTS)}, got {self.segment!r}"),
            (self.target in TARGETS, f"target must be one of {', '.join(TARGETS)}, got {self.target!r}"),
            (set(self.explainers) <= set(registered) and len(self.explainers) > 0,
             f"explainers must be among {', '.join(registered)}, got {self.explainers}"),
            (is_batch_size(self.batch_size), f"`batch_size` must be an integer >= 1 or {AUTO}, got {self.batch_size!r}"),
            (isinstance(self.device, str) and self.device.strip() != "", f"`device` must be auto, cpu or cuda[:N], got {self.device!r}"),
            (self.precision in PRECISIONS, f"`precision` must be one of {', '.join(PRECISIONS)}, got {self.precision!r}"),
            (isinstance(self.bias, bool), f"bias must be true or false, got {self.bias!r}"),
            (self.bias_tests is None or (isinstance(self.bias_tests, str) and self.bias_tests != ""),
             f"bias_tests must be a JSON file path or None (the shipped WEAT 3-8), got {self.bias_tests!r}"),
            (len(self.bias_pooling) > 0 and set(self.bias_pooling) <= set(BIAS_POOLINGS) and len(set(self.bias_pooling)) == len(self.bias_pooling),
             f"bias_pooling must be distinct methods among {', '.join(BIAS_POOLINGS)}, got {self.bias_pooling}"),
            (isinstance(self.bias_permutations, int) and not isinstance(self.bias_permutations, bool) and self.bias_permutations >= 1,
             f"bias_permutations must be an integer >= 1, got {self.bias_permutations!r}"),
            (isinstance(self.workers, int) and not isinstance(self.workers, bool) and self.workers >= 1,
             f"workers must be an integer >= 1, got {self.workers!r}"),
            (isinstance(self.extras, bool), f"extras must be true or false, got {self.extras!r}"),
            (isinstance(self.attack_n, int) and not isinstance(self.attack_n, bool) and self.attack_n >= 0,
             f"attack_n must be an integer >= 0, got {self.attack_n!r}"),
            (self.ece_strategy in ECE_STRATEGIES, f"ece_strategy must be one of {', '.join(ECE_STRATEGIES)}, got {self.ece_strategy!r}"),
        ]
        for ok, message in checks:
            if not ok:
                raise InvalidInputError(message)
        for name, budget in self.budgets.items():
            if name not in registered or name in BUDGET_FIELDS:
                others = [n for n in registered if n not in BUDGET_FIELDS]
                raise InvalidInputError(
                    f"budgets holds registered explainers without a config field of their own ({', '.join(others) or 'none'}), got {name!r}"
                    + (f"; set {BUDGET_FIELDS[name]} instead" if name in BUDGET_FIELDS else "")
                )
            get_explainer(name).check_budget(budget, f"budgets[{name!r}]")

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["top_k"] = list(self.top_k)
        out["explainers"] = list(self.explainers)
        out["bias_pooling"] = list(self.bias_pooling)
        out["gate"] = self.gate.to_dict()
        if self.budgets:
            out["budgets"] = dict(self.budgets)
        else:
            del out["budgets"]
        if self.workers == 1:
            del out["workers"]
        if self.ece_strategy == "uniform":
            del out["ece_strategy"]
        if self.extras:
            del out["extras"]
        if self.attack_n == 50:
            del out["attack_n"]
        if self.precision == "fp32":
            del out["precision"]
        return out

    def budget(self, name: str) -> int:
        """The budget (model evaluations per explanation) of explainer ``name`` in this audit."""
        if name in BUDGET_FIELDS:
            return int(getattr(self, BUDGET_FIELDS[name]))
        return int(self.budgets.get(name, get_explainer(name).default_budget))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditConfig:
        """Inverse of :meth:`to_dict`; a config stored before a setting existed gets its default."""
        values = dict(data)
        values["bias_pooling"] = tuple(values.get("bias_pooling", BIAS_POOLINGS))
        values["top_k"] = tuple(values.get("top_k", (5,)))
        values["explainers"] = tuple(values.get("explainers", EXPLAINERS))
        values["gate"] = GateConfig.from_dict(values.get("gate", {}), "stored thresholds", warn=False)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})
