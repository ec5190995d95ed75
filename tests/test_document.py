"""The typed sections of a results document: every stored document round-trips exactly, and accessors equal dotted paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trustaudit import AuditConfig, audit
from trustaudit._audit import AuditResult
from trustaudit._audit.document import (
    AssociationResult,
    AttackParams,
    AuditDocument,
    BiasSection,
    CalibrationSection,
    ConfigSection,
    CounterfactualFlips,
    EngineSection,
    LayerCka,
    PoolingCka,
    PredictionsSection,
    Section,
    Timings,
    ToolInfo,
    TransferRates,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS_FILES = sorted([ROOT / "tests" / "gold" / "results.json", *ROOT.glob("sample_reports/*/results.json")])
GOLD = ROOT / "tests" / "gold" / "results.json"


@pytest.mark.parametrize("path", RESULTS_FILES, ids=lambda p: p.parent.name)
@pytest.mark.parametrize("upgraded", [False, True], ids=["as stored", "as read"])
def test_every_section_round_trips_exactly(path: Path, upgraded: bool) -> None:
    doc = AuditResult.read_json(path).to_dict() if upgraded else json.loads(path.read_text(encoding="utf-8"))
    typed = AuditDocument.from_dict(doc)
    for key, section in typed.values().items():
        if key in doc and hasattr(section, "to_dict"):
            assert section.to_dict() == doc[key], key
    again = typed.to_dict()
    assert again == doc
    assert json.dumps(again, ensure_ascii=False) == json.dumps(doc, ensure_ascii=False), "key order changed"


def test_a_key_this_version_does_not_declare_is_kept_in_place() -> None:
    doc = AuditResult.read_json(GOLD).to_dict()
    doc["predictions"] = {"future_measure": {"x": [1, 2]}, **doc["predictions"]}
    doc["calibration"]["base"]["registered_later"] = 0.25
    typed = AuditDocument.from_dict(doc)
    assert typed.predictions.extra == {"future_measure": {"x": [1, 2]}}
    assert typed.calibration.base.metric("registered_later") == 0.25
    assert list(typed.to_dict()["predictions"])[0] == "future_measure"
    assert typed.to_dict() == doc


ACCESSORS = {
    "predictions.agreement": lambda r: r.predictions.agreement,
    "predictions.accuracy_drop_interval": lambda r: r.predictions.accuracy_drop_interval,
    "predictions.base.accuracy": lambda r: r.predictions.base.accuracy,
    "predictions.mcnemar.p_value": lambda r: r.predictions.mcnemar.p_value,
    "predictions.disagreements": lambda r: [d.to_dict() for d in r.predictions.disagreements],
    "calibration.small.ece": lambda r: r.calibration.small.ece,
    "calibration.base.bins.counts": lambda r: r.calibration.base.bins.counts,
    "calibration.ece_increase": lambda r: r.calibration.ece_increase,
    "calibration.comparison.brier.ci_high": lambda r: r.calibration.comparison["brier"].ci_high,
    "attribution.k": lambda r: r.attribution.k,
    "attribution.lime.floor_ratio": lambda r: r.attribution.explainer("lime").floor_ratio,
    "attribution.shap.metrics.topk_jaccard@5.mean": lambda r: r.attribution.explainer("shap").metrics["topk_jaccard@5"].mean,
    "attribution.cross_explainer.feature_agreement": lambda r: r.attribution.cross_explainer.feature_agreement,
    "verdict.status": lambda r: r.verdict.status,
    "verdict.sentence": lambda r: r.verdict.sentence,
    "models.small.parameters": lambda r: r.models.small.parameters,
    "models.base.latency.batch1_ms": lambda r: r.models.base.latency.batch1_ms,
    "models.speedup_batch1": lambda r: r.models.speedup_batch1,
    "data.rows_used": lambda r: r.data.rows_used,
    "data.columns": lambda r: r.data.columns,
}


@pytest.mark.parametrize("path", sorted(ACCESSORS))
def test_typed_accessor_equals_the_dotted_path(path: str) -> None:
    result = AuditResult.read_json(GOLD)
    assert result.get(path) is not None
    assert ACCESSORS[path](result) == result.get(path)


def test_examples_and_checks_read_as_their_dicts() -> None:
    result = AuditResult.read_json(GOLD)
    assert [ex.to_dict() for ex in result.examples] == result["examples"]
    assert result.examples[0].features[0].word == result["examples"][0]["features"][0]["word"]
    assert result.examples[0].scores["lime"].base == result["examples"][0]["scores"]["lime"]["base"]
    for ex, raw in zip(result.examples, result["examples"]):
        assert {name: a.feature_agreement for name, a in ex.agreement.items()} == {n: a["feature_agreement"] for n, a in raw["agreement"].items()}
        assert ex.agreement["shap"].self_feature_agreement == raw["agreement"]["shap"]["self_feature_agreement"]
        assert all(not a.extra for a in ex.agreement.values())
    assert [c.key for c in result.verdict.checks] == [c["key"] for c in result["verdict"]["checks"]]
    assert result.gate.status == result.status


def test_older_documents_read_missing_keys_as_none_and_do_not_invent_them() -> None:
    result = AuditResult.read_json(GOLD)
    assert "negative_flip_rate" not in result["predictions"]
    assert result.predictions.negative_flip_rate is None and not result.predictions.has_flip_rates
    assert "negative_flip_rate" not in result.predictions.to_dict()


def test_a_freshly_built_section_writes_its_declared_keys_in_order() -> None:
    section = PredictionsSection(n=3, agreement=1.0)
    assert list(section.to_dict())[:3] == ["n", "labels", "base"]
    assert section.has_flip_rates
    assert CalibrationSection.unavailable().to_dict() == {"available": False}


@pytest.fixture(scope="module")
def fresh(trained_pair, bias_tests_file: Path) -> AuditResult:
    base, small, dev = trained_pair
    config = AuditConfig(explain_n=3, lime_samples=40, shap_max_evals=32, n_resamples=30, bias_tests=str(bias_tests_file),
                         bias_permutations=100, attack_n=2)
    return audit(base, small, dev, config, cache=False)


def test_a_fresh_audit_is_the_serialisation_of_its_sections(fresh: AuditResult) -> None:
    doc = fresh.to_dict()
    assert json.dumps(fresh.sections.to_dict()) == json.dumps(doc)
    assert fresh.predictions.agreement == doc["predictions"]["agreement"] is not None
    assert fresh.calibration.small.ece == doc["calibration"]["small"]["ece"] is not None
    assert fresh.attribution.explainer("lime").floor_ratios == doc["attribution"]["lime"]["floor_ratios"] is not None
    assert fresh.extras.representation.cka == doc["extras"]["representation"]["cka"] is not None
    assert fresh.extras.adversarial.attacked == doc["extras"]["adversarial"]["attacked"] == 2
    assert fresh.bias.available is True and fresh.bias.embedding.n_permutations == doc["bias"]["embedding"]["n_permutations"] == 100
    assert BiasSection.unavailable("off").to_dict() == {"available": False, "reason": "off"}
    assert fresh.models.small.latency.repeats == doc["models"]["small"]["latency"]["repeats"]
    assert fresh.verdict.to_dict() == doc["verdict"] and "rejudged" not in doc["verdict"]


def _typed_throughout(section: Section, path: str = "") -> list[str]:
    """Paths of the keys that a section, or any section nested in it, did not declare (kept in ``extra``)."""
    found = [f"{path}.{key}" for key in section.extra]
    for name, value in section.values().items():
        items = value if isinstance(value, list) else list(value.values()) if isinstance(value, dict) else [value]
        for item in items:
            if isinstance(item, Section):
                found += _typed_throughout(item, f"{path}.{name}")
    return found


RUN_PARTS = {"tool": ToolInfo, "config": ConfigSection, "engine": EngineSection, "timings": Timings}


@pytest.mark.parametrize("path", RESULTS_FILES, ids=lambda p: p.parent.name)
@pytest.mark.parametrize("upgraded", [False, True], ids=["as stored", "as read"])
def test_tool_config_engine_and_timings_are_typed_and_round_trip(path: Path, upgraded: bool) -> None:
    doc = AuditResult.read_json(path).to_dict() if upgraded else json.loads(path.read_text(encoding="utf-8"))
    typed = AuditDocument.from_dict(doc)
    for key, cls in RUN_PARTS.items():
        section = getattr(typed, key)
        assert isinstance(section, cls) and _typed_throughout(section) == [], key
        assert json.dumps(cls.from_dict(doc[key]).to_dict()) == json.dumps(doc[key]), key
    assert typed.config.settings() == doc["config"] and list(typed.config.settings()) == list(doc["config"])
    assert typed.config.seed == doc["config"]["seed"] and typed.config.gate == doc["config"]["gate"]
    if "extras" in doc["config"]:
        assert typed.config.extras == doc["config"]["extras"]
    else:
        assert typed.config.extras is None and "extras" not in typed.config.to_dict(), "a setting the file lacks is not invented"
    assert typed.engine.small.padded_tokens == doc["engine"]["small"]["padded_tokens"]
    assert typed.engine.evaluated == doc["engine"]["base"]["evaluated"] + doc["engine"]["small"]["evaluated"]
    assert typed.timings.explain == doc["timings"]["explain"] and typed.timings.stages() == doc["timings"]
    if "bias" in doc["timings"]:
        assert typed.timings.bias == doc["timings"]["bias"]
    else:
        assert typed.timings.bias is None and "bias" not in typed.timings.to_dict(), "a stage the file lacks is not invented"
    assert typed.tool.version == doc["tool"]["version"]


def test_the_bias_and_extras_parts_are_typed_and_round_trip(fresh: AuditResult) -> None:
    doc = fresh.to_dict()
    typed = AuditDocument.from_dict(doc)
    assert json.dumps(typed.to_dict()) == json.dumps(doc)
    for key in ("bias", "extras", *RUN_PARTS):
        assert json.dumps(getattr(typed, key).to_dict()) == json.dumps(doc[key]), key
    # every key of these parts is a declared field, except the free-form ones named in the document module
    assert _typed_throughout(typed.bias) == [] and _typed_throughout(typed.extras) == []
    bias, raw = typed.bias, doc["bias"]
    assert isinstance(bias.embedding.tests[0], AssociationResult) and isinstance(bias.counterfactual, CounterfactualFlips)
    first = bias.embedding.tests[0]
    assert first.test.name == raw["embedding"]["tests"][0]["test"]["name"]
    assert first.test.X.words == raw["embedding"]["tests"][0]["test"]["X"]["words"]
    assert [r.pooling for r in first.results] == [r["pooling"] for r in raw["embedding"]["tests"][0]["results"]]
    change = raw["embedding"]["tests"][0]["results"][0]["change"]
    assert first.results[0].change.absolute_difference_ci == change["absolute_difference_ci"] is not None
    assert first.results[0].small.p_value == raw["embedding"]["tests"][0]["results"][0]["small"]["p_value"]
    assert bias.embedding.largest_change.pooling == raw["embedding"]["largest_change"]["pooling"]
    assert bias.embedding.seconds == raw["embedding"]["seconds"]
    cf = raw["counterfactual"]
    assert bias.counterfactual.comparison.small_flip_rate == cf["comparison"]["small_flip_rate"]
    assert bias.counterfactual.n_texts == cf["n_texts"] == 3 and bias.counterfactual.comparison.n == cf["comparison"]["n"]
    assert [e.flipped for e in bias.counterfactual.examples] == [
        e["base_before"] != e["base_after"] or e["small_before"] != e["small_after"] for e in cf["examples"]]
    assert bias.counterfactual.swap_pairs == cf["swap_pairs"]
    rep, adv = typed.extras.representation, typed.extras.adversarial
    assert isinstance(rep.mean, PoolingCka) and isinstance(rep.layers, LayerCka)
    assert rep.mean.cka == rep.cka == doc["extras"]["representation"]["mean"]["cka"]
    assert rep.cls.self_reference_ci == doc["extras"]["representation"]["cls"]["self_reference_ci"]
    assert rep.layers.mean == doc["extras"]["representation"]["layers"]["mean"] and rep.layers.small_states >= 1
    assert isinstance(adv.rates, TransferRates) and isinstance(adv.params, AttackParams)
    assert adv.rates.base_to_small.success_rate == doc["extras"]["adversarial"]["rates"]["base_to_small"]["success_rate"]
    assert adv.rates.small_to_base.source == "small" and adv.params.max_fraction == doc["extras"]["adversarial"]["params"]["max_fraction"]
    assert adv.rows == doc["extras"]["adversarial"]["rows"]


def test_unknown_keys_of_a_nested_part_are_kept_in_place(fresh: AuditResult) -> None:
    doc = fresh.to_dict()
    doc["bias"]["counterfactual"]["comparison"] = {"added_later": 1, **doc["bias"]["counterfactual"]["comparison"]}
    doc["bias"]["embedding"]["tests"][0]["results"][0]["change"]["odds"] = [0.5, 2.0]
    doc["extras"]["representation"]["layers"]["max"] = [[1.0]]
    doc["config"]["registered_later"] = {"x": 1}
    doc["engine"]["base"]["gpu_seconds"] = 0.5
    typed = AuditDocument.from_dict(doc)
    assert typed.bias.counterfactual.comparison.extra == {"added_later": 1}
    assert typed.config.extra == {"registered_later": {"x": 1}} and typed.engine.base.extra == {"gpu_seconds": 0.5}
    assert json.dumps(typed.to_dict()) == json.dumps(doc)


def test_batch_size_and_precision_sections_are_typed_round_trip_and_read_by_the_report() -> None:
    from trustaudit._audit.document import BatchSizeSection, BatchTrial, PrecisionSection
    from trustaudit.report.html import build_context

    stored = AuditResult.read_json(GOLD).to_dict()
    choice = {"requested": "auto", "chosen": 32, "reason": "batch 64 ran out of memory", "device": "cpu", "precision": "fp32",
              "probe_tokens": 24, "trials": [{"batch_size": 16, "fits": True, "ms_per_input": 1.2},
                                             {"batch_size": 32, "fits": True, "ms_per_input": 1.0, "peak_bytes": 123},
                                             {"batch_size": 64, "fits": False}], "seconds": 0.4}
    check = {"precision": "bf16", "reference": "fp32", "rows": 96, "max_abs_diff": {"base": 0.004, "small": 2e-05},
             "mean_abs_diff": {"base": 0.001, "small": 1e-05}, "changed_predictions": {"base": 1, "small": 0}, "seconds": 0.2}
    doc = {}
    for key, value in stored.items():
        doc[key] = value
        if key == "engine":
            doc["batch_size"], doc["precision"] = choice, check
    typed = AuditDocument.from_dict(doc)
    assert isinstance(typed.batch_size, BatchSizeSection) and isinstance(typed.precision, PrecisionSection)
    assert all(isinstance(t, BatchTrial) for t in typed.batch_size.trials) and typed.batch_size.trials[1].peak_bytes == 123
    assert typed.batch_size.trials[2].ms_per_input is None and "ms_per_input" not in typed.batch_size.trials[2].to_dict()
    assert _typed_throughout(typed.batch_size) == [] and _typed_throughout(typed.precision) == []
    assert json.dumps(typed.to_dict()) == json.dumps(doc)
    hardware = build_context(typed)["hardware"]
    assert hardware["batch_size"] == ("32, chosen by doubling on the longest inputs (tried 16, 32, 64 (out of memory); "
                                      "stopped: batch 64 ran out of memory)")
    assert hardware["precision"] == ("forward passes in bf16: max |Δp| vs fp32 = 0.0040 (base), 2.0e-05 (small) over 96 rows; "
                                     "predictions that differ from fp32: 1 (base), 0 (small)")
    assert build_context(AuditDocument.from_dict(stored))["hardware"] == {"batch_size": "", "precision": ""}


def test_the_summaries_say_what_a_reduced_precision_cost() -> None:
    from trustaudit.report import summary_markdown, summary_text

    stored = AuditResult.read_json(GOLD).to_dict()
    doc = {**stored, "precision": {"precision": "fp16", "reference": "fp32", "rows": 50, "max_abs_diff": {"base": 0.0125, "small": 3e-06},
                                   "mean_abs_diff": {"base": 0.001, "small": 1e-06}, "changed_predictions": {"base": 2, "small": 0}}}
    sentence = ("forward passes in fp16: max |Δp| vs fp32 = 0.0125 (base), 3.0e-06 (small) over 50 rows; "
                "predictions that differ from fp32: 2 (base), 0 (small)")
    assert f"  {sentence}" in summary_text(doc).splitlines()
    assert "Forward passes in fp16: max \\|Δp\\| vs fp32 = 0.0125 (base)" in summary_markdown(doc)
    assert "fp32" not in summary_text(stored) and "Forward passes" not in summary_markdown(stored), "fp32 audits say nothing"
