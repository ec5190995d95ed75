"""Paired bootstrap comparison of two models' calibration."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trustaudit.metrics import (
    CALIBRATION_METRICS,
    brier_score_loss,
    calibration_summary,
    classwise_calibration_error,
    compare_calibration,
    expected_calibration_error,
    maximum_calibration_error,
    log_loss,
    smooth_calibration_error,
)
from trustaudit._bootstrap import count_weights, two_sided_p_value
from tests._helpers import labels_from, random_probs


def _sharpen(probs: np.ndarray, power: float) -> np.ndarray:
    sharp = probs**power
    return sharp / sharp.sum(axis=1, keepdims=True)


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 30), st.integers(2, 4), st.integers(0, 10_000))
def test_model_against_itself_gives_exactly_zero(n: int, k: int, seed: int) -> None:
    probs = random_probs(n, k, seed, sharpness=2.0)
    labels = np.random.default_rng(seed).integers(0, k, n)
    result = compare_calibration(probs, probs.copy(), labels, n_resamples=25, seed=seed, margins={"ece": 0.01})
    for name in CALIBRATION_METRICS:
        metric = result.metrics[name]
        assert (metric.diff, metric.ci_low, metric.ci_high) == (0.0, 0.0, 0.0), name
        assert metric.p_value == 1.0
    assert result.metrics["ece"].equivalent is True
    assert (result.metrics["ece"].tost_low, result.metrics["ece"].tost_high) == (0.0, 0.0)


def test_vectorised_bootstrap_equals_resampling_rows() -> None:
    # Rebuild each resample as explicit rows (np.repeat by the same count weights) and
    # recompute every metric from scratch with the public functions.
    n, k, resamples, seed = 60, 3, 12, 5
    base = random_probs(n, k, 1, sharpness=1.5)
    small = _sharpen(base, 1.6)
    labels = labels_from(base, 2)
    functions = {
        "ece": expected_calibration_error,
        "mce": maximum_calibration_error,
        "classwise_ece": classwise_calibration_error,
        "brier": brier_score_loss,
        "nll": log_loss,
        "smooth_ece": smooth_calibration_error,
    }
    expected: dict[str, list[float]] = {name: [] for name in functions}
    for weights in count_weights(n, resamples, seed):
        for row_weights in weights:
            rows = np.repeat(np.arange(n), row_weights.astype(int))
            for name, fn in functions.items():
                expected[name].append(fn(small[rows], labels[rows]) - fn(base[rows], labels[rows]))

    from trustaudit.metrics.calibration import _BootstrapModel

    models = [
        _BootstrapModel(p, labels, 15, calibration_summary(p, labels).smooth_ece_sigma) for p in (base, small)
    ]
    got = {name: [] for name in functions}
    for weights in count_weights(n, resamples, seed):
        base_stats, small_stats = (model.statistics(weights) for model in models)
        for name in functions:
            got[name].extend(small_stats[name] - base_stats[name])
    for name in functions:
        tolerance = 2e-4 if name == "smooth_ece" else 1e-12
        np.testing.assert_allclose(got[name], expected[name], atol=tolerance, err_msg=name)


def test_quantile_edges_stay_fixed_in_resamples() -> None:
    from trustaudit.metrics.calibration import _BootstrapModel, _bin_edges, _bin_index

    probs = random_probs(50, 2, 3, sharpness=2.0)
    labels = labels_from(probs, 4)
    conf, correct = probs.max(axis=1), (probs.argmax(axis=1) == labels).astype(float)
    index = _bin_index(conf, _bin_edges(conf, 5, "quantile"))
    model = _BootstrapModel(probs, labels, 5, 0.1)
    weights = next(count_weights(50, 3, 0))
    for row_weights, value in zip(weights, model.statistics(weights)["ece_quantile"]):
        residual = np.bincount(index, weights=row_weights * (correct - conf), minlength=5)
        assert value == pytest.approx(np.abs(residual).sum() / 50)


def test_detects_a_miscalibrated_small_model() -> None:
    base = random_probs(3000, 3, 7, sharpness=1.5)
    labels = labels_from(base, 8)
    small = _sharpen(base, 2.5)  # overconfident
    result = compare_calibration(base, small, labels, n_resamples=300, seed=1, margins={"ece": 0.01, "brier": 1.0})
    ece = result.metrics["ece"]
    assert ece.diff > 0 and ece.ci_low > 0 and ece.p_value < 0.01
    assert ece.ci_low <= ece.diff <= ece.ci_high
    assert ece.equivalent is False
    assert result.metrics["brier"].equivalent is True
    assert result.metrics["mce"].margin is None and result.metrics["mce"].equivalent is None
    # The TOST interval (90%) sits inside the reported 95% interval.
    assert ece.ci_low <= ece.tost_low <= ece.tost_high <= ece.ci_high


def test_same_seed_same_result_and_summaries() -> None:
    base = random_probs(200, 2, 9)
    small = _sharpen(base, 1.3)
    labels = labels_from(base, 10)
    first = compare_calibration(base, small, labels, n_resamples=50, seed=3)
    second = compare_calibration(base, small, labels, n_resamples=50, seed=3)
    assert first.to_dict() == second.to_dict()
    assert first.base.ece == calibration_summary(base, labels).ece
    assert first.metrics["nll"].small == pytest.approx(log_loss(small, labels))


def test_no_resamples_leaves_intervals_empty_and_json_is_safe() -> None:
    base = random_probs(100, 3, 11)
    labels = labels_from(base, 12)
    result = compare_calibration(base, _sharpen(base, 2.0), labels, n_resamples=0, margins={"ece": 0.05})
    assert all(m.ci_low is None and m.p_value is None and m.equivalent is None for m in result.metrics.values())
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert set(data["metrics"]) == set(CALIBRATION_METRICS)
    assert data["metrics"]["ece"]["margin"] == 0.05


def test_p_value_definition() -> None:
    # 2 * min(P(d <= 0), P(d >= 0)): two of five draws are <= 0, four are >= 0.
    assert two_sided_p_value(np.array([-1.0, 0.0, 1.0, 2.0, 3.0])) == pytest.approx(0.8)
    assert two_sided_p_value(np.zeros(4)) == 1.0
    assert two_sided_p_value(np.ones(4)) == 0.0


def test_count_weights_are_resamples_of_n_rows() -> None:
    chunks = list(count_weights(7, 30, 0))
    weights = np.concatenate(chunks)
    assert weights.shape == (30, 7)
    assert np.all(weights.sum(axis=1) == 7) and np.all(weights >= 0)
    np.testing.assert_array_equal(weights, np.concatenate(list(count_weights(7, 30, 0))))


def test_perfect_models_stay_cheap_and_exact() -> None:
    # All rows certain and right: smooth ECE's width hits its floor (the finest grid), which
    # must not blow up the memory of the bootstrap, and every difference is exactly zero.
    probs = np.eye(3)[np.arange(2000) % 3]
    labels = np.arange(2000) % 3
    result = compare_calibration(probs, probs, labels, n_resamples=200)
    assert all(m.base == 0.0 and m.ci_high == 0.0 for m in result.metrics.values())
