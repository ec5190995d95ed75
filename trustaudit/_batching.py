"""``batch_size="auto"``: the largest batch that fits on the device and still pays, found by doubling.

The evaluation engine sorts its inputs by length and pads each batch to its longest input,
so the batch that needs the most memory is the one holding the longest inputs. The search
therefore probes with the longest inputs of the data (by token count; the data are cycled
when they hold fewer rows than the batch): a size that fits there fits every batch of the
audit. Starting at :data:`START`, the size doubles while the forward pass of every model
succeeds, up to :data:`CAP`:

* on CUDA, the largest size that fits: a ``torch.OutOfMemoryError`` ends the search at the
  last size that ran (the allocator's cache is emptied), and so does a next doubling whose
  memory, extrapolated from the measured peak, would pass :data:`CUDA_MEMORY_SHARE` of the
  GPU's memory;
* on the CPU, where a larger batch only pays while it uses the cores better, the search
  stops when a doubling no longer cuts the time per input by :data:`CPU_MIN_GAIN`, or when
  the next size's activations (estimated from the model's shape and the longest input)
  would pass :data:`CPU_MEMORY_SHARE` of the memory available; the fastest size before
  the doubling that did not pay is chosen. Speed is timed on inputs of the median length (a typical
  length-bucketed batch), not the longest: long inputs keep the cores busy at any batch
  size, so timing them alone would stop the doubling too early for the many short batches.

The probe's outputs are thrown away (never cached), so an audit with the chosen size gives
exactly the results of the same audit run with that size fixed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from trustaudit._evaluation import Pair, check_precision, collate, encode_pairs, forward_context, is_out_of_memory, resolve_device
from trustaudit.exceptions import InvalidInputError
from trustaudit.models import ModelBundle

#: First batch size tried.
START = 8
#: Largest batch size tried.
CAP = 1024
#: On the CPU, a doubling must cut the time per input to at most this share of the best so far.
CPU_MIN_GAIN = 0.9
#: On the CPU, the share of the available memory the activations of one batch may take (estimated).
CPU_MEMORY_SHARE = 0.25
#: On CUDA, the share of the GPU's memory the next doubling may be expected to take.
CUDA_MEMORY_SHARE = 0.9


@dataclass(frozen=True)
class BatchSizeChoice:
    """The batch size chosen, why the search stopped there, and what each size tried measured."""

    batch_size: int
    reason: str
    device: str
    precision: str
    probe_tokens: int
    trials: tuple[dict[str, Any], ...]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (the ``batch_size`` section of a results document)."""
        return {
            "requested": "auto",
            "chosen": self.batch_size,
            "reason": self.reason,
            "device": self.device,
            "precision": self.precision,
            "probe_tokens": self.probe_tokens,
            "trials": [dict(t) for t in self.trials],
            "seconds": round(self.seconds, 3),
        }


def _longest(bundle: ModelBundle, pairs: Sequence[Pair], n: int) -> list[dict[str, list[int]]]:
    """Token ids of the ``n`` longest inputs (by characters, then sorted by tokens), longest first."""
    chars = np.array([len(a) + (len(b) if b is not None else 0) for a, b in pairs])
    keep = np.argsort(-chars, kind="stable")[: min(len(pairs), n)]
    encodings = encode_pairs(bundle.tokenizer, [pairs[int(i)] for i in keep], bundle.max_length)
    return sorted(encodings, key=lambda e: -len(e["input_ids"]))


def _typical(bundle: ModelBundle, pairs: Sequence[Pair], n: int) -> list[dict[str, list[int]]]:
    """Token ids of up to ``n`` inputs around the median length of an even sample of ``pairs``, median first."""
    spread = np.unique(np.linspace(0, len(pairs) - 1, min(len(pairs), 4 * n)).astype(int))
    encodings = sorted(encode_pairs(bundle.tokenizer, [pairs[int(i)] for i in spread], bundle.max_length),
                       key=lambda e: len(e["input_ids"]))
    middle = len(encodings) // 2
    order = sorted(range(len(encodings)), key=lambda i: (abs(i - middle), i))
    return [encodings[i] for i in order[:n]]


def _activation_bytes(bundle: ModelBundle, tokens: int, precision: str) -> float | None:
    """Estimated peak bytes of one input's activations in a transformer layer (None when the shape is unknown)."""
    config = getattr(bundle.model, "config", None)
    hidden = getattr(config, "hidden_size", None)
    heads = getattr(config, "num_attention_heads", None)
    inner = getattr(config, "intermediate_size", None) or (4 * hidden if hidden else None)
    if not (hidden and heads and inner):
        return None
    width = 4 if precision == "fp32" else 2
    # attention scores and probabilities, plus the hidden states, projections and feed-forward activations
    return float(width * (2 * heads * tokens * tokens + tokens * (6 * hidden + 2 * inner)))


def _available_memory() -> int | None:
    """Bytes of memory available to this process now (Linux), else None."""
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def _forward_seconds(bundle: ModelBundle, batch: list[dict[str, list[int]]], device: torch.device, precision: str) -> float:
    """Seconds of one forward pass over ``batch`` (synchronised on CUDA)."""
    tok = bundle.tokenizer
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    tensors, _, _ = collate(batch, pad, device, getattr(tok, "padding_side", "right") == "left")
    start = time.perf_counter()
    with forward_context(device, precision):
        bundle.model(**tensors)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def choose_batch_size(
    bundles: ModelBundle | Sequence[ModelBundle],
    pairs: Sequence[Pair],
    *,
    device: str | torch.device | None = "auto",
    precision: str = "fp32",
    start: int = START,
    cap: int = CAP,
) -> BatchSizeChoice:
    """The largest batch size that fits every model of ``bundles`` on ``device`` and still pays.

    See the module's description for the search: doubling from ``start`` up to ``cap``
    on the longest inputs of ``pairs`` (on CUDA; on the CPU, the median-length ones), stopped by running out of memory (CUDA), by the
    memory the next size would need, or (CPU) by the time per input no longer falling.

    Parameters
    ----------
    bundles : ModelBundle or sequence of ModelBundle
        The models that will run with the chosen size (each must fit).
    pairs : sequence of (str, str or None)
        The inputs of the audit; the longest are the probe.
    device : str, torch.device or None, default "auto"
        Where the models run.
    precision : {"fp32", "bf16", "fp16"}, default "fp32"
        The format of the forward pass (it changes both memory and speed).
    start, cap : int
        The first and the largest size tried.

    Returns
    -------
    BatchSizeChoice
        The size, why the search stopped, and each size's time per input.

    Raises
    ------
    InvalidInputError
        If ``pairs`` is empty, ``start``/``cap`` are not integers with ``1 <= start <= cap``,
        or not even one input fits in memory.
    """
    began = time.perf_counter()
    models = [bundles] if isinstance(bundles, ModelBundle) else list(bundles)
    if not pairs:
        raise InvalidInputError("`batch_size`=auto needs at least one input to probe")
    if not (isinstance(start, int) and isinstance(cap, int) and 1 <= start <= cap):
        raise InvalidInputError(f"`start` and `cap` must be integers with 1 <= start <= cap, got {start!r} and {cap!r}")
    dev = resolve_device(device)
    check_precision(precision, dev)
    probes = []
    for bundle in models:
        bundle.model.to(dev).eval()
        probes.append(_longest(bundle, pairs, cap) if dev.type == "cuda" else _typical(bundle, pairs, cap))
    probe_tokens = max(len(p[0]["input_ids"]) for p in probes)
    longest = probe_tokens if dev.type == "cuda" else max(len(_longest(m, pairs, 1)[0]["input_ids"]) for m in models)
    budget = _available_memory()
    cpu_limit = None
    if dev.type != "cuda" and budget is not None:
        per_input = sum(b for m in models if (b := _activation_bytes(m, longest, precision)) is not None)
        cpu_limit = CPU_MEMORY_SHARE * budget / per_input if per_input else None

    def batch(k: int, size: int) -> list[dict[str, list[int]]]:
        return [probes[k][i % len(probes[k])] for i in range(size)]

    def run(size: int) -> tuple[float, int]:
        """Best of two timed passes over every model (seconds), and the peak CUDA bytes (0 elsewhere)."""
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats(dev)
        seconds = 0.0
        for k, bundle in enumerate(models):
            chunk = batch(k, size)
            seconds += min(_forward_seconds(bundle, chunk, dev, precision) for _ in range(2))
        return seconds, (torch.cuda.max_memory_allocated(dev) if dev.type == "cuda" else 0)

    trials: list[dict[str, Any]] = []
    size, chosen, best, reason = start, 0, float("inf"), ""
    while True:
        try:
            seconds, peak = run(size)
        except Exception as exc:  # noqa: BLE001 - only an allocation failure is caught, the rest re-raised
            if not is_out_of_memory(exc):
                raise
            if dev.type == "cuda":
                torch.cuda.empty_cache()
            trials.append({"batch_size": size, "fits": False})
            if chosen:
                reason = f"batch {size} ran out of memory"
                break
            if size == 1:
                raise InvalidInputError(f"`batch_size`=auto: not even one input of {probe_tokens} tokens fits in memory on {dev}") from None
            size //= 2
            continue
        per_input = seconds / size
        trial: dict[str, Any] = {"batch_size": size, "fits": True, "ms_per_input": round(1000 * per_input, 4)}
        if peak:
            trial["peak_bytes"] = int(peak)
        trials.append(trial)
        if dev.type == "cuda":
            chosen = size
            baseline = torch.cuda.memory_allocated(dev)
            total = torch.cuda.get_device_properties(dev).total_memory
            if size * 2 > cap:
                reason = f"the cap of {cap}"
                break
            if baseline + 2 * max(peak - baseline, 0) > CUDA_MEMORY_SHARE * total:
                reason = f"batch {2 * size} would need about {(baseline + 2 * (peak - baseline)) / 2**30:.1f} of {total / 2**30:.1f} GiB"
                break
        else:
            if chosen and per_input > CPU_MIN_GAIN * best:
                reason = f"batch {size} was not {1 - CPU_MIN_GAIN:.0%} faster per input than batch {chosen}"
                break
            if per_input < best:
                chosen, best = size, per_input
            if size * 2 > cap:
                reason = f"the cap of {cap}"
                break
            if cpu_limit is not None and size * 2 > cpu_limit:
                reason = f"batch {2 * size} would need more than {CPU_MEMORY_SHARE:.0%} of the available memory (estimated)"
                break
        size *= 2
    return BatchSizeChoice(
        batch_size=chosen, reason=reason, device=str(dev), precision=precision, probe_tokens=probe_tokens,
        trials=tuple(trials), seconds=time.perf_counter() - began,
    )


def resolve_batch_size(
    batch_size: int | str,
    bundles: ModelBundle | Sequence[ModelBundle],
    pairs: Sequence[Pair],
    *,
    device: str | torch.device | None = "auto",
    precision: str = "fp32",
) -> tuple[int, BatchSizeChoice | None]:
    """``batch_size`` as an integer: itself, or the size :func:`choose_batch_size` finds for ``"auto"``."""
    if batch_size == "auto" and isinstance(batch_size, str):
        choice = choose_batch_size(bundles, pairs, device=device, precision=precision)
        return choice.batch_size, choice
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise InvalidInputError(f"`batch_size` must be an integer >= 1 or auto, got {batch_size!r}")
    if batch_size < 1:
        raise InvalidInputError(f"`batch_size` must be at least 1, got {batch_size}")
    return int(batch_size), None
