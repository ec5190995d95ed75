"""Predictions sharded across an executor's workers, batch for batch those of one process.

:class:`ShardedEvaluator` is the evaluation engine with its model runs sent to the
executor: it de-duplicates and reads the cache here, then cuts the remaining inputs into
the very batches the single-process engine forms (sorted by token length, ``batch_size``
at a time) and sends runs of whole batches to the workers. A worker's engine re-sorts an
already sorted run (a stable sort: nothing moves), so every batch holds the same inputs in
the same order and padding as in one process, and gives the same logits.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Any

import numpy as np
import torch

from trustaudit._cache import EvalCache
from trustaudit._evaluation import Evaluator
from trustaudit._progress import bar
from trustaudit.models import ModelPair
from trustaudit.scale._executors import Executor

Pair = tuple[str, "str | None"]
#: Batches per task: small enough to spread a dataset over the workers, large enough that a task's overhead is small.
BATCHES_PER_TASK = 8


def _run_batches(pair: ModelPair, task: dict[str, Any]) -> dict[str, Any]:
    """In a worker: the logits and truncation flags of a run of length-sorted inputs, and what the engine did."""
    bundle = pair.base if task["model"] == "base" else pair.small
    engine = Evaluator(bundle, device=task["device"], batch_size=task["batch_size"], cache=None, progress=False)
    logits, truncated = engine.logits(task["pairs"])
    return {"logits": logits, "truncated": truncated, "stats": asdict(engine.stats)}


class ShardedEvaluator(Evaluator):
    """An :class:`~trustaudit._evaluation.Evaluator` of one model of ``pair`` whose forward passes run on ``executor``.

    ``model`` is ``"base"`` or ``"small"``. Inputs that fit in one batch run here.
    """

    def __init__(
        self,
        executor: Executor,
        pair: ModelPair,
        model: str,
        *,
        device: str | torch.device | None = "auto",
        batch_size: int = 32,
        cache: bool | str | os.PathLike[str] | EvalCache | None = True,
        progress: bool | None = None,
        desc: str | None = None,
    ) -> None:
        super().__init__(pair.base if model == "base" else pair.small, device=device, batch_size=batch_size, cache=cache,
                         progress=progress, desc=desc)
        self.executor, self.pair, self.model = executor, pair, model

    def _run(self, pairs: list[Pair], keys: list[bytes]) -> dict[bytes, tuple[np.ndarray, bool]]:
        if len(pairs) <= self.batch_size:
            return super()._run(pairs, keys)
        encodings, _ = self._tokenize(pairs)
        order = np.argsort([len(e["input_ids"]) for e in encodings], kind="stable")
        step = self.batch_size * BATCHES_PER_TASK
        parts = [order[s:s + step] for s in range(0, len(order), step)]
        tasks = [
            {"model": self.model, "pairs": [pairs[i] for i in part], "batch_size": self.batch_size, "device": str(self.device)}
            for part in parts
        ]
        results: dict[bytes, tuple[np.ndarray, bool]] = {}
        with bar(len(pairs), self.desc, self.progress, unit="text") as progress:

            def finished(n: int, result: dict[str, Any]) -> None:
                for field, value in result["stats"].items():
                    if field in ("real_tokens", "padded_tokens", "batches", "evaluated", "model_seconds"):
                        setattr(self.stats, field, getattr(self.stats, field) + value)
                entries = []
                for row, i in enumerate(parts[n]):
                    entry = (np.asarray(result["logits"][row], dtype=np.float32).copy(), bool(result["truncated"][row]))
                    results[keys[i]] = entry
                    entries.append((keys[i], *entry))
                if self.cache is not None:
                    self.cache.put_many(self._cache_id, entries)
                progress.update(len(parts[n]))

            self.executor.map(_run_batches, self.pair, tasks, done=finished)
        return results
