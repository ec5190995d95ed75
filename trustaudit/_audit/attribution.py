"""Interpretability alignment of an audit: explain both models, then measure agreement.

Joins :func:`trustaudit.explain.explain_pair` (the attributions) and
:func:`trustaudit.metrics.attribution_agreement` (the agreement metrics) into the
``attribution`` and ``examples`` sections of a results document, with every base-vs-small
figure set beside the explainer's self-agreement (its noise floor), measured the same way:
base at seed s against small at seed s', and base at s against base at s'.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from trustaudit._audit.document import (
    AgreementSummary,
    AttributionSection,
    Example,
    ExampleAgreement,
    ExampleScores,
    ExplainerAgreement,
    Feature,
    SelfAgreement,
    Statistic,
    share_of_floor,
)
from trustaudit.data import Dataset
from trustaudit.metrics import fraction_of_floor
from trustaudit._bootstrap import count_weights, percentile_interval
from trustaudit.models import ModelPair

if TYPE_CHECKING:
    from trustaudit._audit.config import AuditConfig
    from trustaudit.explain import PairExplanations
    from trustaudit.metrics import AttributionAgreement


def _statistics(agreement: AttributionAgreement) -> dict[str, Statistic]:
    return {
        key: Statistic(mean=stat.mean, ci_low=stat.ci_low, ci_high=stat.ci_high)
        for key, stat in agreement.statistics.items()
    }


def _headline(agreement: AttributionAgreement, k: int) -> dict[str, Any]:
    """The fields of an :class:`AgreementSummary`: the top-``k`` feature agreement, Spearman, and every metric."""
    feature = agreement.get("feature_agreement", k)
    spearman = agreement.get("rank_correlation")
    return {
        "feature_agreement": feature.mean,
        "feature_agreement_interval": [feature.ci_low, feature.ci_high] if feature.ci_low is not None else None,
        "rank_correlation": spearman.mean,
        "rank_correlation_interval": [spearman.ci_low, spearman.ci_high] if spearman.ci_low is not None else None,
        "metrics": _statistics(agreement),
    }


def _ratio_interval(cross: np.ndarray, floor: np.ndarray, n_resamples: int, seed: int, level: float = 0.95) -> list[float] | None:
    """Paired percentile bootstrap interval of ``mean(cross) / mean(floor)`` over examples.

    Each resample draws examples with replacement and keeps both figures of a drawn
    example together (the resamples of :func:`~trustaudit._bootstrap.count_weights`).
    ``None`` when the ratio itself is undefined (no resamples, or a floor mean not above 0).
    """
    n = len(cross)
    if n == 0 or n_resamples < 1 or np.isnan(fraction_of_floor(float(np.mean(cross)), float(np.mean(floor)))):
        return None
    ratios = []
    for weights in count_weights(n, n_resamples, seed):
        top, bottom = weights @ cross, weights @ floor
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios.append(np.where(bottom / n > 1e-12, top / bottom, np.nan))
    samples = np.concatenate(ratios)
    samples = samples[np.isfinite(samples)]
    if samples.size == 0:
        return None
    low, high = percentile_interval(samples, level)
    return [low, high]


def _params_summary(name: str, attributions: Sequence[Any]) -> dict[str, Any]:
    """The settings shared by every explanation of one explainer, plus what varied."""
    shared = dict(attributions[0].params)
    for a in attributions[1:]:
        for key in list(shared):
            if a.params.get(key) != shared[key]:
                shared.pop(key)
    summary: dict[str, Any] = {k: v for k, v in shared.items() if isinstance(v, (str, int, float, bool)) or v is None}
    algorithms = Counter(str(a.params.get("algorithm")) for a in attributions if "algorithm" in a.params)
    if len(algorithms) > 1 or (algorithms and "algorithm" not in summary):
        summary["algorithm"] = ", ".join(f"{alg} on {n}" for alg, n in sorted(algorithms.items()))
    summary["evaluations_per_example"] = float(np.mean([a.evaluations for a in attributions]))
    summary["unique_evaluations_per_example"] = float(np.mean([a.unique_evaluations for a in attributions]))
    return summary


def explain_rows(
    pair: ModelPair,
    dataset: Dataset,
    rows: np.ndarray,
    config: AuditConfig,
    *,
    cache: Any = True,
    progress: bool | None = None,
    executor: Any = None,
    resume: bool = False,
) -> PairExplanations:
    """Explain ``rows`` on both models with the audit's explainers and budgets (what :func:`compare_explanations` reads).

    ``executor`` (default: from ``config.workers``) is where; ``resume`` takes a stored run's finished examples.
    """
    from trustaudit.explain import explain_pair

    return explain_pair(
        pair,
        dataset,
        rows,
        explainers=config.explainers,
        lime_samples=config.lime_samples,
        shap_max_evals=config.shap_max_evals,
        budgets=config.budgets,
        seed=config.seed,
        segment=config.segment,
        target=config.target,
        self_agreement=config.self_agreement,
        device=config.device,
        batch_size=config.batch_size,
        precision=config.precision,
        cache=cache,
        progress=progress,
        workers=config.workers if executor is None else 1,
        executor=executor,
        resume=resume,
    )


def compare_explanations(
    pair: ModelPair,
    dataset: Dataset,
    explanations: PairExplanations,
    config: AuditConfig,
) -> tuple[AttributionSection, list[Example]]:
    """The ``attribution`` section and the per-example ``examples`` list of explained rows."""
    from trustaudit.explain import PAIRING
    from trustaudit.metrics import attribution_agreement

    examples = explanations.examples
    k = config.top_k[0]
    agreement_args = {"ks": config.top_k, "n_resamples": config.n_resamples, "seed": config.seed}
    per_example: dict[str, dict[str, np.ndarray]] = {}
    by_explainer: dict[str, ExplainerAgreement] = {}
    for name in config.explainers:
        base_scores = [ex.base[name].scores for ex in examples]
        small_scores = [ex.small[name].scores for ex in examples]
        agreement = attribution_agreement(base_scores, small_scores, **agreement_args)
        headline = _headline(agreement, k)
        per_example[name] = {
            "feature_agreement": np.asarray(agreement.get("feature_agreement", k).per_example),
            "rank_correlation": np.asarray(agreement.get("rank_correlation").per_example),
        }
        floor: dict[str, Any] = dict.fromkeys(
            ("self_agreement", "floor", "floor_exact_examples", "floor_exact", "floor_ratios", "floor_ratio", "floor_ratio_interval")
        )
        repeated = [ex for ex in examples if name in ex.base_repeat]
        if config.self_agreement and len(repeated) == len(examples):
            own = attribution_agreement(base_scores, [ex.base_repeat[name].scores for ex in examples], **agreement_args)
            exact = sum(name in ex.repeat_exact for ex in examples)
            self_agreement = SelfAgreement(**_headline(own, k), deterministic_examples=exact)
            ratios = {
                key: share_of_floor(headline["metrics"][key].mean, stat.mean) for key, stat in (self_agreement.metrics or {}).items()
            }
            per_example[name]["self_feature_agreement"] = np.asarray(own.get("feature_agreement", k).per_example)
            floor.update(
                self_agreement=self_agreement,
                floor=own.get("feature_agreement", k).mean,
                floor_exact_examples=exact,
                floor_exact=exact == len(examples),
                floor_ratios=ratios,
                floor_ratio=ratios[f"feature_agreement@{k}"],
                floor_ratio_interval=_ratio_interval(
                    per_example[name]["feature_agreement"],
                    per_example[name]["self_feature_agreement"],
                    config.n_resamples,
                    config.seed,
                ),
            )
        by_explainer[name] = ExplainerAgreement(
            **headline, params=_params_summary(name, [ex.base[name] for ex in examples]), pairing=PAIRING, **floor
        )
    cross = None
    if {"lime", "shap"} <= set(config.explainers):
        cross = AgreementSummary(**_headline(attribution_agreement(
            [ex.base["lime"].scores for ex in examples], [ex.base["shap"].scores for ex in examples], **agreement_args
        ), k))
    fixed = ("available", "explained", "explainers", "segment", "target", "ks", "k", "seed", "seconds", "engine")
    section = AttributionSection(
        available=True,
        explained=len(examples),
        explainers=list(config.explainers),
        segment=config.segment,
        target=config.target,
        ks=list(config.top_k),
        k=k,
        seed=config.seed,
        seconds=explanations.seconds,
        engine={name: {**vars(stats), "padding_share": stats.padding_share} for name, stats in explanations.stats.items()},
        by_explainer=by_explainer,
        cross_explainer=cross,
        keys=(*fixed, *by_explainer, *(("cross_explainer",) if cross is not None else ())),
    )

    labels = pair.labels
    documents = []
    for i, ex in enumerate(examples):
        position = int(ex.index)
        gold = dataset.labels[position] if dataset.labels is not None else None
        agreement_i = {name: {key: float(values[i]) for key, values in per_example[name].items()} for name in config.explainers}
        documents.append(Example(
            row=int(ex.row),
            text_a=ex.features.text_a,
            text_b=ex.features.text_b,
            gold=labels[int(gold)] if gold is not None else None,
            base_probs={label: float(p) for label, p in zip(labels, ex.base_probs)},
            small_probs={label: float(p) for label, p in zip(labels, ex.small_probs)},
            target=ex.target.label,
            target_source=ex.target.source,
            features=[Feature.from_dict(f.to_dict()) for f in ex.features.features],
            scores={
                name: ExampleScores(
                    base=[float(s) for s in ex.base[name].scores],
                    small=[float(s) for s in ex.small[name].scores],
                    base_repeat=[float(s) for s in ex.base_repeat[name].scores] if name in ex.base_repeat else None,
                    algorithm=ex.base[name].params.get("algorithm"),
                )
                for name in config.explainers
            },
            agreement={name: ExampleAgreement.from_dict(values) for name, values in agreement_i.items()},
            divergence=float(1.0 - np.mean([agreement_i[n]["feature_agreement"] for n in config.explainers])),
        ))
    return section, documents


def explain_and_compare(
    pair: ModelPair,
    dataset: Dataset,
    rows: np.ndarray,
    config: AuditConfig,
    *,
    cache: Any = True,
    progress: bool | None = None,
) -> tuple[AttributionSection, list[Example]]:
    """The ``attribution`` section and the per-example ``examples`` list of an audit."""
    explanations = explain_rows(pair, dataset, rows, config, cache=cache, progress=progress)
    return compare_explanations(pair, dataset, explanations, config)
