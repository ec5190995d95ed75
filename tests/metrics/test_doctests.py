"""The docstring examples of ``trustaudit.metrics`` run and give what they show."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import trustaudit.metrics

#: The public metric functions whose docstrings must carry at least one example.
DOCUMENTED_METRICS = (
    "expected_calibration_error",
    "maximum_calibration_error",
    "classwise_calibration_error",
    "smooth_calibration_error",
    "brier_score_loss",
    "log_loss",
    "brier_decomposition",
    "reliability_bins",
    "compare_calibration",
    "feature_agreement",
    "rank_agreement",
    "sign_agreement",
    "topk_jaccard",
    "rank_correlation",
    "kendall_tau",
    "attribution_agreement",
    "prediction_agreement",
)

MODULES = sorted(
    f"trustaudit.metrics.{info.name}" for info in pkgutil.iter_modules(trustaudit.metrics.__path__)
) + ["trustaudit.metrics"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_pass(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False, report=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) of {name} failed"


@pytest.mark.parametrize("name", DOCUMENTED_METRICS)
def test_public_metric_has_a_running_example(name: str) -> None:
    assert name in trustaudit.metrics.__all__
    function = getattr(trustaudit.metrics, name)
    doc = function.__doc__ or ""
    for section in ("Parameters", "Returns", "Examples"):
        assert f"\n    {section}\n    ---" in doc, f"{name} lacks a {section} section"
    tests = doctest.DocTestFinder().find(function, name, globs={})
    examples = sum(len(test.examples) for test in tests)
    assert examples >= 1, f"{name} has no docstring example"
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for test in tests:
        runner.run(test)
    assert runner.failures == 0 and runner.tries >= 1
