"""Sentence embeddings for the association tests: both poolings, determinism, batch invariance, model kinds."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from tests._helpers import LABELS, LogitsOnly
from trustaudit.bias import DEFAULT_TEMPLATES, encode_sentences, encode_words
from trustaudit.bias._testsets import fill
from trustaudit.exceptions import InvalidInputError
from trustaudit.models import from_model

SENTENCES = ["This is an executive.", "Amy is here.", "The person's name is John.", "It is a career.", "Here is a family."]


def test_both_poolings_against_a_plain_forward_pass(bias_models, bias_tokenizer) -> None:
    base, _ = bias_models
    pooled = encode_sentences(base, SENTENCES, batch_size=2)
    assert set(pooled) == {"mean", "cls"}
    for i, sentence in enumerate(SENTENCES):
        inputs = bias_tokenizer(sentence, return_tensors="pt")
        assert bias_tokenizer.unk_token_id not in inputs["input_ids"][0].tolist(), sentence
        with torch.inference_mode():
            states = base.model(**inputs, output_hidden_states=True).hidden_states[-1][0].double().numpy()
        np.testing.assert_allclose(pooled["mean"][i], states.mean(axis=0), atol=1e-6)
        np.testing.assert_allclose(pooled["cls"][i], states[0], atol=1e-6)
        assert pooled["mean"].shape == pooled["cls"].shape == (len(SENTENCES), 32)
    assert not np.allclose(pooled["mean"], pooled["cls"])


def test_deterministic_and_batch_size_invariant(bias_models) -> None:
    _, small = bias_models
    first = encode_sentences(small, SENTENCES, batch_size=3)
    again = encode_sentences(small, SENTENCES, batch_size=3)
    alone = encode_sentences(small, SENTENCES, batch_size=1)
    together = encode_sentences(small, SENTENCES, batch_size=64)
    for name in ("mean", "cls"):
        assert np.array_equal(first[name], again[name])
        np.testing.assert_allclose(alone[name], together[name], atol=1e-5, rtol=0)
        np.testing.assert_allclose(first[name], together[name], atol=1e-5, rtol=0)


def test_a_word_is_the_mean_of_its_template_sentences(bias_models) -> None:
    base, _ = bias_models
    words = encode_words(base, [("career", "term"), ("Amy", "name")], pooling="mean")
    assert set(words) == {"mean"} and words["mean"].shape == (2, 32)
    for row, (word, kind) in enumerate([("career", "term"), ("Amy", "name")]):
        sentences = [fill(t, word) for t in DEFAULT_TEMPLATES[kind]]
        np.testing.assert_allclose(words["mean"][row], encode_sentences(base, sentences)["mean"].mean(axis=0), atol=1e-6)
    custom = encode_words(base, [("career", "term")], templates={"term": ["A {word}."]}, pooling=("cls",))
    np.testing.assert_allclose(custom["cls"][0], encode_sentences(base, ["A career."])["cls"][0], atol=1e-6)


@pytest.mark.parametrize("accepts_kwargs", [True, False])
def test_a_model_without_hidden_states_is_a_clear_error(bias_models, accepts_kwargs) -> None:
    base, _ = bias_models
    bundle = dataclasses.replace(base, model=LogitsOnly(accepts_kwargs), kind="onnx", path="model.onnx")
    with pytest.raises(InvalidInputError, match=r"model.onnx: .*hidden states"):
        encode_sentences(bundle, SENTENCES)


def test_quantized_model_gives_batch_invariant_states_close_to_float(bias_models) -> None:
    from trustaudit.compress import quantize

    base, _ = bias_models
    quantized = quantize(base)
    alone = encode_sentences(quantized, SENTENCES, batch_size=1)
    together = encode_sentences(quantized, SENTENCES, batch_size=8)
    reference = encode_sentences(base, SENTENCES)
    for name in ("mean", "cls"):
        assert np.array_equal(alone[name], together[name])
        assert not np.array_equal(alone[name], reference[name])
        cosine = np.sum(alone[name] * reference[name], axis=1) / (
            np.linalg.norm(alone[name], axis=1) * np.linalg.norm(reference[name], axis=1))
        assert cosine.min() > 0.95


def test_aligned_model_states_are_what_its_head_reads(bias_models, bias_tokenizer) -> None:
    from trustaudit.compress._alad.train import _new_aligned_model

    base, small = bias_models
    model, _ = _new_aligned_model(base, small, window=3, hidden=64, train_small=False)
    aligned = from_model(model.eval(), bias_tokenizer, LABELS)
    inputs = bias_tokenizer(SENTENCES, padding=True, return_tensors="pt")
    with torch.inference_mode():
        states = model.final_hidden_states(**inputs)
        assert torch.equal(model.head(states), model(**inputs).logits)
    pooled = encode_sentences(aligned, SENTENCES)
    assert pooled["cls"].shape == (len(SENTENCES), 32)
    np.testing.assert_allclose(pooled["cls"], states[:, 0].double().numpy(), atol=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pooling": "max"}, "pooling must be among mean, cls, got 'max'"),
        ({"pooling": ()}, "pooling needs at least one"),
        ({"pooling": ("mean", "mean")}, "lists a method twice"),
        ({"batch_size": 0}, "batch_size must be an integer >= 1"),
    ],
)
def test_bad_arguments(bias_models, kwargs, message) -> None:
    with pytest.raises(InvalidInputError, match=message):
        encode_sentences(bias_models[0], SENTENCES, **kwargs)
    with pytest.raises(InvalidInputError, match="not one string"):
        encode_sentences(bias_models[0], "This is a cat.")
