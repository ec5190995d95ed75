"""Vectorised nonparametric bootstrap shared by the metrics, the audit and the bias comparison.

A resample of n rows drawn with replacement is represented by its multinomial count
vector ``w`` (``w_i`` = how often row i was drawn, ``sum(w) = n``). Any statistic that
is a function of per-bin sums is then a matrix product ``W @ D`` over a chunk of
resamples, which is what makes 1,000 resamples of 100,000 rows cheap.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

#: Upper bound on the number of entries of one chunk of count weights (32 MB of float64).
CHUNK_ENTRIES = 4_000_000


def count_weights(n: int, n_resamples: int, seed: int) -> Iterator[np.ndarray]:
    """Yield ``(b, n)`` float64 multinomial count matrices, ``n_resamples`` rows in all.

    Row indices are drawn uniformly with replacement (``Generator.integers``, unbiased)
    and counted per resample; chunks keep memory bounded. The stream depends only on
    ``(n, n_resamples, seed)``, so every statistic computed from it is paired.
    """
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_resamples, CHUNK_ENTRIES // max(n, 1)))
    index_dtype = np.uint32 if n < 2**32 else np.int64
    done = 0
    while done < n_resamples:
        size = min(chunk, n_resamples - done)
        draws = rng.integers(0, n, size=(size, n), dtype=index_dtype)
        weights = np.empty((size, n), dtype=np.float64)
        for row, drawn in enumerate(draws):
            weights[row] = np.bincount(drawn, minlength=n)
        yield weights
        done += size


def percentile_interval(samples: np.ndarray, level: float) -> tuple[float, float]:
    """Central percentile interval holding ``level`` of the bootstrap distribution."""
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(samples, [tail, 1.0 - tail])
    return float(low), float(high)


def two_sided_p_value(samples: np.ndarray) -> float:
    """Bootstrap p-value of "the statistic is 0": ``min(1, 2 * min(P(d* <= 0), P(d* >= 0)))``."""
    below = float(np.mean(samples <= 0.0))
    above = float(np.mean(samples >= 0.0))
    return min(1.0, 2.0 * min(below, above))
