"""Flip forensics: flip rates, per-class recall/precision and flips by confidence.

Checked against a hand-computed confusion matrix, against scikit-learn, against a slow
per-resample bootstrap, and by properties that must hold on any input.
"""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import confusion_matrix, precision_score, recall_score

from trustaudit.exceptions import InvalidInputError
from trustaudit.metrics import (
    DEFAULT_BANDS,
    flip_kinds,
    flip_rates,
    flips_by_confidence,
    get_metric,
    per_class_comparison,
    prediction_agreement,
)
from trustaudit._bootstrap import count_weights, percentile_interval

# Twelve rows, three classes. Per row: gold, base, small and what happened.
#  row  gold base small
#   0    0    0    0     both right
#   1    0    0    0     both right
#   2    0    0    1     negative flip
#   3    0    1    0     positive flip
#   4    1    1    1     both right
#   5    1    1    1     both right
#   6    1    1    0     negative flip
#   7    1    2    0     flip, both wrong
#   8    2    2    2     both right
#   9    2    2    1     negative flip
#  10    2    1    0     flip, both wrong
#  11    2    2    0     negative flip
GOLD = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
BASE = np.array([0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 1, 2])
SMALL = np.array([0, 0, 1, 0, 1, 1, 0, 0, 2, 1, 0, 0])
# Base confidence with rows on every band edge: 0.5 (rows 1, 8), 0.7 (row 3), 0.9 (rows 4, 10), 1.0 (row 5).
CONF = np.array([0.3, 0.5, 0.69999, 0.7, 0.9, 1.0, 0.95, 0.45, 0.5, 0.89, 0.9, 0.6])


class TestHandComputed:
    def test_confusion_matrices_are_the_ones_the_comments_describe(self) -> None:
        # Rows gold, columns predicted.
        np.testing.assert_array_equal(confusion_matrix(GOLD, BASE), [[3, 1, 0], [0, 3, 1], [0, 1, 3]])
        np.testing.assert_array_equal(confusion_matrix(GOLD, SMALL), [[3, 1, 0], [2, 2, 0], [2, 1, 1]])

    def test_flip_rates(self) -> None:
        result = flip_rates(BASE, SMALL, GOLD)
        # Negative: rows 2, 6, 9, 11; positive: row 3.
        assert (result.n, result.negative_flips, result.positive_flips) == (12, 4, 1)
        assert result.negative_flip_rate == 4 / 12 and result.positive_flip_rate == 1 / 12
        assert result.negative_flip_rate_ci is None and result.positive_flip_rate_ci is None
        # Base right on 9 rows, small on 6: NFR - PFR = 3/12 = the accuracy drop.
        assert result.negative_flips - result.positive_flips == 9 - 6
        json.dumps(result.to_dict(), allow_nan=False)

    def test_flip_kinds(self) -> None:
        assert flip_kinds(BASE, SMALL, GOLD) == [
            None, None, "negative", "positive", None, None, "negative", "both wrong", None, "negative", "both wrong", "negative",
        ]
        assert flip_kinds(BASE, SMALL) == [None, None, "unlabelled", "unlabelled", None, None] + ["unlabelled"] * 2 + [None] + ["unlabelled"] * 3

    def test_per_class(self) -> None:
        result = per_class_comparison(BASE, SMALL, GOLD, 3)
        np.testing.assert_array_equal(result.support, [4, 4, 4])
        np.testing.assert_array_equal(result.base_predicted, [3, 5, 4])
        np.testing.assert_array_equal(result.small_predicted, [7, 4, 1])
        # True positives: base 3, 3, 3; small 3, 2, 1.
        np.testing.assert_allclose(result.base_recall, [3 / 4, 3 / 4, 3 / 4])
        np.testing.assert_allclose(result.small_recall, [3 / 4, 2 / 4, 1 / 4])
        np.testing.assert_allclose(result.recall_drop, [0.0, 1 / 4, 2 / 4])
        np.testing.assert_allclose(result.base_precision, [3 / 3, 3 / 5, 3 / 4])
        np.testing.assert_allclose(result.small_precision, [3 / 7, 2 / 4, 1 / 1])
        np.testing.assert_allclose(result.precision_drop, [4 / 7, 1 / 10, -1 / 4])
        assert result.worst_class == 2 and result.worst_recall_drop == pytest.approx(0.5)
        assert result.worst_recall_drop_ci is None and np.isnan(result.recall_drop_ci_low).all()
        json.dumps(result.to_dict(), allow_nan=False)

    def test_flips_by_confidence(self) -> None:
        bands = flips_by_confidence(CONF, BASE, SMALL, GOLD)
        assert [(b.low, b.high) for b in bands] == list(DEFAULT_BANDS)
        # [0, .5): rows 0, 7; [.5, .7): rows 1, 2, 8, 11; [.7, .9): rows 3, 9; [.9, 1]: rows 4, 5, 6, 10.
        assert [b.n for b in bands] == [2, 4, 2, 4]
        assert [b.flips for b in bands] == [1, 2, 2, 2]
        assert [b.negative_flips for b in bands] == [0, 2, 1, 1]
        assert [b.positive_flips for b in bands] == [0, 0, 1, 0]
        assert [b.flip_rate for b in bands] == [0.5, 0.5, 1.0, 0.5]
        json.dumps([b.to_dict() for b in bands], allow_nan=False)

    def test_flips_by_confidence_without_labels(self) -> None:
        bands = flips_by_confidence(CONF, BASE, SMALL)
        assert [b.flips for b in bands] == [1, 2, 2, 2] and [b.n for b in bands] == [2, 4, 2, 4]
        assert all(b.negative_flips is None and b.positive_flips is None for b in bands)


def test_band_edges() -> None:
    """0.5 and 0.9 open their band; 1.0 belongs to the closed last band; an empty band has no rate."""
    conf = np.array([0.5, 0.9, 1.0, np.nextafter(0.5, 0.0), np.nextafter(0.9, 0.0)])
    preds = np.zeros(5, dtype=int)
    bands = flips_by_confidence(conf, preds, preds)
    assert [b.n for b in bands] == [1, 1, 1, 2]
    custom = flips_by_confidence([0.2, 0.6, 0.6], [0, 0, 1], [0, 1, 1], bands=[(0.0, 0.5), (0.6, 0.6 + 1e-9)])
    assert [(b.n, b.flips, b.flip_rate) for b in custom] == [(1, 0, 0.0), (2, 1, 0.5)]
    empty = flips_by_confidence([0.95], [0], [0])
    assert [b.flip_rate for b in empty] == [None, None, None, 0.0]


@pytest.mark.parametrize("k", [2, 3, 5])
def test_per_class_matches_sklearn(k: int) -> None:
    rng = np.random.default_rng(k)
    gold = rng.integers(0, k, 300)
    base = np.where(rng.random(300) < 0.8, gold, rng.integers(0, k, 300))
    small = np.where(rng.random(300) < 0.6, gold, rng.integers(0, k - 1, 300))
    small[small == k - 1] = 0
    result = per_class_comparison(base, small, gold, k + 1)
    labels = list(range(k + 1))
    for who, predicted in (("base", base), ("small", small)):
        np.testing.assert_allclose(getattr(result, f"{who}_recall"), recall_score(gold, predicted, labels=labels, average=None, zero_division=np.nan))
        np.testing.assert_allclose(getattr(result, f"{who}_precision"), precision_score(gold, predicted, labels=labels, average=None, zero_division=np.nan))
    # The extra class has neither gold rows nor predictions: every figure undefined.
    assert result.support[k] == 0 and np.isnan(result.recall_drop[k]) and np.isnan(result.precision_drop[k])
    # The small model never predicts class k - 1: no precision, no precision drop.
    assert np.isnan(result.small_precision[k - 1]) and not np.isnan(result.base_precision[k - 1])
    assert np.isnan(result.precision_drop[k - 1])


def _slow_interval(statistic, n: int, n_resamples: int, seed: int) -> tuple[float, float]:
    """The percentile interval computed one resample at a time, with scikit-learn on sample weights."""
    draws = [statistic(weights) for chunk in count_weights(n, n_resamples, seed) for weights in chunk]
    kept = np.array([d for d in draws if np.isfinite(d)])
    return percentile_interval(kept, 0.95)


def test_intervals_match_a_slow_bootstrap_with_sklearn() -> None:
    rng = np.random.default_rng(7)
    n, k = 40, 3
    gold = np.where(np.arange(n) == 0, 2, rng.integers(0, 2, n))  # class 2 has one row: absent from many resamples
    base = np.where(rng.random(n) < 0.8, gold, rng.integers(0, k, n))
    small = np.where(rng.random(n) < 0.6, gold, rng.integers(0, k, n))
    result = per_class_comparison(base, small, gold, k, n_resamples=150, seed=3)
    labels = list(range(k))

    def drop(score, c: int):
        def statistic(weights: np.ndarray) -> float:
            kw = {"labels": labels, "average": None, "sample_weight": weights, "zero_division": np.nan}
            return float(score(gold, base, **kw)[c] - score(gold, small, **kw)[c])
        return statistic

    def worst(weights: np.ndarray) -> float:
        kw = {"labels": labels, "average": None, "sample_weight": weights, "zero_division": np.nan}
        return float(np.max(recall_score(gold, base, **kw) - recall_score(gold, small, **kw)))

    for c in range(k):
        low, high = _slow_interval(drop(recall_score, c), n, 150, 3)
        assert (result.recall_drop_ci_low[c], result.recall_drop_ci_high[c]) == pytest.approx((low, high))
        if np.isfinite(result.precision_drop[c]):
            low, high = _slow_interval(drop(precision_score, c), n, 150, 3)
            assert (result.precision_drop_ci_low[c], result.precision_drop_ci_high[c]) == pytest.approx((low, high))
    assert result.worst_recall_drop_ci == pytest.approx(_slow_interval(worst, n, 150, 3))


def test_identical_models_have_zero_flips_and_degenerate_paired_intervals() -> None:
    rng = np.random.default_rng(1)
    gold = rng.integers(0, 3, 80)
    pred = np.where(rng.random(80) < 0.7, gold, rng.integers(0, 3, 80))
    rates = flip_rates(pred, pred, gold, n_resamples=100)
    assert rates.negative_flip_rate_ci == (0.0, 0.0) and rates.positive_flip_rate_ci == (0.0, 0.0)
    result = per_class_comparison(pred, pred, gold, 3, n_resamples=100)
    for name in ("recall_drop", "recall_drop_ci_low", "recall_drop_ci_high", "precision_drop", "precision_drop_ci_low", "precision_drop_ci_high"):
        np.testing.assert_array_equal(getattr(result, name), 0.0)
    assert result.worst_recall_drop == 0.0 and result.worst_recall_drop_ci == (0.0, 0.0)


def test_flip_rate_intervals_cover_the_estimate_on_a_large_sample() -> None:
    rng = np.random.default_rng(2)
    gold = rng.integers(0, 3, 2000)
    base = np.where(rng.random(2000) < 0.9, gold, (gold + 1) % 3)
    small = np.where(rng.random(2000) < 0.8, gold, (gold + 2) % 3)
    result = flip_rates(base, small, gold, n_resamples=300, seed=5)
    for rate, (low, high) in ((result.negative_flip_rate, result.negative_flip_rate_ci), (result.positive_flip_rate, result.positive_flip_rate_ci)):
        assert low < rate < high and high - low < 0.05
    assert result.negative_flip_rate_ci[0] > result.positive_flip_rate_ci[1]


@st.composite
def _predictions(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    k = draw(st.integers(2, 5))
    n = draw(st.integers(1, 40))
    ids = st.lists(st.integers(0, k - 1), min_size=n, max_size=n)
    conf = st.lists(st.sampled_from([0.0, 0.25, 0.5, 0.6, 0.7, 0.8, 0.9, 0.99, 1.0]), min_size=n, max_size=n)
    return np.array(draw(ids)), np.array(draw(ids)), np.array(draw(ids)), np.array(draw(conf)), k


@settings(max_examples=60, deadline=None)
@given(_predictions(), st.integers(0, 30))
def test_properties(data: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int], n_resamples: int) -> None:
    base, small, gold, conf, k = data
    n = len(gold)
    rates = flip_rates(base, small, gold, n_resamples=n_resamples, seed=1)
    assert 0.0 <= rates.negative_flip_rate <= 1.0 and 0.0 <= rates.positive_flip_rate <= 1.0
    assert rates.negative_flips + rates.positive_flips <= int(np.sum(base != small))
    # NFR - PFR is exactly the accuracy drop.
    accuracy_drop = Fraction(int(np.sum(base == gold)) - int(np.sum(small == gold)), n)
    assert Fraction(rates.negative_flips, n) - Fraction(rates.positive_flips, n) == accuracy_drop
    agreement = prediction_agreement(base, small, gold, n_classes=k)
    assert rates.negative_flip_rate - rates.positive_flip_rate == pytest.approx(-agreement.accuracy_diff, abs=1e-12)
    for interval in (rates.negative_flip_rate_ci, rates.positive_flip_rate_ci):
        assert (interval is None) == (n_resamples == 0)
        if interval is not None:
            assert 0.0 <= interval[0] <= interval[1] <= 1.0

    result = per_class_comparison(base, small, gold, k, n_resamples=n_resamples, seed=1)
    assert result.support.sum() == result.base_predicted.sum() == result.small_predicted.sum() == n
    assert np.array_equal(np.isnan(result.base_recall), result.support == 0)
    assert np.array_equal(np.isnan(result.small_precision), result.small_predicted == 0)
    for name in ("base_recall", "small_recall", "base_precision", "small_precision"):
        values = getattr(result, name)
        assert np.all(np.isnan(values) | ((values >= 0) & (values <= 1)))
    supported = result.recall_drop[result.support > 0]
    assert result.worst_recall_drop == np.max(supported)
    assert result.recall_drop[result.worst_class] == result.worst_recall_drop
    for low, high in ((result.recall_drop_ci_low, result.recall_drop_ci_high), (result.precision_drop_ci_low, result.precision_drop_ci_high)):
        defined = ~np.isnan(low)
        assert np.array_equal(defined, ~np.isnan(high))
        assert np.all((-1 <= low[defined]) & (low[defined] <= high[defined]) & (high[defined] <= 1))
    if result.worst_recall_drop_ci is not None:
        assert -1.0 <= result.worst_recall_drop_ci[0] <= result.worst_recall_drop_ci[1] <= 1.0
    if n_resamples == 0:
        assert result.worst_recall_drop_ci is None and np.isnan(result.recall_drop_ci_low).all()

    bands = flips_by_confidence(conf, base, small, gold)
    assert sum(b.n for b in bands) == n
    assert sum(b.flips for b in bands) == int(np.sum(base != small))
    assert sum(b.negative_flips for b in bands) == rates.negative_flips
    assert sum(b.positive_flips for b in bands) == rates.positive_flips
    assert all(b.flip_rate is None if b.n == 0 else 0.0 <= b.flip_rate <= 1.0 for b in bands)


def test_registered_directions() -> None:
    assert not get_metric("negative_flip_rate").higher_is_better
    assert get_metric("negative_flip_rate").name == "negative_flip_rate_error"
    assert get_metric("positive_flip_rate").higher_is_better
    assert get_metric("worst_class_recall_drop").lower == -1.0


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: flip_rates([0, 1], [0, 1], None), r"labels are required"),
        (lambda: flip_rates([0, 1], [0], [0, 1]), r"small_pred has length 1, expected 2"),
        (lambda: flip_rates([0, 1], [0, 1], [0, 1], n_resamples=-1), r"n_resamples must be >= 0"),
        (lambda: per_class_comparison([0, 1], [0, 1], [0, 1], 1), r"n_classes must be >= 2, got 1"),
        (lambda: per_class_comparison([0, 2], [0, 1], [0, 1], 2), r"base_pred\[1\] = 2 is not a class id in \[0, 2\)"),
        (lambda: per_class_comparison([0, 1], [0, 1], [0, 1], 2, ci_level=1.0), r"ci_level must be in \(0, 1\)"),
        (lambda: flips_by_confidence([0.5, 1.2], [0, 1], [0, 1]), r"base_conf\[1\] = 1.2 is outside \[0, 1\]"),
        (lambda: flips_by_confidence([0.5], [0, 1], [0, 1]), r"base_pred has length 2, expected 1"),
        (lambda: flips_by_confidence([0.5], [0], [0], bands=[]), r"bands must be a non-empty sequence"),
        (lambda: flips_by_confidence([0.5], [0], [0], bands=[(0.5, 0.2)]), r"bands\[0\] = \(0.5, 0.2\) must satisfy"),
        (lambda: flips_by_confidence([0.5], [0], [0], bands=[(0.0, 0.6), (0.5, 1.0)]), r"bands\[1\] starts at 0.5, before bands\[0\] ends"),
        (lambda: flips_by_confidence([0.5], [0], [0], bands=[(0.0,)]), r"bands\[0\] must be a \(low, high\) pair"),
    ],
)
def test_validation(call, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        call()
