"""Calibration metrics: hand-computed cases, independent references, edge cases and properties."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.optimize import brentq

from trustaudit.metrics import (
    binary_brier_score_loss,
    binary_calibration_error,
    binary_reliability_bins,
    brier_decomposition,
    brier_score_loss,
    calibration_summary,
    classwise_calibration_error,
    expected_calibration_error,
    maximum_calibration_error,
    log_loss,
    positive_class_view,
    reliability_bins,
    smooth_calibration_error,
)
from tests._helpers import away_from_edges, labels_from, random_probs

# Four rows, two classes. Top-label confidence and correctness:
#   row 0: [0.9, 0.1], label 0 -> conf 0.9, correct
#   row 1: [0.8, 0.2], label 1 -> conf 0.8, wrong
#   row 2: [0.3, 0.7], label 1 -> conf 0.7, correct
#   row 3: [0.4, 0.6], label 0 -> conf 0.6, wrong
HAND_PROBS = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.4, 0.6]])
HAND_LABELS = np.array([0, 1, 1, 0])


class TestHandComputed:
    def test_ece_two_uniform_bins(self) -> None:
        # All four confidences fall in (0.5, 1]: accuracy 2/4, mean confidence 0.75 -> ECE 0.25.
        assert expected_calibration_error(HAND_PROBS, HAND_LABELS, n_bins=2) == pytest.approx(0.25)
        assert maximum_calibration_error(HAND_PROBS, HAND_LABELS, n_bins=2) == pytest.approx(0.25)

    def test_ece_five_uniform_bins(self) -> None:
        # (0.4, 0.6]: {0.6 wrong}          -> |0 - 0.6|    * 1/4 = 0.150
        # (0.6, 0.8]: {0.7 right, 0.8 wrong} -> |0.5 - 0.75| * 2/4 = 0.125
        # (0.8, 1.0]: {0.9 right}          -> |1 - 0.9|    * 1/4 = 0.025
        assert expected_calibration_error(HAND_PROBS, HAND_LABELS, n_bins=5) == pytest.approx(0.3)
        # MCE = max(0.6, 0.25, 0.1)
        assert maximum_calibration_error(HAND_PROBS, HAND_LABELS, n_bins=5) == pytest.approx(0.6)

    def test_ece_quantile_bins(self) -> None:
        # Sorted confidences [0.6, 0.7, 0.8, 0.9]; e_1 = s[ceil(1 * 4 / 2) - 1] = s[1] = 0.7.
        # [0, 0.7]: {0.6 wrong, 0.7 right} -> |0.5 - 0.65| * 2/4 = 0.075
        # (0.7, 1]: {0.8 wrong, 0.9 right} -> |0.5 - 0.85| * 2/4 = 0.175
        value = expected_calibration_error(HAND_PROBS, HAND_LABELS, n_bins=2, strategy="quantile")
        assert value == pytest.approx(0.25)
        bins = reliability_bins(HAND_PROBS, HAND_LABELS, n_bins=2, strategy="quantile")
        np.testing.assert_allclose(bins.edges, [0.0, 0.7, 1.0])
        np.testing.assert_array_equal(bins.counts, [2, 2])

    def test_quantile_bins_keep_ties_together(self) -> None:
        # Confidences [0.6, 0.6, 0.6, 0.9]: both inner edges of 3 bins are 0.6, so the tied
        # rows share bin 0, bin 1 is empty and bin 2 holds 0.9.
        probs = np.array([[0.6, 0.4], [0.6, 0.4], [0.4, 0.6], [0.9, 0.1]])
        bins = reliability_bins(probs, [0, 1, 1, 0], n_bins=3, strategy="quantile")
        np.testing.assert_array_equal(bins.counts, [3, 0, 1])
        assert math.isnan(bins.accuracy[1])

    def test_classwise(self) -> None:
        # Class 0, probs [0.9, 0.8, 0.3, 0.4], is-class-0 [1, 0, 0, 1]:
        #   [0, 0.5]: {0.3: 0, 0.4: 1} -> |0.5 - 0.35| * 2/4 = 0.075; (0.5, 1]: {0.9: 1, 0.8: 0} -> 0.175
        # Class 1, probs [0.1, 0.2, 0.7, 0.6], is-class-1 [0, 1, 1, 0]:
        #   [0, 0.5]: |0.5 - 0.15| * 2/4 = 0.175; (0.5, 1]: |0.5 - 0.65| * 2/4 = 0.075
        # Mean over classes (0.25 + 0.25) / 2.
        assert classwise_calibration_error(HAND_PROBS, HAND_LABELS, n_bins=2) == pytest.approx(0.25)

    def test_brier(self) -> None:
        # Rows: 0.1^2 + 0.1^2 = 0.02; 0.8^2 + 0.8^2 = 1.28; 0.3^2 + 0.3^2 = 0.18; 0.6^2 + 0.6^2 = 0.72.
        assert brier_score_loss(HAND_PROBS, HAND_LABELS) == pytest.approx(2.2 / 4)

    def test_nll(self) -> None:
        expected = -(math.log(0.9) + math.log(0.2) + math.log(0.7) + math.log(0.4)) / 4
        assert log_loss(HAND_PROBS, HAND_LABELS) == pytest.approx(expected)

    def test_brier_decomposition_by_hand(self) -> None:
        # Groups: f=[0.8, 0.2] x2 with labels {0, 1} -> o_g=[0.5, 0.5]; f=[0.4, 0.6] x2, labels {1, 1} -> [0, 1].
        # Overall o = [0.25, 0.75].
        # reliability = (2 * (0.3^2 + 0.3^2) + 2 * (0.4^2 + 0.4^2)) / 4 = 0.25
        # resolution  = (2 * (0.25^2 + 0.25^2) + 2 * (0.25^2 + 0.25^2)) / 4 = 0.125
        # uncertainty = 2 * 0.25 * 0.75 = 0.375; Brier = 0.25 - 0.125 + 0.375 = 0.5
        probs = np.array([[0.8, 0.2], [0.8, 0.2], [0.4, 0.6], [0.4, 0.6]])
        for n_bins in (None, 10):
            parts = brier_decomposition(probs, [0, 1, 1, 1], n_bins=n_bins)
            assert parts.reliability == pytest.approx(0.25)
            assert parts.resolution == pytest.approx(0.125)
            assert parts.uncertainty == pytest.approx(0.375)
            assert parts.within_variance == 0 and parts.within_covariance == 0
            assert parts.brier == pytest.approx(0.5)
            assert parts.n_groups == 2

    def test_binned_brier_decomposition_by_hand(self) -> None:
        # Two bins: [0.7, 0.3] and [0.9, 0.1] share a group (first class in (0.5, 1]) with labels {0, 1}:
        # f_g = [0.8, 0.2], o_g = [0.5, 0.5]; [0.2, 0.8] is alone with label 1: f = [0.2, 0.8], o = [0, 1].
        # Overall o = [1/3, 2/3]; uncertainty = 2 * 1/3 * 2/3 = 4/9.
        # reliability = (2 * (0.3^2 + 0.3^2) + (0.2^2 + 0.2^2)) / 3 = 0.44 / 3
        # resolution  = (2 * 2 * (1/6)^2 + 2 * (1/3)^2) / 3 = 1/9
        # within variance = (2 * (0.1^2 + 0.1^2)) / 3 = 0.04 / 3
        # within covariance = 2 * ((-0.1, 0.1).(0.5, -0.5) + (0.1, -0.1).(-0.5, 0.5)) / 3 = -0.4 / 3
        # Brier = (0.18 + 1.62 + 0.08) / 3 = 1.88 / 3 = reliability - resolution + uncertainty + variance - covariance
        probs = np.array([[0.7, 0.3], [0.9, 0.1], [0.2, 0.8]])
        parts = brier_decomposition(probs, [0, 1, 1], n_bins=2)
        assert parts.n_groups == 2 and parts.n_bins == 2
        assert parts.reliability == pytest.approx(0.44 / 3)
        assert parts.resolution == pytest.approx(1 / 9)
        assert parts.uncertainty == pytest.approx(4 / 9)
        assert parts.within_variance == pytest.approx(0.04 / 3)
        assert parts.within_covariance == pytest.approx(-0.4 / 3)
        assert parts.brier == pytest.approx(1.88 / 3)

    def test_reliability_bins_clopper_pearson(self) -> None:
        # Bin (0.6, 0.8] of the 5-bin case holds 2 rows, 1 correct: the exact 95% interval is
        # [Beta^-1(0.025; 1, 2), Beta^-1(0.975; 2, 1)] = [1 - sqrt(0.975), sqrt(0.975)].
        bins = reliability_bins(HAND_PROBS, HAND_LABELS, n_bins=5)
        np.testing.assert_array_equal(bins.counts, [0, 0, 1, 2, 1])
        assert bins.ci_low[3] == pytest.approx(1 - math.sqrt(0.975))
        assert bins.ci_high[3] == pytest.approx(math.sqrt(0.975))
        # One wrong row: [0, 1 - 0.025^(1/1)] = [0, 0.975]; one right row: [0.025, 1].
        assert (bins.ci_low[2], bins.ci_high[2]) == pytest.approx((0.0, 0.975))
        assert (bins.ci_low[4], bins.ci_high[4]) == pytest.approx((0.025, 1.0))
        assert np.isnan(bins.accuracy[0]) and np.isnan(bins.mean_confidence[0]) and np.isnan(bins.ci_low[0])


class TestEdgeCases:
    def test_confidence_one_is_counted(self) -> None:
        probs = np.array([[1.0, 0.0], [0.0, 1.0]])
        labels = np.array([0, 0])  # conf 1.0 right, conf 1.0 wrong -> |0.5 - 1| = 0.5
        assert expected_calibration_error(probs, labels) == pytest.approx(0.5)
        assert maximum_calibration_error(probs, labels) == pytest.approx(0.5)
        bins = reliability_bins(probs, labels)
        assert bins.counts.sum() == 2 and bins.counts[-1] == 2

    def test_probability_zero_is_counted(self) -> None:
        # Class 1 gets probability exactly 0 but is the label: classwise error 1 for both classes.
        assert classwise_calibration_error([[1.0, 0.0]], [1]) == pytest.approx(1.0)
        bins = binary_reliability_bins([0.0, 0.0, 1.0], [0, 1, 1], n_bins=4)
        np.testing.assert_array_equal(bins.counts, [2, 0, 0, 1])
        assert binary_calibration_error([0.0, 0.0, 1.0], [0, 1, 1], n_bins=4) == pytest.approx(1 / 3)

    def test_all_correct_and_certain(self) -> None:
        probs = np.eye(3)[[0, 1, 2, 1]]
        labels = np.array([0, 1, 2, 1])
        summary = calibration_summary(probs, labels)
        for name in ("ece", "ece_quantile", "mce", "classwise_ece", "smooth_ece", "brier", "nll"):
            assert getattr(summary, name) == pytest.approx(0.0, abs=1e-9), name
        assert summary.accuracy == 1.0

    def test_single_row(self) -> None:
        probs = np.array([[0.3, 0.7]])
        assert expected_calibration_error(probs, [1]) == pytest.approx(0.3)
        assert expected_calibration_error(probs, [1], strategy="quantile") == pytest.approx(0.3)
        assert maximum_calibration_error(probs, [0]) == pytest.approx(0.7)
        assert smooth_calibration_error(probs, [0]) == pytest.approx(0.7, rel=1e-3)
        summary = calibration_summary(probs, [1])
        assert summary.n == 1 and summary.bins.counts.sum() == 1

    def test_nll_is_clipped_not_infinite(self) -> None:
        assert log_loss([[1.0, 0.0]], [1]) == pytest.approx(-math.log(1e-12))
        assert log_loss([[1.0, 0.0]], [1], eps=1e-6) == pytest.approx(-math.log(1e-6))

    @pytest.mark.parametrize("k", [2, 10])
    def test_k2_and_k10_are_in_range(self, k: int) -> None:
        probs = random_probs(300, k, seed=k, sharpness=2.0)
        labels = labels_from(probs, seed=k + 1)
        summary = calibration_summary(probs, labels)
        assert 0.0 <= summary.ece <= summary.mce <= 1.0
        assert 0.0 <= summary.brier <= 2.0
        assert summary.n_classes == k and summary.bins.counts.sum() == 300


class TestReferences:
    @pytest.mark.parametrize("k,seed", [(2, 0), (3, 1), (10, 2)])
    def test_ece_and_mce_match_torchmetrics(self, k: int, seed: int) -> None:
        torch = pytest.importorskip("torch")
        from torchmetrics.functional.classification import multiclass_calibration_error

        probs = random_probs(2000, k, seed, sharpness=2.0)
        labels = np.random.default_rng(seed).integers(0, k, 2000)
        keep = away_from_edges(probs, 15)
        probs, labels = probs[keep], labels[keep]
        preds, target = torch.from_numpy(probs), torch.from_numpy(labels)
        for norm_name, fn in (("l1", expected_calibration_error), ("max", maximum_calibration_error)):
            expected = float(multiclass_calibration_error(preds, target, num_classes=k, n_bins=15, norm=norm_name))
            # torchmetrics accumulates in float32.
            assert fn(probs, labels, n_bins=15) == pytest.approx(expected, abs=1e-6)

    def test_binary_brier_matches_sklearn(self) -> None:
        from sklearn.metrics import brier_score_loss as sk_brier

        probs = random_probs(500, 2, seed=3, sharpness=2.0)
        labels = labels_from(probs, seed=4)
        view = positive_class_view(probs, labels)
        reference = sk_brier(labels, probs[:, 1])
        assert binary_brier_score_loss(view.prob, view.outcome) == pytest.approx(reference)
        # The multiclass sum over both classes counts every error twice.
        assert brier_score_loss(probs, labels) == pytest.approx(2.0 * reference)

    def test_binary_reliability_bins_match_sklearn_calibration_curve(self) -> None:
        from sklearn.calibration import calibration_curve

        probs = random_probs(3000, 2, seed=5, sharpness=2.0)
        labels = labels_from(probs, seed=6)
        edge_distance = np.abs(probs[:, 1:2] - np.arange(16)[None, :] / 15).min(axis=1)
        probs, labels = probs[edge_distance > 1e-6], labels[edge_distance > 1e-6]
        # sklearn bins the positive-class probability, so compare against the binary view.
        view = positive_class_view(probs, labels, positive=1)
        bins = binary_reliability_bins(view.prob, view.outcome, n_bins=15)
        prob_true, prob_pred = calibration_curve(labels, probs[:, 1], n_bins=15, strategy="uniform")
        filled = bins.counts > 0
        np.testing.assert_allclose(bins.accuracy[filled], prob_true)
        np.testing.assert_allclose(bins.mean_confidence[filled], prob_pred)

    def test_brier_decomposition_is_exact(self) -> None:
        # Few distinct forecast vectors (rounded) and all-distinct ones: the identity holds both ways.
        for probs in (np.round(random_probs(400, 3, seed=7), 1), random_probs(400, 4, seed=8)):
            probs = probs / probs.sum(axis=1, keepdims=True)
            labels = np.random.default_rng(9).integers(0, probs.shape[1], probs.shape[0])
            exact = brier_decomposition(probs, labels, n_bins=None)
            assert exact.within_variance == 0 and exact.within_covariance == 0
            for parts in (exact, brier_decomposition(probs, labels), brier_decomposition(probs, labels, n_bins=3)):
                total = parts.reliability - parts.resolution + parts.uncertainty + parts.within_variance - parts.within_covariance
                assert total == pytest.approx(brier_score_loss(probs, labels), abs=1e-12)

    def test_binned_decomposition_is_informative_on_continuous_outputs(self) -> None:
        # Every softmax row is distinct: exact grouping degenerates (reliability = Brier), bins do not.
        probs = random_probs(20_000, 3, seed=5)
        labels = labels_from(probs, 6)
        exact = brier_decomposition(probs, labels, n_bins=None)
        assert exact.n_groups == 20_000 and exact.reliability == pytest.approx(exact.brier)
        binned = brier_decomposition(probs, labels)
        assert binned.n_groups < 200
        assert binned.reliability < 0.01, "labels drawn from the forecasts: nearly calibrated"
        assert binned.resolution > 0.05


def _brute_smooth_ece_at(conf: np.ndarray, correct: np.ndarray, sigma: float) -> float:
    """smECE_sigma by direct summation of the reflected kernel over rows and a fine trapezoid in t.

    Mirror images beyond +-2 periods are below 1e-5 of the peak for the widths used here.
    """
    t = np.linspace(0.0, 1.0, 4001)[:, None]
    residual = (correct - conf) / conf.shape[0]
    smoothed = np.zeros(t.shape[0])
    for m in range(-2, 3):
        for image in (conf - 2 * m, -conf + 2 * m):
            smoothed += np.exp(-((t - image[None, :]) ** 2) / (2 * sigma**2)) @ residual
    return float(np.trapezoid(np.abs(smoothed), t[:, 0]) / (sigma * math.sqrt(2 * math.pi)))


class TestSmoothECE:
    @pytest.mark.parametrize("n,k,seed", [(40, 2, 0), (120, 3, 1)])
    def test_matches_brute_force_fixed_point(self, n: int, k: int, seed: int) -> None:
        probs = random_probs(n, k, seed, sharpness=1.5)
        labels = np.where(np.random.default_rng(seed).random(n) < 0.3, 0, labels_from(probs, seed + 10))
        conf, correct = probs.max(axis=1), (probs.argmax(axis=1) == labels).astype(float)
        sigma = brentq(lambda s: _brute_smooth_ece_at(conf, correct, s) - s, 0.01, 1.0, xtol=1e-9)
        assert smooth_calibration_error(probs, labels) == pytest.approx(sigma, rel=1e-3)

    def test_single_signed_residual_gives_mean_gap(self) -> None:
        # Overconfident everywhere: the smoothed residual never changes sign, so its integral
        # is |sum of residuals| / n = |0.5 - 0.9| whatever the bandwidth.
        probs = np.tile([[0.9, 0.1]], (10, 1))
        labels = np.array([0, 1] * 5)
        assert smooth_calibration_error(probs, labels) == pytest.approx(0.4, rel=1e-6)

    def test_at_most_the_unbinned_ece(self) -> None:
        # Smoothing contracts the L1 norm, so smECE <= its sigma -> 0 limit: the ECE with one
        # bin per distinct confidence, sum over distinct c of |sum of residuals at c| / n.
        probs = random_probs(500, 3, seed=3, sharpness=2.0)
        labels = np.random.default_rng(4).integers(0, 3, 500)
        conf, correct = probs.max(axis=1), (probs.argmax(axis=1) == labels).astype(float)
        _, group = np.unique(conf, return_inverse=True)
        unbinned = np.abs(np.bincount(group, weights=correct - conf)).sum() / 500
        assert 0.0 < smooth_calibration_error(probs, labels) <= unbinned


class TestSummary:
    def test_fields_agree_with_functions_and_json(self) -> None:
        probs = random_probs(200, 3, seed=11, sharpness=2.0)
        labels = labels_from(probs, seed=12)
        summary = calibration_summary(probs, labels, n_bins=10)
        assert summary.ece == pytest.approx(expected_calibration_error(probs, labels, n_bins=10))
        assert summary.ece_quantile == pytest.approx(
            expected_calibration_error(probs, labels, n_bins=10, strategy="quantile")
        )
        assert summary.mce == pytest.approx(maximum_calibration_error(probs, labels, n_bins=10))
        assert summary.classwise_ece == pytest.approx(classwise_calibration_error(probs, labels, n_bins=10))
        assert summary.smooth_ece == pytest.approx(smooth_calibration_error(probs, labels))
        assert summary.brier == pytest.approx(brier_score_loss(probs, labels))
        assert summary.nll == pytest.approx(log_loss(probs, labels))
        assert summary.settings["n_bins"] == 10 and summary.bins.n_bins == 10
        data = summary.to_dict()
        text = json.dumps(data, allow_nan=False)
        assert json.loads(text)["bins"]["counts"] == summary.bins.counts.tolist()

    def test_empty_bins_serialise_as_none(self) -> None:
        data = reliability_bins(HAND_PROBS, HAND_LABELS, n_bins=5).to_dict()
        assert data["accuracy"][0] is None and data["counts"][0] == 0
        json.dumps(data, allow_nan=False)

    def test_arrays_are_read_only(self) -> None:
        bins = reliability_bins(HAND_PROBS, HAND_LABELS)
        with pytest.raises(ValueError):
            bins.counts[0] = 5


# ----------------------------------------------------------------------------- properties


@st.composite
def problems(draw: st.DrawFn, max_n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(1, max_n))
    k = draw(st.integers(2, 5))
    logits = draw(arrays(np.float64, (n, k), elements=st.floats(-6, 6, allow_nan=False)))
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    labels = draw(arrays(np.int64, n, elements=st.integers(0, k - 1)))
    return probs, labels


@settings(max_examples=40, deadline=None)
@given(problems(), st.integers(1, 20))
def test_bounds_and_ece_below_mce(problem: tuple[np.ndarray, np.ndarray], n_bins: int) -> None:
    probs, labels = problem
    for strategy in ("uniform", "quantile"):
        ece = expected_calibration_error(probs, labels, n_bins, strategy)
        mce = maximum_calibration_error(probs, labels, n_bins, strategy)
        assert 0.0 <= ece <= mce + 1e-12 <= 1.0 + 1e-12
        assert 0.0 <= classwise_calibration_error(probs, labels, n_bins, strategy) <= 1.0
    assert 0.0 <= brier_score_loss(probs, labels) <= 2.0
    assert 0.0 <= log_loss(probs, labels) <= -math.log(1e-12) + 1e-9
    assert 0.0 <= smooth_calibration_error(probs, labels) <= 1.0 + 1e-9


@settings(max_examples=30, deadline=None)
@given(problems(), st.randoms(use_true_random=False))
def test_invariant_under_row_permutation(problem: tuple[np.ndarray, np.ndarray], rnd) -> None:
    probs, labels = problem
    order = np.array(rnd.sample(range(len(labels)), len(labels)))
    for fn in (
        expected_calibration_error,
        lambda p, y: expected_calibration_error(p, y, strategy="quantile"),
        maximum_calibration_error,
        classwise_calibration_error,
        brier_score_loss,
        log_loss,
        smooth_calibration_error,
    ):
        assert fn(probs[order], labels[order]) == pytest.approx(fn(probs, labels), abs=1e-12)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), k=st.integers(2, 5), sharpness=st.floats(0.5, 3.0))
def test_ece_of_calibrated_labels_shrinks_with_n(seed: int, k: int, sharpness: float) -> None:
    # Labels drawn from the predicted distribution: the model is calibrated, so ECE is pure
    # sampling noise, of order sqrt(bins / n): 100 times the rows, about a tenth of the ECE.
    probs = random_probs(30_000, k, seed, sharpness=sharpness)
    labels = labels_from(probs, seed + 1)
    small = expected_calibration_error(probs[:300], labels[:300])
    large = expected_calibration_error(probs, labels)
    assert large < 0.015
    assert large < small / 2
