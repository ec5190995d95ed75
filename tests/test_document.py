"""The typed sections of a results document: every stored document round-trips exactly, and accessors equal dotted paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trustaudit import AuditConfig, audit
from trustaudit._audit import AuditResult
from trustaudit._audit.document import AuditDocument, CalibrationSection, PredictionsSection

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
def fresh(trained_pair) -> AuditResult:
    base, small, dev = trained_pair
    return audit(base, small, dev, AuditConfig(explain_n=3, lime_samples=40, shap_max_evals=32, n_resamples=30, bias=False, attack_n=2),
                 cache=False)


def test_a_fresh_audit_is_the_serialisation_of_its_sections(fresh: AuditResult) -> None:
    doc = fresh.to_dict()
    assert json.dumps(fresh.sections.to_dict()) == json.dumps(doc)
    assert fresh.predictions.agreement == doc["predictions"]["agreement"] is not None
    assert fresh.calibration.small.ece == doc["calibration"]["small"]["ece"] is not None
    assert fresh.attribution.explainer("lime").floor_ratios == doc["attribution"]["lime"]["floor_ratios"] is not None
    assert fresh.extras.representation.cka == doc["extras"]["representation"]["cka"] is not None
    assert fresh.extras.adversarial.attacked == doc["extras"]["adversarial"]["attacked"] == 2
    assert fresh.bias.available is False and fresh.bias.to_dict() == {"available": False, "reason": doc["bias"]["reason"]}
    assert fresh.models.small.latency.repeats == doc["models"]["small"]["latency"]["repeats"]
    assert fresh.verdict.to_dict() == doc["verdict"] and "rejudged" not in doc["verdict"]
