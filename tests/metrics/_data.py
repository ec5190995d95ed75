"""Seeded synthetic inputs shared by the metric tests."""

from __future__ import annotations

import numpy as np


def random_probs(n: int, k: int, seed: int, sharpness: float = 1.0) -> np.ndarray:
    """Softmax of Gaussian logits: ``(n, k)`` rows summing to 1."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=sharpness, size=(n, k))
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    return probs / probs.sum(axis=1, keepdims=True)


def labels_from(probs: np.ndarray, seed: int) -> np.ndarray:
    """Labels drawn from each row's own distribution (a perfectly calibrated model)."""
    rng = np.random.default_rng(seed)
    draws = (probs.cumsum(axis=1) < rng.random((probs.shape[0], 1))).sum(axis=1)
    return np.minimum(draws, probs.shape[1] - 1)


def away_from_edges(probs: np.ndarray, n_bins: int, gap: float = 1e-4) -> np.ndarray:
    """Rows whose top-label confidence is at least ``gap`` from every uniform bin edge."""
    conf = probs.max(axis=1)
    distance = np.abs(conf[:, None] - np.arange(n_bins + 1)[None, :] / n_bins).min(axis=1)
    return distance > gap
