"""Dynamic int8 quantization: deterministic reloads, closeness to float, sizes, errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from tests._helpers import encoded, tiny_classifier
from tests._helpers import LABELS
from trustaudit.compress import QuantizedClassifier, quantize
from trustaudit.exceptions import InvalidInputError
from trustaudit.models import from_model, load_model, load_pair, save_bundle
from trustaudit._predict import predict


@pytest.fixture(scope="module")
def float_bundle(tokenizer):
    return from_model(tiny_classifier("bert", tokenizer, layers=2, width=64), tokenizer, LABELS, task="pair")


def test_every_load_gives_the_same_int8_logits_close_to_float(float_bundle, tokenizer, nli_data, tmp_path: Path) -> None:
    quantized = quantize(float_bundle)
    assert quantized.kind == "quantized" and isinstance(quantized.model, QuantizedClassifier)
    save_bundle(quantized, tmp_path / "q.pt")
    first, second = load_model(tmp_path / "q.pt"), load_model(tmp_path / "q.pt")
    inputs = encoded(tokenizer, nli_data, n=16)
    with torch.inference_mode():
        a, b = first.model(**inputs).logits, second.model(**inputs).logits
        in_memory = quantized.model(**inputs).logits
        reference = float_bundle.model(**inputs).logits
    assert torch.equal(a, b) and torch.equal(a, in_memory)
    assert not torch.equal(a, reference)
    torch.testing.assert_close(a, reference, rtol=0, atol=0.05)
    assert first.kind == "quantized" and first.labels == LABELS and first.task == "pair"
    assert first.fingerprint == quantized.fingerprint != float_bundle.fingerprint
    assert first.n_params == float_bundle.n_params


def test_a_texts_int8_logits_do_not_depend_on_its_batch(float_bundle, tokenizer, nli_data) -> None:
    quantized = quantize(float_bundle)
    pairs = [nli_data.pairs()[i] for i in range(12)]
    batch = tokenizer([a for a, _ in pairs], [b for _, b in pairs], padding=True, return_tensors="pt")
    with torch.inference_mode():
        together = quantized.model(**batch).logits
        alone = torch.cat([quantized.model(**tokenizer(a, b, return_tensors="pt")).logits for a, b in pairs])
        reversed_batch = quantized.model(**{k: v.flip(0) for k, v in batch.items()}).logits.flip(0)
        wrapped_alone = torch.cat([quantized.model.model(**tokenizer(a, b, return_tensors="pt")).logits for a, b in pairs])
        wrapped_together = quantized.model.model(**batch).logits
    assert (batch["attention_mask"] == 0).any(), "the batch must hold padding for the test to mean anything"
    assert torch.equal(together, alone) and torch.equal(together, reversed_batch)
    assert torch.equal(alone, wrapped_alone)
    assert not torch.equal(wrapped_together, wrapped_alone), "plain dynamic int8 depends on the batch"


def test_cached_outputs_of_quantized_models_have_their_own_key(float_bundle) -> None:
    quantized = quantize(float_bundle)
    assert float_bundle.cache_id != quantized.cache_id
    unsalted = dataclasses.replace(quantized, model=quantized.model.model)
    assert unsalted.fingerprint == quantized.fingerprint and unsalted.kind == quantized.kind
    assert unsalted.cache_id != quantized.cache_id


def test_provenance_records_float_and_int8_sizes(float_bundle) -> None:
    prov = quantize(float_bundle).provenance
    assert prov["method"] == "dynamic-int8" and prov["linear_layers"] == 2 * 6 + 2
    assert prov["int8_bytes"] < 0.6 * prov["float_bytes"]
    assert prov["base_fingerprint"] == float_bundle.fingerprint


def test_quantized_model_is_audited_like_any_model(float_bundle, nli_data) -> None:
    quantized = quantize(float_bundle)
    pair = load_pair(float_bundle, quantized)
    base_probs = predict(pair.base, nli_data, cache=False, device="cpu").probs
    small_probs = predict(pair.small, nli_data, cache=False, device="cpu").probs
    assert small_probs.shape == (len(nli_data), 3)
    assert np.abs(base_probs - small_probs).max() < 0.02
    assert quantized.model.to("cpu") is quantized.model


def test_only_plain_models_are_quantized(float_bundle) -> None:
    with pytest.raises(InvalidInputError, match="only a plain Hugging Face classifier"):
        quantize(quantize(float_bundle))
    with pytest.raises(InvalidInputError, match="ModelBundle"):
        quantize(float_bundle.model)
