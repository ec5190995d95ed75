"""Small BERT classifiers built from a config with a generated vocabulary (no download)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def make_tokenizer(words: Iterable[str], model_max_length: int = 128) -> Any:
    """A lower-casing WordPiece ``BertTokenizer`` whose vocabulary is the special tokens plus ``words``."""
    from transformers import BertTokenizer

    vocab: dict[str, int] = {}
    for token in (*SPECIAL_TOKENS, *sorted({w.lower() for w in words})):
        vocab.setdefault(token, len(vocab))
    tokenizer = BertTokenizer(vocab=vocab, do_lower_case=True)
    tokenizer.model_max_length = model_max_length
    return tokenizer


def make_bert(
    tokenizer: Any,
    label_names: Sequence[str],
    *,
    layers: int = 2,
    hidden: int = 32,
    heads: int = 2,
    intermediate: int | None = None,
    max_positions: int = 128,
    dropout: float = 0.1,
    seed: int = 0,
) -> Any:
    """A randomly initialised ``BertForSequenceClassification`` sized for CPU tests and demos."""
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(
        vocab_size=len(tokenizer.get_vocab()),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=intermediate or 4 * hidden,
        max_position_embeddings=max_positions,
        type_vocab_size=2,
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
        num_labels=len(label_names),
        id2label=dict(enumerate(label_names)),
        label2id={name: i for i, name in enumerate(label_names)},
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    return BertForSequenceClassification(config).eval()
