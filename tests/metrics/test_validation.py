"""Every input violation of the calibration functions raises InvalidInputError naming the argument."""

from __future__ import annotations

import numpy as np
import pytest

from trustaudit.exceptions import InvalidInputError
from trustaudit.metrics import (
    binary_brier_score_loss,
    binary_calibration_error,
    binary_reliability_bins,
    brier_decomposition,
    brier_score_loss,
    calibration_summary,
    classwise_calibration_error,
    compare_calibration,
    expected_calibration_error,
    maximum_calibration_error,
    log_loss,
    positive_class_view,
    reliability_bins,
    smooth_calibration_error,
)

GOOD_PROBS = np.array([[0.7, 0.3], [0.2, 0.8], [0.5, 0.5], [0.9, 0.1]])
GOOD_LABELS = np.array([0, 1, 1, 0])

PROBS_LABELS_FUNCTIONS = [
    expected_calibration_error,
    maximum_calibration_error,
    classwise_calibration_error,
    brier_score_loss,
    brier_decomposition,
    log_loss,
    smooth_calibration_error,
    reliability_bins,
    calibration_summary,
    positive_class_view,
]

BAD_PROBS = [
    (np.array([0.5, 0.5]), r"probs must be 2-D"),
    (np.zeros((0, 2)), r"probs must have at least 1 row"),
    (np.ones((4, 1)), r"probs must have at least 2 columns"),
    (np.array([[0.5, 0.5], [np.nan, 0.5], [0.5, 0.5], [0.5, 0.5]]), r"probs\[\(1, 0\)\] is nan"),
    (np.array([[0.5, 0.5], [0.5, 0.5], [np.inf, 0.5], [0.5, 0.5]]), r"probs\[\(2, 0\)\] is inf"),
    (np.array([[1.2, -0.2], [0.5, 0.5], [0.5, 0.5], [0.5, 0.5]]), r"probs\[0, 0\] = 1.2 is outside \[0, 1\]"),
    (
        np.array([[0.5, 0.5], [0.5, 0.5], [0.5, 0.5], [0.6, 0.6]]),
        r"probs row 3 sums to 1.2, expected 1 \(tolerance 1e-4\)",
    ),
    (np.array([["a", "b"]] * 4), r"probs must be numeric"),
]

BAD_LABELS = [
    (np.array([0.0, 1.0, 1.0, 0.0]), r"labels must hold integer class ids, got dtype float64"),
    (np.array([True, False, True, False]), r"labels must hold integer class ids, got dtype bool"),
    (np.array([[0, 1, 1, 0]]), r"labels must be 1-D"),
    (np.array([0, 1, 1]), r"labels has length 3, expected 4"),
    (np.array([0, 1, 2, 0]), r"labels\[2\] = 2 is not a class id in \[0, 2\)"),
    (np.array([0, -1, 1, 0]), r"labels\[1\] = -1 is negative"),
]


@pytest.mark.parametrize("fn", PROBS_LABELS_FUNCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("probs,message", BAD_PROBS, ids=[m for _, m in BAD_PROBS])
def test_bad_probs(fn, probs: np.ndarray, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        fn(probs, GOOD_LABELS)


@pytest.mark.parametrize("fn", PROBS_LABELS_FUNCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("labels,message", BAD_LABELS, ids=[m for _, m in BAD_LABELS])
def test_bad_labels(fn, labels: np.ndarray, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        fn(GOOD_PROBS, labels)


def test_row_sum_tolerance_is_1e_4() -> None:
    inside = GOOD_PROBS.copy()
    inside[0] = [0.70005, 0.3]
    expected_calibration_error(inside, GOOD_LABELS)
    outside = GOOD_PROBS.copy()
    outside[0] = [0.7002, 0.3]
    with pytest.raises(InvalidInputError, match="row 0 sums to 1.0002"):
        expected_calibration_error(outside, GOOD_LABELS)


def test_invalid_input_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        brier_score_loss(GOOD_PROBS, [0, 1])


@pytest.mark.parametrize(
    "fn", [expected_calibration_error, maximum_calibration_error, classwise_calibration_error, reliability_bins]
)
@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"n_bins": 0}, r"n_bins must be >= 1, got 0"),
        ({"n_bins": 2.5}, r"n_bins must be an integer, got 2.5"),
        ({"n_bins": True}, r"n_bins must be an integer"),
        ({"strategy": "equal"}, r"strategy must be one of \('uniform', 'quantile'\), got 'equal'"),
    ],
)
def test_bad_binning(fn, kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        fn(GOOD_PROBS, GOOD_LABELS, **kwargs)


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: log_loss(GOOD_PROBS, GOOD_LABELS, eps=0.0), r"eps must be a finite number > 0"),
        (lambda: log_loss(GOOD_PROBS, GOOD_LABELS, eps=1.0), r"eps must be < 1"),
        (lambda: reliability_bins(GOOD_PROBS, GOOD_LABELS, ci_level=1.0), r"ci_level must be in \(0, 1\)"),
        (lambda: calibration_summary(GOOD_PROBS, GOOD_LABELS, n_bins=-1), r"n_bins must be >= 1"),
        (lambda: positive_class_view(GOOD_PROBS, GOOD_LABELS, positive=2), r"positive must be a class id in \[0, 2\)"),
        (lambda: binary_calibration_error([0.2, 1.5], [0, 1]), r"prob\[1\] = 1.5 is outside \[0, 1\]"),
        (lambda: binary_calibration_error([[0.2, 0.5]], [0]), r"prob must be a non-empty 1-D array"),
        (lambda: binary_brier_score_loss([0.2, 0.5], [0, 2]), r"outcome\[1\] = 2 is not a class id in \[0, 2\)"),
        (lambda: binary_reliability_bins([0.2, 0.5], [0]), r"outcome has length 1, expected 2"),
        (lambda: binary_reliability_bins([0.2, np.nan], [0, 1]), r"prob\[1\] is nan"),
    ],
)
def test_other_arguments(call, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        call()


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"small_probs": GOOD_PROBS[:3]}, r"base_probs and small_probs must have the same shape"),
        ({"small_probs": GOOD_PROBS * 2}, r"small_probs\[0, 0\] = 1.4 is outside \[0, 1\]"),
        ({"base_probs": GOOD_PROBS[:, :1]}, r"base_probs must have at least 2 columns"),
        ({"labels": [0, 1, 1]}, r"labels has length 3, expected 4"),
        ({"n_resamples": -1}, r"n_resamples must be >= 0, got -1"),
        ({"seed": -2}, r"seed must be >= 0, got -2"),
        ({"ci_level": 1.5}, r"ci_level must be in \(0, 1\), got 1.5"),
        ({"ci_level": 0.4}, r"ci_level must be in \(0.5, 1\)"),
        ({"margins": {"accuracy": 0.1}}, r"margins has unknown metric 'accuracy'"),
        ({"margins": {"ece": -0.1}}, r"margins\['ece'\] must be a finite number > 0, got -0.1"),
        ({"margins": [("ece", 0.1)]}, r"margins must be a mapping"),
        ({"n_bins": 0}, r"n_bins must be >= 1"),
    ],
)
def test_bad_comparison_arguments(kwargs: dict, message: str) -> None:
    arguments = {"base_probs": GOOD_PROBS, "small_probs": GOOD_PROBS, "labels": GOOD_LABELS, "n_resamples": 5}
    arguments.update(kwargs)
    with pytest.raises(InvalidInputError, match=message):
        compare_calibration(**arguments)
