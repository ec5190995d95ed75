"""The audit facade: the results document, its round trip, and sanity on identical models."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from trustaudit._audit import AuditConfig, AuditResult, audit, rejudge, stratified_sample
from trustaudit.data import load_dataset
from trustaudit.exceptions import InvalidInputError
from tests._helpers import REQUIRED_NUMBERS
from trustaudit.gate import GateConfig
from trustaudit.models import load_pair

QUICK = dict(explain_n=0, n_resamples=200, bias=False)


@pytest.fixture(scope="module")
def pair_result(trained_pair) -> AuditResult:
    base, small, dev = trained_pair
    return audit(base, small, dev, AuditConfig(**QUICK))


def test_document_has_the_documented_paths(pair_result: AuditResult) -> None:
    assert isinstance(pair_result.get("verdict.passed"), bool)
    for path in REQUIRED_NUMBERS:
        value = pair_result.get(path)
        assert isinstance(value, float) and not isinstance(value, bool), path
    assert pair_result["schema_version"] == 2
    assert pair_result.status in ("trust-equivalent", "not trust-equivalent", "inconclusive", "incomplete")
    assert pair_result.get("verdict.decision") == "interval"
    for key in ("models", "data", "config", "versions", "timings", "examples"):
        assert key in pair_result.document
    base = pair_result["models"]["base"]
    for key in ("path", "labels", "parameters", "bytes", "fingerprint", "latency"):
        assert key in base
    data = pair_result["data"]
    assert data["rows_used"] == 92 and len(data["sha256"]) == 64 and data["rows_skipped"] == 0


def test_values_are_consistent(pair_result: AuditResult, trained_pair) -> None:
    base, small, dev = trained_pair
    from trustaudit.metrics import expected_calibration_error
    from trustaudit._predict import predict

    pair = load_pair(base, small)
    data = load_dataset(dev, pair.labels)
    base_preds = predict(pair.base, data)
    assert pair_result.get("predictions.base.accuracy") == pytest.approx(base_preds.accuracy(data.labels))
    assert pair_result.get("calibration.base.ece") == pytest.approx(expected_calibration_error(base_preds.probs, data.labels))
    drop = pair_result.get("predictions.base.accuracy") - pair_result.get("predictions.small.accuracy")
    assert pair_result.get("predictions.accuracy_drop") == pytest.approx(drop)
    lo, hi = pair_result.get("predictions.accuracy_drop_interval")
    assert lo <= drop <= hi
    flips = np.array(pair_result.get("predictions.flip_matrix"))
    assert flips.sum() == 92 and np.trace(flips) == 92 - pair_result.get("predictions.flips")


def test_round_trip_is_exact(pair_result: AuditResult, tmp_path: Path) -> None:
    path = pair_result.write_json(tmp_path / "r.json")
    again = AuditResult.read_json(path)
    assert again.to_dict() == pair_result.to_dict()
    assert AuditResult.from_dict(json.loads(json.dumps(pair_result.to_dict()))).to_dict() == pair_result.to_dict()
    assert "NaN" not in path.read_text()


def test_bad_results_documents(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="schema_version"):
        AuditResult.from_dict({"verdict": {}})
    with pytest.raises(InvalidInputError, match="newer"):
        AuditResult.from_dict({"schema_version": 99})
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InvalidInputError, match="not valid JSON"):
        AuditResult.read_json(bad)


NO_ATTRIBUTION = {"min_lime_feature_agreement": None, "min_shap_feature_agreement": None}


def test_identical_models_without_explanations_are_incomplete_not_passed(trained_pair) -> None:
    base, _, dev = trained_pair
    result = audit(base, base, dev, AuditConfig(**QUICK))
    assert result.get("predictions.agreement") == 1.0
    assert result.get("predictions.kappa") == 1.0
    assert result.get("calibration.ece_increase") == 0.0
    assert result.get("calibration.ece_increase_interval") == [0.0, 0.0]
    assert result.status == "incomplete" and not result.passed
    statuses = {c["key"]: c["status"] for c in result["verdict"]["checks"]}
    assert statuses == {
        "max_accuracy_drop": "pass", "min_prediction_agreement": "pass", "max_ece_increase": "pass",
        "max_brier_increase": "pass", "min_lime_feature_agreement": "not measured", "min_shap_feature_agreement": "not measured",
    }
    messages = {c["key"]: c["message"] for c in result["verdict"]["checks"]}
    assert "no rows were explained" in messages["min_lime_feature_agreement"]


def test_identical_models_are_trust_equivalent_when_the_gate_asks_only_what_was_measured(trained_pair) -> None:
    base, _, dev = trained_pair
    result = audit(base, base, dev, AuditConfig(**QUICK, gate=GateConfig(**NO_ATTRIBUTION)))
    assert result.status == "trust-equivalent" and result.passed


def test_calibration_is_judged_both_ways(pair_result: AuditResult) -> None:
    c = pair_result["calibration"]
    for name in ("ece", "mce", "brier"):
        diff = c["comparison"][name]["diff"]
        assert c[f"{name}_increase"] == pytest.approx(diff)
        assert c[f"{name}_difference"] == pytest.approx(abs(diff))
        low, high = c[f"{name}_difference_interval"]
        assert 0 <= low <= high
        inc_low, inc_high = c[f"{name}_increase_interval"]
        assert high == pytest.approx(max(abs(inc_low), abs(inc_high)))


def test_the_gated_ece_follows_the_ece_strategy(trained_pair, pair_result: AuditResult) -> None:
    """With ece_strategy quantile the ECE checks judge the equal-mass ECE, as the authors' code bins it."""
    base, small, dev = trained_pair
    assert "ece_strategy" not in pair_result["config"] and "gated_ece" not in pair_result["calibration"]["settings"]
    assert pair_result["calibration"]["comparison"]["ece"]["diff"] != pair_result["calibration"]["comparison"]["ece_quantile"]["diff"]
    result = audit(base, small, dev, AuditConfig(**QUICK, n_bins=10, ece_strategy="quantile"))
    c = result["calibration"]
    quantile = c["comparison"]["ece_quantile"]
    assert result["config"]["ece_strategy"] == "quantile" and "equal-mass" in c["settings"]["gated_ece"]
    assert c["ece_increase"] == pytest.approx(quantile["diff"]) and c["ece_difference"] == pytest.approx(abs(quantile["diff"]))
    assert c["ece_increase_interval"] == pytest.approx([quantile["ci_low"], quantile["ci_high"]])
    check = next(ch for ch in result["verdict"]["checks"] if ch["key"] == "max_ece_increase")
    assert check["value"] == pytest.approx(quantile["diff"])
    assert c["mce_increase"] == pytest.approx(c["comparison"]["mce"]["diff"])
    with pytest.raises(InvalidInputError, match="ece_strategy must be one of uniform, quantile"):
        AuditConfig(ece_strategy="equal-mass")


@pytest.mark.parametrize(
    "interval,expected",
    [([0.01, 0.03], [0.01, 0.03]), ([-0.03, -0.01], [0.01, 0.03]), ([-0.02, 0.05], [0.0, 0.05]), (None, None)],
)
def test_absolute_difference_interval(interval, expected) -> None:
    from trustaudit._audit.verdict import absolute_interval as _absolute_interval

    assert _absolute_interval(interval) == expected


def test_results_of_schema_1_are_rejudged_under_the_current_rules() -> None:
    gold = Path(__file__).parent / "gold" / "results.json"
    old = json.loads(gold.read_text(encoding="utf-8"))
    assert old["schema_version"] == 1 and "status" not in old["verdict"]
    result = AuditResult.from_dict(old)
    assert result["schema_version"] == 2
    assert "Re-judged under the rules" in result["verdict"]["rejudged"]
    statuses = {c["key"]: c["status"] for c in result["verdict"]["checks"]}
    assert statuses["min_prediction_agreement"] == "fail"
    assert statuses["max_accuracy_drop"] == "inconclusive"
    assert result.status == "not trust-equivalent"
    assert "use_intervals" not in result["config"]["gate"] and result["config"]["gate"]["decision"] == "interval"


def test_stages_are_numbered_with_time_elapsed(trained_pair, bias_tests_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base, small, dev = trained_pair
    audit(base, small, dev, AuditConfig(explain_n=2, lime_samples=50, shap_max_evals=32, n_resamples=50,
                                        bias_tests=str(bias_tests_file), bias_permutations=100),
          progress=True, cache=False)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("trustaudit: [")]
    assert [line.split("]")[0] for line in lines] == [f"trustaudit: [{i}/7" for i in range(1, 8)]
    assert all(line.endswith(" s elapsed)") for line in lines)
    assert "explaining 2 rows" in lines[-3] and "comparing representations" in lines[-2] and "comparing bias" in lines[-1]


def test_rejudging_with_another_gate(pair_result: AuditResult) -> None:
    lenient = GateConfig(max_accuracy_drop=1.0, min_prediction_agreement=0.0, max_ece_increase=1.0, max_brier_increase=2.0, **NO_ATTRIBUTION)
    result = rejudge(pair_result, lenient, "test")
    assert result.passed and result.status == "trust-equivalent" and result["verdict"]["source"] == "test"
    assert result.get("predictions.agreement") == pair_result.get("predictions.agreement")
    strict = rejudge(pair_result, GateConfig(min_prediction_agreement=1.0, **NO_ATTRIBUTION), "strict")
    assert strict.status == "not trust-equivalent" and pair_result.get("predictions.agreement") < 1.0


def test_unlabelled_data_cannot_be_shown_trust_equivalent(trained_pair, tmp_path: Path) -> None:
    base, small, dev = trained_pair
    lines = dev.read_text().splitlines()
    unlabelled = tmp_path / "u.tsv"
    unlabelled.write_text("\n".join("\t".join(line.split("\t")[:2]) for line in lines) + "\n")
    result = audit(base, base, unlabelled, AuditConfig(**QUICK, gate=GateConfig(**NO_ATTRIBUTION)))
    assert result.get("calibration.available") is False
    assert result.get("predictions.base.accuracy") is None
    checks = {c["key"]: c for c in result["verdict"]["checks"]}
    assert checks["max_accuracy_drop"]["status"] == "not measured"
    assert "no gold labels" in checks["max_accuracy_drop"]["message"]
    assert checks["max_ece_increase"]["status"] == "not measured"
    assert checks["min_prediction_agreement"]["status"] == "pass" and checks["min_prediction_agreement"]["value"] == 1.0
    assert result.status == "incomplete"


def test_dataset_must_use_the_pairs_labels(trained_pair, tmp_path: Path) -> None:
    base, small, dev = trained_pair
    data = load_dataset(dev, ("contradiction", "entailment", "neutral"))
    with pytest.raises(InvalidInputError, match="not the base model's"):
        audit(base, small, data, AuditConfig(**QUICK))


def test_config_is_validated() -> None:
    with pytest.raises(InvalidInputError, match="segment"):
        AuditConfig(segment="c")
    with pytest.raises(InvalidInputError, match="explainers"):
        AuditConfig(explainers=("gradcam",))
    config = AuditConfig(top_k=(5, 10), gate=GateConfig(decision="point", max_negative_flip_rate=0.05))
    assert AuditConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_stratified_sample_is_proportional_and_seeded() -> None:
    labels = np.array([0] * 60 + [1] * 30 + [2] * 10)
    rows = stratified_sample(labels, 20, seed=3)
    assert Counter(labels[rows].tolist()) == {0: 12, 1: 6, 2: 2}
    assert np.all(np.diff(rows) > 0)
    assert rows.tolist() == stratified_sample(labels, 20, seed=3).tolist()
    assert rows.tolist() != stratified_sample(labels, 20, seed=4).tolist()
    assert len(stratified_sample(labels, 500, seed=0)) == 100


def test_flip_checks_read_the_flip_forensics(pair_result: AuditResult) -> None:
    gate = GateConfig(max_negative_flip_rate=0.5, max_class_recall_drop=0.5, **NO_ATTRIBUTION)
    checks = {c["key"]: c for c in rejudge(pair_result, gate, "flips")["verdict"]["checks"]}
    p = pair_result["predictions"]
    assert checks["max_negative_flip_rate"]["value"] == p["negative_flip_rate"]
    assert checks["max_negative_flip_rate"]["interval"] == p["negative_flip_rate_interval"]
    assert checks["max_class_recall_drop"]["value"] == p["worst_class_recall_drop"]
    assert checks["max_class_recall_drop"]["interval"] == p["worst_class_recall_drop_interval"]
    assert checks["max_negative_flip_rate"]["n"] == p["n"] == 92
    assert all(c["status"] != "not measured" for c in checks.values())


def test_checks_new_to_a_results_file_say_it_predates_them() -> None:
    gold = Path(__file__).parent / "gold" / "results.json"
    result = rejudge(AuditResult.read_json(gold), GateConfig(max_negative_flip_rate=0.1, max_mce_increase=0.1), "later")
    checks = {c["key"]: c for c in result["verdict"]["checks"]}
    for key in ("max_negative_flip_rate", "max_mce_increase"):
        assert checks[key]["status"] == "not measured"
        assert "written by an earlier trustaudit" in checks[key]["message"]
    assert result.status in ("not trust-equivalent", "incomplete")
