"""WEAT/SEAT statistics: hand-built embeddings, a loop implementation, properties, the null distribution of p.

The hand-computed cases use 2-D unit vectors whose cosines are 0, 1 or 1/sqrt(2), so every
association and effect size can be checked on paper (written out next to each case).
"""

from __future__ import annotations

import json
import math
from itertools import combinations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from trustaudit.exceptions import InvalidInputError
from trustaudit.metrics import (
    EffectSizeChange,
    FlipRateComparison,
    WeatResult,
    effect_size_change,
    effect_size_draws,
    flip_rate_comparison,
    get_metric,
    weat_associations,
    weat_effect_size,
    weat_test,
)
from trustaudit._bootstrap import count_weights, percentile_interval

E1, E2 = np.eye(2)
DIAGONAL = np.array([1.0, 1.0])


def loop_effect_size(x, y, a, b) -> float:
    """Caliskan et al.'s formulas written out with Python loops (the independent implementation)."""
    def cos(u, v):
        return sum(p * q for p, q in zip(u, v)) / math.sqrt(sum(p * p for p in u) * sum(q * q for q in v))

    def s(w):
        return sum(cos(w, v) for v in a) / len(a) - sum(cos(w, v) for v in b) / len(b)

    sx, sy = [s(w) for w in x], [s(w) for w in y]
    both = sx + sy
    mean = sum(both) / len(both)
    std = math.sqrt(sum((v - mean) ** 2 for v in both) / (len(both) - 1))
    return (sum(sx) / len(sx) - sum(sy) / len(sy)) / std


def loop_p_value(x, y, a, b) -> float:
    """Exact one-sided permutation p-value by enumerating every re-partition with loops."""
    s = weat_associations(np.vstack([x, y]), a, b)
    n_x = len(x)
    everything = range(len(s))
    observed = s[:n_x].mean() - s[n_x:].mean()
    count = total = 0
    for subset in combinations(everything, n_x):
        rest = [i for i in everything if i not in subset]
        total += 1
        count += s[list(subset)].mean() - s[rest].mean() >= observed - 1e-12
    return count / total


def random_sets(rng, sizes=(8, 8, 8, 8), dim=16):
    return [rng.normal(size=(n, dim)) for n in sizes]


class TestHandComputed:
    def test_targets_on_their_attributes(self) -> None:
        # A = {e1}, B = {e2}; X = {e1, e1}, Y = {e2, e2}: s(x) = 1 - 0 = 1, s(y) = 0 - 1 = -1.
        # mean difference 2; std of (1, 1, -1, -1) with ddof 1 = sqrt(4/3); d = 2 / sqrt(4/3) = sqrt(3).
        x, y, a, b = [E1, E1], [E2, E2], [E1], [E2]
        np.testing.assert_allclose(weat_associations(x + y, a, b), [1, 1, -1, -1])
        assert weat_effect_size(x, y, a, b) == pytest.approx(math.sqrt(3), abs=1e-12)
        result = weat_test(x, y, a, b)
        # C(4, 2) = 6 re-partitions; only the observed one reaches T = 2.
        assert result.exact and result.n_permutations == 6
        assert result.p_value == pytest.approx(1 / 6) and result.statistic == pytest.approx(2.0)
        assert (result.n_x, result.n_y, result.n_a, result.n_b) == (2, 2, 1, 1)

    def test_reversed_association_has_the_opposite_sign(self) -> None:
        assert weat_effect_size([E2, E2], [E1, E1], [E1], [E2]) == pytest.approx(-math.sqrt(3), abs=1e-12)
        assert weat_test([E2, E2], [E1, E1], [E1], [E2]).p_value == pytest.approx(1.0)

    def test_a_neutral_word_in_each_target_set(self) -> None:
        # X = {e1, (1,1)}, Y = {e2, (1,1)}: s = (1, 0) and (-1, 0); mean difference 0.5 - (-0.5) = 1;
        # std of (1, 0, -1, 0) = sqrt(2/3); d = sqrt(3/2). Since sum(s) = 0, T = sum over X_i;
        # the six re-partition sums are 1, 0, 1, -1, 0, -1: two reach the observed 1, p = 2/6.
        x, y, a, b = [E1, DIAGONAL], [E2, DIAGONAL], [E1], [E2]
        assert weat_effect_size(x, y, a, b) == pytest.approx(math.sqrt(1.5), abs=1e-12)
        assert weat_test(x, y, a, b).p_value == pytest.approx(1 / 3)

    def test_cosine_ignores_length(self) -> None:
        assert weat_effect_size([3 * E1, 0.5 * E1], [E2, 7 * E2], [2 * E1], [E2]) == pytest.approx(math.sqrt(3))

    def test_no_differential_association_gives_zero(self) -> None:
        # Every target is the diagonal: s = 1/sqrt(2) - 1/sqrt(2) = 0 everywhere -> std 0 -> undefined.
        assert math.isnan(weat_effect_size([DIAGONAL, DIAGONAL], [DIAGONAL, DIAGONAL], [E1], [E2]))
        # Equal means with spread: X = {e1, e2}, Y = {e2, e1} -> difference 0, d = 0.
        assert weat_effect_size([E1, E2], [E2, E1], [E1], [E2]) == 0.0


class TestAgainstLoops:
    @settings(max_examples=40, deadline=None)
    @given(seed=st.integers(0, 2**31), n_x=st.integers(1, 5), n_y=st.integers(1, 5), n_a=st.integers(1, 4), n_b=st.integers(1, 4))
    def test_effect_size_and_exact_p(self, seed, n_x, n_y, n_a, n_b) -> None:
        if n_x + n_y < 3:
            n_y = 2
        x, y, a, b = random_sets(np.random.default_rng(seed), (n_x, n_y, n_a, n_b), dim=5)
        assert weat_effect_size(x, y, a, b) == pytest.approx(loop_effect_size(x, y, a, b), abs=1e-10)
        result = weat_test(x, y, a, b)
        assert result.exact and result.n_permutations == math.comb(n_x + n_y, n_x)
        assert result.p_value == pytest.approx(loop_p_value(x, y, a, b))

    def test_bootstrap_draws_are_the_effect_sizes_of_the_resampled_words(self) -> None:
        base = random_sets(np.random.default_rng(1), (5, 4, 3, 6), dim=7)
        small = random_sets(np.random.default_rng(2), (5, 4, 3, 6), dim=3)
        d_base, d_small = effect_size_draws(base, small, n_resamples=30, seed=11)
        # The documented stream: one generator, indices for X, Y, A then B.
        rng = np.random.default_rng(11)
        idx = [rng.integers(0, n, size=(30, n)) for n in (5, 4, 3, 6)]
        for r in range(30):
            for sets, draws in ((base, d_base), (small, d_small)):
                picked = [s[i[r]] for s, i in zip(sets, idx)]
                expected = weat_effect_size(*picked)
                if math.isnan(expected):
                    assert math.isnan(draws[r])
                else:
                    assert draws[r] == pytest.approx(expected, abs=1e-10)


class TestProperties:
    @settings(max_examples=40, deadline=None)
    @given(seed=st.integers(0, 2**31), n=st.integers(2, 6))
    def test_symmetries_and_bounds(self, seed, n) -> None:
        rng = np.random.default_rng(seed)
        x, y, a, b = random_sets(rng, (n, n, 3, 3), dim=4)
        d = weat_effect_size(x, y, a, b)
        assert abs(d) < 2.0
        assert weat_effect_size(y, x, a, b) == pytest.approx(-d, abs=1e-10)
        assert weat_effect_size(x, y, b, a) == pytest.approx(-d, abs=1e-10)
        rotation, _ = np.linalg.qr(rng.normal(size=(4, 4)))
        scale = rng.uniform(0.1, 10, size=(n, 1))
        assert weat_effect_size(x @ rotation * scale, y @ rotation, a @ rotation, b @ rotation) == pytest.approx(d, abs=1e-9)
        forward, backward = weat_test(x, y, a, b), weat_test(y, x, a, b)
        assert 1 / math.comb(2 * n, n) <= forward.p_value <= 1.0
        # One-sided tails of the same enumeration: P(T >= t) + P(T <= t) = 1 + P(T = t) >= 1.
        assert forward.p_value + backward.p_value >= 1.0 - 1e-12

    def test_monte_carlo_p_estimates_the_exact_p(self) -> None:
        x, y, a, b = random_sets(np.random.default_rng(5), (7, 7, 6, 6))
        x = x + 0.3 * a.mean(axis=0)
        exact = weat_test(x, y, a, b)
        sampled = weat_test(x, y, a, b, exact_limit=1, n_permutations=20_000, seed=3)
        assert exact.exact and not sampled.exact and sampled.n_permutations == 20_000
        assert 0.001 < exact.p_value < 0.5
        standard_error = math.sqrt(exact.p_value * (1 - exact.p_value) / 20_000)
        assert abs(sampled.p_value - exact.p_value) < 4 * standard_error + 1 / 20_001
        assert weat_test(x, y, a, b, exact_limit=1, n_permutations=500, seed=3) == weat_test(
            x, y, a, b, exact_limit=1, n_permutations=500, seed=3)
        # The +1 correction: never below 1 / (n + 1), even for an extreme association.
        strong = weat_test([E1] * 5 + [E1 + 0.01 * E2], [E2] * 6, [E1], [E2], exact_limit=1, n_permutations=99)
        assert strong.p_value == pytest.approx(1 / 100)

    def test_unbiased_random_embeddings_give_large_uniform_p_values(self) -> None:
        ten = [weat_test(*random_sets(np.random.default_rng(seed), dim=32)).p_value for seed in range(10)]
        assert sum(p > 0.05 for p in ten) >= 8
        many = np.array([weat_test(*random_sets(np.random.default_rng(100 + seed), (6, 6, 5, 5), dim=8)).p_value
                         for seed in range(300)])
        # Under exchangeable targets the exact permutation p is uniform on its 924-point grid.
        assert stats.kstest(many, "uniform").pvalue > 0.01
        assert np.mean(many <= 0.05) < 0.1 and 0.4 < many.mean() < 0.6


class TestChange:
    def test_model_against_itself(self) -> None:
        sets = random_sets(np.random.default_rng(3), (8, 8, 6, 6))
        change = effect_size_change(sets, sets, n_resamples=200, seed=1)
        assert change.base == change.small and change.difference == 0.0
        assert change.difference_ci == (0.0, 0.0) and change.magnitude_difference_ci == (0.0, 0.0)
        assert change.absolute_difference_ci == (0.0, 0.0) and change.n_defined == 200

    def test_draws_are_paired(self) -> None:
        # Negating the targets negates every cosine with them, so on every resample d_small = -d_base:
        # the signed change is -2 d_base and the change of magnitude is exactly 0.
        x, y, a, b = random_sets(np.random.default_rng(4), (8, 8, 6, 6))
        x, y = x + 4 * a.mean(axis=0), y + 4 * b.mean(axis=0)
        d_base, d_small = effect_size_draws((x, y, a, b), (-x, -y, a, b), n_resamples=300, seed=2)
        np.testing.assert_allclose(d_small, -d_base, atol=1e-12)
        change = effect_size_change((x, y, a, b), (-x, -y, a, b), n_resamples=300, seed=2)
        assert change.difference == pytest.approx(-2 * change.base)
        assert change.magnitude_difference_ci == pytest.approx((0.0, 0.0), abs=1e-12)
        low, high = percentile_interval(-2 * d_base, 0.95)
        assert change.difference_ci == pytest.approx((low, high))
        assert change.difference_ci[1] < 0 < change.base

    def test_no_resamples_no_intervals_and_json_round_trip(self) -> None:
        sets = random_sets(np.random.default_rng(6), (4, 4, 3, 3))
        change = effect_size_change(sets, sets, n_resamples=0)
        assert change.difference_ci is None and change.n_defined == 0
        for value in (change, effect_size_change(sets, random_sets(np.random.default_rng(7), (4, 4, 3, 3)), n_resamples=50)):
            data = json.loads(json.dumps(value.to_dict()))
            assert EffectSizeChange.from_dict(data) == value
        undefined = weat_test([DIAGONAL, DIAGONAL], [DIAGONAL], [E1], [E2])
        data = json.loads(json.dumps(undefined.to_dict()))
        assert data["effect_size"] is None
        assert WeatResult.from_dict(data).to_dict() == undefined.to_dict()

    def test_the_gate_metric_is_registered(self) -> None:
        spec = get_metric("max_abs_effect_change")
        assert spec.name == "bias_effect_change_error" and not spec.higher_is_better and spec.lower == 0.0


class TestFlipRates:
    # Six texts: base flips on 0, 1, 4; small on 0, 2, 3, 4. Discordant: b = 1 (text 1), c = 2 (texts 2, 3).
    BASE = np.array([1, 1, 0, 0, 1, 0], dtype=bool)
    SMALL = np.array([1, 0, 1, 1, 1, 0], dtype=bool)

    def test_hand_computed(self) -> None:
        result = flip_rate_comparison(self.BASE, self.SMALL, n_resamples=0)
        assert (result.n, result.base_flips, result.small_flips, result.base_only, result.small_only) == (6, 3, 4, 1, 2)
        assert result.base_flip_rate == 0.5 and result.small_flip_rate == pytest.approx(4 / 6)
        assert result.difference == pytest.approx(1 / 6)
        # Exact McNemar: 2 P(K <= 1), K ~ Bin(3, 1/2) = 2 (1 + 3) / 8 = 1; one-sided P(K >= 2) = (3 + 1) / 8.
        assert result.mcnemar_method == "exact" and result.mcnemar_p_value == pytest.approx(1.0)
        assert result.p_value_small_more == pytest.approx(0.5)
        assert result.difference_ci is None

    def test_bootstrap_matches_a_loop_over_the_same_resamples(self) -> None:
        result = flip_rate_comparison(self.BASE, self.SMALL, n_resamples=200, seed=4)
        draws = [float(w @ (self.SMALL.astype(float) - self.BASE) / 6) for chunk in count_weights(6, 200, 4) for w in chunk]
        assert result.difference_ci == pytest.approx(percentile_interval(np.array(draws), 0.95))

    def test_one_sided_p_is_small_only_when_the_small_model_flips_more(self) -> None:
        more = flip_rate_comparison(np.zeros(40, bool), np.arange(40) < 12, n_resamples=0)
        assert more.p_value_small_more == pytest.approx(0.5**12) and more.mcnemar_p_value == pytest.approx(2 * 0.5**12)
        fewer = flip_rate_comparison(np.arange(40) < 12, np.zeros(40, bool), n_resamples=0)
        assert fewer.p_value_small_more == 1.0
        chi2 = flip_rate_comparison(np.zeros(60, bool), np.arange(60) < 30, n_resamples=0)
        assert chi2.mcnemar_method == "chi2" and chi2.mcnemar_statistic == pytest.approx(29**2 / 30)

    def test_no_texts_and_json(self) -> None:
        empty = flip_rate_comparison([], [], n_resamples=100)
        assert empty.n == 0 and math.isnan(empty.base_flip_rate) and empty.mcnemar_p_value == 1.0
        for value in (empty, flip_rate_comparison(self.BASE, self.SMALL, n_resamples=50)):
            data = json.loads(json.dumps(value.to_dict()))
            assert FlipRateComparison.from_dict(data).to_dict() == value.to_dict()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: weat_effect_size([E1, np.zeros(2)], [E2], [E1], [E2]), r"X\[1\] is the zero vector"),
        (lambda: weat_effect_size([E1], [E2], [[1.0, 0.0, 0.0]], [E2]), "A has embeddings of size 3, the other sets 2"),
        (lambda: weat_effect_size([], [E2], [E1], [E2]), "X must be a 2-D"),
        (lambda: weat_effect_size([[np.nan, 1.0]], [E2], [E1], [E2]), "values must be finite"),
        (lambda: weat_test([E1], [E2], [E1], [E2], n_permutations=0), "n_permutations"),
        (lambda: effect_size_draws([[E1]] * 4, [[E1, E2]] * 4), "different numbers of words"),
        (lambda: effect_size_change([[E1]] * 3, [[E1]] * 4), "four embedding sets"),
        (lambda: flip_rate_comparison([1, 0], [1]), "small_flipped has 1 entries"),
        (lambda: flip_rate_comparison([2, 0], [1, 0]), "booleans"),
    ],
)
def test_bad_inputs_get_clear_errors(call, message) -> None:
    with pytest.raises(InvalidInputError, match=message):
        call()
