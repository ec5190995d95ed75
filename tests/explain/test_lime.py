"""LIME: the weights are those of ``LimeTextExplainer`` itself, for the same features and seed."""

from __future__ import annotations

import numpy as np
import pytest

from trustaudit.explain import Target, lime
from trustaudit.explain.features import SEPARATOR, FeatureSet

PREMISE = "the red cat sleeps in the park"
HYPOTHESIS = "the cat is not red, the cat sleeps"


def _direct_lime(text: str, classifier_fn, target: int, n_features: int, num_samples: int, seed: int):
    from lime.lime_text import LimeTextExplainer

    explainer = LimeTextExplainer(
        bow=False, split_expression=SEPARATOR, mask_string="", random_state=seed, feature_selection="none"
    )
    texts: list[str] = []

    def recording_fn(batch):
        texts.extend(batch)
        return classifier_fn(batch)

    explanation = explainer.explain_instance(
        text, recording_fn, labels=(target,), num_features=n_features, num_samples=num_samples
    )
    weights = np.zeros(n_features)
    for feature, weight in explanation.local_exp[target]:
        weights[feature] = weight
    return weights, explanation, texts


@pytest.mark.parametrize("target", [0, 2])
def test_hypothesis_only_weights_equal_lime_text_explainer(memo_model, target: int) -> None:
    features = FeatureSet(PREMISE, HYPOTHESIS, "b")
    ours = lime.explain(features, memo_model, target, num_samples=300, seed=7)
    drawn = lime.sample(features, num_samples=300, seed=7)
    weights, explanation, texts = _direct_lime(
        HYPOTHESIS, lambda hyps: memo_model([(PREMISE, h) for h in hyps]), target, len(features), 300, 7
    )
    # LIME keeps the blanks around a removed word, we collapse them: the tokens are the same.
    assert [memo_model.ids(PREMISE, t) for t in texts] == [memo_model.ids(*p) for p in drawn.texts]
    assert np.array_equal(ours.scores, weights)
    assert ours.diagnostics["intercept"] == explanation.intercept[target]
    assert ours.diagnostics["r2"] == explanation.score
    assert np.any(ours.scores != 0)


def test_single_text_with_repeated_words_equals_lime(memo_model) -> None:
    text = "the cat, the dog and the cat sleep in the park."
    features = FeatureSet(text)
    assert len(features) == 11
    ours = lime.explain(features, memo_model, Target("neutral", 1, "given"), num_samples=200, seed=3)
    weights, _, _ = _direct_lime(text, lambda ts: memo_model([(t, None) for t in ts]), 1, len(features), 200, 3)
    assert np.array_equal(ours.scores, weights)
    assert ours.target == Target("neutral", 1, "given")


def test_both_segments_equal_lime_on_the_joined_pair(memo_model) -> None:
    features = FeatureSet(PREMISE, HYPOTHESIS)

    def split_pair(texts):
        return memo_model([tuple(part.strip() for part in t.split("|||")) for t in texts])

    ours = lime.explain(features, memo_model, 0, num_samples=200, seed=5)
    weights, _, _ = _direct_lime(f"{PREMISE} ||| {HYPOTHESIS}", split_pair, 0, len(features), 200, 5)
    assert np.array_equal(ours.scores, weights)


def test_records_parameters_and_evaluations(memo_model) -> None:
    features = FeatureSet(PREMISE, "the cat sleeps", "b")
    result = lime.explain(features, memo_model, 1, num_samples=250, seed=1)
    assert result.explainer == "lime"
    assert result.params["num_samples"] == 250 and result.params["seed"] == 1
    assert result.params["kernel_width"] == 25.0
    assert result.evaluations == 250
    assert result.unique_evaluations == len(set(lime.sample(features, num_samples=250, seed=1).texts)) <= 2**3
    assert result.output == memo_model([features.text])[0, 1]


def test_same_seed_same_weights_other_seed_other_weights(memo_model) -> None:
    features = FeatureSet(PREMISE, HYPOTHESIS)
    first = lime.explain(features, memo_model, 0, num_samples=150, seed=4)
    again = lime.explain(features, memo_model, 0, num_samples=150, seed=4)
    other = lime.explain(features, memo_model, 0, num_samples=150, seed=5)
    assert np.array_equal(first.scores, again.scores)
    assert not np.array_equal(first.scores, other.scores)


def test_fitting_one_sample_twice_gives_the_same_weights(memo_model) -> None:
    drawn = lime.sample(FeatureSet(PREMISE, HYPOTHESIS), num_samples=120, seed=9)
    probs = memo_model(drawn.texts)
    assert np.array_equal(lime.fit(drawn, probs, 2).scores, lime.fit(drawn, probs, 2).scores)


def test_no_words_gives_empty_scores(memo_model) -> None:
    result = lime.explain(FeatureSet("the cat", "...", "b"), memo_model, 0, num_samples=10)
    assert result.scores.shape == (0,) and result.unique_evaluations == 1
