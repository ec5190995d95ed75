"""What a model makes of the audited texts: pooled hidden states of every layer, and CKA between two models.

:func:`layer_representations` runs texts through a model once and keeps, for every hidden
state (state 0: the embeddings' output, state ``i``: layer ``i``'s output; an AlAd model adds
its adapter's output, what its head reads), the ``[CLS]`` vector (the first token) and the
mean over real tokens (attention mask 1, special tokens included). :func:`layer_cka` compares
two models' states pairwise with linear CKA
(:func:`trustaudit.metrics.representation.cka_matrix`), the heat map of a report when the
layer counts differ; :func:`representation_similarity` compares their final states with an
interval and the base's self-reference.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from trustaudit._evaluation import Pair, collate, encode_pairs, resolve_device
from trustaudit._progress import bar
from trustaudit.data import Dataset
from trustaudit.exceptions import InvalidInputError
from trustaudit.metrics.representation import RepresentationSimilarity, cka_matrix
from trustaudit.metrics.representation import representation_similarity as _similarity
from trustaudit.models import ModelBundle
from trustaudit._deprecation import renamed_keywords

__all__ = ["POOLINGS", "LayerRepresentations", "layer_cka", "layer_representations", "representation_similarity"]

#: ``cls``: the first token's vector; ``mean``: the mean over the real tokens.
POOLINGS = ("cls", "mean")


@dataclass(frozen=True, eq=False)
class LayerRepresentations:
    """Pooled hidden states of one model over ``n`` texts: ``cls`` and ``mean``, each ``(states, n, width)`` float32.

    The last state is the final representation (the one the classification head reads).
    Widths may differ between states only for an AlAd model (its adapter maps to the base's width),
    so the pooled states are kept as one array per state.
    """

    cls: tuple[np.ndarray, ...]
    mean: tuple[np.ndarray, ...]
    seconds: float

    @property
    def n_states(self) -> int:
        """Hidden states per text: the embeddings' output, then one per layer (and an adapter's)."""
        return len(self.cls)

    @property
    def n(self) -> int:
        """Texts represented."""
        return int(self.cls[0].shape[0])

    def states(self, pooling: str = "cls") -> tuple[np.ndarray, ...]:
        """Every state's ``(n, width)`` matrix under ``pooling``."""
        if pooling not in POOLINGS:
            raise InvalidInputError(f"pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
        return self.cls if pooling == "cls" else self.mean

    def final(self, pooling: str = "cls") -> np.ndarray:
        """The final state's ``(n, width)`` matrix under ``pooling``."""
        return self.states(pooling)[-1]


def _hidden_states(model: torch.nn.Module, tensors: dict[str, torch.Tensor]) -> Sequence[torch.Tensor]:
    """All hidden states of one batch: the model's own ``hidden_states()`` if it has one, else transformers'."""
    own = getattr(model, "hidden_states", None)
    if callable(own):
        return own(**tensors)
    try:
        states = model(**tensors, output_hidden_states=True).hidden_states
    except TypeError as exc:
        raise InvalidInputError(f"the model does not return its hidden states ({exc})") from exc
    if not states:
        raise InvalidInputError("the model did not return its hidden states")
    return states


def layer_representations(
    bundle: ModelBundle,
    data: Dataset | Sequence[Pair],
    *,
    batch_size: int = 32,
    device: str = "auto",
    progress: bool | None = None,
) -> LayerRepresentations:
    """Pooled hidden states of ``bundle`` for every text of ``data`` (a Dataset or ``(text_a, text_b | None)`` pairs).

    Texts are tokenized as the evaluation engine tokenizes them (truncated to the model's
    maximum length), sorted by length into batches padded on the right, and run once under
    ``torch.inference_mode()``; rows come back in input order.
    """
    if batch_size < 1:
        raise InvalidInputError(f"batch_size must be at least 1, got {batch_size}")
    pairs = data.pairs() if isinstance(data, Dataset) else list(data)
    if not pairs:
        raise InvalidInputError("layer_representations needs at least one text")
    start = time.perf_counter()
    dev = resolve_device(device)
    model = bundle.model.to(dev).eval()
    tok = bundle.tokenizer
    encodings = encode_pairs(tok, pairs, bundle.max_length)
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else 0
    order = np.argsort([len(e["input_ids"]) for e in encodings], kind="stable")
    cls: list[list[np.ndarray]] = []
    mean: list[list[np.ndarray]] = []
    with torch.inference_mode(), bar(len(pairs), "representations", progress, unit="text") as progress_bar:
        for s in range(0, len(order), batch_size):
            idx = order[s:s + batch_size]
            tensors, _, _ = collate([encodings[i] for i in idx], pad_id, dev)
            states = _hidden_states(model, tensors)
            mask = tensors["attention_mask"].unsqueeze(-1).float()
            if not cls:
                cls, mean = [[] for _ in states], [[] for _ in states]
            elif len(states) != len(cls):
                raise InvalidInputError(f"the model returned {len(states)} hidden states for one batch, {len(cls)} for another")
            for k, state in enumerate(states):
                state = state.float()
                cls[k].append(state[:, 0].cpu().numpy())
                mean[k].append(((state * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1)).cpu().numpy())
            progress_bar.update(len(idx))
    back = np.argsort(order, kind="stable")
    return LayerRepresentations(
        cls=tuple(np.concatenate(parts)[back] for parts in cls),
        mean=tuple(np.concatenate(parts)[back] for parts in mean),
        seconds=time.perf_counter() - start,
    )


def layer_cka(base: LayerRepresentations, small: LayerRepresentations, pooling: str = "cls") -> np.ndarray:
    """``(base states, small states)`` linear CKA of every pair of hidden states under ``pooling``.

    Row ``i`` is the base's state ``i`` (0: embeddings), column ``j`` the small model's.
    """
    if base.n != small.n:
        raise InvalidInputError(f"the two models represent different rows ({base.n} and {small.n})")
    return cka_matrix(base.states(pooling), small.states(pooling))


@renamed_keywords(confidence="ci_level")
def representation_similarity(
    base: LayerRepresentations,
    small: LayerRepresentations,
    pooling: str = "cls",
    *,
    n_resamples: int = 1000,
    n_reference: int = 20,
    seed: int = 0,
    ci_level: float = 0.95,
) -> RepresentationSimilarity:
    """Linear CKA of the two models' final representations, with its interval and the base's self-reference.

    See :class:`~trustaudit.metrics.representation.RepresentationSimilarity`.
    """
    if base.n != small.n:
        raise InvalidInputError(f"the two models represent different rows ({base.n} and {small.n})")
    return _similarity(base.final(pooling), small.final(pooling), n_resamples=n_resamples,
                       n_reference=n_reference, seed=seed, ci_level=ci_level)
