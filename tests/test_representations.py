"""Pooled hidden states of a bundle over texts, the layer-pair CKA matrix, and the final-state comparison."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests._helpers import generated_nli, tiny_classifier
from tests._helpers import LABELS
from trustaudit.exceptions import InvalidInputError
from trustaudit.models import from_model
from trustaudit.representations import layer_cka, layer_representations, representation_similarity


@pytest.fixture(scope="module")
def nli_data():
    return generated_nli(48, seed=5)


@pytest.fixture(scope="module")
def base(tokenizer):
    return from_model(tiny_classifier("bert", tokenizer, layers=3, width=32, seed=1), tokenizer, LABELS, task="pair")


@pytest.fixture(scope="module")
def small(tokenizer):
    return from_model(tiny_classifier("bert", tokenizer, layers=1, width=16, seed=2), tokenizer, LABELS, task="pair")


def test_states_are_the_models_hidden_states_pooled(base, nli_data, tokenizer) -> None:
    reps = layer_representations(base, nli_data, batch_size=7, device="cpu", progress=False)
    assert reps.n_states == 4 and reps.n == len(nli_data)
    assert all(s.shape == (48, 32) and s.dtype == np.float32 for s in reps.cls + reps.mean)
    text = nli_data.pairs()[5]
    enc = tokenizer(text[0], text[1], return_tensors="pt")
    with torch.inference_mode():
        states = base.model(**enc, output_hidden_states=True).hidden_states
    for k, state in enumerate(states):
        np.testing.assert_allclose(reps.cls[k][5], state[0, 0].numpy(), atol=1e-5)
        np.testing.assert_allclose(reps.mean[k][5], state[0].mean(dim=0).numpy(), atol=1e-5)
    one_by_one = layer_representations(base, nli_data.pairs(), batch_size=1, device="cpu", progress=False)
    for a, b in zip(reps.mean + reps.cls, one_by_one.mean + one_by_one.cls):
        np.testing.assert_allclose(a, b, atol=1e-5)  # padding and batch order do not matter
    np.testing.assert_array_equal(reps.final("mean"), reps.mean[-1])


def test_layer_matrix_and_final_similarity(base, small, nli_data) -> None:
    a = layer_representations(base, nli_data, device="cpu", progress=False)
    b = layer_representations(small, nli_data, device="cpu", progress=False)
    matrix = layer_cka(a, b, "mean")
    assert matrix.shape == (4, 2) and np.all((0 <= matrix) & (matrix <= 1))
    cls = layer_cka(a, a)
    assert np.isnan(cls[0]).all() and np.isnan(cls[:, 0]).all()  # [CLS] out of the embeddings: one vector for every text
    np.testing.assert_allclose(np.diag(cls)[1:], 1.0, atol=1e-6)
    result = representation_similarity(a, b, "cls", n_resamples=100, seed=1)
    assert result.n == 48 and (result.base_width, result.small_width) == (32, 16)
    assert result.cka == pytest.approx(layer_cka(a, b, "cls")[-1, -1])
    with pytest.raises(InvalidInputError, match="pooling must be one of cls, mean"):
        layer_cka(a, b, "max")
    with pytest.raises(InvalidInputError, match="different rows"):
        layer_cka(a, layer_representations(small, nli_data.subset(range(5)), device="cpu", progress=False))


def test_aligned_and_quantized_models_give_their_states(base, small, nli_data) -> None:
    from trustaudit.compress import alad, quantize

    aligned, _ = alad(base, small, nli_data, setup="reuse-head", epochs=1, hidden=32, device="cpu", progress=False)
    reps = layer_representations(aligned, nli_data.subset(range(6)), device="cpu", progress=False)
    assert reps.n_states == 3 and reps.final().shape == (6, 32)  # small's 2 states, then the adapter (base width)
    q = layer_representations(quantize(small), nli_data.subset(range(6)), batch_size=4, device="cpu", progress=False)
    plain = layer_representations(small, nli_data.subset(range(6)), batch_size=4, device="cpu", progress=False)
    assert q.n_states == plain.n_states == 2
    np.testing.assert_allclose(q.cls[0], plain.cls[0], atol=1e-5)  # the embeddings are not quantized
    with pytest.raises(InvalidInputError, match="at least one text"):
        layer_representations(small, [], device="cpu")
