"""Attribution and prediction agreement: hand-computed cases, references, conventions, properties."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats

from trustaudit.exceptions import InvalidInputError
from trustaudit.metrics import (
    attribution_agreement,
    feature_agreement,
    fraction_of_floor,
    kendall_tau,
    pairwise_rank_agreement,
    prediction_agreement,
    rank_agreement,
    rank_correlation,
    sign_agreement,
    signed_rank_agreement,
    topk_jaccard,
)

TOP_K = [feature_agreement, rank_agreement, sign_agreement, signed_rank_agreement, topk_jaccard]
GLOBAL = [rank_correlation, kendall_tau, pairwise_rank_agreement]

# |a| = [.5, .4, .3, .1, 0]          -> top-3 of a: [0, 1, 2]
# |b| = [.45, .1, .35, .5, 0]        -> top-3 of b: [3, 0, 2]
A = np.array([0.5, -0.4, 0.3, 0.1, 0.0])
B = np.array([0.45, 0.1, -0.35, 0.5, 0.0])


class TestHandComputed:
    def test_top_k_metrics(self) -> None:
        # common features {0, 2}                                  -> FA = 2/3
        # positions: (0 vs 3), (1 vs 0), (2 vs 2)                 -> RA = 1/3
        # signs of the common features: 0 (+, +) agrees, 2 (+, -) not -> SA = 1/3
        # the one same-position feature (2) has opposite signs    -> SRA = 0
        # union {0, 1, 2, 3}                                      -> Jaccard = 2/4
        assert feature_agreement(A, B, 3) == pytest.approx(2 / 3)
        assert rank_agreement(A, B, 3) == pytest.approx(1 / 3)
        assert sign_agreement(A, B, 3) == pytest.approx(1 / 3)
        assert signed_rank_agreement(A, B, 3) == 0.0
        assert topk_jaccard(A, B, 3) == pytest.approx(0.5)

    def test_global_metrics(self) -> None:
        # Ranks of |a| (ascending) [5, 4, 3, 2, 1], of |b| [4, 2, 3, 5, 1]; d = [1, 2, 0, -3, 0],
        # sum d^2 = 14 -> rho = 1 - 6 * 14 / (5 * 24) = 0.3.
        assert rank_correlation(A, B) == pytest.approx(0.3)
        # |a| strictly decreasing, so a pair agrees iff |b_i| > |b_j|: agreeing pairs
        # (0,1) (0,2) (0,4) (1,4) (2,4) (3,4); disagreeing (0,3) (1,2) (1,3) (2,3).
        assert pairwise_rank_agreement(A, B) == pytest.approx(6 / 10)
        assert kendall_tau(A, B) == pytest.approx((6 - 4) / 10)

    def test_ties_go_to_the_lower_index(self) -> None:
        # |a| ties features 0 and 1; the stable sort puts 0 first, as it does for b.
        assert feature_agreement([0.5, 0.5, 0.1], [0.5, 0.1, 0.5], 1) == 1.0
        assert rank_agreement([0.2, -0.2, 0.2], [0.2, 0.2, -0.2], 3) == 1.0
        assert sign_agreement([0.2, -0.2, 0.2], [0.2, 0.2, -0.2], 3) == pytest.approx(1 / 3)

    def test_k_larger_than_d_uses_d(self) -> None:
        # k' = 2: top lists [1, 0] and [0, 1] share both features, no position.
        assert feature_agreement([1.0, 2.0], [2.0, 1.0], 5) == 1.0
        assert rank_agreement([1.0, 2.0], [2.0, 1.0], 5) == 0.0
        assert topk_jaccard([1.0, 2.0], [2.0, 1.0], 5) == 1.0

    def test_constant_vectors(self) -> None:
        for fn in (rank_correlation, kendall_tau):
            assert fn([1.0, -1.0, 1.0], [2.0, 2.0, 2.0]) == 1.0  # both constant in magnitude
            assert fn([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]) == 0.0  # only one constant
            assert fn([0.3], [-0.9]) == 1.0  # a single feature
        assert pairwise_rank_agreement([0.3], [0.9]) == 1.0
        assert pairwise_rank_agreement([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]) == 0.0

    def test_zero_scores_agree_in_sign_only_with_zero(self) -> None:
        assert sign_agreement([0.0, 1.0], [0.0, 1.0], 2) == 1.0
        assert sign_agreement([0.0, 1.0], [0.1, 1.0], 2) == 0.5


class TestReferences:
    @pytest.mark.parametrize("seed", range(5))
    def test_spearman_and_kendall_match_scipy(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        d = int(rng.integers(3, 40))
        # Rounding makes ties in the magnitudes.
        a, b = np.round(rng.normal(size=d), 1), np.round(rng.normal(size=d), 1)
        assert rank_correlation(a, b) == pytest.approx(stats.spearmanr(np.abs(a), np.abs(b)).statistic)
        assert kendall_tau(a, b) == pytest.approx(stats.kendalltau(np.abs(a), np.abs(b)).statistic)


score_vectors = st.integers(1, 25).flatmap(
    lambda d: st.tuples(
        arrays(np.float64, d, elements=st.floats(-3, 3, allow_nan=False)),
        arrays(np.float64, d, elements=st.floats(-3, 3, allow_nan=False)),
    )
)


@settings(max_examples=60, deadline=None)
@given(score_vectors, st.integers(1, 30))
def test_symmetric_bounded_and_one_on_identity(pair: tuple[np.ndarray, np.ndarray], k: int) -> None:
    a, b = pair
    for fn in TOP_K:
        value = fn(a, b, k)
        assert 0.0 <= value <= 1.0
        assert fn(b, a, k) == pytest.approx(value)
        assert fn(a, a, k) == 1.0
    for fn in GLOBAL:
        value = fn(a, b)
        assert -1.0 <= value <= 1.0
        assert fn(b, a) == pytest.approx(value)
        assert fn(a, a.copy()) == 1.0
    assert sign_agreement(a, b, k) <= feature_agreement(a, b, k)
    assert signed_rank_agreement(a, b, k) <= rank_agreement(a, b, k) <= feature_agreement(a, b, k)
    assert topk_jaccard(a, b, k) <= feature_agreement(a, b, k)


class TestAttributionAgreement:
    def _examples(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        rng = np.random.default_rng(0)
        base = [rng.normal(size=int(d)) for d in rng.integers(3, 30, 40)]
        small = [b + rng.normal(scale=0.5, size=b.shape) for b in base]
        return base, small

    def test_per_example_values_means_and_intervals(self) -> None:
        base, small = self._examples()
        result = attribution_agreement(base, small, ks=(3, 5), n_resamples=200, seed=1)
        assert set(result.statistics) == {
            f"{name}@{k}"
            for name in ("feature_agreement", "rank_agreement", "sign_agreement", "signed_rank_agreement", "topk_jaccard")
            for k in (3, 5)
        } | {"rank_correlation", "kendall_tau", "pairwise_rank_agreement"}
        fa = result.get("feature_agreement", 5)
        np.testing.assert_allclose(fa.per_example, [feature_agreement(a, b, 5) for a, b in zip(base, small)])
        assert fa.mean == pytest.approx(np.mean(fa.per_example))
        assert fa.ci_low < fa.mean < fa.ci_high
        tau = result.get("kendall_tau")
        assert tau.k is None
        np.testing.assert_allclose(tau.per_example, [kendall_tau(a, b) for a, b in zip(base, small)])
        assert result.n_examples == 40 and result.ks == (3, 5)
        json.dumps(result.to_dict(), allow_nan=False)
        with pytest.raises(InvalidInputError, match="no statistic 'feature_agreement@7'"):
            result.get("feature_agreement", 7)

    def test_identical_explanations_agree_fully(self) -> None:
        base, _ = self._examples()
        result = attribution_agreement(base, [b.copy() for b in base], ks=(5,), n_resamples=50)
        for statistic in result.statistics.values():
            assert (statistic.mean, statistic.ci_low, statistic.ci_high) == (1.0, 1.0, 1.0)

    def test_accepts_a_2d_array_and_skips_the_bootstrap(self) -> None:
        rng = np.random.default_rng(2)
        matrix = rng.normal(size=(6, 8))
        result = attribution_agreement(matrix, matrix[:, ::-1], n_resamples=0)
        assert result.get("feature_agreement", 5).ci_low is None

    @pytest.mark.parametrize(
        "kwargs,message",
        [
            ({"small_scores": [np.ones(3)]}, r"same examples, got 2 and 1"),
            ({"small_scores": [np.ones(3), np.ones(4)]}, r"base_scores\[1\] and small_scores\[1\] must score the same features"),
            ({"small_scores": [np.ones(3), np.array([1.0, np.nan, 1.0])]}, r"small_scores\[1\]\[1\] is nan"),
            ({"base_scores": [], "small_scores": []}, r"at least one example"),
            ({"ks": ()}, r"ks must be a non-empty sequence"),
            ({"ks": (0,)}, r"ks must be >= 1, got 0"),
            ({"n_resamples": -5}, r"n_resamples must be >= 0"),
            ({"ci_level": 0.0}, r"ci_level must be in \(0, 1\)"),
        ],
    )
    def test_validation(self, kwargs: dict, message: str) -> None:
        arguments = {"base_scores": [np.ones(3), np.ones(3)], "small_scores": [np.ones(3), np.ones(3)]}
        arguments.update(kwargs)
        with pytest.raises(InvalidInputError, match=message):
            attribution_agreement(**arguments)


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: feature_agreement([1.0, 2.0], [1.0], 1), r"a and b must score the same features, got lengths 2 and 1"),
        (lambda: feature_agreement([1.0, 2.0], [1.0, 2.0], 0), r"k must be >= 1, got 0"),
        (lambda: rank_agreement([1.0, 2.0], [1.0, 2.0], 1.5), r"k must be an integer"),
        (lambda: rank_correlation([[1.0, 2.0]], [[1.0, 2.0]]), r"a must be a non-empty 1-D array"),
        (lambda: kendall_tau([1.0, np.inf], [1.0, 2.0]), r"a\[1\] is inf"),
        (lambda: pairwise_rank_agreement([], []), r"a must be a non-empty 1-D array"),
        (lambda: topk_jaccard(["x"], ["y"], 1), r"a must be numeric"),
    ],
)
def test_per_example_validation(call, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        call()


def test_fraction_of_floor() -> None:
    assert fraction_of_floor(0.6, 0.8) == pytest.approx(0.75)
    assert math.isnan(fraction_of_floor(0.6, 0.0))
    assert math.isnan(fraction_of_floor(0.6, -0.2))
    with pytest.raises(InvalidInputError, match="floor must be finite"):
        fraction_of_floor(0.6, float("nan"))
    with pytest.raises(InvalidInputError, match="value must be a number"):
        fraction_of_floor("0.6", 0.8)


class TestPredictionAgreement:
    def test_hand_computed(self) -> None:
        base = np.array([0, 1, 2, 0, 1])
        small = np.array([0, 2, 2, 0, 0])
        labels = np.array([0, 1, 2, 1, 1])
        result = prediction_agreement(base, small, labels, n_classes=3)
        # Same prediction on rows 0, 2, 3.
        assert result.agreement == pytest.approx(3 / 5) and result.n_flips == 2
        np.testing.assert_array_equal(result.flip_matrix, [[2, 0, 0], [1, 0, 1], [0, 0, 1]])
        # Base right on 0, 1, 2, 4; small right on 0, 2.
        assert result.base_accuracy == pytest.approx(0.8) and result.small_accuracy == pytest.approx(0.4)
        assert result.accuracy_diff == pytest.approx(-0.4)
        # Discordant: b = 2 (rows 1, 4), c = 0 -> exact p = 2 * P(X <= 0 | n=2) = 2 * 1/4.
        assert (result.base_only_correct, result.small_only_correct) == (2, 0)
        assert result.mcnemar_method == "exact" and result.mcnemar_p_value == pytest.approx(0.5)
        assert result.mcnemar_statistic == 0.0
        # Errors: base {3}, small {1, 3, 4} -> 1/3.
        assert result.error_jaccard == pytest.approx(1 / 3)
        json.dumps(result.to_dict(), allow_nan=False)

    def test_kappa_matches_sklearn(self) -> None:
        from sklearn.metrics import cohen_kappa_score

        rng = np.random.default_rng(3)
        for k in (2, 3, 7):
            base = rng.integers(0, k, 300)
            small = np.where(rng.random(300) < 0.7, base, rng.integers(0, k, 300))
            assert prediction_agreement(base, small, n_classes=k).cohen_kappa == pytest.approx(
                cohen_kappa_score(base, small)
            )

    def test_exact_mcnemar_matches_binomial_test(self) -> None:
        # b = 9, c = 3 discordant pairs (12 < 25): exact binomial test.
        base_ok = np.array([1] * 9 + [0] * 3 + [1] * 20, dtype=bool)
        small_ok = np.array([0] * 9 + [1] * 3 + [1] * 20, dtype=bool)
        labels = np.zeros(32, dtype=int)
        result = prediction_agreement(np.where(base_ok, 0, 1), np.where(small_ok, 0, 1), labels)
        assert result.mcnemar_method == "exact"
        assert result.mcnemar_p_value == pytest.approx(stats.binomtest(3, 12, 0.5).pvalue)

    def test_chi_square_mcnemar_with_continuity_correction(self) -> None:
        # b = 30, c = 10: chi2 = (|30 - 10| - 1)^2 / 40 = 9.025, p = P(chi2_1 > 9.025) ~ 0.00266.
        base_ok = np.array([1] * 30 + [0] * 10 + [1] * 5, dtype=bool)
        small_ok = np.array([0] * 30 + [1] * 10 + [1] * 5, dtype=bool)
        result = prediction_agreement(np.where(base_ok, 0, 1), np.where(small_ok, 0, 1), np.zeros(45, dtype=int))
        assert result.mcnemar_method == "chi2"
        assert result.mcnemar_statistic == pytest.approx(9.025)
        assert result.mcnemar_p_value == pytest.approx(0.002663, abs=2e-6)

    def test_conventions_and_no_labels(self) -> None:
        same = np.array([1, 1, 1])
        result = prediction_agreement(same, same)
        assert result.cohen_kappa == 1.0 and result.agreement == 1.0
        assert result.base_accuracy is None and result.mcnemar_p_value is None and result.error_jaccard is None
        assert result.n_classes == 2
        perfect = prediction_agreement(same, same, same)
        assert perfect.error_jaccard == 1.0 and perfect.mcnemar_p_value == 1.0

    def test_accuracy_difference_interval(self) -> None:
        rng = np.random.default_rng(4)
        labels = rng.integers(0, 3, 400)
        base = np.where(rng.random(400) < 0.9, labels, (labels + 1) % 3)
        small = np.where(rng.random(400) < 0.7, labels, (labels + 2) % 3)
        result = prediction_agreement(base, small, labels, n_resamples=300, seed=2)
        low, high = result.accuracy_diff_ci
        assert low < result.accuracy_diff < high < 0

    @pytest.mark.parametrize(
        "kwargs,message",
        [
            ({"small_pred": [0, 1]}, r"small_pred has length 2, expected 3"),
            ({"base_pred": [0, 1, 3]}, r"base_pred\[2\] = 3 is not a class id in \[0, 3\)"),
            ({"labels": [0, 1.0, 2]}, r"labels must hold integer class ids"),
            ({"n_classes": 1}, r"n_classes must be >= 2, got 1"),
            ({"base_pred": [0, -1, 1]}, r"base_pred\[1\] = -1 is negative"),
            ({"n_resamples": -1}, r"n_resamples must be >= 0"),
        ],
    )
    def test_validation(self, kwargs: dict, message: str) -> None:
        arguments = {"base_pred": [0, 1, 2], "small_pred": [0, 1, 1], "labels": [0, 1, 2], "n_classes": 3}
        arguments.update(kwargs)
        with pytest.raises(InvalidInputError, match=message):
            prediction_agreement(**arguments)
