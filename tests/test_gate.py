"""The gate: configuration loading, three-valued checks and the four-valued verdict, table-tested."""

from __future__ import annotations

import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from trustaudit.exceptions import GateConfigError
from trustaudit.report import junit_xml
from trustaudit.gate import (
    CHECKS,
    GateConfig,
    GateDeprecationWarning,
    Measurement,
    evaluate,
    load_gate_config,
    rows_to_decide,
    verdict_sentence,
)

GOOD = {
    "predictions.accuracy_drop": 0.01,
    "predictions.agreement": 0.95,
    "calibration.ece_increase": 0.01,
    "calibration.brier_increase": 0.01,
    "attribution.lime.feature_agreement": 0.7,
    "attribution.shap.feature_agreement": 0.6,
    "attribution.lime.floor_ratio": 0.9,
    "attribution.shap.floor_ratio": 0.9,
}
POINT = GateConfig(decision="point")


@pytest.mark.parametrize(
    "change,config,status,failed",
    [
        ({}, POINT, "trust-equivalent", []),
        ({"predictions.accuracy_drop": 0.021}, POINT, "not trust-equivalent", ["max_accuracy_drop"]),
        ({"predictions.accuracy_drop": 0.02}, POINT, "trust-equivalent", []),
        ({"predictions.accuracy_drop": -0.05}, POINT, "trust-equivalent", []),
        ({"predictions.agreement": 0.899}, POINT, "not trust-equivalent", ["min_prediction_agreement"]),
        ({"calibration.ece_increase": 0.05, "calibration.brier_increase": 0.2}, POINT, "not trust-equivalent", ["max_ece_increase", "max_brier_increase"]),
        ({"attribution.lime.feature_agreement": 0.49}, POINT, "not trust-equivalent", ["min_lime_feature_agreement"]),
        ({"attribution.shap.feature_agreement": 0.1}, GateConfig(min_shap_feature_agreement=None, decision="point"), "trust-equivalent", []),
        ({"attribution.lime.floor_ratio": 0.5}, GateConfig(min_lime_floor_ratio=0.8, decision="point"), "not trust-equivalent", ["min_lime_floor_ratio"]),
        ({"attribution.lime.feature_agreement": None}, POINT, "incomplete", []),
        ({"predictions.accuracy_drop": float("nan")}, POINT, "incomplete", []),
        ({"predictions.accuracy_drop": None, "predictions.agreement": 0.5}, POINT, "not trust-equivalent", ["min_prediction_agreement"]),
    ],
)
def test_point_decision_table(change, config, status, failed) -> None:
    result = evaluate({**GOOD, **change}, config)
    assert result.status == status
    assert result.passed is (status == "trust-equivalent")
    assert [c.key for c in result.failed] == failed


def _one(value: float, interval: tuple[float, float], key: str = "max_accuracy_drop", limit: float = 0.02, n: int = 1000):
    config = GateConfig(**{spec.key: (limit if spec.key == key else None) for spec in CHECKS})
    spec = next(s for s in CHECKS if s.key == key)
    return evaluate({spec.metric: Measurement(value, interval, n)}, config).checks[0]


@pytest.mark.parametrize(
    "key,value,interval,status",
    [
        ("max_accuracy_drop", 0.010, (0.000, 0.019), "pass"),
        ("max_accuracy_drop", 0.010, (0.000, 0.020), "pass"),
        ("max_accuracy_drop", 0.030, (0.021, 0.040), "fail"),
        ("max_accuracy_drop", 0.030, (0.020, 0.040), "inconclusive"),
        ("max_accuracy_drop", 0.014, (-0.005, 0.033), "inconclusive"),
        ("min_prediction_agreement", 0.95, (0.93, 0.97), "pass"),
        ("min_prediction_agreement", 0.85, (0.80, 0.89), "fail"),
        ("min_prediction_agreement", 0.91, (0.88, 0.94), "inconclusive"),
    ],
)
def test_interval_decision_is_three_valued(key, value, interval, status) -> None:
    limit = 0.02 if key == "max_accuracy_drop" else 0.9
    check = _one(value, interval, key, limit)
    assert check.status == status
    assert check.passed is (status == "pass")
    assert (check.rows_to_decide is not None) is (status == "inconclusive")


def test_interval_and_point_disagree_on_a_constructed_case() -> None:
    """A point estimate under the limit whose interval reaches over it: point passes, interval cannot."""
    values = {"predictions.accuracy_drop": Measurement(0.014, (-0.005, 0.033), 2000)}
    only = {spec.key: None for spec in CHECKS}
    only["max_accuracy_drop"] = 0.02
    point = evaluate(values, GateConfig(**only, decision="point"))
    interval = evaluate(values, GateConfig(**only, decision="interval"))
    assert point.status == "trust-equivalent" and point.checks[0].status == "pass"
    assert interval.status == "inconclusive" and interval.checks[0].status == "inconclusive"
    assert "straddles" in interval.checks[0].message
    lower = {"predictions.accuracy_drop": Measurement(0.025, (0.019, 0.031), 2000)}
    assert evaluate(lower, GateConfig(**only, decision="point")).status == "not trust-equivalent"
    assert evaluate(lower, GateConfig(**only)).status == "inconclusive"


def test_rows_to_decide_against_a_hand_computed_case() -> None:
    # drop 1.4 points, interval -0.5 to +3.3 on 2,000 rows, limit 2: the upper half-width 1.9
    # must shrink below the 0.6-point gap: n' = 2000 * (1.9 / 0.6)^2 = 20,055.6 -> 20,056.
    assert rows_to_decide(0.014, (-0.005, 0.033), 2000, 0.02, "max") == 20056
    # failing side: agreement 0.85, interval 0.80-0.92, limit 0.9 on 100 explained rows: upper half 0.07, gap 0.05.
    assert rows_to_decide(0.85, (0.80, 0.92), 100, 0.9, "min") == 196
    # passing side of a min check: lower half 0.06, gap 0.02 -> 9x the rows.
    assert rows_to_decide(0.92, (0.86, 0.95), 100, 0.9, "min") == 900
    assert rows_to_decide(0.02, (0.0, 0.04), 100, 0.02, "max") is None
    check = _one(0.014, (-0.005, 0.033), n=2000)
    assert check.rows_to_decide == 20056
    assert "about 20,000 labelled rows would decide it (now 2,000)" in check.message


def test_an_interval_already_clear_needs_no_more_rows() -> None:
    check = _one(0.010, (0.000, 0.019))
    assert check.status == "pass" and check.rows_to_decide is None


def test_without_an_interval_the_interval_rule_cannot_decide() -> None:
    check = _one(0.0, None)
    assert check.status == "inconclusive" and "no interval" in check.message


@pytest.mark.parametrize(
    "statuses,verdict",
    [
        (["pass", "pass"], "trust-equivalent"),
        (["pass", "inconclusive"], "inconclusive"),
        (["pass", "not measured"], "incomplete"),
        (["inconclusive", "not measured"], "incomplete"),
        (["fail", "not measured", "inconclusive"], "not trust-equivalent"),
    ],
)
def test_four_valued_verdict(statuses, verdict) -> None:
    cases = {
        "pass": Measurement(0.95, (0.93, 0.97), 100),
        "fail": Measurement(0.50, (0.45, 0.55), 100),
        "inconclusive": Measurement(0.91, (0.85, 0.95), 100),
        "not measured": Measurement(None, None, 100, "no labels"),
    }
    keys = ["min_prediction_agreement", "min_lime_feature_agreement", "min_shap_feature_agreement"][: len(statuses)]
    limits = {spec.key: None for spec in CHECKS}
    limits.update({key: 0.9 for key in keys})
    metrics = {spec.key: spec.metric for spec in CHECKS}
    result = evaluate({metrics[k]: cases[s] for k, s in zip(keys, statuses)}, GateConfig(**limits))
    assert [c.status for c in result.checks] == statuses
    assert result.status == verdict
    assert verdict_sentence(result).lower().startswith(verdict)


def test_disabled_checks_are_absent() -> None:
    result = evaluate(GOOD, GateConfig(max_ece_increase=None))
    assert "max_ece_increase" not in [c.key for c in result.checks]
    assert len(result.checks) == 5


def test_every_check_has_a_config_key_and_a_unique_metric() -> None:
    keys = set(GateConfig().to_dict())
    assert {spec.key for spec in CHECKS} | {"decision"} == keys
    assert len({spec.metric for spec in CHECKS}) == len(CHECKS)
    defaults = {spec.key for spec in CHECKS if spec.default is not None}
    assert defaults == {"max_accuracy_drop", "min_prediction_agreement", "max_ece_increase", "max_brier_increase",
                        "min_lime_feature_agreement", "min_shap_feature_agreement"}


def test_config_from_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "gate.toml"
    path.write_text('max_accuracy_drop = 0.05\nmin_shap_feature_agreement = false\ndecision = "point"\nmax_negative_flip_rate = 0.03\n')
    config, source = load_gate_config(path)
    assert config.max_accuracy_drop == 0.05 and config.min_shap_feature_agreement is None and config.decision == "point"
    assert config.max_negative_flip_rate == 0.03
    assert config.min_prediction_agreement == GateConfig().min_prediction_agreement
    assert source == str(path)
    path.write_text("[gate]\nmin_prediction_agreement = 0.8\n")
    loaded = load_gate_config(path)[0]
    assert loaded.min_prediction_agreement == 0.8 and loaded.decision == "interval"


def test_use_intervals_is_deprecated_but_honoured(tmp_path: Path) -> None:
    path = tmp_path / "gate.toml"
    path.write_text("use_intervals = false\n")
    with pytest.warns(GateDeprecationWarning, match='decision = "point"'):
        assert load_gate_config(path)[0].decision == "point"
    path.write_text("use_intervals = true\n")
    with pytest.warns(GateDeprecationWarning):
        assert load_gate_config(path)[0].decision == "interval"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert GateConfig.from_dict({"use_intervals": False}, warn=False).decision == "point"


def test_config_from_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.trustaudit.gate]\nmax_ece_increase = 0.01\nmin_lime_feature_agreement = "off"\n')
    config, source = load_gate_config(None, cwd=tmp_path)
    assert config.max_ece_increase == 0.01 and config.min_lime_feature_agreement is None
    assert "pyproject.toml" in source
    empty = tmp_path / "empty"
    empty.mkdir()
    assert load_gate_config(None, cwd=empty) == (GateConfig(), "defaults")


@pytest.mark.parametrize(
    "content,match",
    [
        ("max_acuracy_drop = 0.1\n", "unknown gate key.*max_acuracy_drop.*valid keys"),
        ("min_prediction_agreement = 1.5\n", r"\[0, 1\]"),
        ("max_accuracy_drop = -1\n", ">= 0"),
        ("min_lime_floor_ratio = -0.5\n", "min_lime_floor_ratio must be >= 0"),
        ("max_accuracy_drop = 'big'\n", "must be a number"),
        ("use_intervals = 1\n", "true or false"),
        ('decision = "median"\n', "decision must be"),
        ('decision = "point"\nuse_intervals = true\n', "not both"),
        ("max_accuracy_drop = \n", "not valid TOML"),
        ("max_acuracy_drop = 0.1\n[gate]\nmin_prediction_agreement = 0.8\n", r"outside the \[gate\] table: max_acuracy_drop"),
        ("[gate]\nmin_prediction_agreement = 0.8\n[tool.trustaudit.gate]\nmax_accuracy_drop = 0.1\n", r"outside the \[tool.trustaudit.gate\] table: gate"),
    ],
)
def test_bad_config_is_an_error(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "gate.toml"
    path.write_text(content)
    with pytest.raises(GateConfigError, match=match):
        load_gate_config(path)


def test_floor_ratios_above_one_are_allowed(tmp_path: Path) -> None:
    path = tmp_path / "gate.toml"
    path.write_text("min_shap_floor_ratio = 1.2\n")
    assert load_gate_config(path)[0].min_shap_floor_ratio == 1.2


def test_a_gate_file_that_is_not_utf8_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "gate.toml"
    path.write_bytes("max_accuracy_drop = 0.1\n# caf\xe9\n".encode("latin-1"))
    with pytest.raises(GateConfigError, match=r"line 2: bytes that are not UTF-8"):
        load_gate_config(path)


def test_missing_gate_file(tmp_path: Path) -> None:
    with pytest.raises(GateConfigError, match="no such gate file"):
        load_gate_config(tmp_path / "absent.toml")


def test_config_round_trip() -> None:
    config = GateConfig(max_accuracy_drop=0.1, min_lime_floor_ratio=0.7, decision="point", max_class_recall_drop=0.05)
    assert GateConfig.from_dict(config.to_dict()) == config


def test_junit_has_one_case_per_check_and_fails_every_undecided_one() -> None:
    values = {**GOOD, "predictions.agreement": 0.5, "attribution.shap.feature_agreement": None}
    result = evaluate(values, POINT)
    root = ET.fromstring(junit_xml(result))
    cases = root.findall(".//testcase")
    assert [c.get("name") for c in cases] == [c.key for c in result.checks]
    assert root.get("failures") == "2"
    failed = {c.get("name"): c.find("failure").get("type") for c in cases if c.find("failure") is not None}
    assert failed == {"min_prediction_agreement": "fail", "min_shap_feature_agreement": "not measured"}
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props == {"verdict": "not trust-equivalent", "decision": "point"}
