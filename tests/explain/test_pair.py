"""Explaining a pair: same class and features for both models, paired seeds, one engine."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import replace

import numpy as np
import pytest
import torch

from trustaudit.exceptions import InvalidInputError
from trustaudit.explain import FeatureSet, PairExplanations, explain_pair, lime, shap
from trustaudit.models import ModelPair, label_permutation

SMALL_BUDGET = {"lime_samples": 120, "shap_max_evals": 128, "cache": False, "progress": False}


def _permuted(bundle, order):
    """The same model with its classes in another order (classifier rows permuted)."""
    from trustaudit.models import build_hf_model

    model = build_hf_model(bundle.config, bundle.model.state_dict())
    with torch.no_grad():
        model.classifier.weight.copy_(bundle.model.classifier.weight[order])
        model.classifier.bias.copy_(bundle.model.classifier.bias[order])
    return replace(bundle, model=model, labels=tuple(bundle.labels[i] for i in order), fingerprint="permuted")


@pytest.fixture()
def recorded_texts(monkeypatch):
    """Every text each model is run on, by model path."""
    from trustaudit import _evaluation as _engine

    seen: dict[str, list] = defaultdict(list)
    original = _engine.Evaluator.logits

    def logits(self, pairs):
        seen[self.desc].extend(pairs)
        return original(self, pairs)

    monkeypatch.setattr(_engine.Evaluator, "logits", logits)
    return seen


def _scores(result, group):
    return {
        (example.index, name): attributions.scores
        for example in result.examples
        for name, attributions in getattr(example, group).items()
    }


@pytest.mark.parametrize("order", [None, [2, 0, 1]])
def test_identical_models_give_identical_attributions(base_bundle, nli_data, order) -> None:
    """The small model is explained exactly as the base repeat (seed s', same samples and tree)."""
    small = base_bundle if order is None else _permuted(base_bundle, order)
    pair = ModelPair(base_bundle, small, label_permutation(base_bundle.labels, small.labels))
    result = explain_pair(pair, nli_data, [0, 3], **SMALL_BUDGET)
    repeat, small_scores = _scores(result, "base_repeat"), _scores(result, "small")
    assert repeat.keys() == small_scores.keys() and len(repeat) == 4
    for key in repeat:
        assert np.array_equal(repeat[key], small_scores[key]), key
    for example in result.examples:
        assert np.array_equal(example.base_probs, example.small_probs)
        assert example.base["lime"].target == example.small["lime"].target


def test_class_is_the_base_prediction_taken_by_name(model_pair, nli_data) -> None:
    result = explain_pair(model_pair, nli_data, [1, 2, 5], explainers=("lime",), **SMALL_BUDGET)
    assert result.labels == model_pair.labels
    for example in result.examples:
        assert example.target.source == "base_predicted"
        assert example.target.index == int(np.argmax(example.base_probs))
        assert example.target.label == model_pair.labels[example.target.index]
        assert example.small["lime"].output == example.small_probs[example.target.index]
        assert example.base["lime"].output == example.base_probs[example.target.index]
    gold = explain_pair(model_pair, nli_data, [1, 2], target="gold", explainers=("lime",), **SMALL_BUDGET)
    assert [e.target.index for e in gold.examples] == [int(nli_data.labels[1]), int(nli_data.labels[2])]
    assert gold.config["target"] == "gold" and gold.examples[0].target.source == "gold"


def test_each_model_sees_the_distinct_texts_of_its_own_seed_once(model_pair, nli_data, recorded_texts) -> None:
    """Base: LIME samples and SHAP tree of seed s; small: those of seed s' (no floor run here)."""
    result = explain_pair(model_pair, nli_data, [4], self_agreement=False, **SMALL_BUDGET)
    example = result.examples[0]
    features = FeatureSet(nli_data.text_a[4], nli_data.text_b[4])
    assert example.base["shap"].params["algorithm"] == "partition" and example.base["shap"].params["complete"]
    lime_texts = {seed: lime.sample(features, num_samples=120, seed=seed).texts for seed in (0, 1)}
    assert set(lime_texts[0]) != set(lime_texts[1])
    for name, seed in (("base", 0), ("small", 1)):
        planned = features.perturb_many(shap.planned_masks(features, 128, tree_seed=seed))
        expected = {features.text} | set(lime_texts[seed]) | set(planned)
        assert result.stats[name].unique == len(expected)
        assert set(recorded_texts[name]) == expected
        assert len(recorded_texts[name]) == len(expected)
        assert result.stats[name].requested > result.stats[name].unique
    assert example.small["lime"].params["seed"] == 1 and example.small["shap"].params["tree_seed"] == 1
    assert example.base["lime"].unique_evaluations == len(set(lime_texts[0])) < 120


def test_floor_runs_are_paired_like_the_comparison(model_pair, nli_data, recorded_texts) -> None:
    """Small and the base's floor run both use seed s' (LIME samples, SHAP tree); only exact SHAP has an exact floor."""
    result = explain_pair(model_pair, nli_data, [0, 6], **{**SMALL_BUDGET, "shap_max_evals": 120})
    assert result.config["base_repeat_seed"] == 1 and result.config["small_seed"] == 1
    assert result.config["tree_seeds"] == {"base": 0, "small": 1, "base_repeat": 1}
    for i in (0, 6):
        features = FeatureSet(nli_data.text_a[i], nli_data.text_b[i])
        assert set(lime.sample(features, num_samples=120, seed=1).texts) <= set(recorded_texts["base"])
    for example in result.examples:
        assert example.seeds == {"base": 0, "small": 1, "base_repeat": 1}
        assert example.base["lime"].params["seed"] == 0
        assert example.small["lime"].params["seed"] == example.base_repeat["lime"].params["seed"] == 1
        assert not np.array_equal(example.base_repeat["lime"].scores, example.base["lime"].scores)
        assert example.repeat_exact == ()
        assert example.base["shap"].params["algorithm"] == "partition"
        assert (example.base["shap"].params["tree_seed"], example.base["shap"].params["seed"]) == (0, 0)
        for run in (example.small["shap"], example.base_repeat["shap"]):
            assert (run.params["tree_seed"], run.params["seed"]) == (1, 1)
        assert not np.array_equal(shap.clustering(example.features, 0), shap.clustering(example.features, 1))
        assert not np.array_equal(example.base_repeat["shap"].scores, example.base["shap"].scores)
    assert [e.base["shap"].params["complete"] for e in result.examples] == [False, True]

    exact = explain_pair(model_pair, nli_data, [0], segment="b", **SMALL_BUDGET).examples[0]
    assert exact.base["shap"].params["algorithm"] == "exact"
    assert exact.repeat_exact == ("shap",) and exact.base_repeat["shap"] is exact.base["shap"]
    assert exact.small["shap"].params["seed"] == 1

    quiet = explain_pair(model_pair, nli_data, [0, 6], self_agreement=False, **{**SMALL_BUDGET, "shap_max_evals": 120})
    assert quiet.config["base_repeat_seed"] is None
    for alone, paired in zip(quiet.examples, result.examples):
        assert alone.base_repeat == {} and alone.seeds == {"base": 0, "small": 1, "base_repeat": None}
        for name in ("lime", "shap"):
            assert np.array_equal(alone.small[name].scores, paired.small[name].scores)


def test_same_seed_same_results_other_seed_other_lime(model_pair, nli_data) -> None:
    first = explain_pair(model_pair, nli_data, [2, 7], **SMALL_BUDGET)
    again = explain_pair(model_pair, nli_data, [2, 7], **SMALL_BUDGET)
    other = explain_pair(model_pair, nli_data, [2, 7], seed=5, **SMALL_BUDGET)
    for group in ("base", "small", "base_repeat"):
        a, b = _scores(first, group), _scores(again, group)
        assert all(np.array_equal(a[k], b[k]) for k in a)
    changed = _scores(other, "base")
    assert not any(np.array_equal(first_scores, changed[k]) for k, first_scores in _scores(first, "base").items() if k[1] == "lime")


def test_round_trip_through_json_is_exact(model_pair, nli_data) -> None:
    result = explain_pair(model_pair, nli_data, [0, 4], segment="b", **SMALL_BUDGET)
    data = result.to_dict()
    again = PairExplanations.from_dict(json.loads(json.dumps(data)))
    assert again.to_dict() == data
    for old, new in zip(result.examples, again.examples):
        for group in ("base", "small", "base_repeat"):
            for name, attributions in getattr(old, group).items():
                assert np.array_equal(getattr(new, group)[name].scores, attributions.scores)
        assert new.features.features == old.features.features
    assert data["stats"]["base"]["unique"] == result.stats["base"].unique
    assert data["format_version"] == 3 and data["examples"][0]["seeds"] == {"base": 0, "small": 1, "base_repeat": 1}
    older = json.loads(json.dumps(data))
    for example in older["examples"]:
        del example["seeds"]
    assert PairExplanations.from_dict({**older, "format_version": 1}).examples[1].seeds == {"base": 0, "small": 1, "base_repeat": 1}



def test_records_of_format_2_name_the_base_repeat_noise(model_pair, nli_data) -> None:
    """Files and stores written before format 3 call the base repeat ``noise``: they still load, the same."""
    result = explain_pair(model_pair, nli_data, [0, 4], **SMALL_BUDGET)
    data = json.loads(json.dumps(result.to_dict()))
    older = json.loads(json.dumps(data))
    for example in older["examples"]:
        example["noise"] = example.pop("base_repeat")
        example["noise_exact"] = example.pop("repeat_exact")
        example["seeds"] = {("noise" if role == "base_repeat" else role): seed for role, seed in example["seeds"].items()}
    assert "noise" in older["examples"][0] and "base_repeat" not in older["examples"][0]
    again = PairExplanations.from_dict({**older, "format_version": 2})
    assert again.to_dict()["examples"] == data["examples"]
    example = again.examples[0]
    assert example.seeds == {"base": 0, "small": 1, "base_repeat": 1}
    with pytest.warns(DeprecationWarning, match=r"`ExampleExplanation.noise` is deprecated.*`ExampleExplanation.base_repeat`"):
        assert example.noise is example.base_repeat
    with pytest.warns(DeprecationWarning, match=r"`ExampleExplanation.noise_exact` is deprecated"):
        assert example.noise_exact == example.repeat_exact

def test_stats_and_config_are_recorded(model_pair, nli_data) -> None:
    result = explain_pair(model_pair, nli_data, [0], segment="a", **SMALL_BUDGET)
    assert result.config["segment"] == "a" and result.config["explainers"] == ["lime", "shap"]
    assert all(f.segment == "a" for f in result.examples[0].features.features)
    for name in ("base", "small"):
        stats = result.stats[name]
        assert 0 < stats.unique == stats.evaluated <= stats.requested
        assert 0 <= stats.padding_share < 0.5 and 0 < stats.model_seconds <= stats.seconds <= result.seconds
    assert result.models["base"]["fingerprint"] == model_pair.base.fingerprint


def test_bad_arguments_are_input_errors(model_pair, nli_data) -> None:
    from trustaudit.data import Dataset

    single = Dataset(("a text",), None, None, (), "<single>", np.arange(1))
    cases = [
        ({"explainers": ("lime", "lime")}, "explainers"),
        ({"explainers": ("integrated_gradients",)}, "explainers"),
        ({"segment": "c"}, "segment"),
        ({"target": "small_predicted"}, "target"),
        ({"lime_samples": 1}, "lime_samples"),
        ({"shap_max_evals": 1}, "max_evals"),
        ({"seed": -1}, "seed"),
    ]
    for kwargs, word in cases:
        with pytest.raises(InvalidInputError, match=word):
            explain_pair(model_pair, nli_data, [0], **kwargs)
    with pytest.raises(InvalidInputError, match="out of range"):
        explain_pair(model_pair, nli_data, [len(nli_data)])
    with pytest.raises(InvalidInputError, match="segment='b'"):
        explain_pair(model_pair, single, [0], segment="b")
    with pytest.raises(InvalidInputError, match="gold"):
        explain_pair(model_pair, single, [0], target="gold")
