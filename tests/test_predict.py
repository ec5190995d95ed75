"""Batched predictions: exactness against a direct forward pass, caching, truncation."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
import torch

from tests._helpers import LABELS, write_rows
from trustaudit._cache import EvalCache
from trustaudit._evaluation import Evaluator
from trustaudit.data import load_dataset
from trustaudit.exceptions import InvalidInputError
from trustaudit.models import load_model
from trustaudit._predict import predict


def test_probabilities_match_a_direct_forward_pass(tiny_bundle_path: Path, dev_tsv: Path) -> None:
    bundle = load_model(tiny_bundle_path)
    data = load_dataset(dev_tsv, bundle.labels)
    preds = predict(bundle, data, batch_size=7, cache=False)
    direct = []
    for a, b in data.pairs():
        enc = bundle.tokenizer(a, b, return_tensors="pt")
        with torch.inference_mode():
            direct.append(torch.softmax(bundle.model(**enc).logits.double(), -1)[0].numpy())
    np.testing.assert_allclose(preds.probs, np.stack(direct), atol=1e-5)
    np.testing.assert_allclose(preds.probs.sum(axis=1), 1.0, atol=1e-12)
    assert preds.probs.dtype == np.float64
    assert preds.labels == LABELS
    assert preds.rows.tolist() == data.rows.tolist()
    assert np.array_equal(preds.confidence, preds.probs.max(axis=1))


def test_batches_are_length_sorted_and_padded_dynamically(tiny_bundle_path: Path, dev_tsv: Path) -> None:
    bundle = load_model(tiny_bundle_path)
    data = load_dataset(dev_tsv, bundle.labels)
    engine = Evaluator(bundle, batch_size=8, cache=False)
    logits, _ = engine.logits(data.pairs())
    naive_padding = 0
    lengths = [len(bundle.tokenizer(a, b)["input_ids"]) for a, b in data.pairs()]
    for s in range(0, len(lengths), 8):
        chunk = lengths[s:s + 8]
        naive_padding += max(chunk) * len(chunk) - sum(chunk)
    assert engine.stats.padded_tokens < naive_padding
    assert engine.stats.real_tokens == sum(lengths)
    shuffled = np.random.default_rng(1).permutation(len(data))
    again, _ = Evaluator(bundle, batch_size=8, cache=False).logits([data.pairs()[i] for i in shuffled])
    np.testing.assert_allclose(again, logits[shuffled], atol=1e-5)


def test_duplicates_are_evaluated_once(tiny_bundle_path: Path) -> None:
    bundle = load_model(tiny_bundle_path)
    engine = Evaluator(bundle, cache=False)
    pairs = [("a cat", "the cat"), ("a dog", None), ("a cat", "the cat"), ("a cat", ""), ("a dog", None)]
    logits, _ = engine.logits(pairs)
    assert engine.stats.evaluated == 3 and engine.stats.unique == 3 and engine.stats.requested == 5
    assert np.array_equal(logits[0], logits[2]) and np.array_equal(logits[1], logits[4])


def test_second_run_is_served_from_cache(tiny_bundle_path: Path, dev_tsv: Path, tmp_path: Path) -> None:
    bundle = load_model(tiny_bundle_path)
    data = load_dataset(dev_tsv, bundle.labels)
    first = predict(bundle, data, cache=tmp_path)
    second = predict(bundle, data, cache=tmp_path)
    assert first.stats.cache_hits == 0 and second.stats.cache_hits == len(data)
    assert second.stats.evaluated == 0
    assert np.array_equal(first.probs, second.probs)


def test_changed_model_is_never_served_stale_results(tiny_bundle_path: Path, dev_tsv: Path, tmp_path: Path) -> None:
    bundle = load_model(tiny_bundle_path)
    data = load_dataset(dev_tsv, bundle.labels)
    predict(bundle, data, cache=tmp_path)
    changed = load_model(tiny_bundle_path)
    with torch.no_grad():
        changed.model.classifier.bias.add_(1.0)
    from dataclasses import replace

    from trustaudit.models import weights_fingerprint

    changed = replace(changed, fingerprint=weights_fingerprint(changed.model.state_dict()))
    result = predict(changed, data, cache=tmp_path)
    assert result.stats.cache_hits == 0
    fresh = predict(changed, data, cache=False)
    np.testing.assert_allclose(result.probs, fresh.probs, atol=1e-6)


def test_corrupt_cache_entry_is_recomputed(tiny_bundle_path: Path, dev_tsv: Path, tmp_path: Path) -> None:
    bundle = load_model(tiny_bundle_path)
    data = load_dataset(dev_tsv, bundle.labels, limit=5)
    clean = predict(bundle, data, cache=tmp_path)
    conn = sqlite3.connect(tmp_path / "evals.sqlite")
    with conn:
        keys = [row[0] for row in conn.execute("SELECT key FROM evals LIMIT 2")]
        conn.execute("UPDATE evals SET logits = ? WHERE key = ?", (b"\x00" * 12, keys[0]))
        conn.execute("UPDATE evals SET logits = ? WHERE key = ?", (b"\x00" * 4, keys[1]))
    conn.close()
    again = predict(bundle, data, cache=tmp_path)
    assert again.stats.cache_hits == 3 and again.stats.evaluated == 2
    np.testing.assert_allclose(again.probs, clean.probs, atol=1e-6)


def test_unreadable_cache_file_is_moved_aside(tiny_bundle_path: Path, dev_tsv: Path, tmp_path: Path) -> None:
    bundle = load_model(tiny_bundle_path)
    data = load_dataset(dev_tsv, bundle.labels, limit=3)
    (tmp_path / "evals.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.warns(UserWarning, match="unreadable"):
        result = predict(bundle, data, cache=EvalCache(tmp_path))
    assert result.stats.evaluated == 3
    assert list(tmp_path.glob("evals.corrupt-*.sqlite"))


def test_truncation_is_counted(tiny_bundle_path: Path, tmp_path: Path) -> None:
    bundle = load_model(tiny_bundle_path, max_length=16)
    long = " ".join(["the red cat sleeps in the park"] * 5)
    path = write_rows(tmp_path / "long.tsv", [(long, "the cat sleeps", "entailment"), ("a dog", "the dog runs", "neutral")])
    data = load_dataset(path, bundle.labels)
    preds = predict(bundle, data, cache=False)
    assert preds.n_truncated == 1
    cached = predict(bundle, data, cache=tmp_path / "c")
    again = predict(bundle, data, cache=tmp_path / "c")
    assert cached.n_truncated == again.n_truncated == 1


def test_bad_runtime_options(tiny_bundle_path: Path) -> None:
    bundle = load_model(tiny_bundle_path)
    with pytest.raises(InvalidInputError, match="`batch_size` must be at least 1"):
        Evaluator(bundle, batch_size=0)
    with pytest.raises(InvalidInputError, match="device"):
        Evaluator(bundle, device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(InvalidInputError, match="CUDA"):
            Evaluator(bundle, device="cuda")
