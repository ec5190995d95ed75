"""Input checks shared by every public function that takes arrays (metrics, plots, the bias comparison).

Each check converts its argument to a numpy array of the expected dtype and raises
:class:`~trustaudit.exceptions.InvalidInputError` naming the argument and the offending
value, so a bad audit input fails at the boundary with a message a user can act on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from trustaudit.exceptions import InvalidInputError

#: Largest accepted |row sum - 1| of a probability matrix.
ROW_SUM_TOLERANCE = 1e-4
_TOLERANCE_TEXT = f"{ROW_SUM_TOLERANCE:.0e}".replace("e-0", "e-")

STRATEGIES = ("uniform", "quantile")


def _fmt(value: Any) -> str:
    """Short, stable rendering of a scalar for error messages."""
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    return repr(value.item() if isinstance(value, np.generic) else value)


def _as_array(value: Any, name: str) -> np.ndarray:
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} cannot be read as an array: {exc}") from exc


def check_finite(array: np.ndarray, name: str) -> None:
    """Raise when ``array`` holds NaN or infinity, naming the first bad position."""
    bad = ~np.isfinite(array)
    if bad.any():
        position = tuple(int(i) for i in np.argwhere(bad)[0])
        where = position[0] if len(position) == 1 else position
        raise InvalidInputError(f"{name}[{where}] is {_fmt(array[position])}; values must be finite")


def check_probs(probs: Any, name: str = "probs") -> np.ndarray:
    """Return ``probs`` as a float64 ``(n, k)`` matrix of probability rows.

    Requires n >= 1, k >= 2, finite values in [0, 1] and every row summing to 1
    within :data:`ROW_SUM_TOLERANCE` (1e-4).
    """
    array = _as_array(probs, name)
    if array.dtype == bool or not (
        np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)
    ):
        raise InvalidInputError(f"{name} must be numeric, got dtype {array.dtype}")
    if array.ndim != 2:
        raise InvalidInputError(f"{name} must be 2-D (n, k), got shape {array.shape}")
    n, k = array.shape
    if n < 1:
        raise InvalidInputError(f"{name} must have at least 1 row, got shape {array.shape}")
    if k < 2:
        raise InvalidInputError(f"{name} must have at least 2 columns (classes), got shape {array.shape}")
    array = array.astype(np.float64, copy=False)
    check_finite(array, name)
    outside = (array < 0.0) | (array > 1.0)
    if outside.any():
        i, j = (int(v) for v in np.argwhere(outside)[0])
        raise InvalidInputError(f"{name}[{i}, {j}] = {_fmt(array[i, j])} is outside [0, 1]")
    sums = array.sum(axis=1)
    off = np.abs(sums - 1.0) > ROW_SUM_TOLERANCE
    if off.any():
        i = int(np.argmax(off))
        raise InvalidInputError(
            f"{name} row {i} sums to {_fmt(sums[i])}, expected 1 (tolerance {_TOLERANCE_TEXT})"
        )
    return array


def check_class_ids(values: Any, name: str, n: int | None, n_classes: int | None) -> np.ndarray:
    """Return ``values`` as a 1-D int64 array of class ids in ``[0, n_classes)``.

    ``n`` is the required length (None: any length >= 1); ``n_classes`` None skips
    the upper bound.
    """
    array = _as_array(values, name)
    if array.ndim != 1:
        raise InvalidInputError(f"{name} must be 1-D, got shape {array.shape}")
    if n is not None and array.shape[0] != n:
        raise InvalidInputError(f"{name} has length {array.shape[0]}, expected {n} (one per row)")
    if array.shape[0] < 1:
        raise InvalidInputError(f"{name} must not be empty")
    if array.dtype == bool or not np.issubdtype(array.dtype, np.integer):
        raise InvalidInputError(f"{name} must hold integer class ids, got dtype {array.dtype}")
    array = array.astype(np.int64, copy=False)
    low = int(np.argmin(array))
    if array[low] < 0:
        raise InvalidInputError(f"{name}[{low}] = {int(array[low])} is negative; class ids start at 0")
    if n_classes is not None:
        high = int(np.argmax(array))
        if array[high] >= n_classes:
            raise InvalidInputError(
                f"{name}[{high}] = {int(array[high])} is not a class id in [0, {n_classes})"
            )
    return array


def check_probs_labels(probs: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """Check a probability matrix and its gold labels together."""
    p = check_probs(probs, "probs")
    y = check_class_ids(labels, "labels", p.shape[0], p.shape[1])
    return p, y


def check_unit_scores(values: Any, name: str) -> np.ndarray:
    """Return a non-empty, finite, 1-D float64 array of values in [0, 1] (forecasts, confidences)."""
    array = check_scores(values, name)
    outside = (array < 0.0) | (array > 1.0)
    if outside.any():
        i = int(np.argmax(outside))
        raise InvalidInputError(f"{name}[{i}] = {_fmt(array[i])} is outside [0, 1]")
    return array


def check_binary(prob: Any, outcome: Any) -> tuple[np.ndarray, np.ndarray]:
    """Return a 1-D forecast in [0, 1] and its 0/1 outcomes as float64 arrays."""
    p = check_unit_scores(prob, "prob")
    o = check_class_ids(outcome, "outcome", p.shape[0], 2)
    return p, o.astype(np.float64)


def check_int(value: Any, name: str, minimum: int) -> int:
    """Return ``value`` as an int >= ``minimum`` (bools rejected)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise InvalidInputError(f"{name} must be an integer, got {_fmt(value)}")
    if value < minimum:
        raise InvalidInputError(f"{name} must be >= {minimum}, got {int(value)}")
    return int(value)


def check_strategy(strategy: Any) -> str:
    """Return a binning strategy name, one of :data:`STRATEGIES`."""
    if strategy not in STRATEGIES:
        raise InvalidInputError(f"strategy must be one of {STRATEGIES}, got {_fmt(strategy)}")
    return str(strategy)


def check_real(value: Any, name: str) -> float:
    """Return ``value`` as a finite float (bools and non-numbers rejected)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InvalidInputError(f"{name} must be a number, got {_fmt(value)}")
    if not math.isfinite(float(value)):
        raise InvalidInputError(f"{name} must be finite, got {_fmt(value)}")
    return float(value)


def check_open_unit(value: Any, name: str) -> float:
    """Return ``value`` as a float strictly between 0 and 1 (an interval level, ``ci_level``)."""
    number = check_real(value, name)
    if not 0.0 < number < 1.0:
        raise InvalidInputError(f"{name} must be in (0, 1), got {_fmt(number)}")
    return number


def check_positive(value: Any, name: str) -> float:
    """Return ``value`` as a finite float > 0."""
    number = check_real(value, name)
    if number <= 0.0:
        raise InvalidInputError(f"{name} must be a finite number > 0, got {_fmt(number)}")
    return number


def check_margins(margins: Mapping[str, float] | None, known: Sequence[str]) -> dict[str, float]:
    """Return equivalence margins keyed by metric, each a finite number > 0."""
    if margins is None:
        return {}
    if not isinstance(margins, Mapping):
        raise InvalidInputError(f"margins must be a mapping of metric name to margin, got {type(margins).__name__}")
    checked: dict[str, float] = {}
    for key, value in margins.items():
        if key not in known:
            raise InvalidInputError(f"margins has unknown metric {key!r}; known: {', '.join(known)}")
        checked[key] = check_positive(value, f"margins[{key!r}]")
    return checked


def check_scores(scores: Any, name: str) -> np.ndarray:
    """Return an attribution vector as a non-empty, finite, 1-D float64 array."""
    array = _as_array(scores, name)
    if array.dtype == bool or not (
        np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)
    ):
        raise InvalidInputError(f"{name} must be numeric, got dtype {array.dtype}")
    if array.ndim != 1 or array.shape[0] < 1:
        raise InvalidInputError(f"{name} must be a non-empty 1-D array, got shape {array.shape}")
    array = array.astype(np.float64, copy=False)
    check_finite(array, name)
    return array


def check_score_pair(a: Any, b: Any, names: tuple[str, str] = ("a", "b")) -> tuple[np.ndarray, np.ndarray]:
    """Check two attribution vectors over the same features (equal length)."""
    x = check_scores(a, names[0])
    y = check_scores(b, names[1])
    if x.shape != y.shape:
        raise InvalidInputError(
            f"{names[0]} and {names[1]} must score the same features, got lengths {x.shape[0]} and {y.shape[0]}"
        )
    return x, y
