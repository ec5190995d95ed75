"""The gate: configuration loading and the verdict as a table-tested pure function."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from trustaudit.exceptions import GateConfigError
from trustaudit.gate import CHECKS, GateConfig, evaluate, junit_xml, load_gate_config

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


@pytest.mark.parametrize(
    "change,config,passed,failed",
    [
        ({}, GateConfig(), True, []),
        ({"predictions.accuracy_drop": 0.021}, GateConfig(), False, ["max_accuracy_drop"]),
        ({"predictions.accuracy_drop": 0.02}, GateConfig(), True, []),
        ({"predictions.accuracy_drop": -0.05}, GateConfig(), True, []),
        ({"predictions.agreement": 0.899}, GateConfig(), False, ["min_prediction_agreement"]),
        ({"calibration.ece_increase": 0.05, "calibration.brier_increase": 0.2}, GateConfig(), False, ["max_ece_increase", "max_brier_increase"]),
        ({"attribution.lime.feature_agreement": 0.49}, GateConfig(), False, ["min_lime_feature_agreement"]),
        ({"attribution.shap.feature_agreement": 0.1}, GateConfig(min_shap_feature_agreement=None), True, []),
        ({"attribution.lime.floor_ratio": 0.5}, GateConfig(min_lime_floor_ratio=0.8), False, ["min_lime_floor_ratio"]),
        ({"attribution.lime.feature_agreement": None}, GateConfig(), True, []),
        ({"predictions.accuracy_drop": float("nan")}, GateConfig(), True, []),
    ],
)
def test_verdict_table(change, config, passed, failed) -> None:
    result = evaluate({**GOOD, **change}, config)
    assert result.passed is passed
    assert [c.key for c in result.failed] == failed


def test_missing_values_are_skipped_not_failed() -> None:
    result = evaluate({"predictions.agreement": 0.95}, GateConfig())
    statuses = {c.key: c.status for c in result.checks}
    assert statuses["min_prediction_agreement"] == "pass"
    assert statuses["max_accuracy_drop"] == "skipped"
    assert result.passed


def test_disabled_checks_are_absent() -> None:
    result = evaluate(GOOD, GateConfig(max_ece_increase=None))
    assert "max_ece_increase" not in [c.key for c in result.checks]
    assert len(result.checks) == 5


def test_intervals_judge_the_pessimistic_end() -> None:
    intervals = {"predictions.accuracy_drop": (0.0, 0.03), "predictions.agreement": (0.88, 0.97)}
    lenient = evaluate(GOOD, GateConfig(), intervals)
    strict = evaluate(GOOD, GateConfig(use_intervals=True), intervals)
    assert lenient.passed
    assert [c.key for c in strict.failed] == ["max_accuracy_drop", "min_prediction_agreement"]
    check = strict.failed[0]
    assert check.value == 0.01 and check.judged == 0.03 and "pessimistic" in check.message


def test_config_from_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "gate.toml"
    path.write_text("max_accuracy_drop = 0.05\nmin_shap_feature_agreement = false\nuse_intervals = true\n")
    config, source = load_gate_config(path)
    assert config.max_accuracy_drop == 0.05 and config.min_shap_feature_agreement is None and config.use_intervals
    assert config.min_prediction_agreement == GateConfig().min_prediction_agreement
    assert source == str(path)
    path.write_text("[gate]\nmin_prediction_agreement = 0.8\n")
    assert load_gate_config(path)[0].min_prediction_agreement == 0.8


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
        ("max_accuracy_drop = 'big'\n", "must be a number"),
        ("use_intervals = 1\n", "true or false"),
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


def test_missing_gate_file(tmp_path: Path) -> None:
    with pytest.raises(GateConfigError, match="no such gate file"):
        load_gate_config(tmp_path / "absent.toml")


def test_config_round_trip() -> None:
    config = GateConfig(max_accuracy_drop=0.1, min_lime_floor_ratio=0.7, use_intervals=True)
    assert GateConfig.from_dict(config.to_dict()) == config


def test_every_check_has_a_config_key() -> None:
    keys = set(GateConfig().to_dict())
    assert {spec.key for spec in CHECKS} <= keys


def test_junit_has_one_case_per_check() -> None:
    result = evaluate({**GOOD, "predictions.agreement": 0.5, "attribution.shap.feature_agreement": None}, GateConfig())
    root = ET.fromstring(junit_xml(result))
    cases = root.findall(".//testcase")
    assert [c.get("name") for c in cases] == [c.key for c in result.checks]
    assert root.get("failures") == "1" and root.get("skipped") == "1"
    failed = [c for c in cases if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == ["min_prediction_agreement"]
