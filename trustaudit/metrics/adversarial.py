"""Adversarial transfer between a base and a small model: pure functions on per-row outcomes.

An attack on a *source* model turns a row's text into an adversarial text; it succeeds when
the source's prediction changes. The same text is then given to the *target* model, which is
flipped when its prediction on the adversarial text differs from its own prediction on the
original text. A small model that is a faithful miniature of its base shares its
vulnerabilities: what fools one fools the other (Jin et al. 2020, "Is BERT Really Robust?",
TextFooler, measure transfer the same way; the 2024 "not miniature versions" comparison
of a large model and its compressed versions includes adversarial vulnerability).

Per direction, over the rows attacked in that direction (``n_attacked``):

- ``success_rate`` = rows whose attack flipped the source / attacked rows;
- ``transferred_rate`` = rows whose attack flipped the source *and* whose adversarial text
  flipped the target / attacked rows -- the target's success rate on the source's texts;
- ``transfer`` = transferred / successful rows (the share of the source's successful
  adversarial texts that also fool the target; ``None`` without any success);
- ``gap`` = ``success_rate - transferred_rate``: the share of attacked rows where the text
  fools the source but not the target (0 when every successful text transfers).

``transfer_gap`` is the larger of the two directions' gaps (base -> small and small ->
base): a vulnerability of either model that the other does not share. Lower is better.

Intervals are paired percentile bootstraps over rows (one multinomial count-weight stream
for every statistic, :func:`~trustaudit._bootstrap.count_weights`); a ratio's
resamples without any row in its denominator are left out of its percentile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from trustaudit.exceptions import InvalidInputError
from trustaudit._bootstrap import count_weights, percentile_interval
from trustaudit._json import to_jsonable
from trustaudit._validation import check_int, check_open_unit
from trustaudit._deprecation import renamed_attribute, renamed_keywords

__all__ = ["DirectionRates", "TransferRates", "transfer_rates"]


@dataclass(frozen=True)
class DirectionRates:
    """One direction of an attack (source -> target); see the module docstring for each figure."""

    source: str
    target: str
    n_attacked: int
    successes: int
    transferred: int
    success_rate: float | None
    transferred_rate: float | None
    transfer: float | None
    gap: float | None
    success_rate_ci: tuple[float, float] | None
    transferred_rate_ci: tuple[float, float] | None
    transfer_ci: tuple[float, float] | None
    gap_ci: tuple[float, float] | None


@dataclass(frozen=True)
class TransferRates:
    """Both directions of adversarial transfer and the headline ``transfer_gap`` (the worse direction's gap)."""

    n: int
    base_to_small: DirectionRates
    small_to_base: DirectionRates
    transfer_gap: float | None
    transfer_gap_ci: tuple[float, float] | None
    n_resamples: int
    seed: int
    ci_level: float

    confidence = renamed_attribute("confidence", "ci_level")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe plain-Python form."""
        return to_jsonable(self)


def _flags(value: ArrayLike | None, name: str, n: int | None, default: bool | None = None) -> np.ndarray:
    if value is None:
        if default is None or n is None:
            raise InvalidInputError(f"{name} is required")
        return np.full(n, default, dtype=bool)
    array = np.asarray(value)
    if array.ndim != 1 or (n is not None and array.shape[0] != n):
        raise InvalidInputError(f"{name} must be a 1-D array of {n if n is not None else 'n'} booleans, got shape {array.shape}")
    if array.size == 0:
        array = array.astype(bool)
    if array.dtype != bool:
        if not np.issubdtype(array.dtype, np.integer) or not np.isin(array, (0, 1)).all():
            raise InvalidInputError(f"{name} must hold booleans (or 0/1), got dtype {array.dtype}")
        array = array.astype(bool)
    return array


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def _interval(samples: np.ndarray | None, ci_level: float) -> tuple[float, float] | None:
    if samples is None:
        return None
    finite = samples[np.isfinite(samples)]
    return percentile_interval(finite, ci_level) if finite.size else None


def _direction(source: str, target: str, attacked: np.ndarray, success: np.ndarray, flipped: np.ndarray,
               weights: list[np.ndarray], ci_level: float) -> tuple[DirectionRates, np.ndarray | None]:
    succeeded = success & attacked
    transferred = succeeded & flipped
    n_attacked, n_success, n_transferred = int(attacked.sum()), int(succeeded.sum()), int(transferred.sum())
    point_success = n_success / n_attacked if n_attacked else None
    point_transferred = n_transferred / n_attacked if n_attacked else None
    columns = np.stack([attacked, succeeded, transferred], axis=1).astype(np.float64)
    draws = np.concatenate([w @ columns for w in weights]) if weights else None
    gap_samples = None
    if draws is not None:
        success_s = _ratio(draws[:, 1], draws[:, 0])
        transferred_s = _ratio(draws[:, 2], draws[:, 0])
        gap_samples = success_s - transferred_s
    rates = DirectionRates(
        source=source,
        target=target,
        n_attacked=n_attacked,
        successes=n_success,
        transferred=n_transferred,
        success_rate=point_success,
        transferred_rate=point_transferred,
        transfer=n_transferred / n_success if n_success else None,
        gap=None if point_success is None else point_success - point_transferred,
        success_rate_ci=_interval(None if draws is None else success_s, ci_level),
        transferred_rate_ci=_interval(None if draws is None else transferred_s, ci_level),
        transfer_ci=_interval(None if draws is None else _ratio(draws[:, 2], draws[:, 1]), ci_level),
        gap_ci=_interval(gap_samples, ci_level),
    )
    return rates, gap_samples


@renamed_keywords(confidence="ci_level")
def transfer_rates(
    base_success: ArrayLike,
    small_flipped: ArrayLike,
    small_success: ArrayLike,
    base_flipped: ArrayLike,
    *,
    base_attacked: ArrayLike | None = None,
    small_attacked: ArrayLike | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
    ci_level: float = 0.95,
) -> TransferRates:
    """Adversarial transfer in both directions from per-row outcomes (module docstring).

    Row ``r``: ``base_success[r]`` the attack on the base flipped the base;
    ``small_flipped[r]`` the base's adversarial text flipped the small model (counted only
    where the base's attack succeeded); ``small_success`` and ``base_flipped`` the same for
    the attack on the small model. ``*_attacked`` mark the rows attacked in each direction
    (default: all). ``n_resamples=0`` leaves the intervals out.
    """
    base_ok = _flags(base_success, "base_success", None)
    n = base_ok.shape[0]
    if n == 0:
        raise InvalidInputError("transfer_rates needs at least one row")
    small_hit = _flags(small_flipped, "small_flipped", n)
    small_ok = _flags(small_success, "small_success", n)
    base_hit = _flags(base_flipped, "base_flipped", n)
    base_rows = _flags(base_attacked, "base_attacked", n, default=True)
    small_rows = _flags(small_attacked, "small_attacked", n, default=True)
    n_resamples = check_int(n_resamples, "n_resamples", 0)
    seed = check_int(seed, "seed", 0)
    ci_level = check_open_unit(ci_level, "ci_level")
    weights = list(count_weights(n, n_resamples, seed)) if n_resamples else []
    forward, forward_gaps = _direction("base", "small", base_rows, base_ok, small_hit, weights, ci_level)
    backward, backward_gaps = _direction("small", "base", small_rows, small_ok, base_hit, weights, ci_level)
    gaps = [g for g in (forward.gap, backward.gap) if g is not None]
    interval = None
    if forward_gaps is not None and backward_gaps is not None:
        interval = _interval(np.fmax(forward_gaps, backward_gaps), ci_level)
    return TransferRates(
        n=n,
        base_to_small=forward,
        small_to_base=backward,
        transfer_gap=max(gaps) if gaps else None,
        transfer_gap_ci=interval,
        n_resamples=n_resamples,
        seed=seed,
        ci_level=ci_level,
    )
