"""Tiny models for the explainer tests: random BERTs whose outputs move when words are removed.

The default initialisation (std 0.02) leaves a random BERT almost constant, so every
attribution would be ~0; these are re-initialised with larger weights (no training).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests._helpers import LABELS


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models run at batch 1 here: one thread avoids OpenMP waits on a shared machine (70x)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _lively_bundle(tokenizer, layers: int, hidden: int, seed: int):
    from tests._helpers import make_bert
    from trustaudit.models import from_model

    model = make_bert(tokenizer, LABELS, layers=layers, hidden=hidden, heads=2, dropout=0.0, seed=seed)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Linear):
                module.weight.normal_(0.0, 1.5 / module.in_features**0.5, generator=generator)
            elif isinstance(module, torch.nn.Embedding):
                module.weight.normal_(0.0, 1.0, generator=generator)
    return from_model(model, tokenizer, LABELS, task="pair")


@pytest.fixture(scope="session")
def base_bundle(tokenizer):
    return _lively_bundle(tokenizer, layers=2, hidden=32, seed=11)


@pytest.fixture(scope="session")
def small_bundle(tokenizer):
    return _lively_bundle(tokenizer, layers=1, hidden=16, seed=12)


@pytest.fixture(scope="session")
def model_pair(base_bundle, small_bundle):
    from trustaudit.models import ModelPair, label_permutation

    return ModelPair(base_bundle, small_bundle, label_permutation(base_bundle.labels, small_bundle.labels))


@pytest.fixture(scope="session")
def nli_data(task_rows):
    from trustaudit.data import Dataset

    rows = task_rows[:8]
    return Dataset(
        text_a=tuple(r[0] for r in rows),
        text_b=tuple(r[1] for r in rows),
        labels=np.array([LABELS.index(r[2]) for r in rows]),
        label_names=LABELS,
        path="<nli test rows>",
        rows=np.arange(len(rows)),
    )


class TokenMemoModel:
    """A model evaluated one input at a time, memoised by token ids: a deterministic function of the tokens."""

    def __init__(self, bundle) -> None:
        self.bundle = bundle
        self.memo: dict[tuple[int, ...], np.ndarray] = {}
        self.seen_ids: list[tuple[int, ...]] = []

    def ids(self, text_a: str, text_b: str | None) -> tuple[int, ...]:
        encoding = self.bundle.tokenizer(text_a, text_b)
        return tuple(encoding["input_ids"]) + (-1,) + tuple(encoding["token_type_ids"])

    def __call__(self, pairs) -> np.ndarray:
        out = []
        for text_a, text_b in pairs:
            key = self.ids(text_a, text_b)
            self.seen_ids.append(key)
            if key not in self.memo:
                encoding = self.bundle.tokenizer(text_a, text_b, return_tensors="pt")
                with torch.inference_mode():
                    logits = self.bundle.model(**encoding).logits.double()
                self.memo[key] = torch.softmax(logits, -1)[0].numpy()
            out.append(self.memo[key])
        return np.stack(out)


@pytest.fixture()
def memo_model(base_bundle) -> TokenMemoModel:
    return TokenMemoModel(base_bundle)
