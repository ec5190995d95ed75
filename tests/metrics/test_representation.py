"""Linear CKA: invariances, hand-computed cases, both computation forms, the bootstrap and the self-reference."""

from __future__ import annotations

import numpy as np
import pytest

from trustaudit.exceptions import InvalidInputError
from trustaudit.metrics import representation as rep
from trustaudit.metrics.representation import cka_matrix, linear_cka, representation_similarity


def _hsic_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Independent implementation: HSIC with the centring matrix H, tr(KHLH) / sqrt(tr(KHKH) tr(LHLH))."""
    n = x.shape[0]
    h = np.eye(n) - np.ones((n, n)) / n
    k, l_ = x @ x.T, y @ y.T
    hsic = lambda a, b: np.trace(a @ h @ b @ h)  # noqa: E731
    return hsic(k, l_) / np.sqrt(hsic(k, k) * hsic(l_, l_))


@pytest.fixture()
def xy(rng):
    x = rng.normal(size=(40, 6))
    return x, x @ rng.normal(size=(6, 4)) + 0.7 * rng.normal(size=(40, 4))


def test_a_representation_against_itself_is_one(xy) -> None:
    x, _ = xy
    assert linear_cka(x, x) == pytest.approx(1.0, abs=1e-12)


def test_orthogonal_rotation_isotropic_scale_and_shift_leave_it_at_one(xy, rng) -> None:
    x, y = xy
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    assert linear_cka(x, 2.5 * x @ q + 3.0) == pytest.approx(1.0, abs=1e-12)
    assert linear_cka(x @ q, y) == pytest.approx(linear_cka(x, y), abs=1e-12)
    stretch = np.diag([1.0, 1.0, 1.0, 1.0, 1.0, 20.0])  # invertible but not orthogonal: not invariant
    assert linear_cka(x, x @ stretch) < 0.9


def test_hand_computed_cases() -> None:
    # one feature each: CKA is the squared Pearson correlation; centred x = (-1, 0, 1), y = (-1, 1, 0): (1/2)^2
    assert linear_cka([[1.0], [2.0], [3.0]], [[1.0], [3.0], [2.0]]) == pytest.approx(0.25)
    # x: the four unit vectors +-e1, +-e2 (centred); y: their first coordinate.
    # x^T x = 2I (norm sqrt 8), y^T y = 2, y^T x = (2, 0): 4 / (sqrt(8) * 2) = 1/sqrt(2)
    x = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    assert linear_cka(x, x[:, :1]) == pytest.approx(1 / np.sqrt(2))


@pytest.mark.parametrize("n, d1, d2", [(50, 3, 2), (6, 40, 30)])
def test_feature_and_gram_forms_match_the_hsic_definition(rng, n, d1, d2) -> None:
    x, y = rng.normal(size=(n, d1)), rng.normal(size=(n, d2))
    assert rep._use_gram(n, d1, d2) == (n < d1)
    assert linear_cka(x, y) == pytest.approx(_hsic_cka(x, y), rel=1e-10)
    assert 0.0 <= linear_cka(x, y) <= 1.0


@pytest.mark.parametrize("n", [30, 4])
def test_layer_matrix_equals_pairwise_cka(rng, n) -> None:
    xs = [rng.normal(size=(n, 8)) for _ in range(3)]
    ys = [xs[0] @ rng.normal(size=(8, 5)), rng.normal(size=(n, 5))]
    matrix = cka_matrix(xs, ys)
    assert matrix.shape == (3, 2)
    expected = np.array([[linear_cka(x, y) for y in ys] for x in xs])
    np.testing.assert_allclose(matrix, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.diag(cka_matrix(xs, xs)), 1.0)
    constant = np.ones((n, 8))  # e.g. BERT's [CLS] vector out of the embeddings: the same for every text
    with_constant = cka_matrix([constant, *xs], ys)
    assert np.isnan(with_constant[0]).all()
    np.testing.assert_allclose(with_constant[1:], expected, rtol=1e-10, atol=1e-12)


def test_weighted_hsic_is_the_resample_with_copies_of_a_row_counted_once(xy, rng) -> None:
    x, y = xy
    n = x.shape[0]
    xc, yc = x - x.mean(0), y - y.mean(0)
    k, l_ = xc @ xc.T, yc @ yc.T
    ones = np.ones((1, n))
    plain = rep._hsic_weighted(k, l_, ones)[0] / np.sqrt(rep._hsic_weighted(k, k, ones)[0] * rep._hsic_weighted(l_, l_, ones)[0])
    assert plain == pytest.approx(linear_cka(x, y), rel=1e-10)
    drawn = rng.integers(0, n, size=n)
    weights = np.bincount(drawn, minlength=n).astype(float)[None, :]
    # brute force on the resampled rows: centred Gram matrices, pairs of distinct copies of one row left out
    xr, yr = x[drawn] - x[drawn].mean(0), y[drawn] - y[drawn].mean(0)
    keep = (drawn[:, None] != drawn[None, :]) | np.eye(n, dtype=bool)

    def brute(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.sum(keep * (a @ a.T) * (b @ b.T)))

    expected = brute(xr, yr) / np.sqrt(brute(xr, xr) * brute(yr, yr))
    got = rep._hsic_weighted(k, l_, weights)[0] / np.sqrt(
        rep._hsic_weighted(k, k, weights)[0] * rep._hsic_weighted(l_, l_, weights)[0])
    assert got == pytest.approx(expected, rel=1e-9)


def test_interval_surrounds_the_estimate_and_is_reproducible(rng) -> None:
    z = rng.normal(size=(300, 4))
    base = z @ rng.normal(size=(4, 24)) + 0.5 * rng.normal(size=(300, 24))
    small = z[:, :3] @ rng.normal(size=(3, 12)) + 0.5 * rng.normal(size=(300, 12))
    result = representation_similarity(base, small, n_resamples=300, seed=3)
    low, high = result.cka_ci
    assert low < result.cka < high and high - low < 0.2
    again = representation_similarity(base, small, n_resamples=300, seed=3)
    assert again.cka_ci == result.cka_ci and again.self_reference == result.self_reference
    assert (result.n, result.base_width, result.small_width) == (300, 24, 12)
    assert representation_similarity(base, small, n_resamples=0).cka_ci is None
    assert result.to_dict()["cka"] == result.cka


def test_self_reference_is_the_base_against_itself_with_rows_unmatched(rng) -> None:
    z = rng.normal(size=(200, 3))
    base = z @ rng.normal(size=(3, 16)) + 0.3 * rng.normal(size=(200, 16))
    q, _ = np.linalg.qr(rng.normal(size=(16, 16)))
    result = representation_similarity(base, base @ q, n_resamples=0, n_reference=5, seed=2)
    assert result.cka == pytest.approx(1.0) and result.normalized == pytest.approx(1.0)
    draws_rng = np.random.default_rng([2, 1])
    draws = []
    for _ in range(5):
        first, second = draws_rng.integers(0, 200, 200), draws_rng.integers(0, 200, 200)
        draws.append(_hsic_cka(base[first] - base[first].mean(0), base[second] - base[second].mean(0)))
    assert result.self_reference == pytest.approx(np.mean(draws), abs=1e-5)
    assert 0 < result.self_reference < 0.2  # unmatched rows: far below the matched 1
    assert result.self_reference_ci[0] <= result.self_reference <= result.self_reference_ci[1]


def test_bad_inputs_name_the_argument(rng, monkeypatch) -> None:
    x = rng.normal(size=(10, 3))
    with pytest.raises(InvalidInputError, match="y has 9 rows but x has 10"):
        linear_cka(x, x[:9])
    with pytest.raises(InvalidInputError, match="x is the same for every row"):
        linear_cka(np.ones((10, 3)), x)
    with pytest.raises(InvalidInputError, match="2-D"):
        linear_cka(x[:, 0], x)
    with pytest.raises(InvalidInputError, match="finite"):
        linear_cka(np.where(x > 1, np.nan, x), x)
    with pytest.raises(InvalidInputError, match="at least one layer"):
        cka_matrix([], [x])
    monkeypatch.setattr(rep, "MAX_BOOTSTRAP_ROWS", 5)
    with pytest.raises(InvalidInputError, match="bootstraps at most 5 rows, got 10"):
        representation_similarity(x, x)
    assert representation_similarity(x, x, n_resamples=0).cka == pytest.approx(1.0)
