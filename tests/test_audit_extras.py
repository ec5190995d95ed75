"""The extras of an audit: CKA of the representations and adversarial transfer, gated and reported."""

from __future__ import annotations

import numpy as np
import pytest

from trustaudit._audit import AuditConfig, AuditResult, audit, rejudge
from trustaudit.data import load_dataset
from trustaudit.gate import GateConfig
from trustaudit.metrics import linear_cka
from trustaudit.models import load_pair
from trustaudit.report import render_html

QUICK = dict(explain_n=4, lime_samples=50, shap_max_evals=50, bias=False, n_resamples=50, attack_n=3)


@pytest.fixture(scope="module")
def extras_result(trained_pair) -> AuditResult:
    base, small, dev = trained_pair
    gate = GateConfig(min_cka=0.0, max_adversarial_transfer_gap=1.0)
    return audit(base, small, dev, AuditConfig(**QUICK, gate=gate), cache=False)


def test_representation_section(extras_result: AuditResult, trained_pair) -> None:
    from trustaudit._audit.extras import REPRESENTATION_ROWS
    from trustaudit._audit.sections import sample_rows
    from trustaudit.representations import layer_representations

    rep = extras_result["extras"]["representation"]
    assert rep["available"] and rep["reason"] == ""
    for pooling in ("cls", "mean"):
        assert 0.0 <= rep[pooling]["cka"] <= 1.0
        low, high = rep[pooling]["cka_ci"]
        assert 0.0 <= low <= high <= 1.0
        assert 0.0 <= rep[pooling]["self_reference"] <= 1.0
    assert rep["cka"] == rep["mean"]["cka"] and rep["cka_interval"] == rep["mean"]["cka_ci"]
    base_path, small_path, dev = trained_pair
    pair = load_pair(base_path, small_path)
    data = load_dataset(dev, pair.labels)
    rows = sample_rows(data, min(len(data), REPRESENTATION_ROWS), 0)
    assert rep["rows"] == len(rows)
    texts = [data.pairs()[int(i)] for i in rows]
    base, small = layer_representations(pair.base, texts, device="cpu"), layer_representations(pair.small, texts, device="cpu")
    assert rep["cka"] == pytest.approx(linear_cka(base.final("mean"), small.final("mean")), abs=1e-6)
    assert rep["cls"]["cka"] == pytest.approx(linear_cka(base.final("cls"), small.final("cls")), abs=1e-6)
    layers = rep["layers"]
    assert (layers["base_states"], layers["small_states"]) == (3, 2)
    assert np.asarray(layers["mean"]).shape == (3, 2)
    assert layers["mean"][-1][-1] == pytest.approx(rep["cka"], abs=1e-6)


def test_adversarial_section(extras_result: AuditResult) -> None:
    adv = extras_result["extras"]["adversarial"]
    assert adv["available"] and adv["explainer"] == "lime" and adv["attacked"] == 3 and len(adv["rows"]) == 3
    explained = {ex["row"] for ex in extras_result["examples"]}
    assert {r["row"] for r in adv["rows"]} <= explained
    forward = adv["rates"]["base_to_small"]
    assert forward["n_attacked"] <= 3
    if forward["success_rate"] is not None:
        assert 0.0 <= forward["success_rate"] <= 1.0 and 0.0 <= forward["transferred_rate"] <= forward["success_rate"]
    assert adv["transfer_gap"] == adv["rates"]["transfer_gap"]
    assert "extras" in extras_result["timings"]


def test_extras_round_trip_through_json(extras_result: AuditResult, tmp_path) -> None:
    path = extras_result.write_json(tmp_path / "results.json")
    assert AuditResult.read_json(path).to_dict() == extras_result.to_dict()


def test_extras_checks_are_judged(extras_result: AuditResult) -> None:
    checks = {c["key"]: c for c in extras_result["verdict"]["checks"]}
    cka = checks["min_cka"]
    assert cka["value"] == extras_result["extras"]["representation"]["cka"]
    assert cka["status"] in ("pass", "inconclusive")
    gap = checks["max_adversarial_transfer_gap"]
    adv = extras_result["extras"]["adversarial"]
    assert gap["value"] == adv["transfer_gap"]
    strict = rejudge(extras_result, GateConfig(min_cka=1.0), "later")
    assert {c["key"]: c for c in strict["verdict"]["checks"]}["min_cka"]["status"] in ("fail", "inconclusive")


def test_report_shows_the_extras(extras_result: AuditResult) -> None:
    html = render_html(extras_result)
    assert 'id="extras"' in html
    assert "Linear CKA" in html and "Adversarial transfer" in html
    rep = extras_result["extras"]["representation"]
    assert f"{rep['mean']['cka']:.3f}" in html


def test_no_extras_leaves_no_section_and_no_stage(trained_pair, capsys: pytest.CaptureFixture[str]) -> None:
    base, small, dev = trained_pair
    result = audit(base, small, dev, AuditConfig(**{**QUICK, "explain_n": 0}, extras=False,
                                                 gate=GateConfig(min_cka=0.5)), cache=False, progress=True)
    assert "extras" not in result.to_dict() and "extras" not in result["timings"]
    assert "representations" not in capsys.readouterr().err
    check = {c["key"]: c for c in result["verdict"]["checks"]}["min_cka"]
    assert check["status"] == "not measured" and "--no-extras" in check["message"]
    assert result["config"]["extras"] is False and "attack_n" not in AuditConfig().to_dict()
    assert 'id="extras"' not in render_html(result)


def test_no_explanations_leave_the_attack_unavailable(trained_pair) -> None:
    base, small, dev = trained_pair
    result = audit(base, small, dev, AuditConfig(**{**QUICK, "explain_n": 0}), cache=False)
    assert result["extras"]["representation"]["available"]
    adv = result["extras"]["adversarial"]
    assert not adv["available"] and "explain_n = 0" in adv["reason"]
    assert 'id="extras"' in render_html(result)


def test_config_and_cli() -> None:
    from trustaudit.cli import audit_config, build_parser
    from trustaudit.exceptions import InvalidInputError

    args = build_parser().parse_args(["compare", "b", "s", "--data", "d", "--no-extras", "--attack-n", "7"])
    config = audit_config(args)
    assert (config.extras, config.attack_n) == (False, 7)
    assert config.to_dict()["attack_n"] == 7
    assert AuditConfig.from_dict(config.to_dict()) == config
    with pytest.raises(InvalidInputError, match="attack_n"):
        AuditConfig(attack_n=-1)
    with pytest.raises(InvalidInputError, match="extras"):
        AuditConfig(extras="yes")  # type: ignore[arg-type]


def test_results_before_the_extras_say_so() -> None:
    from pathlib import Path

    gold = AuditResult.read_json(Path(__file__).parent / "gold" / "results.json")
    result = rejudge(gold, GateConfig(min_cka=0.5, max_adversarial_transfer_gap=0.1), "later")
    checks = {c["key"]: c for c in result["verdict"]["checks"]}
    for key in ("min_cka", "max_adversarial_transfer_gap"):
        assert checks[key]["status"] == "not measured"
        assert "written before the extras comparisons" in checks[key]["message"]
    assert 'id="extras"' not in render_html(gold)
