"""Tiny classifiers of each supported family, and BERTs whose layers are made distinct or exact identities."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from tests.conftest import LABELS
from trustaudit.data import Dataset


def tiny_classifier(model_type: str, tokenizer: Any, layers: int = 3, width: int = 32, labels=LABELS, seed: int = 0) -> Any:
    """A randomly initialised sequence classifier of ``model_type`` over the demo vocabulary (no dropout)."""
    from transformers import (
        AutoModelForSequenceClassification,
        BertConfig,
        DistilBertConfig,
        ElectraConfig,
        RobertaConfig,
    )

    common = {
        "num_labels": len(labels),
        "id2label": dict(enumerate(labels)),
        "label2id": {n: i for i, n in enumerate(labels)},
        "pad_token_id": tokenizer.pad_token_id,
        "vocab_size": len(tokenizer.get_vocab()),
    }
    if model_type == "distilbert":
        config = DistilBertConfig(dim=width, n_layers=layers, n_heads=2, hidden_dim=2 * width, max_position_embeddings=128,
                                  dropout=0.0, attention_dropout=0.0, seq_classif_dropout=0.0, **common)
    else:
        cls = {"bert": BertConfig, "roberta": RobertaConfig, "electra": ElectraConfig}[model_type]
        extra = {"embedding_size": width} if model_type == "electra" else {}
        config = cls(hidden_size=width, num_hidden_layers=layers, num_attention_heads=2, intermediate_size=2 * width,
                     max_position_embeddings=130, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                     type_vocab_size=1 if model_type == "roberta" else 2, **extra, **common)
    torch.manual_seed(seed)
    return AutoModelForSequenceClassification.from_config(config).eval()


def spread_layers(model: nn.Module, std: float = 0.5, seed: int = 0) -> nn.Module:
    """Re-draw every encoder Linear weight with a large ``std`` so each layer changes its input a lot."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.base_model.modules():
            if isinstance(module, nn.Linear):
                module.weight.copy_(torch.randn(module.weight.shape, generator=generator) * std)
    return model


def make_identity(layer: nn.Module, exact: bool = True) -> None:
    """Turn a BERT or DistilBERT layer into the identity.

    Zeroing the attention-output and FFN-output projections leaves ``LayerNorm(LayerNorm(x))``,
    which is ``x`` up to rounding when ``x`` comes out of a LayerNorm with unit weight and zero
    bias. With ``exact`` the two LayerNorms are replaced by ``nn.Identity``, so the output is
    ``x`` bit for bit (such a model no longer saves as a plain bundle).
    """
    if hasattr(layer, "attention") and hasattr(layer, "output"):
        projections = (layer.attention.output.dense, layer.output.dense)
        if exact:
            layer.attention.output.LayerNorm = nn.Identity()
            layer.output.LayerNorm = nn.Identity()
    else:
        projections = (layer.attention.out_lin, layer.ffn.lin2)
        if exact:
            layer.sa_layer_norm = nn.Identity()
            layer.output_layer_norm = nn.Identity()
    with torch.no_grad():
        for linear in projections:
            linear.weight.zero_()
            linear.bias.zero_()


def encoded(tokenizer: Any, data: Dataset, n: int = 8, token_types: bool = True) -> dict[str, torch.Tensor]:
    """The first ``n`` pairs of ``data`` as one padded batch."""
    enc = tokenizer(list(data.text_a[:n]), list(data.text_b[:n]), padding=True, return_tensors="pt")
    if not token_types:
        enc.pop("token_type_ids", None)
    return dict(enc)


@pytest.fixture(scope="session")
def nli_data() -> Dataset:
    from trustaudit.demo._task import generate_task

    rows = generate_task(48, seed=5)
    return Dataset(
        text_a=tuple(r[0] for r in rows),
        text_b=tuple(r[1] for r in rows),
        labels=np.array([LABELS.index(r[2]) for r in rows]),
        label_names=LABELS,
        path="<generated>",
        rows=np.arange(len(rows)),
    )
