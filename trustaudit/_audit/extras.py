"""The ``extras`` section of an audit: is the small model a miniature of the base, beyond its outputs?

Two comparisons, each available or not with a reason (as the bias section):

- ``representation``: linear CKA of the two models' final ``[CLS]`` and mean-pooled hidden
  states, with a paired bootstrap interval and the base's self-reference
  (:func:`trustaudit.representations.representation_similarity`), and the CKA of every pair
  of hidden states (``layers``, the report's heat map). Rows: the explained rows when there
  are at least :data:`REPRESENTATION_ROWS` of them, else a seeded stratified sample of up to
  :data:`REPRESENTATION_ROWS` rows of the data (CKA is biased upwards on few rows).
- ``adversarial``: word-substitution attacks on each model guided by its own attributions
  (the audit's LIME ones when LIME ran, else its first explainer's), on up to ``attack_n``
  explained rows, and their transfer to the other model
  (:func:`trustaudit.attack.adversarial_transfer`).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from trustaudit._audit.document import AdversarialSection, ExtrasSection, LayerCka, PoolingCka, RepresentationSection
from trustaudit._audit.sections import jsonable, sample_rows
from trustaudit.data import Dataset
from trustaudit.exceptions import InvalidInputError
from trustaudit.models import ModelPair

if TYPE_CHECKING:
    from trustaudit._audit.config import AuditConfig
    from trustaudit._cache import EvalCache
    from trustaudit.explain import PairExplanations

#: Rows whose representations CKA compares when fewer rows are explained.
REPRESENTATION_ROWS = 256


def representation_rows(dataset: Dataset, explained: np.ndarray, seed: int) -> tuple[np.ndarray, str]:
    """The rows the CKA compares, and how they were chosen."""
    if len(explained) >= REPRESENTATION_ROWS:
        return explained, "the explained rows"
    n = min(len(dataset), REPRESENTATION_ROWS)
    return sample_rows(dataset, n, seed), f"a stratified sample of {n} rows (fewer than {REPRESENTATION_ROWS} explained)"


def representation_section(pair: ModelPair, dataset: Dataset, rows: np.ndarray, source: str, config: AuditConfig) -> RepresentationSection:
    """CKA of the two models' final representations (both poolings) and of every pair of their hidden states."""
    from trustaudit.representations import POOLINGS, layer_cka, layer_representations, representation_similarity

    texts = dataset.pairs()
    chosen = [texts[int(i)] for i in rows]
    try:
        base = layer_representations(pair.base, chosen, batch_size=config.batch_size, device=config.device, progress=False)
        small = layer_representations(pair.small, chosen, batch_size=config.batch_size, device=config.device, progress=False)
    except InvalidInputError as exc:
        return RepresentationSection.unavailable(str(exc))
    similarities = {
        pooling: PoolingCka.from_dict(jsonable(representation_similarity(base, small, pooling, n_resamples=config.n_resamples, seed=config.seed).to_dict()))
        for pooling in POOLINGS
    }
    return RepresentationSection(
        available=True,
        reason="",
        rows=len(chosen),
        row_source=source,
        cls=similarities["cls"],
        mean=similarities["mean"],
        cka=similarities["mean"].cka,
        cka_interval=similarities["mean"].cka_ci,
        layers=LayerCka.from_dict({
            "base_states": base.n_states,
            "small_states": small.n_states,
            **{pooling: layer_cka(base, small, pooling).tolist() for pooling in POOLINGS},
        }),
        seconds=base.seconds + small.seconds,
        keys=("available", "reason", "rows", "row_source", *POOLINGS, "cka", "cka_interval", "layers", "seconds"),
    )


def adversarial_section(pair: ModelPair, explanations: PairExplanations | None, config: AuditConfig,
                        cache: bool | str | os.PathLike[str] | EvalCache | None) -> AdversarialSection:
    """Adversarial transfer between the two models on up to ``config.attack_n`` explained rows."""
    if explanations is None or not explanations.examples:
        return AdversarialSection.unavailable("no rows were explained (explain_n = 0), so no attributions guide the attack")
    if config.attack_n == 0:
        return AdversarialSection.unavailable("the attack was turned off (attack_n = 0)")
    from trustaudit.attack import adversarial_transfer, input_embeddings

    name = "lime" if "lime" in config.explainers else config.explainers[0]
    examples = explanations.examples[: config.attack_n]
    try:
        for bundle in (pair.base, pair.small):
            input_embeddings(bundle.model)
        transfer = adversarial_transfer(
            pair, [ex.base[name] for ex in examples], [ex.small[name] for ex in examples],
            n_resamples=config.n_resamples, seed=config.seed, batch_size=config.batch_size,
            device=config.device, cache=cache, progress=False, precision=config.precision,
        )
    except InvalidInputError as exc:
        return AdversarialSection.unavailable(str(exc))
    out = jsonable(transfer.to_dict())
    for attack, example in zip(out["rows"], examples):
        attack["row"] = int(example.row)
    rates = out["rates"]
    return AdversarialSection.from_dict({
        "available": True,
        "reason": "",
        "explainer": name,
        "attacked": len(examples),
        "transfer_gap": rates["transfer_gap"],
        "transfer_gap_interval": rates["transfer_gap_ci"],
        **out,
    })


def extras_section(pair: ModelPair, dataset: Dataset, explained: np.ndarray, explanations: PairExplanations | None,
                   config: AuditConfig, cache: bool | str | os.PathLike[str] | EvalCache | None) -> ExtrasSection:
    """The ``extras`` section: ``representation`` and ``adversarial``, each with ``available`` and ``reason``."""
    rows, source = representation_rows(dataset, explained, config.seed)
    return ExtrasSection(
        representation=representation_section(pair, dataset, rows, source, config),
        adversarial=adversarial_section(pair, explanations, config, cache),
    )
