"""Latency of both models, measured in alternation so that load on the machine slows them alike."""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from trustaudit._evaluation import forward_context
from trustaudit._audit.document import Latency
from trustaudit.models import ModelBundle


def _timed_forward(bundle: ModelBundle, chunk: Sequence[tuple[str, str | None]], device: torch.device, precision: str = "fp32") -> float:
    """Seconds for tokenizing ``chunk`` and one forward pass over it."""
    texts_b = [b for _, b in chunk]
    start = time.perf_counter()
    enc = bundle.tokenizer(
        [a for a, _ in chunk], texts_b if texts_b[0] is not None else None,
        padding=True, truncation=True, max_length=bundle.max_length, return_tensors="pt",
    ).to(device)
    with forward_context(device, precision):
        bundle.model(**enc)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def measure_latency(
    bundles: Mapping[str, ModelBundle],
    pairs: Sequence[tuple[str, str | None]],
    device: torch.device,
    batch_size: int = 32,
    repeats: int = 7,
    precision: str = "fp32",
) -> dict[str, Latency]:
    """Median wall time of tokenization plus a forward pass, at batch 1 and at ``batch_size``, in ``precision``.

    The models are measured in alternation, round after round, so that a burst of load
    on the machine slows all of them alike and the speed-up stays fair.
    """
    singles = list(pairs[: min(len(pairs), 8)])
    batch = list(pairs[:batch_size])
    for bundle in bundles.values():
        bundle.model.to(device).eval()
        _timed_forward(bundle, batch, device, precision)
    one: dict[str, list[float]] = {name: [] for name in bundles}
    many: dict[str, list[float]] = {name: [] for name in bundles}
    for _ in range(repeats):
        for name, bundle in bundles.items():
            one[name].append(sum(_timed_forward(bundle, [p], device, precision) for p in singles) / len(singles))
            many[name].append(_timed_forward(bundle, batch, device, precision) / len(batch))
    return {
        name: Latency(
            batch1_ms=statistics.median(one[name]) * 1000,
            batched_ms_per_example=statistics.median(many[name]) * 1000,
            batch_size=len(batch),
            device=device.type,
            threads=torch.get_num_threads(),
            repeats=repeats,
            **({"precision": precision} if precision != "fp32" else {}),
        )
        for name in bundles
    }
