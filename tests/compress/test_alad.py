"""AlAd: the token window, the reused head, alignment training, the paper's set-ups, bundles, errors."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from tests._helpers import encoded, tiny_classifier
from tests._helpers import LABELS
from trustaudit.compress import AlAdInfo, AlignedModel, alad
from trustaudit.compress._alad import ClassificationHead, read_texts, window_stack
from trustaudit.compress._arch import architecture
from trustaudit.data import Dataset
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
    aligned, info = alad(base, small, nli_data, setup="reuse-head", epochs=6, lr=1e-3, batch_size=16, device="cpu",
                         progress=False)
    assert isinstance(info, AlAdInfo) and isinstance(aligned.model, AlignedModel)
    assert info.mse_after < 0.8 * info.mse_before
    assert info.align_losses[-1] < info.align_losses[0]
    assert len(info.align_losses) == 6
    assert info.cosine_identity is None  # widths differ (32 vs 48)
    assert -1 <= info.cosine_before <= 1 and -1 <= info.cosine_after <= 1
    assert info.cosine_after > info.cosine_untrained, "alignment training moves the states toward the base's"
    assert info.hidden == 1280 and info.window == 3  # the paper's adapter
    assert info.adapter_params == (3 * 32 * 1280 + 1280) + (1280 * 48 + 48)
    assert info.head_params == 48 * 48 + 48 + 48 * 3 + 3
    assert aligned.n_params == small.n_params + info.params_added
    assert aligned.kind == "alad" and aligned.provenance["method"] == "alad"
    assert info.task_losses == () and info.trainable_params == 0 and info.task_epochs is None
    assert info.rows == 43 and info.val_rows == 5  # 10% of the 48 labelled rows held out


def _weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_each_setup_trains_what_the_paper_trains_and_nothing_else(base, small, nli_data) -> None:
    common = dict(epochs=1, task_epochs=2, batch_size=16, device="cpu", progress=False)
    reused, reused_info = alad(base, small, nli_data, setup="reuse-head", **common)
    aligned_adapter = _weights(reused.model.adapter)  # the adapter as alignment left it (same seed, same rows)
    small_encoder = _weights(small.model.bert)
    small_encoder.pop("pooler.dense.weight"), small_encoder.pop("pooler.dense.bias")
    base_head = _weights(ClassificationHead.from_classifier(base, architecture(base)))
    assert _same(_weights(reused.model.head), base_head)
    expected_trained = {"head": {"head"}, "adapter": {"adapter", "head"}, "joint": {"adapter", "encoder", "head"}}
    for setup, trained in expected_trained.items():
        model, info = alad(base, small, nli_data, setup=setup, **common)
        assert info.setup == setup and len(info.task_losses) == 2 and len(info.val_accuracies) == 2
        assert info.align_losses == reused_info.align_losses
        before = {"adapter": aligned_adapter, "encoder": small_encoder, "head": base_head}
        for part in ("adapter", "encoder", "head"):
            unchanged = _same(_weights(getattr(model.model, part)), before[part])
            assert unchanged == (part not in trained), f"setup {setup}: {part} {'unchanged' if unchanged else 'changed'}"
        assert info.trainable_params == sum(
            p.numel() for part in trained for p in getattr(model.model, part).parameters())
        assert model.provenance["setup"] == setup and model.provenance["task_lr"] == {
            "head": 1e-3, "adapter": 1e-4, "joint": 5e-5}[setup]


def test_held_out_rows_choose_the_epoch_and_compare_with_the_small_model(base, small, nli_data) -> None:
    _, info = alad(base, small, nli_data, epochs=1, task_epochs=3, task_lr=1e-2, batch_size=16, device="cpu",
                   progress=False)
    assert info.val_rows == 5 and len(info.val_accuracies) == 3 and info.val_accuracy_small is not None
    assert info.val_accuracy == max(info.val_accuracies) == info.val_accuracies[info.best_epoch - 1]
    assert info.best_epoch == 1 + info.val_accuracies.index(max(info.val_accuracies))
    assert info.less_accurate_than_small == (info.val_accuracy < info.val_accuracy_small)
    _, whole = alad(base, small, nli_data, epochs=1, task_epochs=1, validation=0, batch_size=16, device="cpu",
                    progress=False)
    assert whole.rows == 48 and whole.val_rows == 0 and whole.best_epoch is None and whole.val_accuracy is None


def test_general_text_is_aligned_on_first(base, small, nli_data, tmp_path: Path) -> None:
    texts = tmp_path / "general.txt"
    texts.write_text("\n".join(nli_data.text_a[:20]) + "\n\n", encoding="utf-8")
    general = read_texts(str(texts))
    assert len(general) == 20 and general.text_b is None and general.labels is None and general.sha256
    aligned, info = alad(base, small, nli_data, setup="reuse-head", epochs=1, align_data=general, general_epochs=2,
                         batch_size=16, device="cpu", progress=False)
    assert info.general_rows == 20 and info.general_epochs == 2 and len(info.general_losses) == 2
    assert info.cosine_general is not None and info.cosine_general != info.cosine_untrained
    assert aligned.provenance["align_data"] == {"path": str(texts), "sha256": general.sha256}
    _, from_list = alad(base, small, nli_data, setup="reuse-head", epochs=1, align_data=list(nli_data.text_a[:20]),
                        general_epochs=2, batch_size=16, device="cpu", progress=False)
    assert from_list.general_losses == info.general_losses


def test_read_texts_takes_both_texts_of_a_table(dev_tsv: Path) -> None:
    table = read_texts(str(dev_tsv))
    assert len(table) == 120 and table.text_b is None  # 60 pairs -> 120 texts
    assert len(read_texts(str(dev_tsv), max_rows=7, seed=1)) == 7
    with pytest.raises(InvalidInputError, match="no such file"):
        read_texts(str(dev_tsv.with_suffix(".txt")))


@pytest.fixture(scope="module")
def task_pair(tokenizer):
    """A base (2 layers, 32 wide) and a small model (1 layer, 32 wide) fine-tuned on the demo task
    until the small one is well above chance, with training and held-out rows."""
    from trustaudit._training import fine_tune
    from tests._helpers import make_bert
    from trustaudit.demo._task import generate_task

    def rows(n: int, seed: int):
        generated = generate_task(n, seed=seed)
        return replace(Dataset_of(generated), path=f"<demo task, seed {seed}>")

    train, held_out = rows(900, 11), rows(300, 12)
    bundles = []
    for layers, seed in ((2, 1), (1, 2)):
        model = make_bert(tokenizer, LABELS, layers=layers, hidden=32, heads=2, dropout=0.0, seed=seed)
        fine_tune(model, tokenizer, train, epochs=8, lr=3e-3, batch_size=32, seed=seed, device="cpu", progress=False)
        bundles.append(_bundle(model, tokenizer))
    return bundles[0], bundles[1], train, held_out


def Dataset_of(rows) -> Dataset:
    return Dataset(text_a=tuple(r[0] for r in rows), text_b=tuple(r[1] for r in rows),
                   labels=np.array([LABELS.index(r[2]) for r in rows]), label_names=LABELS, path="<generated>",
                   rows=np.arange(len(rows)))


@pytest.mark.slow
def test_default_setup_is_not_less_accurate_than_the_small_model(task_pair) -> None:
    trained_base, trained_small, train, held_out = task_pair
    small_accuracy = predict(trained_small, held_out, cache=False, device="cpu").accuracy(held_out.labels)
    assert small_accuracy > 0.55, "the small model must have learnt something for the comparison to mean anything"
    # the recipe: one alignment epoch, every other setting at its default
    aligned, info = alad(trained_base, trained_small, train, epochs=1, device="cpu", progress=False)
    assert info.setup == "adapter" and info.hidden == 1280 and info.window == 3 and info.task_epochs == 3
    accuracy = predict(aligned, held_out, cache=False, device="cpu").accuracy(held_out.labels)
    print(f"small {small_accuracy:.4f}, aligned {accuracy:.4f}, {info.to_dict()}")
    assert accuracy >= small_accuracy
    assert info.less_accurate_than_small is False


def test_bundle_round_trips_with_identical_logits(base, small, tokenizer, nli_data, tmp_path: Path) -> None:
    aligned, _ = alad(base, small, nli_data, epochs=1, task_epochs=1, batch_size=16, device="cpu", progress=False)
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
    aligned, info = alad(base, binary, nli_data, setup="reuse-head", epochs=1, device="cpu", progress=False)
    assert aligned.labels == order and info.val_accuracy_small is None  # the small model's labels are not the base's
    with torch.inference_mode():
        logits = aligned.model(**encoded(tokenizer, nli_data)).logits
    assert logits.shape == (8, 3)
    assert load_pair(base, aligned).permutation == (0, 1, 2)
    torch.testing.assert_close(aligned.model.head.out.weight, base.model.classifier.weight)


def test_distilbert_small_model_under_a_bert_base(base, tokenizer, nli_data) -> None:
    small = _bundle(tiny_classifier("distilbert", tokenizer, layers=2, width=32), tokenizer)
    aligned, info = alad(base, small, nli_data, window=5, hidden=64, setup="reuse-head", epochs=2, batch_size=16,
                         device="cpu", progress=False)
    assert info.window == 5 and info.adapter_params == (5 * 32 * 64 + 64) + (64 * 48 + 48)
    with torch.inference_mode():
        with_types = aligned.model(**encoded(tokenizer, nli_data)).logits
        without = aligned.model(**encoded(tokenizer, nli_data, token_types=False)).logits
    assert torch.equal(with_types, without)


def test_equal_widths_report_the_raw_cosine(base, tokenizer, nli_data) -> None:
    twin = _bundle(tiny_classifier("bert", tokenizer, layers=1, width=48, seed=5), tokenizer)
    _, info = alad(base, twin, nli_data, window=1, setup="reuse-head", epochs=1, validation=0, device="cpu", progress=False)
    # Independently: per example, the mean over its tokens of the cosine between the two
    # encoders' last hidden states, then the mean over examples.
    max_length = min(base.max_length, twin.max_length)
    per_example = []
    with torch.no_grad():
        for a, b in nli_data.pairs():
            enc = tokenizer(a, b, truncation=True, max_length=max_length, return_tensors="pt")
            states = [m.model.base_model(**enc).last_hidden_state[0] for m in (twin, base)]
            per_example.append(float(torch.nn.functional.cosine_similarity(*states, dim=-1).mean()))
    assert info.cosine_identity == pytest.approx(np.mean(per_example), abs=1e-5)
    assert abs(info.cosine_identity - info.cosine_before) > 1e-3, "the raw cosine is not the best linear map's"


def test_refuses_models_that_do_not_share_a_tokenizer(base, nli_data) -> None:
    from tests._helpers import make_tokenizer
    from trustaudit.demo._task import VOCABULARY

    other = make_tokenizer((*VOCABULARY, "zebra"))
    small = _bundle(tiny_classifier("bert", other, layers=1), other)
    with pytest.raises(InvalidInputError, match="must share one tokenizer"):
        alad(base, small, nli_data, device="cpu")


def test_bad_inputs_get_clear_errors(base, small, nli_data) -> None:
    with pytest.raises(InvalidInputError, match="window must be an odd"):
        alad(base, small, nli_data, window=2, device="cpu")
    with pytest.raises(InvalidInputError, match="setup must be one of head, adapter, joint, reuse-head"):
        alad(base, small, nli_data, setup="frozen", device="cpu")
    with pytest.raises(InvalidInputError, match="epochs must be a positive number"):
        alad(base, small, nli_data, epochs=0, device="cpu")
    with pytest.raises(InvalidInputError, match="task_epochs must be a positive number"):
        alad(base, small, nli_data, task_epochs=0, device="cpu")
    with pytest.raises(InvalidInputError, match="validation must be a number from 0 up to"):
        alad(base, small, nli_data, validation=1, device="cpu")
    with pytest.raises(InvalidInputError, match="align_data must be a Dataset or a non-empty list"):
        alad(base, small, nli_data, align_data=[], device="cpu")
    with pytest.raises(InvalidInputError, match="base .*'quantized' model"):
        alad(replace(base, kind="quantized"), small, nli_data, device="cpu")
    with pytest.raises(InvalidInputError, match="no label column"):
        alad(base, small, replace(nli_data, labels=None), setup="head", device="cpu")
    with pytest.raises(LabelMismatchError):
        alad(base, small, replace(nli_data, label_names=("x", "y", "z")), setup="joint", device="cpu")
    unlabelled, info = alad(base, small, replace(nli_data, labels=None), setup="reuse-head", epochs=1, device="cpu",
                            progress=False)
    assert unlabelled.labels == LABELS and info.rows == 48 and info.val_rows == 0
