"""compare_bias: a model against itself, agreement with the metric functions, the headline, JSON, options."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from tests._helpers import LogitsOnly
from trustaudit.bias import BiasComparison, compare_bias, encode_words, standard_tests
from trustaudit.bias._compare import derived_seed
from trustaudit.exceptions import InvalidInputError
from trustaudit.metrics import effect_size_change, weat_test

FAST = {"n_permutations": 2000, "n_resamples": 200}


@pytest.fixture(scope="module")
def comparison(bias_models, gender_suite) -> BiasComparison:
    base, small = bias_models
    return compare_bias(base, small, gender_suite, seed=3, **FAST)


def test_a_model_against_itself_changes_nothing(bias_models, gender_suite) -> None:
    base, _ = bias_models
    same = compare_bias(base, base, gender_suite, **FAST)
    for test in same.tests:
        for result in test.results:
            assert result.base == result.small
            assert result.change.difference == 0.0 and result.change.difference_ci == (0.0, 0.0)
            assert result.change.absolute_difference_ci == (0.0, 0.0)
    assert same.max_abs_effect_change == 0.0 and same.max_abs_effect_change_ci == (0.0, 0.0)
    assert same.n_defined == 200


def test_numbers_are_the_metric_functions_on_the_encoded_words(comparison, bias_models, gender_suite) -> None:
    base, small = bias_models
    test = gender_suite.tests[1]
    words = [(w, s.kind) for s in test.sets for w in s.words]
    embedded = {role: encode_words(bundle, words, pooling="cls") for role, bundle in (("base", base), ("small", small))}
    bounds = np.cumsum([0, *(len(s.words) for s in test.sets)])
    sets = {role: [e["cls"][bounds[i]:bounds[i + 1]] for i in range(4)] for role, e in embedded.items()}
    seed = derived_seed(3, test.name)
    result = comparison.test("WEAT7").result("cls")
    expected = weat_test(*sets["small"], n_permutations=2000, seed=seed)
    # Other words share the batches in compare_bias, so embeddings agree to float rounding only.
    assert result.small.effect_size == pytest.approx(expected.effect_size, abs=1e-5)
    assert result.small.p_value == pytest.approx(expected.p_value, abs=1e-3)
    assert result.small.exact and result.small.n_permutations == math.comb(16, 8)
    change = effect_size_change(sets["base"], sets["small"], n_resamples=200, seed=seed)
    assert result.change.difference == pytest.approx(change.difference, abs=1e-5)
    assert result.change.difference_ci == pytest.approx(change.difference_ci, abs=1e-5)


def test_headline_is_the_largest_absolute_change(comparison) -> None:
    changes = {(t.test.name, r.pooling): r.change for t in comparison.tests for r in t.results}
    assert set(changes) == {("WEAT6", "mean"), ("WEAT6", "cls"), ("WEAT7", "mean"), ("WEAT7", "cls")}
    name, pooling = max(changes, key=lambda key: changes[key].absolute_difference)
    largest = comparison.largest_change
    assert (largest.test, largest.pooling) == (name, pooling)
    assert largest.absolute_difference == comparison.max_abs_effect_change == abs(largest.small - largest.base)
    low, high = comparison.max_abs_effect_change_ci
    assert 0.0 <= low <= high
    # The maximum over tests is at least each test's own |change| on every resample.
    assert high >= max(c.absolute_difference_ci[1] for c in changes.values()) - 1e-12
    assert comparison.poolings == ("mean", "cls") and comparison.n_sentences == 64 * 8
    assert set(comparison.seconds) == {"encode_base", "encode_small", "statistics"}


def test_json_round_trip_is_exact(comparison) -> None:
    text = json.dumps(comparison.to_dict())
    rebuilt = BiasComparison.from_dict(json.loads(text))
    assert json.dumps(rebuilt.to_dict()) == text
    assert rebuilt.tests == comparison.tests and rebuilt.largest_change == comparison.largest_change
    data = json.loads(text)
    assert set(data) >= {"tests", "largest_change", "max_abs_effect_change", "max_abs_effect_change_ci", "templates"}
    assert data["tests"][0]["test"]["X"]["words"][0] == "John"


def test_same_seed_same_numbers_and_options(bias_models, gender_suite, comparison) -> None:
    base, small = bias_models
    again = compare_bias(base, small, gender_suite, seed=3, **FAST)
    strip = lambda c: {**c.to_dict(), "seconds": None}  # noqa: E731
    assert strip(again) == strip(comparison)
    only_cls = compare_bias(base, small, gender_suite, pooling="cls", n_permutations=100, n_resamples=0)
    assert only_cls.poolings == ("cls",) and all(len(t.results) == 1 for t in only_cls.tests)
    assert only_cls.max_abs_effect_change_ci is None and only_cls.tests[0].results[0].change.difference_ci is None
    cls_changes = [t.result("cls").change.absolute_difference for t in comparison.tests]
    assert only_cls.max_abs_effect_change == pytest.approx(max(cls_changes), abs=1e-9)


def test_a_users_file_and_the_standard_default(bias_models, tmp_path: Path) -> None:
    base, small = bias_models
    path = tmp_path / "tests.json"
    path.write_text(json.dumps({"tests": [{"name": "mine", "X": ["math", "algebra", "numbers"], "Y": ["poetry", "art"],
                                           "A": ["he", "man"], "B": ["she", "woman"]}]}), encoding="utf-8")
    mine = compare_bias(base, small, path, pooling="mean", n_permutations=100, n_resamples=50)
    assert mine.source == str(path) and [t.test.name for t in mine.tests] == ["mine"]
    assert mine.tests[0].results[0].base.n_permutations == math.comb(5, 3)
    default = compare_bias(base, small, n_permutations=200, n_resamples=20, pooling="mean")
    assert [t.test.name for t in default.tests] == [f"WEAT{i}" for i in range(3, 9)]
    weat3 = default.test("WEAT3").result("mean").base
    assert not weat3.exact and weat3.n_permutations == 200 and (weat3.n_x, weat3.n_a) == (32, 25)


def test_errors(bias_models, gender_suite) -> None:
    base, small = bias_models
    onnx_like = dataclasses.replace(small, model=LogitsOnly(True), kind="onnx", path="small.onnx")
    with pytest.raises(InvalidInputError, match="small.onnx: .*hidden states"):
        compare_bias(base, onnx_like, gender_suite)
    with pytest.raises(InvalidInputError, match="n_resamples"):
        compare_bias(base, small, gender_suite, n_resamples=-1)
    with pytest.raises(InvalidInputError, match="tests must be"):
        compare_bias(base, small, ["WEAT6"])
    with pytest.raises(InvalidInputError, match="no bias test 'WEAT9'"):
        compare_bias(base, small, standard_tests(["WEAT6"]), n_permutations=10, n_resamples=0).test("WEAT9")
