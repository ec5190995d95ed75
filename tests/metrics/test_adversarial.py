"""Adversarial transfer rates: a hand-computed case, the worse direction as the headline, intervals, inputs."""

from __future__ import annotations

import numpy as np
import pytest

from trustaudit.exceptions import InvalidInputError
from trustaudit.metrics.adversarial import transfer_rates


def test_hand_computed_rates_in_both_directions() -> None:
    result = transfer_rates(
        base_success=[1, 1, 1, 0, 0], small_flipped=[1, 0, 0, 1, 0],  # row 3's flip does not count: no base success
        small_success=[1, 0, 1, 1, 0], base_flipped=[1, 0, 1, 0, 0],
        small_attacked=[True, True, True, True, False], n_resamples=0,
    )
    forward, backward = result.base_to_small, result.small_to_base
    assert (forward.n_attacked, forward.successes, forward.transferred) == (5, 3, 1)
    assert forward.success_rate == pytest.approx(0.6) and forward.transferred_rate == pytest.approx(0.2)
    assert forward.transfer == pytest.approx(1 / 3) and forward.gap == pytest.approx(0.4)
    assert (backward.n_attacked, backward.successes, backward.transferred) == (4, 3, 2)
    assert backward.success_rate == pytest.approx(0.75) and backward.gap == pytest.approx(0.25)
    assert backward.transfer == pytest.approx(2 / 3)
    assert result.transfer_gap == pytest.approx(0.4)  # the worse direction
    assert forward.success_rate_ci is None and result.transfer_gap_ci is None


def test_faithful_miniature_has_no_gap_and_intervals_cover_the_estimates(rng) -> None:
    success = rng.random(200) < 0.4
    result = transfer_rates(success, success, success, success, n_resamples=500, seed=1)
    assert result.transfer_gap == 0.0 and result.transfer_gap_ci == (0.0, 0.0)
    assert result.base_to_small.transfer == 1.0
    low, high = result.base_to_small.success_rate_ci
    assert low < result.base_to_small.success_rate < high
    never = transfer_rates(success, np.zeros(200, bool), np.zeros(200, bool), np.zeros(200, bool), n_resamples=200)
    assert never.base_to_small.transfer == 0.0 and never.small_to_base.transfer is None
    assert never.transfer_gap == pytest.approx(success.mean())
    low, high = never.transfer_gap_ci
    assert low <= never.transfer_gap <= high
    assert never.to_dict()["base_to_small"]["source"] == "base"


def test_no_attacked_rows_in_a_direction_leaves_it_undefined() -> None:
    result = transfer_rates([1, 0], [1, 0], [0, 0], [0, 0], small_attacked=[False, False], n_resamples=50)
    assert result.small_to_base.success_rate is None and result.small_to_base.gap is None
    assert result.transfer_gap == 0.0


def test_bad_inputs() -> None:
    with pytest.raises(InvalidInputError, match="small_flipped must be a 1-D array of 2 booleans"):
        transfer_rates([1, 0], [1], [0, 0], [0, 0])
    with pytest.raises(InvalidInputError, match="booleans"):
        transfer_rates([1, 2], [1, 0], [0, 0], [0, 0])
    with pytest.raises(InvalidInputError, match="at least one row"):
        transfer_rates([], [], [], [])
