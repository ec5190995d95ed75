"""The sections of a results document computed from predictions: predictions, calibration, bias; and the rows to explain."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from trustaudit._audit.config import AuditConfig
from trustaudit._audit.document import (
    BiasEmbedding,
    BiasSection,
    CalibrationSection,
    ClassComparison,
    ConfidenceBand,
    CounterfactualFlips,
    Disagreement,
    McNemar,
    MetricComparison,
    ModelCalibration,
    ModelPredictions,
    PredictionsSection,
    ReliabilityBinsData,
)
from trustaudit._audit.verdict import STATED_CHANGES, absolute_interval, interval_list
from trustaudit._evaluation import Evaluator
from trustaudit._predict import Predictions
from trustaudit.data import Dataset
from trustaudit.exceptions import InvalidInputError
from trustaudit.models import ModelPair

if TYPE_CHECKING:
    from trustaudit.bias import BiasTestSuite


def jsonable(value: Any) -> Any:
    """Plain JSON types: arrays to lists, numpy scalars to Python, NaN/inf to None."""
    from trustaudit._json import to_jsonable

    return to_jsonable(value)


def stratified_sample(labels: np.ndarray | None, n: int, seed: int) -> np.ndarray:
    """``n`` row positions drawn without replacement, stratified by label, sorted.

    Each class gets its proportional share (largest remainders first); without labels, a
    plain random sample.
    """
    rng = np.random.default_rng(seed)
    total = len(labels) if labels is not None else 0
    if labels is None:
        raise InvalidInputError("stratified sampling needs labels")
    n = min(n, total)
    classes, counts = np.unique(labels, return_counts=True)
    quotas = counts * n / total
    take = np.floor(quotas).astype(int)
    order = np.argsort(-(quotas - take), kind="stable")
    for i in order[: n - int(take.sum())]:
        take[i] += 1
    chosen = [rng.choice(np.flatnonzero(labels == c), size=t, replace=False) for c, t in zip(classes, take) if t > 0]
    return np.sort(np.concatenate(chosen)) if chosen else np.array([], dtype=int)


def sample_rows(dataset: Dataset, n: int, seed: int) -> np.ndarray:
    if n <= 0:
        return np.array([], dtype=int)
    if dataset.labels is not None:
        return stratified_sample(dataset.labels, n, seed)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(len(dataset), size=min(n, len(dataset)), replace=False))


def _bootstrap_mean(values: np.ndarray, n_resamples: int, seed: int) -> list[float] | None:
    from trustaudit._bootstrap import count_weights, percentile_interval

    if n_resamples <= 0 or len(values) == 0:
        return None
    means = np.concatenate([w @ values / len(values) for w in count_weights(len(values), n_resamples, seed)])
    return list(percentile_interval(means, 0.95))


def predictions_section(
    pair: ModelPair, dataset: Dataset, base: Predictions, small: Predictions, config: AuditConfig
) -> PredictionsSection:
    """The ``predictions`` section: accuracy, agreement, flips and their forensics, per-class drops, disagreeing rows."""
    from trustaudit.metrics import flip_kinds, flip_rates, flips_by_confidence, per_class_comparison, prediction_agreement

    gold = dataset.labels
    agreement = prediction_agreement(
        base.predicted, small.predicted, gold, n_classes=len(pair.labels), n_resamples=config.n_resamples, seed=config.seed
    )
    same = (base.predicted == small.predicted).astype(np.float64)
    drop = None if agreement.accuracy_diff is None else -agreement.accuracy_diff
    drop_interval = None
    if agreement.accuracy_diff_ci is not None:
        drop_interval = [-agreement.accuracy_diff_ci[1], -agreement.accuracy_diff_ci[0]]
    flipped = np.flatnonzero(base.predicted != small.predicted)
    shown = flipped[: config.max_disagreements]
    kinds = flip_kinds(base.predicted[shown], small.predicted[shown], None if gold is None else gold[shown]) if len(shown) else []
    disagreements = [
        Disagreement(
            row=int(dataset.rows[i]),
            text_a=dataset.text_a[i],
            text_b=dataset.text_b[i] if dataset.text_b is not None else None,
            gold=pair.labels[int(gold[i])] if gold is not None else None,
            base=pair.labels[int(base.predicted[i])],
            base_confidence=float(base.confidence[i]),
            small=pair.labels[int(small.predicted[i])],
            small_confidence=float(small.confidence[i]),
            kind=kind,
        )
        for i, kind in zip(shown, kinds)
    ]
    bootstrap = {"n_resamples": config.n_resamples, "seed": config.seed}
    rates = None if gold is None else flip_rates(base.predicted, small.predicted, gold, **bootstrap)
    classes = None if gold is None else per_class_comparison(base.predicted, small.predicted, gold, len(pair.labels), **bootstrap)
    per_class = None
    if classes is not None:
        per_class = [
            ClassComparison(
                label=label,
                support=int(classes.support[c]),
                base_recall=classes.base_recall[c],
                small_recall=classes.small_recall[c],
                recall_drop=classes.recall_drop[c],
                recall_drop_interval=interval_list(jsonable(classes.recall_drop_ci_low[c]), jsonable(classes.recall_drop_ci_high[c])),
                base_precision=classes.base_precision[c],
                small_precision=classes.small_precision[c],
                precision_drop=classes.precision_drop[c],
                precision_drop_interval=interval_list(jsonable(classes.precision_drop_ci_low[c]), jsonable(classes.precision_drop_ci_high[c])),
            )
            for c, label in enumerate(pair.labels)
        ]
    worst = None if classes is None else classes.worst_class
    bands = flips_by_confidence(base.confidence, base.predicted, small.predicted, gold)
    return PredictionsSection(
        n=len(dataset),
        labels=list(pair.labels),
        base=ModelPredictions(accuracy=agreement.base_accuracy, mean_confidence=float(base.confidence.mean()), n_truncated=base.n_truncated),
        small=ModelPredictions(accuracy=agreement.small_accuracy, mean_confidence=float(small.confidence.mean()), n_truncated=small.n_truncated),
        accuracy_drop=drop,
        accuracy_drop_interval=drop_interval,
        agreement=agreement.agreement,
        agreement_interval=_bootstrap_mean(same, config.n_resamples, config.seed),
        kappa=agreement.cohen_kappa,
        flips=agreement.n_flips,
        flip_matrix=agreement.flip_matrix.tolist(),
        mcnemar=McNemar(
            statistic=agreement.mcnemar_statistic,
            p_value=agreement.mcnemar_p_value,
            method=agreement.mcnemar_method,
            base_only_errors=agreement.small_only_correct,
            small_only_errors=agreement.base_only_correct,
        ),
        error_jaccard=agreement.error_jaccard,
        negative_flip_rate=None if rates is None else rates.negative_flip_rate,
        negative_flip_rate_interval=None if rates is None or rates.negative_flip_rate_ci is None else list(rates.negative_flip_rate_ci),
        positive_flip_rate=None if rates is None else rates.positive_flip_rate,
        positive_flip_rate_interval=None if rates is None or rates.positive_flip_rate_ci is None else list(rates.positive_flip_rate_ci),
        negative_flips=None if rates is None else rates.negative_flips,
        positive_flips=None if rates is None else rates.positive_flips,
        per_class=per_class,
        worst_class_recall_drop=None if classes is None else classes.worst_recall_drop,
        worst_class_recall_drop_interval=None if classes is None or classes.worst_recall_drop_ci is None else list(classes.worst_recall_drop_ci),
        worst_class=None if worst is None else pair.labels[worst],
        confidence_bands=[ConfidenceBand.from_dict(jsonable(band.to_dict())) for band in bands],
        disagreements=disagreements,
    )


def calibration_section(base: Predictions, small: Predictions, labels: np.ndarray | None, config: AuditConfig) -> CalibrationSection:
    """Every registered calibration metric of both models, and each one's paired small - base comparison."""
    if labels is None:
        return CalibrationSection.unavailable()
    from trustaudit.metrics import calibration_metrics, compare_calibration

    comparison = compare_calibration(base.probs, small.probs, labels, n_bins=config.n_bins, n_resamples=config.n_resamples, seed=config.seed)
    settings = jsonable({**comparison.settings, "n_bins": comparison.n_bins, "n_resamples": comparison.n_resamples, "seed": comparison.seed})
    declared = set(ModelCalibration._declared())
    models = {}
    for name, result in (("base", comparison.base), ("small", comparison.small)):
        values = {key: jsonable(result.value(key)) for key in calibration_metrics()}
        models[name] = ModelCalibration(
            **{key: value for key, value in values.items() if key in declared},
            accuracy=result.accuracy,
            mean_confidence=result.mean_confidence,
            smooth_ece_bandwidth=jsonable(result.smooth_ece_sigma),
            bins=ReliabilityBinsData.from_dict(jsonable(result.bins.to_dict())),
            extra={key: value for key, value in values.items() if key not in declared},
            keys=(*values, "accuracy", "mean_confidence", "smooth_ece_bandwidth", "bins"),
        )
    gated = {"ece": "ece_quantile"} if config.ece_strategy == "quantile" else {}
    if gated:
        settings["gated_ece"] = "equal-mass bins (ece_strategy quantile): ece_increase and ece_difference compare ece_quantile"
    changes: dict[str, Any] = {}
    for name in STATED_CHANGES:
        metric = comparison.metrics[gated.get(name, name)]
        interval = interval_list(metric.ci_low, metric.ci_high)
        changes[f"{name}_increase"] = metric.diff
        changes[f"{name}_increase_interval"] = interval
        changes[f"{name}_difference"] = abs(metric.diff)
        changes[f"{name}_difference_interval"] = absolute_interval(interval)
    return CalibrationSection(
        available=True,
        settings=settings,
        base=models["base"],
        small=models["small"],
        comparison={name: MetricComparison.from_dict(jsonable(m.to_dict())) for name, m in comparison.metrics.items()},
        **changes,
    )


def bias_suite(config: AuditConfig) -> BiasTestSuite | None:
    """The association tests of the audit, read before any model work so that a bad file fails at once; None when bias is off."""
    if not config.bias:
        return None
    from trustaudit.bias import resolve_tests

    return resolve_tests(config.bias_tests)


def bias_section(
    pair: ModelPair,
    dataset: Dataset,
    rows: np.ndarray,
    suite: BiasTestSuite,
    config: AuditConfig,
    device: torch.device,
    evaluators: tuple[Evaluator, Evaluator],
) -> BiasSection:
    """The ``bias`` section: association tests on both models and counterfactual flips of the explained rows.

    A model that cannot give its hidden states (an ONNX export) cannot be tested; the section
    then says why instead of failing the audit. The counterfactual flips reuse the audit's
    evaluators, so their predictions share its cache.
    """
    from trustaudit.bias import compare_bias, counterfactual_flips

    try:
        embedding = compare_bias(
            pair.base, pair.small, suite, pooling=config.bias_pooling, n_permutations=config.bias_permutations,
            n_resamples=config.n_resamples, seed=config.seed, batch_size=config.batch_size, device=device,
        )
    except InvalidInputError as exc:
        return BiasSection.unavailable(str(exc))
    counterfactual = None
    if len(rows):
        texts = dataset.pairs()
        counterfactual = CounterfactualFlips.from_dict(jsonable(counterfactual_flips(
            pair, [texts[int(i)] for i in rows], n_resamples=config.n_resamples, seed=config.seed,
            batch_size=config.batch_size, device=device, evaluators=evaluators,
        ).to_dict()))
    return BiasSection(
        available=True,
        reason="",
        embedding=BiasEmbedding.from_dict(jsonable(embedding.to_dict())),
        counterfactual=counterfactual,
        rows=[int(dataset.rows[int(i)]) for i in rows],
    )
