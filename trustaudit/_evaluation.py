"""The evaluation engine: every model forward pass of trustaudit goes through here.

Inputs are de-duplicated, looked up in the on-disk cache, tokenized once, sorted by length
and run in batches padded only to the longest input of each batch, under
``torch.inference_mode()``. Predictions and explanations share it, so a text evaluated
once is never evaluated again for the same model.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from trustaudit._cache import EvalCache, text_key
from trustaudit._hardware import PRECISIONS
from trustaudit._progress import bar
from trustaudit.exceptions import InvalidInputError
from trustaudit.models import ModelBundle

Pair = tuple[str, "str | None"]
_TOKENIZE_CHUNK = 2048
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``auto`` picks CUDA when available; ``cuda`` without a GPU, or ``cuda:N`` past the last GPU, is an input error."""
    name = str(device if device is not None else "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        parsed = torch.device(name)
    except RuntimeError:
        raise InvalidInputError(f"`device` must be auto, cpu or cuda[:N], got {device!r}") from None
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise InvalidInputError(f"`device`={name}: CUDA is not available here (torch {torch.__version__}); use `device`=cpu")
        count = torch.cuda.device_count()
        if parsed.index is not None and parsed.index >= count:
            raise InvalidInputError(f"`device`={name}: this machine has {count} CUDA device(s), cuda:0 to cuda:{count - 1}")
    elif parsed.type == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise InvalidInputError(f"`device`={name}: MPS is not available here; use `device`=cpu")
    elif parsed.type != "cpu":
        raise InvalidInputError(f"`device` must be auto, cpu or cuda[:N], got {device!r}")
    return parsed


def check_precision(precision: str, device: torch.device) -> str:
    """``precision`` if the forward pass can run in it on ``device``, else an input error naming what can.

    Tried on a small matrix product under autocast, so what this torch build supports on
    this device is tested rather than guessed (fp16 autocast on the CPU, for one, depends on
    the torch version).
    """
    if precision not in PRECISIONS:
        raise InvalidInputError(f"`precision` must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "fp32":
        return precision
    dtype = _DTYPES[precision]
    why = ""
    if device.type == "cuda" and dtype is torch.bfloat16 and not torch.cuda.is_bf16_supported():
        why = "this GPU has no bfloat16 support"
    else:
        try:
            with torch.autocast(device_type=device.type, dtype=dtype), torch.inference_mode():
                x = torch.ones(4, 4, device=device)
                out = torch.nn.functional.linear(x, x)
            if out.dtype != dtype:
                why = f"autocast on {device.type} computes in {str(out.dtype).removeprefix('torch.')}"
        except (RuntimeError, TypeError, ValueError) as exc:
            why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if why:
        others = ", ".join(p for p in PRECISIONS if p != precision)
        raise InvalidInputError(
            f"`precision`={precision} is not supported on {device.type} by torch {torch.__version__} ({why}); use one of {others}"
        )
    return precision


@contextlib.contextmanager
def forward_context(device: torch.device, precision: str = "fp32") -> Iterator[None]:
    """``torch.inference_mode()``, plus autocast to ``precision`` unless it is fp32.

    Autocast casts the inputs of matrix products and convolutions to the reduced format and
    keeps reductions (softmax, layer norm) in float32; the model's weights stay untouched, so
    an fp32 pass of the same model afterwards is exact.
    """
    with torch.inference_mode():
        if precision == "fp32":
            yield
        else:
            with torch.autocast(device_type=device.type, dtype=_DTYPES[precision]):
                yield


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` says an allocation failed (CUDA's OutOfMemoryError, or the CPU allocator's RuntimeError)."""
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "not enough memory" in text)


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
    """Batched, cached logits of one model for many ``(text_a, text_b | None)`` inputs.

    ``precision`` (``fp32``, ``bf16`` or ``fp16``) is the format of the forward pass (see
    :func:`forward_context`); the cache keeps each precision's logits apart.
    """

    def __init__(
        self,
        bundle: ModelBundle,
        *,
        device: str | torch.device | None = "auto",
        batch_size: int = 32,
        cache: bool | str | os.PathLike[str] | EvalCache | None = True,
        progress: bool | None = None,
        desc: str | None = None,
        precision: str = "fp32",
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise InvalidInputError(f"`batch_size` must be an integer >= 1, got {batch_size!r}")
        if batch_size < 1:
            raise InvalidInputError(f"`batch_size` must be at least 1, got {batch_size}")
        self.bundle = bundle
        self.device = resolve_device(device)
        self.precision = check_precision(precision, self.device)
        runtime = getattr(bundle.model, "runtime", None)
        if precision != "fp32" and isinstance(runtime, str) and not runtime.startswith("torch"):
            raise InvalidInputError(
                f"`precision`={precision} sets the format of PyTorch forward passes, but {bundle.path} runs in {runtime}; "
                "use `precision`=fp32 with it"
            )
        self.batch_size = int(batch_size)
        self.cache = resolve_cache(cache)
        self.progress = progress
        self.desc = desc or os.path.basename(bundle.path) or "model"
        self.stats = EngineStats()
        # fp32 keeps the key it always had; a reduced precision gets its own, never served for another
        self._cache_id = f"{bundle.cache_id}:{self.device.type}" + ("" if precision == "fp32" else f":{precision}")
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
                with forward_context(self.device, self.precision):
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
