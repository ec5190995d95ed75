"""Counterfactual word swaps (exactly the listed words, case, possessives, her/his) and the flip comparison."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

from tests._helpers import LABELS
from trustaudit._evaluation import Evaluator
from trustaudit.bias import CounterfactualFlips, GENDER_PAIRS, WordSwapper, counterfactual_flips, default_swap_pairs, swap_words
from trustaudit.data import load_dataset
from trustaudit.exceptions import InvalidInputError
from trustaudit.models import from_model


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("he runs", "she runs"),
        ("He runs. HE RUNS.", "She runs. SHE RUNS."),
        ("The man and the woman", "The woman and the man"),
        ("John's dog met Amy’s cat.", "Amy's dog met John’s cat."),
        ("MEN, women; Boys!", "WOMEN, men; Girls!"),
        ("his book is on her desk", "her book is on his desk"),
        ("I saw her.", "I saw him."),
        ("I gave her the book", "I gave him the book"),
        ("I saw her yesterday", "I saw him yesterday"),
        ("The book is his", "The book is hers"),
        ("The choice was his to make", "The choice was hers to make"),
        ("hers is red", "his is red"),
        ("Mr. Smith met Mrs. Jones", "Mrs. Smith met Mr. Jones"),
        ("my father-in-law", "my mother-in-law"),
        ("there is the theme of mankind", "there is the theme of mankind"),
        ("she sells shells; the manly heir of Ashes", "he sells shells; the manly heir of Ashes"),
        ("pay the bill, Bill", "pay the bill, Donna"),
        ("herself and himself", "himself and herself"),
    ],
)
def test_swaps_exactly_the_listed_words(text: str, expected: str) -> None:
    assert swap_words(text).text == expected


def test_swaps_are_recorded_and_reversible_when_unambiguous() -> None:
    result = swap_words("He told John's sister")
    assert result.applicable and [(s.start, s.original, s.replacement) for s in result.swaps] == [
        (0, "He", "She"), (8, "John", "Amy"), (15, "sister", "brother")]
    assert swap_words(result.text).text == "He told John's sister"
    nothing = swap_words("the cat sleeps there")
    assert not nothing.applicable and nothing.text == nothing.original and nothing.swaps == ()


def test_only_the_pairs_given_are_swapped() -> None:
    swapper = WordSwapper([("he", "she")])
    assert swapper.swap("he and hers and HIS and there").text == "she and hers and HIS and there"
    assert WordSwapper([("him", "her")]).swap("her book").text == "him book"
    assert WordSwapper([("his", "her")]).swap("I saw her").text == "I saw his"
    with pytest.raises(InvalidInputError, match="'king' has several counterparts"):
        WordSwapper([("king", "queen"), ("king", "monarch")])
    with pytest.raises(InvalidInputError, match="two single words"):
        WordSwapper([("ice cream", "cake")])
    with pytest.raises(InvalidInputError, match="with itself"):
        WordSwapper([("he", "HE")])


def test_default_pairs_include_the_weat_names() -> None:
    pairs = default_swap_pairs()
    assert pairs[: len(GENDER_PAIRS)] == GENDER_PAIRS
    assert ("John", "Amy") in pairs and ("Bill", "Donna") in pairs and len(pairs) == len(GENDER_PAIRS) + 8


def test_text_pairs_swap_both_segments() -> None:
    a, b, swaps = WordSwapper().swap_pair("the man runs", "he is happy")
    assert (a, b) == ("the woman runs", "she is happy")
    assert [(s.segment, s.original) for s in swaps] == [("a", "man"), ("b", "he")]


def _permuted_copy(bundle, order):
    """The same classifier with its outputs (and label names) in another order: identical predictions."""
    model = copy.deepcopy(bundle.model)
    with torch.no_grad():
        model.classifier.weight.copy_(model.classifier.weight[list(order)])
        model.classifier.bias.copy_(model.classifier.bias[list(order)])
    return from_model(model, bundle.tokenizer, tuple(bundle.labels[i] for i in order))


@pytest.fixture(scope="module")
def demo_models(tokenizer):
    from tests._helpers import make_bert

    base = from_model(make_bert(tokenizer, LABELS, layers=2, hidden=32, heads=2, dropout=0.0, seed=1), tokenizer, LABELS)
    small = from_model(make_bert(tokenizer, LABELS, layers=1, hidden=16, heads=1, dropout=0.0, seed=5), tokenizer, LABELS)
    return base, small


TEXTS = ["the man sleeps in the park", "the cat runs", ("the boy is happy", "the girl is sad"), "a woman reads near the river",
         "the dog waits", "the man and the boy swim"]


def test_an_identical_model_in_another_label_order_never_differs(demo_models) -> None:
    base, _ = demo_models
    same = _permuted_copy(base, (2, 0, 1))
    result = counterfactual_flips((base, same), TEXTS, n_resamples=100, cache=False)
    assert result.n_texts == 6 and result.n_applicable == 4 and result.not_applicable == (1, 4)
    assert result.labels == LABELS
    for example in result.examples:
        assert (example.base_before, example.base_after) == (example.small_before, example.small_after)
    comparison = result.comparison
    assert comparison.base_flips == comparison.small_flips and comparison.base_only == comparison.small_only == 0
    assert comparison.difference == 0.0 and comparison.difference_ci == (0.0, 0.0) and comparison.mcnemar_p_value == 1.0


def test_flags_are_the_engines_predictions(demo_models) -> None:
    base, small = demo_models
    base_engine = Evaluator(base, cache=False, progress=False)
    small_engine = Evaluator(small, cache=False, progress=False)
    result = counterfactual_flips((base, small), TEXTS, n_resamples=0, evaluators=(base_engine, small_engine))
    assert base_engine.stats.requested == small_engine.stats.requested == 8
    swapper = WordSwapper()
    for example in result.examples:
        original = [(example.text_a, example.text_b)]
        swapped = [(example.swapped_a, example.swapped_b)]
        assert swapped[0][:2] == swapper.swap_pair(*original[0])[:2]
        for bundle, before, after in ((base, example.base_before, example.base_after),
                                      (small, example.small_before, example.small_after)):
            engine = Evaluator(bundle, cache=False, progress=False)
            assert LABELS[int(engine.probs(original).argmax())] == before
            assert LABELS[int(engine.probs(swapped).argmax())] == after
    flags = np.array([[e.base_flipped, e.small_flipped] for e in result.examples])
    assert result.comparison.base_flips == flags[:, 0].sum() and result.comparison.small_flips == flags[:, 1].sum()


def test_a_dataset_and_json_round_trip(demo_models, dev_tsv) -> None:
    base, small = demo_models
    dataset = load_dataset(dev_tsv, LABELS)
    result = counterfactual_flips((base, small), dataset, n_resamples=50)
    gendered = [i for i, (a, b) in enumerate(dataset.pairs()) if WordSwapper().swap_pair(a, b)[2]]
    assert result.n_texts == len(dataset) and [e.index for e in result.examples] == gendered
    assert result.n_applicable == len(gendered) > 0
    text = json.dumps(result.to_dict())
    assert json.dumps(CounterfactualFlips.from_dict(json.loads(text)).to_dict()) == text


def test_no_applicable_text_and_bad_inputs(demo_models) -> None:
    base, small = demo_models
    none = counterfactual_flips((base, small), ["the cat runs"], n_resamples=10, cache=False)
    assert none.n_applicable == 0 and none.examples == () and none.comparison.n == 0
    with pytest.raises(InvalidInputError, match="not one string"):
        counterfactual_flips((base, small), "the man runs")
    with pytest.raises(InvalidInputError, match=r"texts\[1\] must be a string or a \(text_a, text_b\) pair"):
        counterfactual_flips((base, small), ["the man runs", 3])
    with pytest.raises(InvalidInputError, match="ModelPair or a \\(base, small\\) tuple"):
        counterfactual_flips(base, ["the man runs"])
