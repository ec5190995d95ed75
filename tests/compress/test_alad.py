"""AlAd: the token window, the reused head, alignment training, deployment modes, bundles, errors."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.compress.conftest import encoded, tiny_classifier
from tests.conftest import LABELS
from trustaudit.compress import AlAdInfo, AlignedModel, alad
from trustaudit.compress._alad import ClassificationHead, window_stack
from trustaudit.compress._arch import architecture
from trustaudit.exceptions import InvalidInputError, LabelMismatchError
from trustaudit.models import from_model, load_model, load_pair, save_bundle
from trustaudit._predict import predict


def _bundle(model, tokenizer, labels=LABELS):
    return from_model(model, tokenizer, labels, task="pair")


@pytest.fixture(scope="module")
def base(tokenizer):
    return _bundle(tiny_classifier("bert", tokenizer, layers=3, width=48, seed=1), tokenizer)


@pytest.fixture(scope="module")
def small(tokenizer):
    return _bundle(tiny_classifier("bert", tokenizer, layers=1, width=32, seed=2), tokenizer)


def test_window_gathers_neighbours_with_zeros_at_edges_and_padding() -> None:
    states = torch.tensor([[[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0]]])
    mask = torch.tensor([[1, 1, 1, 0]])
    got = window_stack(states, mask, 3)
    expected = torch.tensor([[
        [0, 0, 1, 10, 2, 20],    # t0: left edge, itself, t1
        [1, 10, 2, 20, 3, 30],   # t1
        [2, 20, 3, 30, 0, 0],    # t2: its right neighbour is padding
        [3, 30, 0, 0, 0, 0],     # t3 (padding itself): zeros except the real t2
    ]], dtype=torch.float32)
    assert torch.equal(got, expected)
    assert torch.equal(window_stack(states, mask, 1), states * mask.unsqueeze(-1))
    wide = window_stack(states, torch.ones(1, 4, dtype=torch.long), 5)
    assert wide.shape == (1, 4, 10)
    assert wide[0, 0].tolist() == [0, 0, 0, 0, 1, 10, 2, 20, 3, 30]
    assert wide[0, 3].tolist() == [2, 20, 3, 30, 4, 40, 0, 0, 0, 0]


def test_window_does_not_depend_on_batch_padding() -> None:
    torch.manual_seed(0)
    states = torch.randn(1, 3, 4)
    alone = window_stack(states, torch.ones(1, 3), 3)
    padded = torch.cat([states, torch.randn(1, 2, 4)], dim=1)
    in_batch = window_stack(padded, torch.tensor([[1, 1, 1, 0, 0]]), 3)
    assert torch.equal(in_batch[:, :3], alone)


@pytest.mark.parametrize("model_type", ["bert", "distilbert", "roberta", "electra"])
def test_reused_head_reproduces_the_classifier_on_its_own_states(tokenizer, nli_data, model_type) -> None:
    bundle = _bundle(tiny_classifier(model_type, tokenizer, layers=1), tokenizer)
    arch = architecture(bundle)
    head = ClassificationHead.from_classifier(bundle, arch).eval()
    inputs = encoded(tokenizer, nli_data, token_types=model_type in ("bert", "electra"))
    with torch.inference_mode():
        states = bundle.model.base_model(**inputs).last_hidden_state
        assert torch.equal(head(states), bundle.model(**inputs).logits)


def test_alignment_training_reduces_the_loss(base, small, nli_data) -> None:
    aligned, info = alad(base, small, nli_data, epochs=6, batch_size=16, device="cpu", progress=False)
    assert isinstance(info, AlAdInfo) and isinstance(aligned.model, AlignedModel)
    assert info.mse_after < 0.8 * info.mse_before
    assert info.align_losses[-1] < info.align_losses[0]
    assert len(info.align_losses) == 6
    assert info.cosine_identity is None  # widths differ (32 vs 48)
    assert -1 <= info.cosine_before <= 1 and -1 <= info.cosine_after <= 1
    assert info.cosine_after > info.cosine_untrained, "alignment training moves the states toward the base's"
    assert info.hidden == 4 * 48 and info.window == 3
    assert info.adapter_params == (3 * 32 * 192 + 192) + (192 * 48 + 48)
    assert info.head_params == 48 * 48 + 48 + 48 * 3 + 3
    assert aligned.n_params == small.n_params + info.params_added
    assert aligned.kind == "alad" and aligned.provenance["method"] == "alad"


def test_bundle_round_trips_with_identical_logits(base, small, tokenizer, nli_data, tmp_path: Path) -> None:
    aligned, _ = alad(base, small, nli_data, epochs=1, batch_size=16, device="cpu", progress=False)
    save_bundle(aligned, tmp_path / "aligned.pt")
    loaded = load_model(tmp_path / "aligned.pt")
    inputs = encoded(tokenizer, nli_data)
    with torch.inference_mode():
        assert torch.equal(loaded.model(**inputs).logits, aligned.model(**inputs).logits)
    assert loaded.kind == "alad" and loaded.labels == LABELS and loaded.task == "pair"
    assert loaded.fingerprint == aligned.fingerprint and loaded.n_params == aligned.n_params
    assert loaded.provenance["base_fingerprint"] == base.fingerprint
    assert loaded.provenance["small_fingerprint"] == small.fingerprint
    payload = torch.load(tmp_path / "aligned.pt", weights_only=True)
    assert payload["kind"] == "alad" and isinstance(payload["extra"]["alad"], str)
    probs = predict(loaded, nli_data, cache=False, device="cpu").probs
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)


def test_labels_follow_the_base_model(tokenizer, nli_data) -> None:
    order = ("contradiction", "entailment", "neutral")
    base = _bundle(tiny_classifier("bert", tokenizer, layers=2, labels=order, seed=3), tokenizer, order)
    binary = _bundle(tiny_classifier("bert", tokenizer, layers=1, labels=("no", "yes"), seed=4), tokenizer, ("no", "yes"))
    aligned, _ = alad(base, binary, nli_data, epochs=1, device="cpu", progress=False)
    assert aligned.labels == order
    with torch.inference_mode():
        logits = aligned.model(**encoded(tokenizer, nli_data)).logits
    assert logits.shape == (8, 3)
    assert load_pair(base, aligned).permutation == (0, 1, 2)
    torch.testing.assert_close(aligned.model.head.out.weight, base.model.classifier.weight)


def test_joint_mode_trains_adapter_and_head_and_optionally_the_small_encoder(base, small, nli_data) -> None:
    frozen, _ = alad(base, small, nli_data, epochs=1, batch_size=16, device="cpu", progress=False)
    joint, info = alad(base, small, nli_data, epochs=1, mode="joint", joint_epochs=1, joint_lr=1e-3, batch_size=16,
                       device="cpu", progress=False)
    assert info.mode == "joint" and len(info.joint_losses) == 1 and info.cosine_joint is not None
    assert not torch.equal(joint.model.head.out.weight, frozen.model.head.out.weight)
    small_encoder = small.model.bert.state_dict()
    assert all(torch.equal(t, small_encoder[k]) for k, t in joint.model.encoder.state_dict().items())
    tuned, tuned_info = alad(base, small, nli_data, epochs=1, mode="joint", joint_epochs=1, joint_lr=1e-3,
                             train_small=True, batch_size=16, device="cpu", progress=False)
    assert tuned_info.train_small
    assert not all(torch.equal(t, small_encoder[k]) for k, t in tuned.model.encoder.state_dict().items())


def test_distilbert_small_model_under_a_bert_base(base, tokenizer, nli_data) -> None:
    small = _bundle(tiny_classifier("distilbert", tokenizer, layers=2, width=32), tokenizer)
    aligned, info = alad(base, small, nli_data, window=5, epochs=2, batch_size=16, device="cpu", progress=False)
    assert info.window == 5 and info.adapter_params == (5 * 32 * 192 + 192) + (192 * 48 + 48)
    with torch.inference_mode():
        with_types = aligned.model(**encoded(tokenizer, nli_data)).logits
        without = aligned.model(**encoded(tokenizer, nli_data, token_types=False)).logits
    assert torch.equal(with_types, without)


def test_equal_widths_report_the_raw_cosine(base, tokenizer, nli_data) -> None:
    twin = _bundle(tiny_classifier("bert", tokenizer, layers=1, width=48, seed=5), tokenizer)
    _, info = alad(base, twin, nli_data, window=1, epochs=1, device="cpu", progress=False)
    assert info.cosine_identity is not None and -1 <= info.cosine_identity <= 1


def test_refuses_models_that_do_not_share_a_tokenizer(base, nli_data) -> None:
    from trustaudit.demo._factory import make_tokenizer
    from trustaudit.demo._task import VOCABULARY

    other = make_tokenizer((*VOCABULARY, "zebra"))
    small = _bundle(tiny_classifier("bert", other, layers=1), other)
    with pytest.raises(InvalidInputError, match="must share one tokenizer"):
        alad(base, small, nli_data, device="cpu")


def test_bad_inputs_get_clear_errors(base, small, nli_data) -> None:
    with pytest.raises(InvalidInputError, match="window must be an odd"):
        alad(base, small, nli_data, window=2, device="cpu")
    with pytest.raises(InvalidInputError, match="mode must be one of frozen, joint"):
        alad(base, small, nli_data, mode="both", device="cpu")
    with pytest.raises(InvalidInputError, match="epochs must be a positive number"):
        alad(base, small, nli_data, epochs=0, device="cpu")
    with pytest.raises(InvalidInputError, match="base .*'quantized' model"):
        alad(replace(base, kind="quantized"), small, nli_data, device="cpu")
    with pytest.raises(InvalidInputError, match="no label column"):
        alad(base, small, replace(nli_data, labels=None), mode="joint", device="cpu")
    with pytest.raises(LabelMismatchError):
        alad(base, small, replace(nli_data, label_names=("x", "y", "z")), mode="joint", device="cpu")
    unlabelled, _ = alad(base, small, replace(nli_data, labels=None), epochs=1, device="cpu", progress=False)
    assert unlabelled.labels == LABELS
