"""The evaluation engine: every model forward pass of trustaudit goes through here.

Inputs are de-duplicated, looked up in the on-disk cache, tokenized once, sorted by length
and run in batches padded only to the longest input of each batch, under
``torch.inference_mode()``. Predictions and explanations share it, so a text evaluated
once is never evaluated again for the same model.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from trustaudit._cache import EvalCache, text_key
from trustaudit._progress import bar
from trustaudit.exceptions import InvalidInputError
from trustaudit.models import ModelBundle

Pair = tuple[str, "str | None"]
_TOKENIZE_CHUNK = 2048


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``auto`` picks CUDA when available; ``cuda`` without a GPU is an input error."""
    if isinstance(device, torch.device):
        return device
    name = (device or "auto").lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InvalidInputError(f"`device`={device}: CUDA is not available here; use `device`=cpu")
    if not (name == "cpu" or name.startswith("cuda") or name == "mps"):
        raise InvalidInputError(f"`device` must be auto, cpu or cuda[:N], got {device!r}")
    return torch.device(name)


def resolve_cache(cache: bool | str | os.PathLike[str] | EvalCache | None) -> EvalCache | None:
    """``True``: the default cache directory; a path: that directory; ``False``/``None``: no cache."""
    if cache is None or cache is False:
        return None
    if isinstance(cache, EvalCache):
        return cache
    if cache is True:
        return EvalCache()
    return EvalCache(cache)


@dataclass
class EngineStats:
    """What the engine did: inputs asked for, unique ones, cache hits, model work."""

    requested: int = 0
    unique: int = 0
    cache_hits: int = 0
    evaluated: int = 0
    real_tokens: int = 0
    padded_tokens: int = 0
    batches: int = 0
    model_seconds: float = 0.0
    seconds: float = 0.0

    @property
    def padding_share(self) -> float:
        """Share of the tokens run through the model that were padding."""
        total = self.real_tokens + self.padded_tokens
        return self.padded_tokens / total if total else 0.0


class Evaluator:
    """Batched, cached logits of one model for many ``(text_a, text_b | None)`` inputs."""

    def __init__(
        self,
        bundle: ModelBundle,
        *,
        device: str | torch.device | None = "auto",
        batch_size: int = 32,
        cache: bool | str | os.PathLike[str] | EvalCache | None = True,
        progress: bool | None = None,
        desc: str | None = None,
    ) -> None:
        if batch_size < 1:
            raise InvalidInputError(f"`batch_size` must be at least 1, got {batch_size}")
        self.bundle = bundle
        self.device = resolve_device(device)
        self.batch_size = batch_size
        self.cache = resolve_cache(cache)
        self.progress = progress
        self.desc = desc or os.path.basename(bundle.path) or "model"
        self.stats = EngineStats()
        self._cache_id = f"{bundle.cache_id}:{self.device.type}"
        bundle.model.to(self.device)
        bundle.model.eval()
        tok = bundle.tokenizer
        self._input_names = [n for n in getattr(tok, "model_input_names", ["input_ids", "attention_mask"])]
        self._pad_id = tok.pad_token_id if tok.pad_token_id is not None else 0
        self._left_pad = getattr(tok, "padding_side", "right") == "left"

    def logits(self, pairs: Sequence[Pair]) -> tuple[np.ndarray, np.ndarray]:
        """Logits ``(n, k)`` float32 in the model's own label order, and a truncation flag per input."""
        start = time.perf_counter()
        n_labels = self.bundle.n_labels
        keys = [text_key(a, b) for a, b in pairs]
        first: dict[bytes, int] = {}
        for i, key in enumerate(keys):
            first.setdefault(key, i)
        self.stats.requested += len(pairs)
        self.stats.unique += len(first)
        results: dict[bytes, tuple[np.ndarray, bool]] = {}
        if self.cache is not None and first:
            results = self.cache.get_many(self._cache_id, list(first), n_labels)
            self.stats.cache_hits += len(results)
        todo = [(key, pairs[i]) for key, i in first.items() if key not in results]
        if todo:
            results.update(self._run([p for _, p in todo], [k for k, _ in todo]))
        out = np.empty((len(pairs), n_labels), dtype=np.float32)
        truncated = np.zeros(len(pairs), dtype=bool)
        for i, key in enumerate(keys):
            out[i], truncated[i] = results[key]
        self.stats.seconds += time.perf_counter() - start
        return out, truncated

    def probs(self, pairs: Sequence[Pair]) -> np.ndarray:
        """Softmax probabilities ``(n, k)`` in float64, in the model's own label order."""
        logits, _ = self.logits(pairs)
        return softmax(logits)

    def _tokenize(self, pairs: Sequence[Pair]) -> tuple[list[dict[str, list[int]]], np.ndarray]:
        tok = self.bundle.tokenizer
        max_length = self.bundle.max_length
        encodings = encode_pairs(tok, pairs, max_length, self._input_names)
        truncated = np.zeros(len(pairs), dtype=bool)
        for i, encoding in enumerate(encodings):
            if len(encoding["input_ids"]) >= max_length:
                a, b = pairs[i]
                full = tok(a, b, truncation=False, padding=False, verbose=False)
                truncated[i] = len(full["input_ids"]) > max_length
        return encodings, truncated

    def _run(self, pairs: list[Pair], keys: list[bytes]) -> dict[bytes, tuple[np.ndarray, bool]]:
        encodings, truncated = self._tokenize(pairs)
        order = np.argsort([len(e["input_ids"]) for e in encodings], kind="stable")
        model = self.bundle.model
        results: dict[bytes, tuple[np.ndarray, bool]] = {}
        pending: list[tuple[bytes, np.ndarray, bool]] = []
        last_flush = time.perf_counter()
        show = len(pairs) > 4 * self.batch_size
        with bar(len(pairs), self.desc, self.progress if show else False, unit="text") as progress:
            for s in range(0, len(order), self.batch_size):
                idx = order[s:s + self.batch_size]
                tensors, real, padded = collate(
                    [encodings[i] for i in idx], self._pad_id, self.device, self._left_pad
                )
                t0 = time.perf_counter()
                with torch.inference_mode():
                    output = model(**tensors)
                logits = getattr(output, "logits", output)
                values = logits.float().cpu().numpy()
                self.stats.model_seconds += time.perf_counter() - t0
                if values.shape != (len(idx), self.bundle.n_labels):
                    raise InvalidInputError(
                        f"{self.bundle.path}: the model returned logits of shape {values.shape}, "
                        f"expected ({len(idx)}, {self.bundle.n_labels})"
                    )
                self.stats.real_tokens += real
                self.stats.padded_tokens += padded
                self.stats.batches += 1
                self.stats.evaluated += len(idx)
                for row, i in enumerate(idx):
                    entry = (values[row].copy(), bool(truncated[i]))
                    results[keys[i]] = entry
                    pending.append((keys[i], *entry))
                if self.cache is not None and time.perf_counter() - last_flush > 5.0:
                    self.cache.put_many(self._cache_id, pending)
                    pending, last_flush = [], time.perf_counter()
                progress.update(len(idx))
        if self.cache is not None:
            self.cache.put_many(self._cache_id, pending)
        return results


def encode_pairs(
    tokenizer: Any,
    pairs: Sequence[Pair],
    max_length: int,
    input_names: Sequence[str] | None = None,
) -> list[dict[str, list[int]]]:
    """Token ids of each input (truncated to ``max_length``, unpadded), in input order."""
    names = list(input_names or getattr(tokenizer, "model_input_names", ["input_ids", "attention_mask"]))
    encodings: list[dict[str, list[int]]] = [{} for _ in pairs]
    for is_pair in (False, True):
        idx = [i for i, (_, b) in enumerate(pairs) if (b is not None) == is_pair]
        for s in range(0, len(idx), _TOKENIZE_CHUNK):
            part = idx[s:s + _TOKENIZE_CHUNK]
            enc = tokenizer(
                [pairs[i][0] for i in part],
                [pairs[i][1] for i in part] if is_pair else None,
                truncation=True,
                max_length=max_length,
                padding=False,
            )
            for j, i in enumerate(part):
                encodings[i] = {name: enc[name][j] for name in names if name in enc}
    return encodings


def collate(
    batch: Sequence[dict[str, list[int]]],
    pad_id: int,
    device: torch.device | str = "cpu",
    left: bool = False,
) -> tuple[dict[str, torch.Tensor], int, int]:
    """Pad token-id lists to the batch's longest; returns tensors, real and padding token counts."""
    width = max(len(e["input_ids"]) for e in batch)
    tensors: dict[str, torch.Tensor] = {}
    real = sum(len(e["input_ids"]) for e in batch)
    for name in batch[0]:
        arr = np.full((len(batch), width), pad_id if name == "input_ids" else 0, dtype=np.int64)
        for r, encoding in enumerate(batch):
            values = encoding[name]
            if left:
                arr[r, width - len(values):] = values
            else:
                arr[r, : len(values)] = values
        tensors[name] = torch.from_numpy(arr).to(device)
    if "attention_mask" not in tensors:
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for r, encoding in enumerate(batch):
            n = len(encoding["input_ids"])
            if left:
                mask[r, width - n:] = 1
            else:
                mask[r, :n] = 1
        tensors["attention_mask"] = torch.from_numpy(mask).to(device)
    return tensors, real, len(batch) * width - real


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64 (rows sum to 1 to machine precision)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
