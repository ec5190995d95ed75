"""The AlAd model: the window adapter, the task head and the aligned classifier they make with a small encoder; saved and loaded as the ``alad`` bundle kind."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from trustaudit.compress._arch import Architecture, head_dropout, width
from trustaudit.exceptions import ModelLoadError
from trustaudit.models import ModelBundle, register_kind, weights_fingerprint
from trustaudit.models import tokenizer_files

#: The paper's three set-ups, then trustaudit's zero-training one.
SETUPS = ("head", "adapter", "joint", "reuse-head")


#: The paper's adapter width.
PAPER_HIDDEN = 1280


_ACTIVATIONS = {"tanh": torch.tanh, "relu": F.relu, "gelu": F.gelu}


def window_stack(states: torch.Tensor, mask: torch.Tensor, window: int) -> torch.Tensor:
    """``(batch, tokens, window * d)``: each token's vector with its neighbours ``t - r .. t + r`` in order.

    Vectors at padded positions (``mask`` 0) and beyond the sequence edges count as zeros, so a
    token's window never depends on how the batch was padded.
    """
    radius = window // 2
    x = states * mask.unsqueeze(-1).to(states.dtype)
    if radius == 0:
        return x
    padded = F.pad(x, (0, 0, radius, radius))
    n = x.shape[1]
    return torch.cat([padded[:, offset:offset + n] for offset in range(window)], dim=-1)


class WindowAdapter(nn.Module):
    """``Linear(window * d_in, hidden) -> GELU -> Linear(hidden, d_out)`` over each token's window."""

    def __init__(self, d_in: int, d_out: int, window: int = 3, hidden: int = PAPER_HIDDEN) -> None:
        super().__init__()
        self.window = window
        self.hidden = hidden
        self.up = nn.Linear(window * d_in, self.hidden)
        self.down = nn.Linear(self.hidden, d_out)

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Aligned states ``(batch, tokens, d_out)``."""
        return self.down(F.gelu(self.up(window_stack(states, mask, self.window))))


class ClassificationHead(nn.Module):
    """A sequence classifier's head: first-token vector -> dense -> activation -> dropout -> output."""

    def __init__(self, width: int, n_labels: int, activation: str, dropout: float = 0.0) -> None:
        super().__init__()
        self.activation = activation
        self.dense = nn.Linear(width, width)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(width, n_labels)

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, n_labels)`` from states ``(batch, tokens, width)``."""
        return self.out(self.dropout(_ACTIVATIONS[self.activation](self.dense(states[:, 0]))))

    @classmethod
    def from_classifier(cls, bundle: ModelBundle, arch: Architecture) -> ClassificationHead:
        """A copy of the head of a Hugging Face sequence classifier, weights included."""
        config = dict(bundle.config)
        head = cls(width(config, arch), bundle.n_labels, arch.head_activation, head_dropout(config, arch))
        state = bundle.model.state_dict()
        head.load_state_dict({
            f"{part}.{p}": state[f"{prefix}.{p}"].detach().cpu().clone()
            for part, prefix in (("dense", arch.head_dense), ("out", arch.head_out))
            for p in ("weight", "bias")
        })
        return head


def _encoder(config: Mapping[str, Any], state: Mapping[str, torch.Tensor] | None = None) -> nn.Module:
    from transformers import CONFIG_MAPPING, AutoModel

    encoder = AutoModel.from_config(CONFIG_MAPPING[config["model_type"]].from_dict(dict(config)))
    if getattr(encoder, "pooler", None) is not None:
        encoder.pooler = None
    if state is not None:
        encoder.load_state_dict(dict(state), strict=True)
    return encoder


class AlignedModel(nn.Module):
    """Small encoder -> :class:`WindowAdapter` -> the large model's :class:`ClassificationHead`.

    ``forward`` takes the tokenizer's outputs and returns an object with ``.logits`` in the
    large model's label order. ``spec`` holds the shapes needed to rebuild it from a bundle.
    """

    def __init__(self, config: Mapping[str, Any], spec: Mapping[str, Any]) -> None:
        super().__init__()
        self.spec = dict(spec)
        self.small_config = dict(config)
        self.encoder = _encoder(config)
        self.token_types = bool(spec["token_types"])
        self.train_small = bool(spec["train_small"])
        self.adapter = WindowAdapter(spec["small_width"], spec["base_width"], spec["window"], spec["hidden"])
        self.head = ClassificationHead(spec["base_width"], spec["n_labels"], spec["head_activation"], spec["head_dropout"])

    @property
    def config(self) -> Any:
        """The small encoder's transformers config (with the large model's labels)."""
        return self.encoder.config

    def train(self, mode: bool = True) -> AlignedModel:
        """Set training mode; a frozen small encoder stays in eval mode (no dropout)."""
        super().train(mode)
        if not self.train_small:
            self.encoder.eval()
        return self

    def small_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                     token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        """The small encoder's last hidden states."""
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if self.token_types and token_type_ids is not None:
            inputs["token_type_ids"] = token_type_ids
        return self.encoder(**inputs).last_hidden_state

    def final_hidden_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                            token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        """The aligned states the head reads: the adapter's output ``(batch, tokens, base width)``.

        Read by the bias tests (:mod:`trustaudit.bias`) as this model's final hidden states.
        """
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        return self.adapter(self.small_states(input_ids, attention_mask, token_type_ids), attention_mask)

    def hidden_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                      token_type_ids: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        """The small encoder's hidden states (embeddings, then each layer), then the adapter's output.

        The last entry is what the head reads: the aligned model's final representation,
        in the large model's width.
        """
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if self.token_types and token_type_ids is not None:
            inputs["token_type_ids"] = token_type_ids
        states = self.encoder(**inputs, output_hidden_states=True).hidden_states
        return (*states, self.adapter(states[-1], attention_mask))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None) -> Any:
        """Logits of the large model's head on the aligned states."""
        from transformers.modeling_outputs import SequenceClassifierOutput

        return SequenceClassifierOutput(logits=self.head(self.final_hidden_states(input_ids, attention_mask, token_type_ids)))

    def bundle_payload(self, bundle: ModelBundle) -> dict[str, Any]:
        """The bundle dictionary: small config, all weights, the spec and provenance (tensors and strings)."""
        state = {name: t.detach().cpu().clone() for name, t in self.state_dict().items()}
        return {
            "kind": "alad",
            "config": json.dumps(_labelled(self.small_config, bundle.labels), sort_keys=True),
            "state_dict": state,
            "tokenizer_files": tokenizer_files(bundle.tokenizer),
            "labels": list(bundle.labels),
            "task": bundle.task,
            "provenance": json.dumps(dict(bundle.provenance), sort_keys=True),
            "fingerprint": weights_fingerprint(state),
            "n_params": bundle.n_params,
            "extra": {"alad": json.dumps(self.spec, sort_keys=True)},
        }


def _labelled(config: Mapping[str, Any], labels: tuple[str, ...]) -> dict[str, Any]:
    return {
        **config,
        "num_labels": len(labels),
        "id2label": {str(i): name for i, name in enumerate(labels)},
        "label2id": {name: i for i, name in enumerate(labels)},
    }


def _build(payload: Mapping[str, Any]) -> nn.Module:
    try:
        spec = json.loads(payload["extra"]["alad"])
        model = AlignedModel(json.loads(payload["config"]), spec)
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"the AlAd bundle is incomplete ({exc!r})") from exc
    try:
        model.load_state_dict(dict(payload["state_dict"]), strict=True)
    except RuntimeError as exc:
        raise ModelLoadError(f"AlAd weights do not fit the stored shapes: {str(exc).strip().splitlines()[0]}") from exc
    return model.eval()


register_kind("alad", _build)
