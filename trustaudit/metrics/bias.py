"""Embedding association tests (WEAT/SEAT): effect size, permutation p-value, paired bootstrap of a change.

A test has two *target* sets X, Y (e.g. European- and African-American names) and two
*attribute* sets A, B (pleasant and unpleasant words), each an ``(n, dim)`` array of
embeddings, one row per word. Following Caliskan et al. 2017 ("Semantics derived
automatically from language corpora contain human-like biases", Science 356:183-186,
Methods), with cos the cosine similarity:

* association of a word: ``s(w, A, B) = mean_{a in A} cos(w, a) - mean_{b in B} cos(w, b)``;
* effect size: ``d = (mean_{x in X} s(x, A, B) - mean_{y in Y} s(y, A, B)) / std_{w in X u Y} s(w, A, B)``,
  the standard deviation with ``ddof = 1``. It is a standardised mean difference: positive
  when X is closer to A (and Y to B) than the other way round, 0 when there is no
  differential association. With ``|X| = |Y|``, ``|d| < 2``;
* one-sided permutation p-value: the share of the equal-size re-partitions ``(X_i, Y_i)`` of
  ``X u Y`` whose statistic is at least the observed one. The statistic is the difference of
  mean associations ``mean_{X_i} s - mean_{Y_i} s`` (Caliskan use the difference of sums,
  which orders the partitions identically when ``|X| = |Y|``; the mean also allows unequal
  sizes). All ``C(|X|+|Y|, |X|)`` partitions are enumerated when there are at most
  ``exact_limit`` of them (the observed one included, so ``p >= 1 / C``); otherwise
  ``n_permutations`` seeded random re-partitions give ``p = (1 + #{T_i >= T}) / (1 + n)``
  (Phipson & Smyth 2010, "Permutation p-values should never be zero").

May et al. 2019 ("On measuring social biases in sentence encoders", NAACL; SEAT) apply the
same statistics to sentence embeddings of the words placed in bleached template sentences;
:mod:`trustaudit.bias` builds those embeddings, and this module only sees arrays.

The change of bias between two models is ``d_small - d_base`` over the same words. Its
interval is a paired percentile bootstrap over the word sets: each resample draws, with
replacement, ``|X|`` words from X, ``|Y|`` from Y, ``|A|`` from A and ``|B|`` from B, the
same words for both models, and recomputes both effect sizes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations, islice
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from trustaudit.exceptions import InvalidInputError
from trustaudit._bootstrap import count_weights, percentile_interval
from trustaudit._deprecation import read_renamed, renamed_attribute, renamed_keywords
from trustaudit._json import to_jsonable
from trustaudit._validation import check_finite, check_int, check_open_unit
from trustaudit.metrics.agreement import _mcnemar

__all__ = [
    "EXACT_LIMIT",
    "EffectSizeChange",
    "FlipRateComparison",
    "WeatResult",
    "change_from_draws",
    "effect_size_change",
    "effect_size_draws",
    "flip_rate_comparison",
    "permutation_p_value",
    "weat_associations",
    "weat_effect_size",
    "weat_test",
]

#: Largest number of re-partitions enumerated exactly; above it the p-value is Monte-Carlo.
EXACT_LIMIT = 100_000
SET_NAMES = ("X", "Y", "A", "B")
_PERMUTATION_CHUNK = 20_000


def _check_embeddings(values: ArrayLike, name: str, dim: int | None = None) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} cannot be read as a numeric array: {exc}") from exc
    if array.ndim != 2 or array.shape[0] < 1 or array.shape[1] < 1:
        raise InvalidInputError(f"{name} must be a 2-D (words, dim) array with at least one word, got shape {array.shape}")
    if dim is not None and array.shape[1] != dim:
        raise InvalidInputError(f"{name} has embeddings of size {array.shape[1]}, the other sets {dim}")
    check_finite(array, name)
    norms = np.linalg.norm(array, axis=1)
    if np.any(norms == 0.0):
        raise InvalidInputError(f"{name}[{int(np.argmin(norms))}] is the zero vector; its cosine similarity is undefined")
    return array


def _check_sets(sets: Sequence[ArrayLike], prefix: str = "") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if len(sets) != 4:
        raise InvalidInputError(f"{prefix or 'sets'} must be the four embedding sets (X, Y, A, B), got {len(sets)}")
    first = _check_embeddings(sets[0], f"{prefix}X")
    rest = [_check_embeddings(s, f"{prefix}{n}", first.shape[1]) for s, n in zip(sets[1:], SET_NAMES[1:])]
    return first, rest[0], rest[1], rest[2]


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _cosines(x: np.ndarray, y: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cosine matrices of the targets ``X u Y`` (rows, X first) with A and with B."""
    targets = _unit(np.vstack([x, y]))
    return targets @ _unit(a).T, targets @ _unit(b).T


def _effect_size(s: np.ndarray, n_x: int) -> float:
    spread = float(np.std(s, ddof=1)) if s.shape[0] > 1 else 0.0
    if spread == 0.0 or not math.isfinite(spread):
        return math.nan
    return float((np.mean(s[:n_x]) - np.mean(s[n_x:])) / spread)


def weat_associations(words: ArrayLike, attribute_a: ArrayLike, attribute_b: ArrayLike) -> np.ndarray:
    """``s(w, A, B) = mean_a cos(w, a) - mean_b cos(w, b)`` for every row w of ``words``.

    Caliskan et al. 2017, Methods ("WEAT"). Rows must be non-zero (cosine is undefined
    otherwise); returns a float64 vector, one entry per word, each in [-2, 2].
    """
    w = _check_embeddings(words, "words")
    a = _check_embeddings(attribute_a, "attribute_a", w.shape[1])
    b = _check_embeddings(attribute_b, "attribute_b", w.shape[1])
    unit = _unit(w)
    return (unit @ _unit(a).T).mean(axis=1) - (unit @ _unit(b).T).mean(axis=1)


def weat_effect_size(x: ArrayLike, y: ArrayLike, a: ArrayLike, b: ArrayLike) -> float:
    """WEAT/SEAT effect size ``d`` of targets X, Y against attributes A, B.

    ``d = (mean_{x in X} s(x, A, B) - mean_{y in Y} s(y, A, B)) / std_{w in X u Y} s(w, A, B)``
    with the sample standard deviation (``ddof = 1``); Caliskan et al. 2017, Methods; May et
    al. 2019, section 2. NaN when every word of ``X u Y`` has the same association (the
    standard deviation is 0 and d is undefined).
    """
    xs, ys, as_, bs = _check_sets((x, y, a, b))
    with_a, with_b = _cosines(xs, ys, as_, bs)
    return _effect_size(with_a.mean(axis=1) - with_b.mean(axis=1), xs.shape[0])


@dataclass(frozen=True)
class WeatResult:
    """Effect size and one-sided permutation p-value of one association test on one embedding.

    ``statistic`` is the observed difference of mean associations
    ``mean_X s - mean_Y s``. ``exact`` tells whether every re-partition was enumerated
    (``n_permutations`` is then their number) or ``n_permutations`` random ones were drawn
    with ``seed``. ``effect_size`` is NaN (``None`` in JSON) when undefined.
    """

    effect_size: float
    p_value: float
    statistic: float
    exact: bool
    n_permutations: int
    seed: int
    n_x: int
    n_y: int
    n_a: int
    n_b: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe plain-Python form (NaN becomes ``None``)."""
        return to_jsonable(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WeatResult:
        """Rebuild from :meth:`to_dict`."""
        return cls(
            effect_size=_float(data["effect_size"]),
            p_value=_float(data["p_value"]),
            statistic=_float(data["statistic"]),
            exact=bool(data["exact"]),
            **{key: int(data[key]) for key in ("n_permutations", "seed", "n_x", "n_y", "n_a", "n_b")},
        )


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


def _partition_sums(s: np.ndarray, n_x: int, n_permutations: int, exact_limit: int, seed: int) -> tuple[np.ndarray, bool]:
    """Sums of s over the X side of every (exact) or of random re-partitions."""
    n = s.shape[0]
    if math.comb(n, n_x) <= exact_limit:
        chunks = []
        subsets = combinations(range(n), n_x)
        while block := list(islice(subsets, _PERMUTATION_CHUNK)):
            chunks.append(s[np.array(block, dtype=np.intp)].sum(axis=1))
        return np.concatenate(chunks), True
    rng = np.random.default_rng(seed)
    sums = []
    done = 0
    while done < n_permutations:
        size = min(_PERMUTATION_CHUNK, n_permutations - done)
        order = rng.permuted(np.tile(np.arange(n), (size, 1)), axis=1)
        sums.append(s[order[:, :n_x]].sum(axis=1))
        done += size
    return np.concatenate(sums), False


def permutation_p_value(s: np.ndarray, n_x: int, *, n_permutations: int, exact_limit: int, seed: int) -> tuple[float, float, bool, int]:
    """(p, observed statistic, exact, number of partitions) of the one-sided permutation test on associations ``s``.

    ``s`` holds the associations of X (first ``n_x`` entries) then Y. Statistics within
    ``1e-12`` (relative to the associations' scale) of the observed one count as ties, so
    the observed partition always counts, however the sums were rounded.
    """
    n = s.shape[0]
    n_y = n - n_x
    total = float(s.sum())
    observed_sum = float(s[:n_x].sum())
    observed = observed_sum / n_x - (total - observed_sum) / n_y
    sums, exact = _partition_sums(s, n_x, n_permutations, exact_limit, seed)
    statistics = sums / n_x - (total - sums) / n_y
    tolerance = 1e-12 * max(1.0, float(np.abs(s).max())) * n
    at_least = int(np.count_nonzero(statistics >= observed - tolerance))
    if exact:
        return at_least / sums.shape[0], observed, True, int(sums.shape[0])
    return (1 + at_least) / (1 + sums.shape[0]), observed, False, int(sums.shape[0])


def weat_test(
    x: ArrayLike,
    y: ArrayLike,
    a: ArrayLike,
    b: ArrayLike,
    *,
    n_permutations: int = 10_000,
    exact_limit: int = EXACT_LIMIT,
    seed: int = 0,
) -> WeatResult:
    """Effect size and one-sided permutation p-value of a WEAT/SEAT test (see the module docstring).

    ``p = P_i[mean_{X_i} s - mean_{Y_i} s >= mean_X s - mean_Y s]`` over the re-partitions
    ``(X_i, Y_i)`` of ``X u Y`` with ``|X_i| = |X|`` (Caliskan et al. 2017, Methods): exact
    when there are at most ``exact_limit`` of them, else ``n_permutations`` seeded random
    ones with the +1 correction. A small p says X is more associated with A (relative to B)
    than a random split of the targets would be; for a negative d (the association goes
    the other way) p is close to 1.
    """
    n_permutations = check_int(n_permutations, "n_permutations", 1)
    exact_limit = check_int(exact_limit, "exact_limit", 1)
    seed = check_int(seed, "seed", 0)
    xs, ys, as_, bs = _check_sets((x, y, a, b))
    with_a, with_b = _cosines(xs, ys, as_, bs)
    s = with_a.mean(axis=1) - with_b.mean(axis=1)
    p, statistic, exact, count = permutation_p_value(
        s, xs.shape[0], n_permutations=n_permutations, exact_limit=exact_limit, seed=seed
    )
    return WeatResult(
        effect_size=_effect_size(s, xs.shape[0]),
        p_value=p,
        statistic=statistic,
        exact=exact,
        n_permutations=count,
        seed=seed,
        n_x=xs.shape[0],
        n_y=ys.shape[0],
        n_a=as_.shape[0],
        n_b=bs.shape[0],
    )


def _resampled_indices(sizes: Sequence[int], n_resamples: int, seed: int) -> list[np.ndarray]:
    """Word indices drawn with replacement within each set: one ``(n_resamples, size)`` array per set."""
    rng = np.random.default_rng(seed)
    return [rng.integers(0, size, size=(n_resamples, size)) for size in sizes]


def _counts(indices: np.ndarray, size: int) -> np.ndarray:
    return np.stack([np.bincount(row, minlength=size) for row in indices]).astype(np.float64)


def _draws(cos_a: np.ndarray, cos_b: np.ndarray, n_x: int, idx: list[np.ndarray], counts: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Effect sizes of one model on every resample (NaN where the resample's std is 0)."""
    weights_a, weights_b = counts
    # (targets, resamples): association of every target word with each resample's A and B words.
    association = cos_a @ weights_a.T / weights_a.shape[1] - cos_b @ weights_b.T / weights_b.shape[1]
    s_x = np.take_along_axis(association[:n_x].T, idx[0], axis=1)
    s_y = np.take_along_axis(association[n_x:].T, idx[1], axis=1)
    both = np.hstack([s_x, s_y])
    spread = np.std(both, axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = (s_x.mean(axis=1) - s_y.mean(axis=1)) / spread
    d[~(spread > 0.0)] = math.nan
    return d


def effect_size_draws(
    base_sets: Sequence[ArrayLike],
    small_sets: Sequence[ArrayLike],
    *,
    n_resamples: int = 1000,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Paired bootstrap draws ``(d_base*, d_small*)`` of the effect sizes of two embeddings of the same words.

    ``base_sets`` and ``small_sets`` are ``(X, Y, A, B)`` embedding arrays of the same words
    in the same order (the two models may have different widths). Every resample draws
    word indices with replacement within each set, the same indices for both models, so
    the draws are paired. Entries are NaN where a resample left no spread of associations.
    The stream depends only on the four set sizes, ``n_resamples`` and ``seed``.
    """
    n_resamples = check_int(n_resamples, "n_resamples", 1)
    seed = check_int(seed, "seed", 0)
    base = _check_sets(base_sets, "base ")
    small = _check_sets(small_sets, "small ")
    sizes = [s.shape[0] for s in base]
    if [s.shape[0] for s in small] != sizes:
        raise InvalidInputError(
            f"the two models embed different numbers of words: base {sizes}, small {[s.shape[0] for s in small]} (X, Y, A, B)"
        )
    idx = _resampled_indices(sizes, n_resamples, seed)
    counts = (_counts(idx[2], sizes[2]), _counts(idx[3], sizes[3]))
    return _draws(*_cosines(*base), sizes[0], idx, counts), _draws(*_cosines(*small), sizes[0], idx, counts)


@dataclass(frozen=True)
class EffectSizeChange:
    """Effect sizes of two models on one test and their paired bootstrap comparison.

    ``difference = d_small - d_base`` (signed: the small model's bias moved towards A/X when
    positive); ``magnitude_difference = |d_small| - |d_base|`` (positive: the small model is
    more biased either way); ``absolute_difference = |d_small - d_base|``. ``*_ci`` are
    percentile intervals over the resamples whose two effect sizes are defined (None
    without resamples); ``n_defined`` counts those resamples.
    """

    base: float
    small: float
    difference: float
    difference_ci: tuple[float, float] | None
    magnitude_difference: float
    magnitude_difference_ci: tuple[float, float] | None
    absolute_difference: float
    absolute_difference_ci: tuple[float, float] | None
    n_resamples: int
    n_defined: int
    seed: int
    ci_level: float

    confidence = renamed_attribute("confidence", "ci_level")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe plain-Python form (NaN becomes ``None``)."""
        return to_jsonable(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EffectSizeChange:
        """Rebuild from :meth:`to_dict`."""
        def interval(key: str) -> tuple[float, float] | None:
            value = data[key]
            return None if value is None else (float(value[0]), float(value[1]))

        return cls(
            base=_float(data["base"]),
            small=_float(data["small"]),
            difference=_float(data["difference"]),
            difference_ci=interval("difference_ci"),
            magnitude_difference=_float(data["magnitude_difference"]),
            magnitude_difference_ci=interval("magnitude_difference_ci"),
            absolute_difference=_float(data["absolute_difference"]),
            absolute_difference_ci=interval("absolute_difference_ci"),
            n_resamples=int(data["n_resamples"]),
            n_defined=int(data["n_defined"]),
            seed=int(data["seed"]),
            ci_level=float(read_renamed(data, "ci_level", "confidence")),
        )


@renamed_keywords(confidence="ci_level")
def change_from_draws(
    base: float,
    small: float,
    draws: tuple[np.ndarray, np.ndarray],
    *,
    n_resamples: int,
    seed: int,
    ci_level: float,
) -> EffectSizeChange:
    """An :class:`EffectSizeChange` from point estimates and paired draws (the draws may be empty)."""
    base_draws, small_draws = draws
    defined = np.isfinite(base_draws) & np.isfinite(small_draws)
    b, s = base_draws[defined], small_draws[defined]

    def interval(samples: np.ndarray) -> tuple[float, float] | None:
        return percentile_interval(samples, ci_level) if samples.size else None

    return EffectSizeChange(
        base=base,
        small=small,
        difference=small - base,
        difference_ci=interval(s - b),
        magnitude_difference=abs(small) - abs(base),
        magnitude_difference_ci=interval(np.abs(s) - np.abs(b)),
        absolute_difference=abs(small - base),
        absolute_difference_ci=interval(np.abs(s - b)),
        n_resamples=n_resamples,
        n_defined=int(defined.sum()),
        seed=seed,
        ci_level=ci_level,
    )


@renamed_keywords(confidence="ci_level")
def effect_size_change(
    base_sets: Sequence[ArrayLike],
    small_sets: Sequence[ArrayLike],
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    ci_level: float = 0.95,
) -> EffectSizeChange:
    """Change of a WEAT/SEAT effect size from the base to the small model, with paired bootstrap intervals.

    ``difference = d_small - d_base`` with d as in :func:`weat_effect_size`; intervals are
    percentile intervals of :func:`effect_size_draws` (words resampled within X, Y, A and B,
    the same words for both models; Efron & Tibshirani 1993, ch. 13). Identical embeddings
    give a difference of 0 with the interval [0, 0]. ``n_resamples = 0`` gives no intervals.
    """
    n_resamples = check_int(n_resamples, "n_resamples", 0)
    seed = check_int(seed, "seed", 0)
    ci_level = check_open_unit(ci_level, "ci_level")
    base = _check_sets(base_sets, "base ")
    small = _check_sets(small_sets, "small ")
    d_base = weat_effect_size(*base)
    d_small = weat_effect_size(*small)
    if n_resamples:
        draws = effect_size_draws(base, small, n_resamples=n_resamples, seed=seed)
    else:
        draws = (np.empty(0), np.empty(0))
    return change_from_draws(d_base, d_small, draws, n_resamples=n_resamples, seed=seed, ci_level=ci_level)


@dataclass(frozen=True)
class FlipRateComparison:
    """How often each model's prediction changes under a counterfactual edit, compared on the same texts.

    ``base_only`` (b) and ``small_only`` (c) are the discordant texts: only the base, or only
    the small model, changed its prediction. ``mcnemar_*`` is the two-sided test of equal
    flip rates; ``p_value_small_more`` the one-sided exact test that the small model flips
    more often. Rates are NaN (``None`` in JSON) without texts; ``difference_ci`` is None
    without resamples.
    """

    n: int
    base_flips: int
    small_flips: int
    base_flip_rate: float
    small_flip_rate: float
    difference: float
    difference_ci: tuple[float, float] | None
    base_only: int
    small_only: int
    mcnemar_statistic: float
    mcnemar_p_value: float
    mcnemar_method: str
    p_value_small_more: float
    n_resamples: int
    seed: int
    ci_level: float

    confidence = renamed_attribute("confidence", "ci_level")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe plain-Python form (NaN becomes ``None``)."""
        return to_jsonable(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FlipRateComparison:
        """Rebuild from :meth:`to_dict`."""
        ci = data["difference_ci"]
        return cls(
            n=int(data["n"]),
            base_flips=int(data["base_flips"]),
            small_flips=int(data["small_flips"]),
            base_flip_rate=_float(data["base_flip_rate"]),
            small_flip_rate=_float(data["small_flip_rate"]),
            difference=_float(data["difference"]),
            difference_ci=None if ci is None else (float(ci[0]), float(ci[1])),
            base_only=int(data["base_only"]),
            small_only=int(data["small_only"]),
            mcnemar_statistic=float(data["mcnemar_statistic"]),
            mcnemar_p_value=float(data["mcnemar_p_value"]),
            mcnemar_method=str(data["mcnemar_method"]),
            p_value_small_more=float(data["p_value_small_more"]),
            n_resamples=int(data["n_resamples"]),
            seed=int(data["seed"]),
            ci_level=float(read_renamed(data, "ci_level", "confidence")),
        )


def _check_flags(values: ArrayLike, name: str, n: int | None = None) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise InvalidInputError(f"{name} must be a 1-D array of booleans, got shape {array.shape}")
    if array.size and not (array.dtype == bool or np.all(np.isin(array, (0, 1)))):
        raise InvalidInputError(f"{name} must hold booleans (or 0/1), got values {np.unique(array)[:5].tolist()}")
    if n is not None and array.shape[0] != n:
        raise InvalidInputError(f"{name} has {array.shape[0]} entries, base_flipped {n}")
    return array.astype(bool)


@renamed_keywords(confidence="ci_level")
def flip_rate_comparison(
    base_flipped: ArrayLike,
    small_flipped: ArrayLike,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    ci_level: float = 0.95,
) -> FlipRateComparison:
    """Paired comparison of two models' counterfactual flip rates on the same texts.

    ``base_flipped[i]`` says whether the base model's prediction for text i changed when
    its gendered words were swapped (likewise ``small_flipped``). Flip rate = flips / n
    (the counterfactual token fairness gap of Garg et al. 2019, "Counterfactual fairness in
    text classification through robustness", as a share of texts). Paired tests on the
    discordant texts b (only base flips) and c (only small flips): McNemar 1947, exact
    two-sided ``p = min(1, 2 P(K <= min(b, c)))``, ``K ~ Bin(b + c, 1/2)`` when b + c < 25, else
    chi2 = (|b - c| - 1)^2 / (b + c) with 1 degree of freedom (as
    :func:`~trustaudit.metrics.prediction_agreement`); one-sided exact ``P(K >= c)`` for
    "the small model flips more often". ``difference_ci``: percentile bootstrap of
    ``small rate - base rate`` over resampled texts.
    """
    base = _check_flags(base_flipped, "base_flipped")
    small = _check_flags(small_flipped, "small_flipped", base.shape[0])
    n_resamples = check_int(n_resamples, "n_resamples", 0)
    seed = check_int(seed, "seed", 0)
    ci_level = check_open_unit(ci_level, "ci_level")
    n = base.shape[0]
    b = int(np.sum(base & ~small))
    c = int(np.sum(~base & small))
    statistic, p_value, method = _mcnemar(b, c)
    one_sided = float(stats.binom.sf(c - 1, b + c, 0.5)) if b + c else 1.0
    interval = None
    if n and n_resamples:
        difference = small.astype(np.float64) - base
        draws = np.concatenate([weights @ difference / n for weights in count_weights(n, n_resamples, seed)])
        interval = percentile_interval(draws, ci_level)
    base_rate = float(base.mean()) if n else math.nan
    small_rate = float(small.mean()) if n else math.nan
    return FlipRateComparison(
        n=n,
        base_flips=int(base.sum()),
        small_flips=int(small.sum()),
        base_flip_rate=base_rate,
        small_flip_rate=small_rate,
        difference=small_rate - base_rate,
        difference_ci=interval,
        base_only=b,
        small_only=c,
        mcnemar_statistic=statistic,
        mcnemar_p_value=p_value,
        mcnemar_method=method,
        p_value_small_more=one_sided,
        n_resamples=n_resamples,
        seed=seed,
        ci_level=ci_level,
    )
