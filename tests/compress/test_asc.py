"""ASC: layer similarity, the choice of redundant layers, physical pruning, fine-tuning, errors."""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from tests._helpers import encoded, make_identity, spread_layers, tiny_classifier
from tests._helpers import LABELS
from trustaudit.compress import ASCInfo, asc, layer_similarity, prune_layers, redundant_layers
from trustaudit.compress._asc import resolve_epochs, task_kind_from_labels
from trustaudit._training import make_optimizer
from trustaudit.compress._arch import architecture, layer_list
from trustaudit.exceptions import InvalidInputError, LabelMismatchError
from trustaudit.models import from_model, load_model, save_bundle, save_hf_dir


def _bundle(model, tokenizer):
    return from_model(model, tokenizer, LABELS, task="pair")


def _identity_bundle(tokenizer, model_type="bert", layers=4, identity=2):
    model = spread_layers(tiny_classifier(model_type, tokenizer, layers=layers), seed=1)
    make_identity(layer_list(model, architecture(_bundle(model, tokenizer)))[identity])
    return _bundle(model, tokenizer)


def _logits_skipping(bundle, layer, inputs):
    """Logits of the original model run with one layer left out of its encoder loop."""
    model = copy.deepcopy(bundle.model)
    arch = architecture(bundle)
    holder = model.base_model
    *path, last = arch.layers.split(".")
    for part in path:
        holder = getattr(holder, part)
    kept = [m for i, m in enumerate(getattr(holder, last)) if i != layer]
    setattr(holder, last, nn.ModuleList(kept))
    with torch.inference_mode():
        return model(**inputs).logits


def _logits(bundle, inputs):
    with torch.inference_mode():
        return bundle.model(**inputs).logits


@pytest.mark.parametrize("model_type", ["bert", "distilbert"])
def test_asc_removes_exactly_the_identity_layer(tokenizer, nli_data, model_type) -> None:
    base = _identity_bundle(tokenizer, model_type)
    small, info = asc(base, nli_data, epochs=0, device="cpu", progress=False)
    assert isinstance(info, ASCInfo)
    assert info.layers_removed == (2,)
    assert (info.layers_before, info.layers_after) == (4, 3)
    assert info.similarity.shape == (5, 5)
    assert info.similarity[2, 3] == pytest.approx(1.0, abs=1e-6)
    assert np.sort(info.similarity[np.triu_indices(5, 1)])[-2] < 0.89
    assert small.kind == "hf" and len(layer_list(small.model, architecture(small))) == 3
    assert small.n_params < base.n_params and info.params_after == small.n_params
    assert info.bytes_after < info.bytes_before
    inputs = encoded(tokenizer, nli_data, token_types=model_type == "bert")
    reference = _logits_skipping(base, 2, inputs)
    torch.testing.assert_close(_logits(small, inputs), reference, rtol=0, atol=1e-6)
    torch.testing.assert_close(_logits(small, inputs), _logits(base, inputs), rtol=0, atol=1e-6)


@pytest.mark.parametrize("model_type", ["bert", "distilbert", "roberta", "electra"])
def test_prune_layers_equals_skipping_them(tokenizer, nli_data, model_type) -> None:
    base = _bundle(spread_layers(tiny_classifier(model_type, tokenizer, layers=3), seed=2), tokenizer)
    pruned = prune_layers(base, [1])
    inputs = encoded(tokenizer, nli_data, token_types=model_type in ("bert", "electra"))
    assert torch.equal(_logits(pruned, inputs), _logits_skipping(base, 1, inputs))
    assert pruned.config[architecture(base).n_layers_key] == 2
    assert pruned.provenance["layers_removed"] == [1]
    assert not torch.allclose(_logits(pruned, inputs), _logits(base, inputs))


def test_pruned_model_is_a_plain_hf_model_that_saves_both_ways(tokenizer, nli_data, tmp_path: Path) -> None:
    base = _identity_bundle(tokenizer)
    small, info = asc(base, nli_data, epochs=0, device="cpu", progress=False)
    inputs = encoded(tokenizer, nli_data)
    save_bundle(small, tmp_path / "small.pt")
    save_hf_dir(small, tmp_path / "small-dir")
    for loaded in (load_model(tmp_path / "small.pt"), load_model(tmp_path / "small-dir")):
        assert loaded.labels == LABELS and loaded.config["num_hidden_layers"] == 3
        assert torch.equal(_logits(loaded, inputs), _logits(small, inputs))
    provenance = load_model(tmp_path / "small.pt").provenance
    assert provenance["method"] == "asc" and provenance["layers_removed"] == [2]
    assert provenance["threshold"] == 0.9 and provenance["margin"] == 0.01 and provenance["n_remove"] is None
    assert provenance["layers_removed_1based"] == [3]
    assert np.allclose(provenance["similarity"], info.similarity, atol=1e-6)
    assert provenance["params_before"] == base.n_params and provenance["params_after"] == small.n_params
    assert provenance["base_fingerprint"] == base.fingerprint


def test_fine_tuning_with_distillation_changes_the_pruned_weights(tokenizer, nli_data) -> None:
    base = _identity_bundle(tokenizer)
    untuned, _ = asc(base, nli_data, epochs=0, device="cpu", progress=False)
    tuned, info = asc(base, nli_data, epochs=1, distill=True, batch_size=16, lr=1e-3, device="cpu", progress=False)
    assert info.distill and info.train_steps == 3 and len(info.train_losses) == 1
    assert np.isfinite(info.train_losses[0])
    assert tuned.fingerprint != untuned.fingerprint
    assert tuned.provenance["distill"] is True and tuned.provenance["train_steps"] == 3


def test_threshold_rule_compares_with_every_kept_state() -> None:
    sim = np.array([
        [1.0, 0.95, 0.92, 0.50],
        [0.95, 1.0, 0.97, 0.60],
        [0.92, 0.97, 1.0, 0.93],
        [0.50, 0.60, 0.93, 1.0],
    ])
    # at 0.9: states 1 and 2 are close to state 0; state 3 is close only to the removed state 2
    assert redundant_layers(sim, 0.9, margin=0) == (0, 1)
    # at 0.93: state 2 is kept (0.92 to state 0, and state 1 is gone); state 3 is close to it
    assert redundant_layers(sim, 0.93, margin=0) == (0, 2)
    # at 0.96: state 1 is kept, and state 2 is close to it
    assert redundant_layers(sim, 0.96, margin=0) == (1,)
    assert redundant_layers(sim, 0.98, margin=0) == ()
    # the paper's margin turns 0.98 into 0.97: state 2 (0.97 to state 1) now goes
    assert redundant_layers(sim, 0.98) == (1,)


def test_the_papers_margin_changes_which_layers_go() -> None:
    sim = np.array([
        [1.0, 0.895, 0.80, 0.30],
        [0.895, 1.0, 0.93, 0.40],
        [0.80, 0.93, 1.0, 0.50],
        [0.30, 0.40, 0.50, 1.0],
    ])
    # paper (0.9 - 0.01 = 0.89): state 1 is within 0.895 of the embeddings, so layer 0 goes; state 2
    # is then compared with state 0 only (0.80) and stays
    assert redundant_layers(sim, 0.9) == (0,)
    assert redundant_layers(sim, 0.9, margin=0.01) == (0,)
    # trustaudit's old rule (0.9 itself): state 1 stays, and state 2 is 0.93 similar to it: layer 1 goes
    assert redundant_layers(sim, 0.9, margin=0) == (1,)
    # the paper's 0.91 is trustaudit's old 0.90
    assert redundant_layers(sim, 0.91) == redundant_layers(sim, 0.90, margin=0) == (1,)
    with pytest.raises(InvalidInputError, match="margin must be"):
        redundant_layers(sim, 0.9, margin=-0.01)


def test_paper_recipe_is_the_default_and_is_recorded(tokenizer, nli_data) -> None:
    base = _identity_bundle(tokenizer)
    small, info = asc(base, nli_data, device="cpu", progress=False)
    assert (info.task_kind, info.task_kind_source, info.epochs_source) == ("nli", "labels", "paper")
    assert info.epochs == 5 and info.lr == 1e-5 and info.batch_size == 32 and info.optimizer == "adam"
    assert info.train_steps == 5 * 2 and len(info.train_losses) == 5  # 48 rows in batches of 32
    assert info.margin == 0.01 and info.layers_removed_paper == tuple(i + 1 for i in info.layers_removed)
    prov = small.provenance
    assert prov["optimizer"] == "adam" and prov["lr"] == 1e-5 and prov["epochs"] == 5.0
    assert prov["task_kind"] == "nli" and prov["epochs_source"] == "paper"


def test_task_kind_is_given_or_read_from_label_names_never_guessed() -> None:
    assert task_kind_from_labels(("Entailment", "neutral", "contradiction")) == "nli"
    assert task_kind_from_labels(("not_entailment", "entailment")) == "nli"
    assert task_kind_from_labels(("not_equivalent", "equivalent")) == "paraphrase"
    assert task_kind_from_labels(("duplicate", "not_duplicate")) == "paraphrase"
    assert task_kind_from_labels(("entailment", "neutral")) is None
    assert task_kind_from_labels(("negative", "positive")) is None
    assert resolve_epochs(("equivalent", "not_equivalent"), None, None) == (10.0, "paraphrase", "labels", "paper")
    assert resolve_epochs(("a", "b"), None, "nli") == (5.0, "nli", "given", "paper")
    assert resolve_epochs(("a", "b"), 3, None) == (3.0, None, None, "given")
    with pytest.raises(InvalidInputError, match="name none trustaudit knows; pass task_kind"):
        resolve_epochs(("negative", "positive"), None, None)
    with pytest.raises(InvalidInputError, match="task_kind must be one of nli, paraphrase"):
        resolve_epochs(LABELS, None, "sentiment")


def test_adam_runs_at_a_constant_rate_and_adamw_on_a_schedule() -> None:
    params = [nn.Parameter(torch.zeros(2, 2)), nn.Parameter(torch.zeros(2))]
    adam, none = make_optimizer(params, "adam", 1e-5, 100)
    assert type(adam) is torch.optim.Adam and none is None and adam.defaults["weight_decay"] == 0
    adamw, schedule = make_optimizer(params, "adamw", 5e-5, 100)
    assert type(adamw) is torch.optim.AdamW and schedule is not None
    assert [g["weight_decay"] for g in adamw.param_groups] == [0.01, 0.0]
    with pytest.raises(InvalidInputError, match="optimizer must be one of"):
        make_optimizer(params, "sgd", 1e-3, 10)


def test_n_remove_takes_the_layers_closest_to_their_nearest_kept_predecessor() -> None:
    sim = np.array([
        [1.0, 0.80, 0.70, 0.40],
        [0.80, 1.0, 0.90, 0.50],
        [0.70, 0.90, 1.0, 0.85],
        [0.40, 0.50, 0.85, 1.0],
    ])
    assert redundant_layers(sim, n_remove=1) == (1,)  # state 2 vs state 1: 0.90
    # then state 3's nearest kept predecessor is state 1 (0.50); state 1 vs 0 (0.80) wins
    assert redundant_layers(sim, n_remove=2) == (0, 1)
    tie = np.full((3, 3), 0.5) + 0.5 * np.eye(3)
    assert redundant_layers(tie, n_remove=1) == (1,)


def test_n_remove_through_asc(tokenizer, nli_data) -> None:
    base = _identity_bundle(tokenizer)
    small, info = asc(base, nli_data, n_remove=2, epochs=0, device="cpu", progress=False)
    assert len(info.layers_removed) == 2 and 2 in info.layers_removed
    assert info.threshold is None and info.n_remove == 2 and info.layers_after == 2
    assert small.provenance["n_remove"] == 2


def test_similarity_matrix_is_symmetric_with_unit_diagonal(tokenizer, nli_data) -> None:
    base = _bundle(tiny_classifier("bert", tokenizer, layers=2), tokenizer)
    sim = layer_similarity(base, nli_data, batch_size=5, max_rows=20, device="cpu", progress=False)
    assert sim.shape == (3, 3)
    np.testing.assert_allclose(np.diag(sim), 1.0, atol=1e-6)
    np.testing.assert_allclose(sim, sim.T, atol=1e-6)
    unbatched = layer_similarity(base, nli_data, batch_size=1, max_rows=20, device="cpu", progress=False)
    np.testing.assert_allclose(sim, unbatched, atol=1e-5)


def test_bad_inputs_get_clear_errors(tokenizer, nli_data) -> None:
    base = _identity_bundle(tokenizer)
    with pytest.raises(InvalidInputError, match="would remove all 4 layers"):
        asc(base, nli_data, threshold=-1.0, epochs=0, device="cpu")
    with pytest.raises(InvalidInputError, match="n_remove must be an integer from 1 to 3"):
        asc(base, nli_data, n_remove=4, epochs=0, device="cpu")
    with pytest.raises(InvalidInputError, match="threshold must be"):
        redundant_layers(np.eye(3), threshold=1.5)
    with pytest.raises(InvalidInputError, match="square"):
        redundant_layers(np.ones((2, 3)))
    with pytest.raises(InvalidInputError, match="cannot remove all 4 layers"):
        prune_layers(base, [0, 1, 2, 3])
    with pytest.raises(InvalidInputError, match="from 0 to 3"):
        prune_layers(base, [4])
    with pytest.raises(InvalidInputError, match="twice"):
        prune_layers(base, [1, 1])
    with pytest.raises(InvalidInputError, match="at least one"):
        prune_layers(base, [])
    plain = _bundle(spread_layers(tiny_classifier("bert", tokenizer, layers=2), seed=3), tokenizer)
    with pytest.raises(InvalidInputError, match="lower the threshold or pass n_remove"):
        asc(plain, nli_data, threshold=0.999, epochs=0, device="cpu")
    with pytest.raises(InvalidInputError, match="model type 'gpt2' is not supported"):
        asc(replace(base, config={**base.config, "model_type": "gpt2"}), nli_data, device="cpu")
    with pytest.raises(InvalidInputError, match="plain Hugging Face"):
        prune_layers(replace(base, kind="quantized"), [0])
    with pytest.raises(InvalidInputError, match="no label column"):
        asc(base, replace(nli_data, labels=None), device="cpu")
    with pytest.raises(LabelMismatchError):
        asc(base, replace(nli_data, label_names=("a", "b", "c")), device="cpu")
    with pytest.raises(InvalidInputError, match="epochs"):
        asc(base, nli_data, epochs=-1, device="cpu")
    with pytest.raises(InvalidInputError, match="optimizer must be"):
        asc(base, nli_data, optimizer="sgd", device="cpu")
    with pytest.raises(InvalidInputError, match="margin must be"):
        asc(base, nli_data, margin=1.5, epochs=0, device="cpu")


def test_data_in_another_label_order_is_renumbered(tokenizer, nli_data) -> None:
    base = _identity_bundle(tokenizer)
    order = (2, 0, 1)
    shuffled = replace(nli_data, label_names=tuple(LABELS[i] for i in order),
                       labels=np.array([order.index(int(y)) for y in nli_data.labels]))
    _, a = asc(base, nli_data, epochs=1, batch_size=16, device="cpu", progress=False)
    _, b = asc(base, shuffled, epochs=1, batch_size=16, device="cpu", progress=False)
    assert a.train_losses == b.train_losses
