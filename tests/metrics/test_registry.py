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
