"""Supervised fine-tuning shared by the demo, ASC and AlAd: AdamW with linear warm-up and decay
(trustaudit's recipe) or Adam at a constant learning rate (the ASC paper's), length-bucketed
batches, optional distillation from a teacher's probabilities."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from trustaudit._evaluation import collate, encode_pairs, resolve_device
from trustaudit._progress import bar
from trustaudit.data import Dataset
from trustaudit.exceptions import InvalidInputError


@dataclass
class TrainStats:
    """Losses per epoch and the time spent."""

    epochs: int = 0
    steps: int = 0
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0


def bucketed_batches(lengths: Sequence[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Random batches of similar lengths: shuffle, sort within windows of 50 batches, shuffle batches."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    window = batch_size * 50
    batches = []
    for s in range(0, len(order), window):
        chunk = sorted(order[s:s + window], key=lambda i: lengths[i])
        batches.extend(chunk[j:j + batch_size] for j in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def linear_schedule(optimizer: torch.optim.Optimizer, total: int, warmup: float = 0.06) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over ``warmup`` of the steps, then linear decay to 0."""
    warm = max(1, int(total * warmup))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return max(0.0, (total - step) / max(1, total - warm))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


#: ``adamw``: AdamW (weight decay 0.01 on matrices), linear warm-up over 6% of the steps, then
#: linear decay to 0 -- trustaudit's recipe. ``adam``: Adam without weight decay at a constant
#: learning rate -- the recipe the ASC paper reports (Adam, lr 1e-5, batch 32).
OPTIMIZERS = ("adamw", "adam")


def make_optimizer(
    params: Sequence[nn.Parameter], name: str, lr: float, total_steps: int, weight_decay: float = 0.01
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler | None]:
    """The optimizer (and learning-rate schedule, ``None`` for a constant rate) of one of :data:`OPTIMIZERS`."""
    if name == "adam":
        return torch.optim.Adam(list(params), lr=lr), None
    if name != "adamw":
        raise InvalidInputError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {name!r}")
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=lr
    )
    return optimizer, linear_schedule(optimizer, total_steps)


def fine_tune(
    model: nn.Module,
    tokenizer: Any,
    dataset: Dataset,
    *,
    epochs: float = 2,
    lr: float = 5e-5,
    batch_size: int = 32,
    max_length: int = 128,
    weight_decay: float = 0.01,
    seed: int = 0,
    teacher_probs: np.ndarray | None = None,
    distill_weight: float = 0.5,
    temperature: float = 2.0,
    parameters: Iterable[nn.Parameter] | None = None,
    device: str = "auto",
    progress: bool | None = None,
    desc: str = "fine-tune",
    forward: Callable[[nn.Module, dict[str, torch.Tensor]], torch.Tensor] | None = None,
    time_budget: float | None = None,
    optimizer: str = "adamw",
    on_epoch: Callable[[int], None] | None = None,
) -> TrainStats:
    """Train ``model`` on the labelled ``dataset`` with cross-entropy (plus distillation).

    ``teacher_probs`` (rows in the model's label order) adds ``distill_weight`` x the KL
    divergence to the teacher at ``temperature``. ``epochs`` may be fractional;
    ``time_budget`` (seconds) stops early. ``optimizer`` is one of :data:`OPTIMIZERS`
    (``weight_decay`` applies to ``adamw`` only). ``on_epoch(k)`` is called after the k-th
    (1-based) pass over the data with the model in eval mode, e.g. to score it on held-out
    rows. The model is left in eval mode.
    """
    if dataset.labels is None:
        raise InvalidInputError(f"{dataset.path}: fine-tuning needs labelled data (no label column)")
    if epochs <= 0:
        raise InvalidInputError(f"`epochs` must be positive, got {epochs}")
    dev = resolve_device(device)
    torch.manual_seed(seed)
    rng = random.Random(seed)
    model.to(dev)
    encodings = encode_pairs(tokenizer, dataset.pairs(), max_length)
    lengths = [len(e["input_ids"]) for e in encodings]
    labels = torch.as_tensor(dataset.labels, dtype=torch.long)
    teacher = torch.as_tensor(teacher_probs, dtype=torch.float32) if teacher_probs is not None else None
    pad_id = tokenizer.pad_token_id or 0
    params = [p for p in (parameters if parameters is not None else model.parameters()) if p.requires_grad]
    steps_per_epoch = math.ceil(len(encodings) / batch_size)
    total = max(1, int(math.ceil(steps_per_epoch * epochs)))
    opt, scheduler = make_optimizer(params, optimizer, lr, total, weight_decay)
    call = forward or (lambda m, batch: getattr(m(**batch), "logits", None))
    stats = TrainStats()
    start = time.perf_counter()
    model.train()
    with bar(total, desc, progress, unit="step") as progress_bar:
        while stats.steps < total:
            running, count = 0.0, 0
            for batch_idx in bucketed_batches(lengths, batch_size, rng):
                if stats.steps >= total or (time_budget is not None and time.perf_counter() - start > time_budget):
                    break
                tensors, _, _ = collate([encodings[i] for i in batch_idx], pad_id, dev)
                logits = call(model, tensors)
                target = labels[batch_idx].to(dev)
                loss = F.cross_entropy(logits, target)
                if teacher is not None:
                    soft = teacher[batch_idx].to(dev)
                    log_student = F.log_softmax(logits / temperature, dim=-1)
                    teacher_t = F.softmax(torch.log(soft.clamp_min(1e-12)) / temperature, dim=-1)
                    kl = F.kl_div(log_student, teacher_t, reduction="batchmean") * temperature**2
                    loss = (1 - distill_weight) * loss + distill_weight * kl
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                opt.step()
                if scheduler is not None:
                    scheduler.step()
                stats.steps += 1
                running += float(loss.detach())
                count += 1
                progress_bar.update(1)
                progress_bar.set_postfix(loss=f"{running / count:.3f}", refresh=False)
            stats.epochs += 1
            stats.losses.append(running / max(1, count))
            if on_epoch is not None:
                model.eval()
                on_epoch(stats.epochs)
                model.train()
            if time_budget is not None and time.perf_counter() - start > time_budget:
                break
    model.eval()
    stats.seconds = time.perf_counter() - start
    return stats
