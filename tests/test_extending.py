"""Adding a calibration metric is one function plus one registry entry: audit, JSON, report and gate follow."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pytest

from trustaudit._audit import AuditConfig, AuditResult, audit, rejudge
from trustaudit._predict import predict
from trustaudit.data import load_dataset
from trustaudit.exceptions import GateConfigError
from trustaudit.gate import GateConfig
from trustaudit.metrics import MetricSpec, brier_score_loss, compare_calibration, registered_metric
from trustaudit.models import load_pair
from trustaudit.report import render_html


def confidence_gap_error(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean |confidence - correctness| of the top label: (1/n) sum_i |conf_i - 1[argmax_i = y_i]|."""
    predicted = np.argmax(probs, axis=1)
    confidence = probs[np.arange(len(probs)), predicted]
    return float(np.mean(np.abs(confidence - (predicted == labels))))


GAP = MetricSpec(
    "confidence_gap_error", False, 0.0, 1.0, "mean |top-label confidence - correctness| over rows",
    key="confidence_gap", label="confidence gap", unit="points", section="calibration",
    explanation="how far each row's confidence is from being right or wrong",
)
QUICK = dict(explain_n=0, n_resamples=200, bias=False)


def test_the_metric_by_hand() -> None:
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7]])
    # right at 0.9 (gap 0.1), wrong at 0.6 (gap 0.6), right at 0.7 (gap 0.3)
    assert confidence_gap_error(probs, np.array([0, 1, 1])) == pytest.approx(1.0 / 3.0)


def test_a_registered_metric_is_bootstrapped_like_the_built_in_ones(rng: np.random.Generator) -> None:
    base = rng.dirichlet(np.ones(3), size=60)
    small = rng.dirichlet(np.ones(3), size=60)
    labels = rng.integers(0, 3, size=60)
    brier_again = MetricSpec("brier_again_loss", False, 0.0, 2.0, "the Brier score through the generic path",
                             key="brier_again", section="calibration")
    with registered_metric(brier_again, brier_score_loss):
        compared = compare_calibration(base, small, labels, n_resamples=300, seed=3).metrics
    built_in, generic = compared["brier"], compared["brier_again"]
    assert (generic.base, generic.small, generic.diff) == pytest.approx((built_in.base, built_in.small, built_in.diff))
    assert (generic.ci_low, generic.ci_high, generic.p_value) == pytest.approx((built_in.ci_low, built_in.ci_high, built_in.p_value))
    assert "brier_again" not in compare_calibration(base, small, labels, n_resamples=0).metrics


@pytest.fixture(scope="module")
def gap_audit(trained_pair, tmp_path_factory: pytest.TempPathFactory) -> tuple[AuditResult, str, Path]:
    """An audit with the metric registered and its increase gated; the JSON written (and schema-checked) and read back."""
    base, small, dev = trained_pair
    with registered_metric(GAP, confidence_gap_error):
        gate = GateConfig.from_dict({"max_confidence_gap_increase": 1.0})
        result = audit(base, small, dev, AuditConfig(**QUICK, gate=gate))
        report = render_html(result)
        path = result.write_json(tmp_path_factory.mktemp("extending") / "results.json")
    return result, report, path


def test_both_models_and_the_difference_are_in_the_json(gap_audit, trained_pair) -> None:
    result, _, path = gap_audit
    base, small, dev = trained_pair
    pair = load_pair(base, small)
    data = load_dataset(dev, pair.labels)
    expected = {name: confidence_gap_error(predict(bundle, data).probs, data.labels) for name, bundle in (("base", pair.base), ("small", pair.small))}
    calibration = result["calibration"]
    assert calibration["base"]["confidence_gap"] == pytest.approx(expected["base"])
    assert calibration["small"]["confidence_gap"] == pytest.approx(expected["small"])
    compared = calibration["comparison"]["confidence_gap"]
    assert compared["diff"] == pytest.approx(expected["small"] - expected["base"])
    assert compared["ci_low"] <= compared["diff"] <= compared["ci_high"]
    assert path.read_text(encoding="utf-8").count('"confidence_gap"') >= 3


def test_the_report_has_a_row_for_it(gap_audit) -> None:
    result, report, _ = gap_audit
    compared = result["calibration"]["comparison"]["confidence_gap"]
    text = html.unescape(report)
    assert "<td>confidence gap</td>" in text
    assert "how far each row's confidence is from being right or wrong" in text
    assert f"{compared['base']:.4f}" in text and f"{compared['small']:.4f}" in text
    # Rendered later, without the metric registered, the row is still shown under its key.
    assert "<td>confidence_gap</td>" in html.unescape(render_html(result.to_dict()))


def test_the_gate_judges_it_by_its_registered_direction_and_unit(gap_audit) -> None:
    result, _, _ = gap_audit
    compared = result["calibration"]["comparison"]["confidence_gap"]
    check = next(c for c in result["verdict"]["checks"] if c["key"] == "max_confidence_gap_increase")
    assert (check["kind"], check["unit"], check["rows"]) == ("max", "points", "labelled rows")
    assert check["value"] == pytest.approx(compared["diff"])
    assert check["interval"] == pytest.approx([compared["ci_low"], compared["ci_high"]])
    assert check["status"] == "pass"  # any difference of a [0, 1] metric is at most 1
    assert check["message"].startswith("confidence gap increase (small - base) is ")
    assert result["config"]["gate"]["max_confidence_gap_increase"] == 1.0

    half = abs(compared["diff"]) / 2
    assert half > 0
    with registered_metric(GAP, confidence_gap_error):
        point = GateConfig.from_dict({"max_confidence_gap_difference": half, "decision": "point"})
        judged = rejudge(result, point, "half the difference")
        checks = {c["key"]: c for c in judged["verdict"]["checks"]}
        assert checks["max_confidence_gap_difference"]["status"] == "fail"
        assert checks["max_confidence_gap_difference"]["value"] == pytest.approx(2 * half)
        assert "max_confidence_gap_increase" not in checks
        assert judged.status == "not trust-equivalent"


def test_unregistered_it_is_an_unknown_gate_key_again(gap_audit) -> None:
    _, _, path = gap_audit
    assert AuditResult.read_json(path)["calibration"]["comparison"]["confidence_gap"]["diff"] is not None
    with pytest.raises(GateConfigError, match="unknown gate key.*max_confidence_gap_increase"):
        GateConfig.from_dict({"max_confidence_gap_increase": 0.1})
    assert "confidence_gap" not in compare_calibration([[0.7, 0.3]], [[0.6, 0.4]], [0], n_resamples=0).metrics


def test_a_results_file_without_the_metric_leaves_its_check_not_measured() -> None:
    gold = AuditResult.read_json(Path(__file__).parent / "gold" / "results.json")
    with registered_metric(GAP, confidence_gap_error):
        judged = rejudge(gold, GateConfig.from_dict({"max_confidence_gap_increase": 0.1}), "later")
    check = next(c for c in judged["verdict"]["checks"] if c["key"] == "max_confidence_gap_increase")
    assert check["status"] == "not measured"
    assert "confidence_gap was not computed when it was written" in check["message"]
