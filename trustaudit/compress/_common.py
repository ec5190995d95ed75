"""Helpers shared by the compression methods: checked inputs, token batches, sizes."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from trustaudit._evaluation import collate, encode_pairs
from trustaudit.data import Dataset
from trustaudit.exceptions import InvalidInputError, LabelMismatchError


def take_rows(dataset: Dataset, max_rows: int | None) -> Dataset:
    """The first ``max_rows`` examples (all of them for ``None``)."""
    if not isinstance(dataset, Dataset):
        raise InvalidInputError(f"dataset must be a trustaudit Dataset (see load_dataset), got {type(dataset).__name__}")
    if max_rows is None or max_rows >= len(dataset):
        return dataset
    if max_rows < 1:
        raise InvalidInputError(f"max_rows must be at least 1, got {max_rows}")
    return dataset.subset(range(max_rows))


def in_label_order(dataset: Dataset, label_names: Sequence[str]) -> Dataset:
    """``dataset`` with gold ids renumbered into ``label_names`` order (names matched case-insensitively)."""
    if dataset.labels is None:
        raise InvalidInputError(f"{dataset.path}: fine-tuning needs labelled data (no label column)")
    names = [n.lower() for n in dataset.label_names]
    wanted = [n.lower() for n in label_names]
    if names == wanted:
        return dataset
    if sorted(names) != sorted(wanted):
        raise LabelMismatchError(
            f"{dataset.path}: the data's labels [{', '.join(dataset.label_names)}] are not the model's "
            f"[{', '.join(label_names)}]"
        )
    mapping = np.array([wanted.index(n) for n in names])
    return Dataset(
        text_a=dataset.text_a,
        text_b=dataset.text_b,
        labels=mapping[dataset.labels],
        label_names=tuple(label_names),
        path=dataset.path,
        rows=dataset.rows,
        sha256=dataset.sha256,
        skipped=dict(dataset.skipped),
        columns=dict(dataset.columns),
    )


def check_positive(name: str, value: float, integer: bool = False) -> None:
    """Raise :class:`InvalidInputError` unless ``value`` is a positive number (an int if ``integer``)."""
    ok = isinstance(value, (int, np.integer)) if integer else isinstance(value, (int, float, np.number))
    if isinstance(value, bool) or not ok or value <= 0:
        kind = "a positive integer" if integer else "a positive number"
        raise InvalidInputError(f"{name} must be {kind}, got {value!r}")


@dataclass(frozen=True)
class TokenBatches:
    """A dataset tokenized once, cut into batches of similar length (longest first)."""

    encodings: list[dict[str, list[int]]]
    pad_id: int
    batches: list[list[int]]

    @classmethod
    def build(cls, tokenizer: Any, dataset: Dataset, max_length: int, batch_size: int) -> TokenBatches:
        """Tokenize ``dataset`` (truncated to ``max_length``) and sort it into batches."""
        check_positive("batch_size", batch_size, integer=True)
        encodings = encode_pairs(tokenizer, dataset.pairs(), max_length)
        order = sorted(range(len(encodings)), key=lambda i: -len(encodings[i]["input_ids"]))
        batches = [order[s:s + batch_size] for s in range(0, len(order), batch_size)]
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        return cls(encodings, pad_id, batches)

    def tensors(self, batch: Sequence[int], device: torch.device | str) -> dict[str, torch.Tensor]:
        """The padded tensors of one batch of example indices."""
        tensors, _, _ = collate([self.encodings[i] for i in batch], self.pad_id, device)
        return tensors


def serialized_bytes(state_dict: Mapping[str, Any]) -> int:
    """Size in bytes of ``torch.save(state_dict)``: what the weights take on disk."""
    buffer = io.BytesIO()
    torch.save(dict(state_dict), buffer)
    return buffer.tell()


def masked_token_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-example mean of ``values (batch, tokens, ...)`` over the tokens where ``mask`` is 1."""
    mask = mask.to(values.dtype)
    while mask.dim() < values.dim():
        mask = mask.unsqueeze(-1)
    return (values * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1)
