"""Helpers shared by the test modules: tiny models, data writers, synthetic probabilities.

Fixtures live in the ``conftest.py`` files; plain functions and constants that tests import
live here, in one place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from transformers.modeling_outputs import SequenceClassifierOutput

from trustaudit.data import Dataset
from trustaudit.demo._factory import make_bert, make_tokenizer

LABELS = ("entailment", "neutral", "contradiction")

__all__ = [
    "LABELS",
    "REQUIRED_ATTRIBUTION",
    "REQUIRED_NUMBERS",
    "LogitsOnly",
    "away_from_edges",
    "encoded",
    "generated_nli",
    "labels_from",
    "make_bert",
    "make_identity",
    "make_tokenizer",
    "random_probs",
    "spread_layers",
    "tiny_classifier",
    "write_rows",
]

#: Dotted paths every audit with labelled data must fill with numbers.
REQUIRED_NUMBERS = [
    "predictions.base.accuracy",
    "predictions.small.accuracy",
    "predictions.agreement",
    "predictions.kappa",
    "calibration.base.ece",
    "calibration.small.ece",
    "calibration.base.mce",
    "calibration.small.mce",
    "calibration.base.brier",
    "calibration.small.brier",
]
REQUIRED_ATTRIBUTION = [
    "attribution.lime.feature_agreement",
    "attribution.shap.feature_agreement",
    "attribution.lime.rank_correlation",
    "attribution.shap.rank_correlation",
]


def write_rows(path: Path, rows: list[tuple[str, str, str]], header=("premise", "hypothesis", "label")) -> Path:
    import csv

    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter="\t" if path.suffix == ".tsv" else ",", lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


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


def generated_nli(n: int, seed: int, path: str = "<generated>") -> Dataset:
    """``n`` rows of the demo NLI task as a labelled :class:`Dataset` (no file)."""
    from trustaudit.demo._task import generate_task

    rows = generate_task(n, seed=seed)
    return Dataset(
        text_a=tuple(r[0] for r in rows),
        text_b=tuple(r[1] for r in rows),
        labels=np.array([LABELS.index(r[2]) for r in rows]),
        label_names=LABELS,
        path=path,
        rows=np.arange(len(rows)),
    )


def random_probs(n: int, k: int, seed: int, sharpness: float = 1.0) -> np.ndarray:
    """Softmax of Gaussian logits: ``(n, k)`` rows summing to 1."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=sharpness, size=(n, k))
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    return probs / probs.sum(axis=1, keepdims=True)


def labels_from(probs: np.ndarray, seed: int) -> np.ndarray:
    """Labels drawn from each row's own distribution (a perfectly calibrated model)."""
    rng = np.random.default_rng(seed)
    draws = (probs.cumsum(axis=1) < rng.random((probs.shape[0], 1))).sum(axis=1)
    return np.minimum(draws, probs.shape[1] - 1)


def away_from_edges(probs: np.ndarray, n_bins: int, gap: float = 1e-4) -> np.ndarray:
    """Rows whose top-label confidence is at least ``gap`` from every uniform bin edge."""
    conf = probs.max(axis=1)
    distance = np.abs(conf[:, None] - np.arange(n_bins + 1)[None, :] / n_bins).min(axis=1)
    return distance > gap


class LogitsOnly(nn.Module):
    """A classifier whose outputs hold logits and no hidden states (as an ONNX export)."""

    def __init__(self, accepts_kwargs: bool) -> None:
        super().__init__()
        self.linear = nn.Linear(1, len(LABELS))
        self.accepts_kwargs = accepts_kwargs

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, **kwargs):
        if kwargs and not self.accepts_kwargs:
            raise TypeError(f"forward() got an unexpected keyword argument {next(iter(kwargs))!r}")
        return SequenceClassifierOutput(logits=self.linear(input_ids[:, :1].float()))
