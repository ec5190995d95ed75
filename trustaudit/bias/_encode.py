"""Sentence embeddings of a classifier's encoder, for the association tests (SEAT, May et al. 2019).

A sentence is run through the model with ``output_hidden_states=True`` and the encoder's
final hidden states ``H (tokens, dim)`` are pooled two ways:

* ``mean``: the average of H over the sentence's real tokens, i.e. every position the
  attention mask keeps, [CLS] and [SEP] included (as sentence-transformers' mean pooling);
* ``cls``: H at the first real token, the [CLS] position that the classification head reads.

A word's embedding is the mean of the embeddings of its template sentences. The head's
output is not used: the tests measure the representation the classifier is built on.
Models that compute their last states another way (quantized, aligned) expose them with a
``final_hidden_states(**inputs) -> Tensor (batch, tokens, dim)`` method, used when present.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from trustaudit._evaluation import collate, encode_pairs, resolve_device
from trustaudit.bias._testsets import DEFAULT_TEMPLATES, fill
from trustaudit.exceptions import InvalidInputError
from trustaudit.models import ModelBundle

__all__ = ["POOLINGS", "encode_sentences", "encode_words"]

#: Pooling methods of the final hidden states: mean over real tokens and the first ([CLS]) token.
POOLINGS = ("mean", "cls")


def check_pooling(pooling: str | Sequence[str]) -> tuple[str, ...]:
    """Validate pooling names; a single name is accepted as a one-element tuple."""
    names = (pooling,) if isinstance(pooling, str) else tuple(pooling)
    if not names:
        raise InvalidInputError(f"pooling needs at least one of {', '.join(POOLINGS)}")
    for name in names:
        if name not in POOLINGS:
            raise InvalidInputError(f"pooling must be among {', '.join(POOLINGS)}, got {name!r}")
    if len(set(names)) != len(names):
        raise InvalidInputError(f"pooling lists a method twice: {', '.join(names)}")
    return names


def _final_states(bundle: ModelBundle, tensors: Mapping[str, torch.Tensor]) -> torch.Tensor:
    model = bundle.model
    custom = getattr(model, "final_hidden_states", None)
    if callable(custom):
        return custom(**tensors)
    try:
        output = model(**tensors, output_hidden_states=True)
    except TypeError as exc:
        raise InvalidInputError(
            f"{bundle.path}: this model cannot return its hidden states ({exc}); the bias tests need them"
        ) from exc
    states = getattr(output, "hidden_states", None)
    if not states:
        raise InvalidInputError(
            f"{bundle.path}: the model ({bundle.kind}) returns no hidden states, so its sentence embeddings "
            "and the bias tests cannot be computed"
        )
    return states[-1]


def encode_sentences(
    bundle: ModelBundle,
    sentences: Sequence[str],
    *,
    pooling: str | Sequence[str] = POOLINGS,
    batch_size: int = 64,
    device: str | torch.device | None = "cpu",
) -> dict[str, np.ndarray]:
    """Pooled final hidden states ``{pooling: (n, dim) float64}`` of each sentence, in input order.

    Sentences are tokenized once (truncated to the model's maximum length), sorted by length
    and run in batches under ``torch.inference_mode()``; pooling only reads real tokens, so
    results do not depend on the batch size beyond float rounding. Deterministic on CPU.
    """
    poolings = check_pooling(pooling)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidInputError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if isinstance(sentences, str):
        raise InvalidInputError("sentences must be a sequence of strings, not one string")
    target = resolve_device(device)
    if not sentences:
        return {name: np.empty((0, 0)) for name in poolings}
    tokenizer = bundle.tokenizer
    encodings = encode_pairs(tokenizer, [(s, None) for s in sentences], bundle.max_length)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    left = getattr(tokenizer, "padding_side", "right") == "left"
    order = np.argsort([len(e["input_ids"]) for e in encodings], kind="stable")
    model = bundle.model.to(target)
    model.eval()
    out: dict[str, np.ndarray | None] = {name: None for name in poolings}
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        tensors, _, _ = collate([encodings[i] for i in idx], pad_id, target, left)
        with torch.inference_mode():
            states = _final_states(bundle, tensors).float()
            mask = tensors["attention_mask"].to(states.dtype)
            pooled = {
                "mean": (states * mask.unsqueeze(-1)).sum(dim=1) / mask.sum(dim=1, keepdim=True),
                "cls": states[torch.arange(states.shape[0], device=states.device), mask.argmax(dim=1)],
            }
        for name in poolings:
            values = pooled[name].cpu().numpy().astype(np.float64)
            if out[name] is None:
                out[name] = np.empty((len(sentences), values.shape[1]))
            out[name][idx] = values  # type: ignore[index]
    return {name: values for name, values in out.items() if values is not None}


def sentences_for(word: str, kind: str, templates: Mapping[str, Sequence[str]] | None = None) -> list[str]:
    """The template sentences of ``word`` for its kind (``term`` or ``name``)."""
    chosen = (templates or DEFAULT_TEMPLATES).get(kind)
    if not chosen:
        raise InvalidInputError(f"no templates for words of kind {kind!r}")
    return [fill(template, word) for template in chosen]


def encode_words(
    bundle: ModelBundle,
    words: Sequence[tuple[str, str]],
    *,
    templates: Mapping[str, Sequence[str]] | None = None,
    pooling: str | Sequence[str] = POOLINGS,
    batch_size: int = 64,
    device: str | torch.device | None = "cpu",
) -> dict[str, np.ndarray]:
    """SEAT word embeddings ``{pooling: (n, dim)}``: the mean over each word's template sentences.

    ``words`` holds ``(word, kind)`` pairs; ``templates`` maps a kind to its templates
    (default: SEAT's singular bleached templates, :data:`~trustaudit.bias.DEFAULT_TEMPLATES`).
    All sentences of all words go through the model in one batched pass.
    """
    if isinstance(words, str):
        raise InvalidInputError("words must be a sequence of (word, kind) pairs, not one string")
    groups = [sentences_for(word, kind, templates) for word, kind in words]
    flat = [sentence for group in groups for sentence in group]
    encoded = encode_sentences(bundle, flat, pooling=pooling, batch_size=batch_size, device=device)
    bounds = np.cumsum([0, *(len(g) for g in groups)])
    return {
        name: np.stack([values[bounds[i]:bounds[i + 1]].mean(axis=0) for i in range(len(groups))])
        if groups else np.empty((0, 0))
        for name, values in encoded.items()
    }
