"""Word substitution guided by attributions: candidates from the input embeddings, the 20% budget, transfer.

The model is a real one-layer BERT with hand-set weights: uniform attention, identity value
and output projections, and three "animal" words that alone write to feature dimensions 0, 1
and 2, which the classifier reads as classes 0, 1 and 2. So "the cat sleeps" is class 0,
"the dog sleeps" class 1, and the three animals share the rest of their embedding, so they
are each other's nearest neighbours.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests._helpers import LABELS
from trustaudit.attack import (
    EmbeddingNeighbours,
    Substitution,
    adversarial_transfer,
    input_embeddings,
    word_budget,
    word_substitution_attack,
)
from trustaudit._evaluation import Evaluator
from trustaudit.exceptions import InvalidInputError
from trustaudit.explain import Attributions, FeatureSet
from trustaudit.explain._attributions import Target
from trustaudit.models import from_model, load_pair

WORDS = ("cat", "dog", "bird", "the", "sleeps", "in", "park", "a", "red", "tree", ",", "##s")


def _engineered(tokenizer, animals: bool = True):
    from tests._helpers import make_bert

    model = make_bert(tokenizer, LABELS, layers=1, hidden=32, heads=1, dropout=0.0, seed=0)
    vocab = tokenizer.get_vocab()
    generator = torch.Generator().manual_seed(0)
    shared = torch.randn(32, generator=generator)
    shared[:3] = 0
    with torch.no_grad():
        words = model.bert.embeddings.word_embeddings.weight
        words.copy_(torch.randn(words.shape, generator=generator))
        words[:, :3] = 0
        for k, animal in enumerate(("cat", "dog", "bird")):
            words[vocab[animal]] = shared
            words[vocab[animal], k] = 4.0
        words[vocab["##s"]] = words[vocab["cat"]]  # a continuation piece: never a candidate
        words[vocab[","]] = words[vocab["cat"]]  # punctuation: never a candidate
        model.bert.embeddings.position_embeddings.weight.zero_()
        model.bert.embeddings.token_type_embeddings.weight.zero_()
        layer = model.bert.encoder.layer[0]
        for linear in (layer.attention.self.query, layer.attention.self.key, layer.output.dense):
            linear.weight.zero_()
            linear.bias.zero_()
        for linear in (layer.attention.self.value, layer.attention.output.dense):
            linear.weight.copy_(torch.eye(32))
            linear.bias.zero_()
        model.bert.pooler.dense.weight.copy_(3 * torch.eye(32))
        model.bert.pooler.dense.bias.zero_()
        model.classifier.weight.zero_()
        model.classifier.bias.zero_()
        if animals:
            model.classifier.weight[[0, 1, 2], [0, 1, 2]] = 1.0
        else:
            model.classifier.bias[0] = 1.0  # blind: always class 0
    return from_model(model.eval(), tokenizer, LABELS, task="single")


@pytest.fixture(scope="module")
def animal_tokenizer():
    from tests._helpers import make_tokenizer

    return make_tokenizer(WORDS)


@pytest.fixture(scope="module")
def model(animal_tokenizer):
    return _engineered(animal_tokenizer)


def _attributions(text: str, scores: dict[str, float], target: int = 0) -> Attributions:
    features = FeatureSet(text)
    values = np.array([scores.get(w, 0.0) - 0.01 * i for i, w in enumerate(features.words)])
    return Attributions("test", features, values, Target(LABELS[target], target), {}, 0, 0, 0.0)


def _predict(bundle):
    return Evaluator(bundle, device="cpu", cache=False, progress=False).probs


def test_the_constructed_model_reads_the_animal(model) -> None:
    probs = _predict(model)([("the cat sleeps in the park", None), ("the dog sleeps", None), ("a bird", None)])
    assert probs.argmax(axis=1).tolist() == [0, 1, 2]


def test_budget_is_a_fifth_of_the_words_rounded_down_at_least_one() -> None:
    assert [word_budget(n) for n in (0, 1, 4, 5, 9, 10, 14, 15)] == [0, 1, 1, 1, 1, 2, 2, 3]
    assert word_budget(10, max_fraction=0.5) == 5


def test_candidates_are_nearest_whole_words_by_cosine(model) -> None:
    neighbours = EmbeddingNeighbours(model)
    nearest = neighbours.nearest("cat", 3)
    assert set(nearest[:2]) == {"dog", "bird"}  # the shared embedding; "##s" and "," (identical to cat) are excluded
    assert "cat" not in nearest and not any(w.startswith("[") or w.startswith("##") for w in neighbours.words)
    assert "," not in neighbours.words and "##s" not in neighbours.words and "cat" in neighbours.words
    assert set(neighbours.nearest("Cat", 2)) == {"Dog", "Bird"}  # capitalised like the word
    vocab = model.tokenizer.get_vocab()
    pieces = model.tokenizer("cats", add_special_tokens=False)["input_ids"]
    assert pieces == [vocab["cat"], vocab["##s"]]
    torch.testing.assert_close(neighbours.vector("cats"), input_embeddings(model.model)[pieces].mean(dim=0))


def test_attack_flips_the_model_at_the_first_substitution_and_stops(model) -> None:
    neighbours = EmbeddingNeighbours(model)
    attributions = _attributions("the cat sleeps in the park", {"cat": 0.9, "park": 0.3, "the": 0.1})
    result = word_substitution_attack(_predict(model), attributions, neighbours, n_candidates=4)
    assert result.success and result.attacked and result.skipped is None
    assert result.budget == 1 and result.n_words == 6
    assert len(result.substitutions) == 1 and result.substitutions[0].index == 1
    assert result.substitutions[0].replacement in ("dog", "bird")
    assert result.adversarial == (f"the {result.substitutions[0].replacement} sleeps in the park", None)
    assert result.adversarial_class == {"dog": 1, "bird": 2}[result.substitutions[0].replacement]
    assert result.evaluations == 1 + 4  # the original, then the four candidates of the first word
    assert result.adversarial_prob < result.original_prob
    assert result.to_dict()["substitutions"][0]["word"] == "cat"


def test_attack_respects_the_budget(model) -> None:
    neighbours = EmbeddingNeighbours(model)
    # three cats in seven words: budget 1, and replacing one cat is not enough
    attributions = _attributions("cat cat cat sleeps in the park", {"cat": 0.9, "sleeps": 0.5})
    result = word_substitution_attack(_predict(model), attributions, neighbours, n_candidates=4)
    assert not result.success and result.attacked and result.budget == 1
    assert len(result.substitutions) == 1 and result.substitutions[0] == Substitution(0, "cat", result.substitutions[0].replacement)
    assert result.adversarial_prob < result.original_prob and result.evaluations == 1 + 4
    # fifteen words: budget 3, and two substitutions flip it
    long = _attributions("cat cat cat sleeps in the park a red tree sleeps in the red park", {"cat": 0.9})
    assert long.features and len(long.features) == 15
    flipped = word_substitution_attack(_predict(model), long, neighbours, n_candidates=4)
    assert flipped.success and flipped.budget == 3 and len(flipped.substitutions) == 2
    capped = word_substitution_attack(_predict(model), long, neighbours, n_candidates=4, max_words=1)
    assert not capped.success and len(capped.substitutions) == 1 and capped.evaluations == 1 + 4


def test_rows_whose_attributions_explain_another_class_are_not_attacked(model) -> None:
    attributions = _attributions("the cat sleeps", {"cat": 0.9}, target=1)
    result = word_substitution_attack(_predict(model), attributions, EmbeddingNeighbours(model))
    assert not result.attacked and not result.success and result.adversarial == result.original
    assert "another class" in result.skipped
    with pytest.raises(InvalidInputError, match="max_fraction"):
        word_substitution_attack(_predict(model), attributions, EmbeddingNeighbours(model), max_fraction=0)


def test_transfer_between_a_model_and_its_copy_and_a_blind_model(model, animal_tokenizer) -> None:
    texts = {"the cat sleeps in the park": {"cat": 0.9}, "cat cat cat sleeps in the park": {"cat": 0.9}}
    explained = [_attributions(t, s) for t, s in texts.items()]
    twin = adversarial_transfer(load_pair(model, _engineered(animal_tokenizer)), explained, explained,
                                n_candidates=4, n_resamples=100, device="cpu", cache=False)
    assert [a.success for a in twin.base_attacks] == [True, False] and twin.small_flipped == (True, False)
    assert twin.rates.base_to_small.transfer == 1.0 and twin.rates.transfer_gap == 0.0
    blind = adversarial_transfer(load_pair(model, _engineered(animal_tokenizer, animals=False)), explained, explained,
                                 n_candidates=4, n_resamples=100, device="cpu", cache=False)
    assert blind.small_flipped == (False, False) and not any(a.success for a in blind.small_attacks)
    assert blind.rates.base_to_small.transfer == 0.0 and blind.rates.base_to_small.gap == 0.5
    assert blind.rates.small_to_base.success_rate == 0.0 and blind.rates.transfer_gap == 0.5
    assert blind.to_dict()["rows"][0]["base_attack"]["success"] is True
    assert blind.evaluations["base"] > 0 and blind.params["max_fraction"] == 0.2
    with pytest.raises(InvalidInputError, match="same rows"):
        adversarial_transfer(load_pair(model, model), explained, explained[:1], device="cpu", cache=False)


def test_input_embeddings_of_a_quantized_model(model) -> None:
    from trustaudit.compress import quantize

    quantized = quantize(model)
    assert input_embeddings(quantized.model).shape == input_embeddings(model.model).shape
    with pytest.raises(InvalidInputError, match="cannot find the input embeddings"):
        input_embeddings(torch.nn.Linear(2, 2))
