"""Representation similarity of two models over the same rows: linear CKA (Kornblith et al. 2019).

Rows of ``x (n, d1)`` and ``y (n, d2)`` are the same examples seen by two models (or two
layers). With each column centred (``x̃ = x - mean``),

    CKA(x, y) = ||ỹᵀ x̃||_F² / (||x̃ᵀ x̃||_F · ||ỹᵀ ỹ||_F)
              = HSIC(K, L) / sqrt(HSIC(K, K) · HSIC(L, L)),

where ``K = x xᵀ`` and ``L = y yᵀ`` are linear-kernel Gram matrices and ``HSIC(K, L) =
tr(K H L H)`` with the centring matrix ``H = I - 11ᵀ/n`` (the ``1/(n-1)²`` factors of HSIC
cancel). The two forms are equal; the feature form costs ``O(n·d1·d2)``, the Gram form
``O(n²·(d1 + d2))``, and the cheaper one is used. CKA is in [0, 1], 1 when ``y`` is ``x``
up to an orthogonal transform, an isotropic scaling and a translation (it is invariant to
those, not to arbitrary invertible linear maps), so models of different widths compare.

Reference: Kornblith, Norouzi, Lee, Hinton (2019), "Similarity of Neural Network
Representations Revisited", ICML, eq. (3)-(5).

Intervals are paired percentile bootstraps over rows (the same rows drawn for both
models). A resample with count weights ``w`` (``w_i`` copies of row ``i``, ``Σw = n``) has
``HSIC_w(K, L) = Σ_ij w_i w_j K̃_ij L̃_ij`` with ``K̃`` centred under ``w``; expanding the
centring gives

    HSIC_w(K, L) = wᵀ(K∘L)w − 2n Σ_i w_i a_i b_i + n² c e,
    a = Kw/n, b = Lw/n, c = wᵀKw/n², e = wᵀLw/n²,

so each resample costs ``O(n²)`` matrix-vector work, not a pass over the features. One
correction: CKA pairs every row with itself (the diagonal terms ``K̃_ii L̃_ii``, large and
perfectly aligned in both spaces), and a resample drawn with replacement also pairs each
copy of a row with its other copies, ``w_i²`` such terms instead of ``w_i``. Left in, they
push every resample's CKA up (by 0.06-0.08 on random 384-wide features of 1,000-2,000 rows,
so that the percentile interval missed the estimate itself); the copies of a row are
therefore counted as the original sample counts a row, ``w_i`` times:
``HSIC_w − Σ_i (w_i² − w_i) K̃_ii L̃_ii``, after which the bootstrap distribution is centred
on the estimate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from trustaudit.exceptions import InvalidInputError
from trustaudit._bootstrap import count_weights, percentile_interval
from trustaudit._json import to_jsonable
from trustaudit._validation import check_finite, check_int, check_open_unit
from trustaudit._deprecation import renamed_attribute, renamed_keywords

__all__ = [
    "MAX_BOOTSTRAP_ROWS",
    "RepresentationSimilarity",
    "cka_matrix",
    "linear_cka",
    "representation_similarity",
]

#: Most rows :func:`representation_similarity` bootstraps (two ``n x n`` Gram matrices are held).
MAX_BOOTSTRAP_ROWS = 5000
_ROW_CHUNK = 512


def _features(value: ArrayLike, name: str, n: int | None = None) -> np.ndarray:
    """``value`` as a finite float64 ``(n, d)`` matrix with at least 2 rows (and ``n`` rows when given)."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} cannot be read as an array: {exc}") from exc
    if array.dtype == bool or not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise InvalidInputError(f"{name} must be numeric, got dtype {array.dtype}")
    if array.ndim != 2:
        raise InvalidInputError(f"{name} must be 2-D (rows, features), got shape {array.shape}")
    if array.shape[0] < 2 or array.shape[1] < 1:
        raise InvalidInputError(f"{name} needs at least 2 rows and 1 feature, got shape {array.shape}")
    if n is not None and array.shape[0] != n:
        raise InvalidInputError(f"{name} has {array.shape[0]} rows but x has {n}; the rows must be the same examples")
    array = array.astype(np.float64, copy=False)
    check_finite(array, name)
    return array


def _centred(array: np.ndarray, name: str) -> np.ndarray:
    centred = array - array.mean(axis=0, keepdims=True)
    if not np.any(centred):
        raise InvalidInputError(f"{name} is the same for every row; CKA is undefined without variation")
    return centred


def _use_gram(n: int, d1: int, d2: int) -> bool:
    """Whether the Gram form is cheaper than the feature form for these sizes."""
    return n * (d1 + d2) < d1 * d2 + d1 * d1 + d2 * d2


def _cka_centred(xc: np.ndarray, yc: np.ndarray) -> float:
    n, d1 = xc.shape
    d2 = yc.shape[1]
    if _use_gram(n, d1, d2):
        k, l_ = xc @ xc.T, yc @ yc.T
        value = float(np.sum(k * l_) / np.sqrt(np.sum(k * k) * np.sum(l_ * l_)))
    else:
        cross = np.linalg.norm(yc.T @ xc) ** 2
        value = float(cross / (np.linalg.norm(xc.T @ xc) * np.linalg.norm(yc.T @ yc)))
    return min(1.0, max(0.0, value))


def linear_cka(x: ArrayLike, y: ArrayLike) -> float:
    """Linear CKA of two representations of the same ``n`` rows (see the module docstring).

    ``x (n, d1)`` and ``y (n, d2)``: row ``i`` of each is example ``i``. Returns a value in
    [0, 1]; a representation that does not vary over the rows is an input error.
    """
    xa = _features(x, "x")
    ya = _features(y, "y", xa.shape[0])
    return _cka_centred(_centred(xa, "x"), _centred(ya, "y"))


def cka_matrix(xs: Sequence[ArrayLike], ys: Sequence[ArrayLike]) -> np.ndarray:
    """``(len(xs), len(ys))`` linear CKA of every pair of layers, e.g. a base's and a small model's.

    ``xs[i]`` and ``ys[j]`` are ``(n, d)`` representations of the same ``n`` rows (widths may
    differ). Entry ``(i, j)`` equals ``linear_cka(xs[i], ys[j])``, except that a layer that is
    the same for every row -- the ``[CLS]`` vector of the embeddings is, in BERT -- gives NaN
    in its row or column instead of an error. Each layer's normaliser is computed once.
    """
    if len(xs) == 0 or len(ys) == 0:
        raise InvalidInputError("cka_matrix needs at least one layer on each side")
    n = _features(xs[0], "xs[0]").shape[0]

    def centred(values: ArrayLike, name: str) -> np.ndarray | None:
        array = _features(values, name, n)
        array = array - array.mean(axis=0, keepdims=True)
        return array if np.any(array) else None

    left = [centred(x, f"xs[{i}]") for i, x in enumerate(xs)]
    right = [centred(y, f"ys[{j}]") for j, y in enumerate(ys)]
    varying = [a for a in left + right if a is not None]
    gram = bool(varying) and n < float(np.mean([a.shape[1] for a in varying]))

    def prepared(a: np.ndarray | None) -> tuple[np.ndarray, float] | None:
        if a is None:
            return None
        inner = a @ a.T if gram else a.T @ a
        return (inner if gram else a), float(np.linalg.norm(inner))

    lhs, rhs = [prepared(a) for a in left], [prepared(b) for b in right]
    out = np.full((len(xs), len(ys)), np.nan)
    for i, p in enumerate(lhs):
        for j, q in enumerate(rhs):
            if p is None or q is None:
                continue
            cross = np.sum(p[0] * q[0]) if gram else np.linalg.norm(q[0].T @ p[0]) ** 2
            out[i, j] = cross / (p[1] * q[1])
    return np.clip(out, 0.0, 1.0)


@dataclass(frozen=True)
class RepresentationSimilarity:
    """Linear CKA of a base and a small model's representations of the same rows, with references.

    ``cka`` is :func:`linear_cka` of the two; ``cka_ci`` its paired percentile bootstrap
    interval over rows (copies of a row within a resample corrected for, see the module
    docstring). ``self_reference`` is the base compared with itself on a resample:
    the mean, over ``n_reference`` draws, of CKA between the base's representation of one
    bootstrap resample of the rows and of another, independent one, matched position by
    position -- so the rows no longer correspond. It is the CKA the shape of the base's
    representation gives by itself (its spectrum, its anisotropy, the finite-sample bias of
    CKA at this ``n`` and width) without any row-wise correspondence: the floor to read
    ``cka`` against, with ``self_reference_ci`` the central ``ci_level`` range of those
    draws. (The base against itself on the same rows is 1 by definition, so it is no
    reference.) ``normalized`` is ``(cka - self_reference) / (1 - self_reference)``: 0 at
    the floor, 1 for identical representations up to rotation and scale.
    """

    n: int
    base_width: int
    small_width: int
    cka: float
    cka_ci: tuple[float, float] | None
    self_reference: float
    self_reference_ci: tuple[float, float]
    normalized: float
    n_resamples: int
    n_reference: int
    seed: int
    ci_level: float

    confidence = renamed_attribute("confidence", "ci_level")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe plain-Python form."""
        return to_jsonable(self)


def _hsic_weighted(k: np.ndarray, l_: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Copy-corrected ``HSIC_w(K, L)`` for every row ``w`` of ``weights (b, n)`` (module docstring).

    ``K∘L`` is built in row chunks, so only ``K`` and ``L`` are held whole.
    """
    n = k.shape[0]
    kw, lw = weights @ k, weights @ l_  # (b, n): n·a and n·b per resample
    quad = np.zeros(weights.shape[0])
    for start in range(0, n, _ROW_CHUNK):
        rows = slice(start, start + _ROW_CHUNK)
        quad += np.einsum("br,br->b", weights[:, rows], weights @ (k[:, rows] * l_[:, rows]))
    a, b = kw / n, lw / n
    c = np.einsum("bn,bn->b", weights, kw) / n**2
    e = np.einsum("bn,bn->b", weights, lw) / n**2
    hsic = quad - 2 * n * np.einsum("bn,bn,bn->b", weights, a, b) + n**2 * c * e
    k_diag = np.diag(k)[None, :] - 2 * a + c[:, None]
    l_diag = np.diag(l_)[None, :] - 2 * b + e[:, None]
    return hsic - np.einsum("bn,bn->b", weights * weights - weights, k_diag * l_diag)


def _reference_draws(xc: np.ndarray, n_reference: int, seed: int) -> np.ndarray:
    """CKA of ``xc`` on two independent bootstrap resamples of its rows, ``n_reference`` times.

    Computed in float32 (a floor read to two decimals does not need more; it halves the time).
    """
    rng = np.random.default_rng([seed, 1])
    n = xc.shape[0]
    single = xc.astype(np.float32)
    out = np.empty(n_reference)
    for r in range(n_reference):
        first, second = rng.integers(0, n, size=n), rng.integers(0, n, size=n)
        a, b = single[first], single[second]
        out[r] = _cka_centred(a - a.mean(axis=0), b - b.mean(axis=0))
    return out


@renamed_keywords(confidence="ci_level")
def representation_similarity(
    base: ArrayLike,
    small: ArrayLike,
    *,
    n_resamples: int = 1000,
    n_reference: int = 20,
    seed: int = 0,
    ci_level: float = 0.95,
) -> RepresentationSimilarity:
    """Linear CKA of ``base (n, d1)`` and ``small (n, d2)`` with a bootstrap interval and the base's self-reference.

    See :class:`RepresentationSimilarity` for what each figure means. The interval resamples
    rows with the multinomial count weights of
    :func:`~trustaudit._bootstrap.count_weights` (seeded, so it is paired with the
    other bootstrap metrics of an audit); ``n_resamples=0`` leaves it out. Bootstrapping
    holds two ``n x n`` matrices, so at most :data:`MAX_BOOTSTRAP_ROWS` rows are accepted
    with ``n_resamples > 0``: subsample the rows first.
    """
    x = _features(base, "base")
    y = _features(small, "small", x.shape[0])
    n_resamples = check_int(n_resamples, "n_resamples", 0)
    n_reference = check_int(n_reference, "n_reference", 1)
    seed = check_int(seed, "seed", 0)
    ci_level = check_open_unit(ci_level, "ci_level")
    n = x.shape[0]
    if n_resamples and n > MAX_BOOTSTRAP_ROWS:
        raise InvalidInputError(
            f"representation_similarity bootstraps at most {MAX_BOOTSTRAP_ROWS:,} rows, got {n:,}; subsample the "
            "rows or pass n_resamples=0"
        )
    xc, yc = _centred(x, "base"), _centred(y, "small")
    cka = _cka_centred(xc, yc)
    interval = None
    if n_resamples:
        k, l_ = xc @ xc.T, yc @ yc.T
        draws = []
        for weights in count_weights(n, n_resamples, seed):
            cross = _hsic_weighted(k, l_, weights)
            norm = np.sqrt(np.clip(_hsic_weighted(k, k, weights), 0, None) * np.clip(_hsic_weighted(l_, l_, weights), 0, None))
            with np.errstate(invalid="ignore", divide="ignore"):
                draws.append(np.clip(cross / norm, 0.0, 1.0))
        samples = np.concatenate(draws)
        samples = samples[np.isfinite(samples)]
        interval = percentile_interval(samples, ci_level) if samples.size else None
    reference = _reference_draws(xc, n_reference, seed)
    floor = float(reference.mean())
    return RepresentationSimilarity(
        n=n,
        base_width=x.shape[1],
        small_width=y.shape[1],
        cka=cka,
        cka_ci=interval,
        self_reference=floor,
        self_reference_ci=percentile_interval(reference, ci_level),
        normalized=(cka - floor) / (1.0 - floor) if floor < 1.0 else float("nan"),
        n_resamples=n_resamples,
        n_reference=n_reference,
        seed=seed,
        ci_level=ci_level,
    )
