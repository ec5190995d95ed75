"""The explainer protocol and registry: a third explainer, registered at run time, goes through a whole audit."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from trustaudit._audit import AuditConfig, AuditResult, audit, rejudge
from trustaudit.exceptions import InvalidInputError
from trustaudit.explain import (
    EXPLAINERS,
    Attributions,
    Explainer,
    FeatureSet,
    Plan,
    PredictFn,
    Target,
    explainer_names,
    get_explainer,
    lime,
    register_explainer,
    shap,
    unregister_explainer,
)
from trustaudit.gate import CHECKS, GateConfig, checks
from trustaudit.models import load_pair
from trustaudit.report import render_html


@dataclass(frozen=True)
class Occlusion:
    """Each word's score is how much the target's probability drops when that word alone is removed.

    Deterministic, and every input it needs (the text, then the text without each word in
    turn) is known in advance; the budget is accepted and recorded but not needed.
    """

    name: str = "occlusion"
    budget_name: str = "max_evals"
    default_budget: int = 100
    draws: str = "nothing (occlusion draws nothing)"
    exact_because: str = "each word removed once, nothing drawn"

    def check_budget(self, budget: int, name: str = "max_evals") -> int:
        if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 1:
            raise InvalidInputError(f"{name} must be a positive integer, got {budget!r}")
        return int(budget)

    def plan(self, features: FeatureSet, *, budget: int, seed: int) -> Plan:
        d = len(features)
        masks = np.vstack([np.ones((1, d), dtype=bool), ~np.eye(d, dtype=bool)])
        return Plan(tuple(features.perturb_many(masks)))

    def deterministic(self, features: FeatureSet, budget: int) -> bool:
        return True

    def explain(
        self, features: FeatureSet, predict: PredictFn, target: Target, *, budget: int, seed: int, plan: Plan | None = None
    ) -> Attributions:
        texts = (plan or self.plan(features, budget=budget, seed=seed)).inputs
        probs = np.asarray(predict(texts), dtype=np.float64)[:, target.index]
        return Attributions(
            explainer=self.name,
            features=features,
            scores=probs[0] - probs[1:],
            target=target,
            params={"max_evals": budget, "perturbation": "remove one word"},
            evaluations=len(texts),
            unique_evaluations=len(set(texts)),
            output=float(probs[0]),
        )


@pytest.fixture()
def occlusion() -> Iterator[Occlusion]:
    explainer = register_explainer(Occlusion())
    try:
        yield explainer
    finally:
        unregister_explainer(explainer.name)


def test_builtin_explainers_implement_the_protocol() -> None:
    assert EXPLAINERS == ("lime", "shap") == explainer_names()
    assert get_explainer("lime") is lime.EXPLAINER and get_explainer("shap") is shap.EXPLAINER
    assert all(isinstance(get_explainer(name), Explainer) for name in EXPLAINERS)
    assert (lime.EXPLAINER.budget_name, shap.EXPLAINER.budget_name) == ("num_samples", "max_evals")
    features = FeatureSet("a small cat", "sat on a mat")
    assert shap.EXPLAINER.deterministic(features, 2**len(features)) and not shap.EXPLAINER.deterministic(features, 10)
    assert not lime.EXPLAINER.deterministic(features, 1000)
    drawn = lime.EXPLAINER.plan(features, budget=20, seed=3)
    assert drawn.inputs == lime.sample(features, num_samples=20, seed=3).texts
    with pytest.raises(InvalidInputError, match="num_samples"):
        lime.EXPLAINER.check_budget(1)


def test_registry_rejects_bad_names_and_keeps_builtins(occlusion: Occlusion) -> None:
    assert explainer_names() == ("lime", "shap", "occlusion")
    with pytest.raises(InvalidInputError, match="already registered"):
        register_explainer(Occlusion())
    with pytest.raises(InvalidInputError, match="reserved"):
        register_explainer(Occlusion(name="engine"))
    with pytest.raises(InvalidInputError, match="protocol"):
        register_explainer(object())  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="built-in"):
        unregister_explainer("lime")
    with pytest.raises(InvalidInputError, match="unknown explainer 'nope'; registered: lime, shap, occlusion"):
        get_explainer("nope")


def test_config_and_gate_follow_the_registry(occlusion: Occlusion) -> None:
    config = AuditConfig(explainers=("occlusion",), budgets={"occlusion": 7})
    assert config.budget("occlusion") == 7 and config.budget("lime") == 1000 and config.to_dict()["budgets"] == {"occlusion": 7}
    assert AuditConfig(explainers=("occlusion",)).budget("occlusion") == 100
    assert "budgets" not in AuditConfig().to_dict()
    assert AuditConfig.from_dict(config.to_dict()) == config
    with pytest.raises(InvalidInputError, match="lime_samples"):
        AuditConfig(budgets={"lime": 50})
    with pytest.raises(InvalidInputError, match="explainers must be among lime, shap, occlusion"):
        AuditConfig(explainers=("lime", "nope"))
    keys = [spec.key for spec in checks() if not spec.metric.startswith("calibration.")]
    builtin = [spec.key for spec in CHECKS]
    assert [k for k in keys if k not in builtin] == ["min_occlusion_feature_agreement", "min_occlusion_jaccard", "min_occlusion_floor_ratio"]
    assert keys.index("min_occlusion_feature_agreement") == keys.index("min_shap_floor_ratio") + 1
    default = GateConfig()
    assert default.min_occlusion_feature_agreement is None and "min_occlusion_jaccard" not in default.to_dict()
    gate = GateConfig.from_dict({"min_occlusion_feature_agreement": 0.25, "min_occlusion_jaccard": "off"})
    assert gate.min_occlusion_feature_agreement == 0.25 and gate.min_occlusion_jaccard is None
    assert GateConfig.from_dict(gate.to_dict()) == gate
    assert "min_occlusion_feature_agreement" in [spec.key for spec in gate.enabled]
    with pytest.raises(InvalidInputError, match="unknown gate key"):
        GateConfig.from_dict({"min_nope_feature_agreement": 0.5})


def test_registered_explainer_not_in_checks_after_unregistering() -> None:
    register_explainer(Occlusion())
    unregister_explainer("occlusion")
    assert not any("occlusion" in spec.key for spec in checks()) and "occlusion" not in explainer_names()
    assert checks()[: len(CHECKS)] == CHECKS
    with pytest.raises(InvalidInputError, match="unknown gate key"):
        GateConfig.from_dict({"min_occlusion_feature_agreement": 0.5})


def _expected_status(value: float, interval: list[float], limit: float) -> str:
    low, high = interval if interval is not None else (value, value)
    return "pass" if low >= limit else "fail" if high < limit else "inconclusive"


def _probability(model: torch.nn.Module, tokenizer, text_a: str, text_b: str | None, index: int) -> float:
    encoded = tokenizer(text_a, text_b, return_tensors="pt", truncation=True)
    with torch.no_grad():
        return float(torch.softmax(model(**encoded).logits.double(), dim=-1)[0, index])


def test_a_registered_explainer_runs_through_the_audit(occlusion: Occlusion, trained_pair, tmp_path: Path) -> None:
    base, small, dev = trained_pair
    gate = GateConfig.from_dict({"min_occlusion_feature_agreement": 0.0, "min_lime_feature_agreement": None,
                                 "min_shap_feature_agreement": None})
    config = AuditConfig(explain_n=3, explainers=("lime", "occlusion"), lime_samples=40, n_resamples=50, bias=False,
                         budgets={"occlusion": 50}, gate=gate)
    result = audit(base, small, dev, config, cache=False)

    section = result["attribution"]
    assert section["explainers"] == ["lime", "occlusion"]
    entry = section["occlusion"]
    assert 0.0 <= entry["feature_agreement"] <= 1.0 and entry["floor"] == 1.0 and entry["floor_exact"] is True
    assert entry["floor_exact_examples"] == 3 and entry["self_agreement"]["deterministic_examples"] == 3
    assert entry["params"]["max_evals"] == 50 and entry["params"]["perturbation"] == "remove one word"
    assert section["lime"]["floor_exact"] is False
    assert result["config"]["budgets"] == {"occlusion": 50}

    checks_ = {c["key"]: c for c in result["verdict"]["checks"]}
    assert "min_lime_feature_agreement" not in checks_
    check = checks_["min_occlusion_feature_agreement"]
    assert check["value"] == entry["feature_agreement"] and check["status"] == "pass", check["message"]
    strict = GateConfig.from_dict({**{k: None for k in gate.to_dict() if k != "decision"}, "min_occlusion_feature_agreement": 1.0})
    judged = {c["key"]: c for c in rejudge(result, strict, "strict")["verdict"]["checks"]}
    assert list(judged) == ["min_occlusion_feature_agreement"]
    interval = judged["min_occlusion_feature_agreement"]["interval"]
    assert judged["min_occlusion_feature_agreement"]["status"] == _expected_status(entry["feature_agreement"], interval, 1.0)

    html = render_html(result)
    assert "OCCLUSION top-" in html and "each word removed once, nothing drawn" in html and "a second draw of nothing" in html
    reloaded = AuditResult.from_dict(result.to_dict())
    assert reloaded["attribution"]["occlusion"] == entry

    example = result["examples"][0]
    pair = load_pair(base, small)
    target = pair.labels.index(example["target"])
    features = FeatureSet(example["text_a"], example["text_b"], "both")
    word = int(np.argmax(np.abs(example["scores"]["occlusion"]["base"])))
    feature = features.features[word]
    texts = {"a": example["text_a"], "b": example["text_b"]}
    texts[feature.segment] = " ".join((texts[feature.segment][: feature.start] + texts[feature.segment][feature.end :]).split())
    model, tokenizer = pair.base.model.eval(), pair.base.tokenizer
    full = _probability(model, tokenizer, example["text_a"], example["text_b"], target)
    without = _probability(model, tokenizer, texts["a"], texts["b"], target)
    assert full == pytest.approx(example["base_probs"][example["target"]], abs=1e-5)
    assert example["scores"]["occlusion"]["base"][word] == pytest.approx(full - without, abs=1e-5)
    assert example["scores"]["occlusion"]["base_repeat"] == example["scores"]["occlusion"]["base"]
