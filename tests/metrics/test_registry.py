"""The metric registry: one entry per metric, direction named in the name, every result key resolvable."""

from __future__ import annotations

import dataclasses

import pytest

import trustaudit.metrics as metrics
from trustaudit.exceptions import InvalidInputError
from trustaudit.metrics import ALIASES, CALIBRATION_METRICS, METRICS, attribution_agreement, get_metric
from trustaudit.metrics.agreement import PredictionAgreement


def test_names_state_their_direction() -> None:
    for name, spec in METRICS.items():
        assert spec.name == name
        assert name.endswith(("_score", "_error", "_loss")), name
        assert spec.higher_is_better is name.endswith("_score"), name
        assert spec.lower < spec.upper and spec.description


def test_every_result_key_resolves() -> None:
    agreement = attribution_agreement([[0.1, 0.2]], [[0.2, 0.1]], ks=(1,), n_resamples=0)
    keys = set(CALIBRATION_METRICS) | {statistic.metric for statistic in agreement.statistics.values()}
    keys |= {"agreement", "cohen_kappa", "error_jaccard"}
    assert {"agreement", "cohen_kappa", "error_jaccard"} <= {f.name for f in dataclasses.fields(PredictionAgreement)}
    for key in keys:
        assert get_metric(key) is METRICS[ALIASES[key]]
    assert set(ALIASES.values()) == set(METRICS)


def test_lookup_by_name_and_unknown() -> None:
    assert get_metric("brier_score_loss").upper == 2.0
    assert get_metric("rank_correlation").lower == -1.0
    with pytest.raises(InvalidInputError, match="unknown metric 'accuracy_loss'"):
        get_metric("accuracy_loss")


def test_public_names_are_exported() -> None:
    for name in metrics.__all__:
        assert hasattr(metrics, name), name
    spec = METRICS["log_loss"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.upper = 1.0  # type: ignore[misc]


def test_result_keys_are_derived_from_the_specs() -> None:
    assert ALIASES == {spec.key: name for name, spec in METRICS.items()}
    assert get_metric("nll").name == "log_loss" and get_metric("nll").section == "calibration"
    assert CALIBRATION_METRICS == ("ece", "ece_quantile", "mce", "classwise_ece", "smooth_ece", "brier", "nll")
    increase, difference = metrics.comparisons_of("ece")
    assert (increase.key, increase.unit, increase.higher_is_better) == ("ece_increase", "points", False)
    assert difference.label == "ECE difference |small - base|"


def test_negative_log_likelihood_is_a_deprecated_alias_of_log_loss() -> None:
    probs, labels = [[0.8, 0.2], [0.3, 0.7]], [0, 0]
    with pytest.warns(DeprecationWarning, match="use trustaudit.metrics.log_loss"):
        value = metrics.negative_log_likelihood(probs, labels)
    assert value == metrics.log_loss(probs, labels)


def test_specs_are_checked_and_registration_is_all_or_nothing() -> None:
    with pytest.raises(InvalidInputError, match="must end in _score, _error or _loss"):
        metrics.MetricSpec("overconfidence", False, 0.0, 1.0, "x")
    with pytest.raises(InvalidInputError, match="higher_is_better must be True"):
        metrics.MetricSpec("overconfidence_score", False, 0.0, 1.0, "x")
    spec = metrics.MetricSpec("spread_error", False, 0.0, 1.0, "x", key="spread", section="calibration")
    with pytest.raises(InvalidInputError, match="needs its function"):
        metrics.register_metric(spec)
    clash = metrics.MetricSpec("other_ece_error", False, 0.0, 1.0, "x", key="ece", section="calibration")
    before = dict(METRICS)
    with pytest.raises(InvalidInputError, match="key 'ece' is already registered"):
        metrics.register_metric(clash, lambda p, y: 0.0)
    assert METRICS == before
    with pytest.raises(InvalidInputError, match="not a metric registered at run time"):
        metrics.unregister_metric("ece")
    with metrics.registered_metric(spec, lambda p, y: 0.0):
        assert "spread_increase" in ALIASES and metrics.metric_function("spread") is not None
    assert "spread" not in ALIASES and "spread_increase" not in ALIASES and METRICS == before
