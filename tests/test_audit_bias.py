"""The bias comparison inside an audit: the section, the gate key, the CLI options and the report."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from tests._helpers import LogitsOnly
from trustaudit._audit import BIAS_OFF, AuditConfig, AuditResult, audit, bias_measurement
from trustaudit.bias import compare_bias, counterfactual_flips
from trustaudit.cli import build_parser, main
from trustaudit.data import load_dataset
from trustaudit.exceptions import InvalidInputError
from trustaudit.gate import GateConfig
from trustaudit.models import ModelPair, load_pair
from trustaudit.report import key_numbers, render_html

NO_DEFAULTS = dict(max_accuracy_drop=None, min_prediction_agreement=None, max_ece_increase=None, max_brier_increase=None,
                   min_lime_feature_agreement=None, min_shap_feature_agreement=None)
SETTINGS = dict(n_resamples=100, bias_permutations=500, seed=2)


@pytest.fixture(scope="module")
def result(trained_pair, bias_tests_file: Path) -> AuditResult:
    base, small, dev = trained_pair
    config = AuditConfig(explain_n=6, explainers=("lime",), lime_samples=50, bias_tests=str(bias_tests_file),
                         gate=GateConfig(**NO_DEFAULTS, max_bias_effect_change=0.5), **SETTINGS)
    return audit(base, small, dev, config, cache=False)


def test_section_equals_a_direct_comparison(result: AuditResult, trained_pair, bias_tests_file: Path) -> None:
    base, small, dev = trained_pair
    pair = load_pair(base, small)
    bias = result["bias"]
    assert bias["available"] and bias["reason"] == "" and "bias" in result["timings"]
    direct = compare_bias(pair.base, pair.small, bias_tests_file, pooling=("mean", "cls"), n_permutations=500,
                          n_resamples=100, seed=2, batch_size=32, device="cpu").to_dict()
    stored = dict(bias["embedding"])
    assert stored.pop("seconds").keys() == direct.pop("seconds").keys()
    assert stored == json.loads(json.dumps(direct))
    dataset = load_dataset(dev, pair.labels)
    text = dict(zip(dataset.rows, dataset.pairs()))
    explained = sorted(ex["row"] for ex in result["examples"])
    assert bias["rows"] == explained
    flips = counterfactual_flips(pair, [text[r] for r in explained], n_resamples=100, seed=2, cache=False)
    assert bias["counterfactual"] == json.loads(json.dumps(flips.to_dict()))
    assert bias["counterfactual"]["n_texts"] == 6


def test_gate_reads_the_largest_change_and_the_maxima_of_the_per_test_intervals(result: AuditResult) -> None:
    changes = [r["change"] for t in result["bias"]["embedding"]["tests"] for r in t["results"]]
    assert len(changes) == 4
    value = max(c["absolute_difference"] for c in changes)
    low = max(c["absolute_difference_ci"][0] for c in changes)
    high = max(c["absolute_difference_ci"][1] for c in changes)
    assert value == result["bias"]["embedding"]["max_abs_effect_change"]
    check = next(c for c in result["verdict"]["checks"] if c["key"] == "max_bias_effect_change")
    assert check["value"] == value and check["interval"] == [low, high] and check["n"] is None
    expected = "pass" if high <= 0.5 else "fail" if low > 0.5 else "inconclusive"
    assert check["status"] == expected
    if expected == "inconclusive":
        assert check["message"].endswith("more words per set would decide it")


def test_gate_interval_rule_by_hand() -> None:
    def doc(*intervals: tuple[float, float, float]) -> dict:
        results = [{"change": {"absolute_difference": v, "absolute_difference_ci": [lo, hi]}} for v, lo, hi in intervals]
        return {"bias": {"available": True, "embedding": {"tests": [{"results": results}]}}}

    measured = bias_measurement(doc((0.3, 0.1, 0.6), (0.2, 0.15, 0.4), (0.25, 0.0, 0.9)))
    assert measured.value == 0.3 and measured.interval == (0.15, 0.9) and measured.n is None
    off = bias_measurement({"bias": {"available": False, "reason": BIAS_OFF}})
    assert off.value is None and off.reason == BIAS_OFF
    assert "before the bias comparison" in bias_measurement({}).reason


def test_report_shows_the_section_and_escapes_the_test_labels(result: AuditResult) -> None:
    html = render_html(result)
    assert '<section id="bias">' in html and 'href="#bias"' in html
    section = html[html.index('<section id="bias">'):html.index('<section id="alignment">')]
    assert 'aria-label="Effect size d of each association test' in section
    assert section.count("<circle") == 8, "two models x two tests x two poolings"
    assert "people-moods (mean)" in section and "largest change in bias" in section
    assert "<script>alert(1)" not in html
    assert "male &lt;script&gt;alert(1)&lt;/script&gt;" in section
    assert "Counterfactual flips" in section and "can and cannot say" in section
    rows = dict((name, small) for name, _, small in key_numbers(result.to_dict()))
    assert "largest change in bias (d)" in rows


def test_results_without_a_bias_section_still_render() -> None:
    gold = json.loads((Path(__file__).parent / "gold" / "results.json").read_text(encoding="utf-8"))
    assert "bias" not in gold
    html = render_html(AuditResult.from_dict(gold))
    assert "This audit predates the bias comparison" in html


def test_a_model_against_itself_changes_no_bias(trained_pair, bias_tests_file: Path) -> None:
    base, _, dev = trained_pair
    config = AuditConfig(explain_n=0, bias_tests=str(bias_tests_file), gate=GateConfig(**NO_DEFAULTS, max_bias_effect_change=0.1),
                         **SETTINGS)
    same = audit(base, base, dev, config, cache=False)
    assert same["bias"]["embedding"]["max_abs_effect_change"] == 0.0
    assert same["bias"]["counterfactual"] is None, "no rows were explained"
    (check,) = same["verdict"]["checks"]
    assert check["status"] == "pass" and check["interval"] == [0.0, 0.0]
    assert same.status == "trust-equivalent"


def test_a_model_without_hidden_states_is_recorded_not_fatal(trained_pair, bias_tests_file: Path) -> None:
    base, small, dev = trained_pair
    pair = load_pair(base, small)
    blind = dataclasses.replace(pair.small, model=LogitsOnly(accepts_kwargs=False), kind="onnx", path="small.onnx")
    config = AuditConfig(explain_n=0, bias_tests=str(bias_tests_file), gate=GateConfig(**NO_DEFAULTS, max_bias_effect_change=0.1),
                         **SETTINGS)
    outcome = audit(ModelPair(pair.base, blind, pair.permutation), None, dev, config, cache=False)
    assert outcome["bias"]["available"] is False and "hidden states" in outcome["bias"]["reason"]
    (check,) = outcome["verdict"]["checks"]
    assert check["status"] == "not measured" and "hidden states" in check["message"]
    assert "Bias was not compared" in render_html(outcome)


def test_no_bias_leaves_the_enabled_check_not_measured(trained_pair, tmp_path: Path) -> None:
    base, small, dev = trained_pair
    gate = tmp_path / "gate.toml"
    gate.write_text("".join(f"{key} = false\n" for key in NO_DEFAULTS) + "max_bias_effect_change = 0.5\n", encoding="utf-8")
    out = tmp_path / "r.json"
    code = main(["--no-progress", "compare", str(base), str(small), "--data", str(dev), "--explain-n", "0", "--no-bias",
                 "--n-resamples", "50", "--no-cache", "--gate", str(gate), "--json", str(out), "--out", str(tmp_path / "r.html")])
    assert code == 4
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["bias"] == {"available": False, "reason": BIAS_OFF} and doc["config"]["bias"] is False
    check = next(c for c in doc["verdict"]["checks"] if c["key"] == "max_bias_effect_change")
    assert check["status"] == "not measured" and check["message"].endswith(BIAS_OFF)
    assert "turned off (--no-bias)" in (tmp_path / "r.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("content, expected", [
    ("{not json", "not valid JSON"),
    ('{"tests": []}', "test"),
])
def test_a_bad_bias_tests_file_exits_2_with_one_line(trained_pair, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    content: str, expected: str) -> None:
    base, small, dev = trained_pair
    bad = tmp_path / "bias.json"
    bad.write_text(content, encoding="utf-8")
    code = main(["--no-progress", "compare", str(base), str(small), "--data", str(dev), "--bias-tests", str(bad),
                 "--out", str(tmp_path / "r.html"), "--no-cache"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("trustaudit: error: ") and expected in err[0]
    assert not (tmp_path / "r.html").exists()


def test_an_output_may_not_overwrite_the_bias_tests(trained_pair, bias_tests_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base, small, dev = trained_pair
    code = main(["--no-progress", "compare", str(base), str(small), "--data", str(dev), "--bias-tests", str(bias_tests_file),
                 "--json", str(bias_tests_file), "--no-cache"])
    assert code == 2 and "--bias-tests" in capsys.readouterr().err


def test_cli_defaults_are_the_config_defaults() -> None:
    args = build_parser().parse_args(["compare", "b.pt", "s.pt", "--data", "d.tsv"])
    default = AuditConfig()
    assert (args.bias, args.bias_tests, args.bias_pooling, args.bias_permutations) == (
        default.bias, default.bias_tests, default.bias_pooling, default.bias_permutations)
    pooled = build_parser().parse_args(["compare", "b.pt", "s.pt", "--data", "d.tsv", "--bias-pooling", "cls"])
    assert pooled.bias_pooling == ("cls",)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["compare", "b.pt", "s.pt", "--data", "d.tsv", "--bias-pooling", "max"])


def test_config_validates_and_round_trips_the_bias_settings(tmp_path: Path) -> None:
    config = AuditConfig(bias=False, bias_tests=tmp_path / "t.json", bias_pooling=["cls"], bias_permutations=99)
    assert config.bias_tests == str(tmp_path / "t.json") and config.bias_pooling == ("cls",)
    assert AuditConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    older = {k: v for k, v in AuditConfig().to_dict().items() if not k.startswith("bias")}
    assert AuditConfig.from_dict(older) == AuditConfig()
    for bad in (dict(bias_pooling=()), dict(bias_pooling=("max",)), dict(bias_pooling=("cls", "cls")),
                dict(bias_permutations=0), dict(bias="yes"), dict(bias_tests="")):
        with pytest.raises(InvalidInputError):
            AuditConfig(**bad)


def test_mlflow_metrics_read_the_bias_headline_of_the_typed_section(result: AuditResult) -> None:
    from trustaudit._mlflow import audit_metrics

    metrics, doc = audit_metrics(result), result.to_dict()
    assert metrics["bias.embedding.max_abs_effect_change"] == doc["bias"]["embedding"]["max_abs_effect_change"]
    comparison = doc["bias"]["counterfactual"]["comparison"]
    for key in ("base_flip_rate", "small_flip_rate"):
        name = f"bias.counterfactual.comparison.{key}"
        assert metrics.get(name) == (float(comparison[key]) if comparison[key] is not None else None)
    assert audit_metrics(doc) == metrics
