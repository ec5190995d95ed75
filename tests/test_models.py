"""Loading models: directories, bundles, pickles (refused unless allowed), labels, pairs."""

from __future__ import annotations

import pathlib
from pathlib import Path

import numpy as np
import pytest
import torch

from tests._helpers import LABELS
from trustaudit.exceptions import LabelMismatchError, ModelLoadError, UnsafeModelError
from trustaudit.models import load_model, load_pair, pack, save_bundle


def _logits(bundle, texts=(("the red cat sleeps in the park", "the cat sleeps"), ("a dog runs", "the dog is hungry"))):
    enc = bundle.tokenizer([a for a, _ in texts], [b for _, b in texts], padding=True, return_tensors="pt")
    with torch.inference_mode():
        return bundle.model(**enc).logits


def test_hf_directory_loads_with_metadata(tiny_model_dir: Path) -> None:
    bundle = load_model(tiny_model_dir)
    assert bundle.labels == LABELS
    assert bundle.kind == "hf"
    assert bundle.n_params == sum(p.numel() for p in bundle.model.parameters())
    assert bundle.bytes_on_disk > bundle.n_params * 4 * 0.9
    assert len(bundle.fingerprint) == 64
    assert bundle.max_length == 128
    assert not bundle.model.training


def test_bundle_logits_equal_directory_bit_for_bit(tiny_model_dir: Path, tiny_bundle_path: Path) -> None:
    from_dir = load_model(tiny_model_dir)
    from_bundle = load_model(tiny_bundle_path)
    assert torch.equal(_logits(from_dir), _logits(from_bundle))
    assert from_bundle.fingerprint == from_dir.fingerprint
    assert from_bundle.task == "pair"
    assert from_bundle.labels == LABELS
    assert from_bundle.bytes_on_disk == tiny_bundle_path.stat().st_size


def test_format_is_told_by_content_not_extension(tiny_bundle_path: Path, tmp_path: Path) -> None:
    renamed = tmp_path / "model.weights"
    renamed.write_bytes(tiny_bundle_path.read_bytes())
    assert load_model(renamed).labels == LABELS
    text = tmp_path / "notes.pt"
    text.write_text("not a model")
    with pytest.raises(ModelLoadError, match="not a model file"):
        load_model(text)


def test_pickled_payload_is_not_run_without_allow_pickle(tmp_path: Path) -> None:
    marker = tmp_path / "payload-ran"

    class Payload:
        def __reduce__(self):
            return (pathlib.Path.touch, (marker,))

    evil = tmp_path / "evil.pt"
    torch.save({"model": Payload()}, evil)
    with pytest.raises(UnsafeModelError) as info:
        load_model(evil)
    assert not marker.exists()
    message = str(info.value)
    assert "\n" not in message and "`allow_pickle`" in message
    with pytest.warns(UserWarning, match="arbitrary code"), pytest.raises(ModelLoadError):
        load_model(evil, allow_pickle=True, tokenizer=str(tmp_path))
    assert marker.exists(), "the payload is real: with --allow-pickle, unpickling runs it"


def test_pickled_module_refused_then_loaded_when_allowed(tiny_model_dir: Path, tmp_path: Path) -> None:
    reference = load_model(tiny_model_dir)
    path = tmp_path / "whole.pt"
    torch.save(reference.model, path)
    with pytest.raises(UnsafeModelError, match="runs? code|run code"):
        load_model(path)
    with pytest.raises(ModelLoadError, match="pass `tokenizer`=DIR"):
        with pytest.warns(UserWarning, match="arbitrary code"):
            load_model(path, allow_pickle=True)
    with pytest.warns(UserWarning, match="arbitrary code"):
        loaded = load_model(path, allow_pickle=True, tokenizer=str(tiny_model_dir))
    assert torch.equal(_logits(loaded), _logits(reference))


def test_bare_state_dict_is_explained(tiny_model_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "state.pt"
    torch.save(load_model(tiny_model_dir).model.state_dict(), path)
    with pytest.raises(ModelLoadError, match="state dict"):
        load_model(path)


def test_damaged_and_missing_inputs(tmp_path: Path, tiny_bundle_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="no such file"):
        load_model(tmp_path / "absent.pt")
    (tmp_path / "empty-dir").mkdir()
    with pytest.raises(ModelLoadError, match="config.json"):
        load_model(tmp_path / "empty-dir")
    cut = tmp_path / "cut.pt"
    cut.write_bytes(tiny_bundle_path.read_bytes()[:2000])
    with pytest.raises(ModelLoadError, match="damaged"):
        load_model(cut)
    payload = torch.load(tiny_bundle_path, weights_only=True)
    for broken in ({k: v for k, v in payload.items() if k != "state_dict"}, {**payload, "state_dict": {"junk": torch.zeros(1)}}):
        path = tmp_path / "broken.pt"
        torch.save(broken, path)
        with pytest.raises(ModelLoadError, match="weights do not"):
            load_model(path)


def test_encoder_without_head_is_refused(tmp_path: Path, tokenizer) -> None:
    from transformers import BertConfig, BertModel

    encoder = BertModel(BertConfig(vocab_size=len(tokenizer.get_vocab()), hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64))
    encoder.save_pretrained(str(tmp_path / "enc"))
    tokenizer.save_pretrained(str(tmp_path / "enc"))
    with pytest.raises(ModelLoadError, match="classification head"):
        load_model(tmp_path / "enc")


def test_generic_labels_are_renamed_by_the_user(tmp_path: Path, tokenizer) -> None:
    from tests._helpers import make_bert

    model = make_bert(tokenizer, ("LABEL_0", "LABEL_1", "LABEL_2"))
    model.config.id2label = {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}
    model.save_pretrained(str(tmp_path / "generic"))
    tokenizer.save_pretrained(str(tmp_path / "generic"))
    assert load_model(tmp_path / "generic").labels == ("LABEL_0", "LABEL_1", "LABEL_2")
    named = load_model(tmp_path / "generic", label_names="entailment, neutral,contradiction")
    assert named.labels == LABELS
    with pytest.warns(DeprecationWarning, match=r"`labels` is deprecated.*use `label_names`"):
        assert load_model(tmp_path / "generic", labels="entailment,neutral,contradiction").labels == LABELS
    with pytest.raises(ModelLoadError, match="3 output classes but `label_names` names 2"):
        load_model(tmp_path / "generic", label_names="yes,no")
    with pytest.raises(ModelLoadError, match="`label_names` has a repeated"):
        load_model(tmp_path / "generic", label_names="a,A,b")
    packed = pack(tmp_path / "generic", tmp_path / "named.pt", label_names="entailment,neutral,contradiction")
    assert load_model(tmp_path / "named.pt").labels == LABELS == packed.labels
    with pytest.warns(DeprecationWarning, match=r"`labels` is deprecated.*use `label_names`"):
        assert pack(tmp_path / "generic", tmp_path / "old.pt", labels="entailment,neutral,contradiction").labels == LABELS


def _permuted_copy(bundle, order: list[int], path: Path) -> Path:
    """The same model with its output classes in another order (classifier rows permuted)."""
    from dataclasses import replace

    from trustaudit.models import build_hf_model

    model = build_hf_model(bundle.config, bundle.model.state_dict())
    with torch.no_grad():
        model.classifier.weight.copy_(bundle.model.classifier.weight[order])
        model.classifier.bias.copy_(bundle.model.classifier.bias[order])
    permuted = replace(bundle, model=model, labels=tuple(bundle.labels[i] for i in order))
    save_bundle(permuted, path)
    return path


def test_pair_maps_labels_by_name(tiny_bundle_path: Path, tmp_path: Path, dev_tsv: Path) -> None:
    from trustaudit.data import load_dataset
    from trustaudit._predict import predict

    base = load_model(tiny_bundle_path)
    order = [2, 0, 1]
    permuted_path = _permuted_copy(base, order, tmp_path / "permuted.pt")
    pair = load_pair(base, permuted_path)
    assert pair.small.labels == ("contradiction", "entailment", "neutral")
    assert pair.permutation == (1, 2, 0)
    data = load_dataset(dev_tsv, pair.labels)
    base_probs = predict(pair.base, data, cache=False).probs
    raw = predict(pair.small, data, cache=False).probs
    small_probs = pair.to_base_labels(raw)
    np.testing.assert_allclose(small_probs, base_probs, atol=1e-6)
    assert not np.allclose(raw, base_probs, atol=1e-3), "the mapping reorders the columns"
    with pytest.warns(DeprecationWarning, match=r"`ModelPair.align` is deprecated.*use `ModelPair.to_base_labels`"):
        assert np.array_equal(pair.align(raw), small_probs)


def test_pair_with_different_label_sets_names_both(tiny_bundle_path: Path, tmp_path: Path, tokenizer) -> None:
    from tests._helpers import make_bert

    other = make_bert(tokenizer, ("positive", "negative", "neutral"))
    other.save_pretrained(str(tmp_path / "other"))
    tokenizer.save_pretrained(str(tmp_path / "other"))
    with pytest.raises(LabelMismatchError) as info:
        load_pair(tiny_bundle_path, tmp_path / "other")
    assert "entailment" in str(info.value) and "positive" in str(info.value)
    assert "pass `label_names` / `small_label_names`" in str(info.value)
    named = load_pair(tiny_bundle_path, tmp_path / "other", small_label_names="entailment,contradiction,neutral")
    assert named.small.labels == ("entailment", "contradiction", "neutral") and named.permutation == (0, 2, 1)
    with pytest.warns(DeprecationWarning, match=r"`small_labels` is deprecated.*use `small_label_names`"):
        old = load_pair(tiny_bundle_path, tmp_path / "other", small_labels="entailment,contradiction,neutral")
    assert old.permutation == named.permutation


def test_pair_labels_match_case_insensitively(tiny_bundle_path: Path, tmp_path: Path) -> None:
    upper = pack(load_model(tiny_bundle_path).path, tmp_path / "upper.pt", label_names="ENTAILMENT,Neutral,contradiction")
    pair = load_pair(tiny_bundle_path, upper)
    assert pair.permutation == (0, 1, 2)


def test_pair_models_may_have_different_tokenizers(tiny_bundle_path: Path, tmp_path: Path) -> None:
    from tests._helpers import make_bert, make_tokenizer
    from trustaudit.demo._task import VOCABULARY

    other_tok = make_tokenizer([w for w in VOCABULARY if w not in ("cat", "dog")])
    model = make_bert(other_tok, LABELS, layers=1, hidden=16, heads=1)
    model.save_pretrained(str(tmp_path / "other-tok"))
    other_tok.save_pretrained(str(tmp_path / "other-tok"))
    pair = load_pair(tiny_bundle_path, tmp_path / "other-tok")
    assert pair.small.tokenizer.get_vocab() != pair.base.tokenizer.get_vocab()


def test_distilbert_directory_loads(tmp_path: Path, tokenizer) -> None:
    from transformers import DistilBertConfig, DistilBertForSequenceClassification

    config = DistilBertConfig(vocab_size=len(tokenizer.get_vocab()), dim=32, n_layers=2, n_heads=2, hidden_dim=64,
                              num_labels=3, id2label=dict(enumerate(LABELS)), label2id={n: i for i, n in enumerate(LABELS)})
    DistilBertForSequenceClassification(config).save_pretrained(str(tmp_path / "distil"))
    tokenizer.save_pretrained(str(tmp_path / "distil"))
    bundle = load_model(tmp_path / "distil")
    save_bundle(bundle, tmp_path / "distil.pt")
    again = load_model(tmp_path / "distil.pt")
    assert torch.equal(_logits(bundle), _logits(again))
    assert again.config["model_type"] == "distilbert"


def test_cache_id_changes_with_weights(tiny_bundle_path: Path, tmp_path: Path) -> None:
    base = load_model(tiny_bundle_path)
    permuted = load_model(_permuted_copy(base, [1, 0, 2], tmp_path / "p.pt"))
    assert permuted.cache_id != base.cache_id
    assert load_model(tiny_bundle_path).cache_id == base.cache_id
