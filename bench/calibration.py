"""Time the calibration metrics and their paired bootstrap on synthetic probabilities.

Usage, from the repository root:
    PYTHONPATH=. python bench/calibration.py [--n 100000] [--k 3] [--resamples 1000] [--repeat 3]

Prints one table: the time of each metric on one model (point estimate), the time of the
full paired bootstrap comparison (every metric, both models) and the total; each time is
the median of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from trustaudit.metrics import (
    brier_score_loss,
    calibration_summary,
    classwise_calibration_error,
    compare_calibration,
    expected_calibration_error,
    maximum_calibration_error,
    log_loss,
    smooth_calibration_error,
)


def synthetic(n: int, k: int, temperature: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Softmax probabilities with labels drawn from a sharpened copy (so the model is miscalibrated)."""
    logits = rng.normal(scale=2.0, size=(n, k))
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    sharp = probs**temperature
    sharp /= sharp.sum(axis=1, keepdims=True)
    labels = (sharp.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1)
    return probs, np.minimum(labels, k - 1)


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median wall-clock seconds of ``repeat`` calls."""
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="rows")
    parser.add_argument("--k", type=int, default=3, help="classes")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (median reported)")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    base, labels = synthetic(args.n, args.k, 1.3, rng)
    small = np.clip(base + rng.normal(scale=0.02, size=base.shape), 1e-6, None)
    small /= small.sum(axis=1, keepdims=True)

    rows: list[tuple[str, float]] = [
        (name, timed(lambda fn=fn: fn(base, labels), args.repeat))
        for name, fn in [
            ("ece", expected_calibration_error),
            ("ece_quantile", lambda p, y: expected_calibration_error(p, y, strategy="quantile")),
            ("mce", maximum_calibration_error),
            ("classwise_ece", classwise_calibration_error),
            ("smooth_ece", smooth_calibration_error),
            ("brier", brier_score_loss),
            ("nll", log_loss),
            ("calibration_summary", calibration_summary),
        ]
    ]
    comparison_seconds = timed(
        lambda: compare_calibration(base, small, labels, n_resamples=args.resamples, seed=args.seed), args.repeat
    )
    rows.append((f"compare_calibration (all metrics, {args.resamples} paired resamples)", comparison_seconds))

    print(f"n={args.n}  k={args.k}  resamples={args.resamples}  (median of {args.repeat})")
    width = max(len(name) for name, _ in rows)
    print(f"{'step':<{width}}  seconds")
    for name, seconds in rows:
        print(f"{name:<{width}}  {seconds:8.3f}")
    print(f"{'total':<{width}}  {sum(seconds for _, seconds in rows):8.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
