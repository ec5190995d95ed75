"""Batched predictions of one model over a dataset, through the cached evaluation engine."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trustaudit._batching import resolve_batch_size
from trustaudit._cache import EvalCache
from trustaudit._evaluation import EngineStats, Evaluator, softmax
from trustaudit._io import atomic_write
from trustaudit.data import Dataset
from trustaudit.models import ModelBundle


@dataclass(frozen=True, eq=False)
class Predictions:
    """Class probabilities of one model over a dataset.

    ``probs`` is ``(n, k)`` float64 with rows summing to 1, columns in ``labels`` order.
    """

    labels: tuple[str, ...]
    probs: np.ndarray
    rows: np.ndarray
    n_truncated: int
    seconds: float
    stats: EngineStats

    @property
    def predicted(self) -> np.ndarray:
        """Index of the most probable class per row (ties: the lowest index)."""
        return self.probs.argmax(axis=1)

    @property
    def confidence(self) -> np.ndarray:
        """Probability of the predicted class per row."""
        return self.probs.max(axis=1)

    def accuracy(self, gold: np.ndarray | None) -> float | None:
        """Share of rows whose prediction equals ``gold`` (``None`` without labels)."""
        if gold is None or len(gold) == 0:
            return None
        return float(np.mean(self.predicted == np.asarray(gold)))

    def reorder(self, permutation: tuple[int, ...] | list[int], labels: tuple[str, ...]) -> Predictions:
        """The same predictions with columns permuted (``new[:, i] = old[:, permutation[i]]``)."""
        return Predictions(
            labels=tuple(labels),
            probs=self.probs[:, list(permutation)],
            rows=self.rows,
            n_truncated=self.n_truncated,
            seconds=self.seconds,
            stats=self.stats,
        )

    def records(self, dataset: Dataset) -> Iterator[dict[str, Any]]:
        """One JSON-ready record per row: row, probs by label, predicted label, gold label."""
        predicted = self.predicted
        names = dataset.label_names
        for i in range(len(self.probs)):
            gold = None
            if dataset.labels is not None and names:
                gold = names[int(dataset.labels[i])]
            yield {
                "row": int(self.rows[i]),
                "probs": {label: float(p) for label, p in zip(self.labels, self.probs[i])},
                "predicted": self.labels[int(predicted[i])],
                "label": gold,
            }


def predict(
    bundle: ModelBundle,
    dataset: Dataset,
    *,
    batch_size: int | str = 32,
    device: str | torch.device | None = "auto",
    cache: bool | str | os.PathLike[str] | EvalCache | None = True,
    progress: bool | None = None,
    evaluator: Evaluator | None = None,
    precision: str = "fp32",
) -> Predictions:
    """Class probabilities of ``bundle`` for every example of ``dataset``.

    Inputs longer than the model's maximum length are truncated (counted in
    ``n_truncated``). Results are cached on disk by model fingerprint and text, so a second
    run over the same data is near-instant and a changed model never gets stale outputs.

    Parameters
    ----------
    bundle : ModelBundle
        The model.
    dataset : Dataset
        The examples (labels not needed).
    batch_size : int or "auto", default 32
        Examples per forward pass; ``"auto"``: the largest that fits on the device and
        still pays, found by doubling on the longest inputs (see
        :func:`trustaudit._batching.choose_batch_size`).
    device : str, torch.device or None, default "auto"
        Where to run: ``"auto"`` picks CUDA when available, else the CPU.
    cache : bool, str, path-like or EvalCache, default True
        The on-disk cache of model outputs: ``True`` the default folder
        (``$TRUSTAUDIT_CACHE_DIR``, else ``~/.cache/trustaudit``), a folder, an
        :class:`EvalCache`, or ``False``/``None`` for none.
    progress : bool, optional
        Show progress on stderr; default (``None``) the process setting, else whether
        stderr is a terminal.
    evaluator : Evaluator, optional
        An evaluation engine to use instead of building one from ``batch_size``,
        ``device``, ``cache``, ``progress`` and ``precision``.
    precision : {"fp32", "bf16", "fp16"}, default "fp32"
        Format of the forward pass: fp32, or autocast to bfloat16 or float16 (refused
        where this torch build cannot run it on the device).

    Returns
    -------
    Predictions
        ``probs`` of shape ``(n, k)``, columns in ``bundle.labels`` order, and the number
        of truncated inputs.

    Examples
    --------
    >>> from trustaudit import load_dataset, load_model, predict
    >>> model = load_model("models/small")  # doctest: +SKIP
    >>> data = load_dataset("dev.tsv", model.labels)  # doctest: +SKIP
    >>> preds = predict(model, data, batch_size=64, cache=False)  # doctest: +SKIP
    >>> preds.probs.shape  # doctest: +SKIP
    (2000, 3)
    """
    start = time.perf_counter()
    if evaluator is None:
        batch_size, _ = resolve_batch_size(batch_size, bundle, dataset.pairs(), device=device, precision=precision)
    engine = evaluator or Evaluator(bundle, device=device, batch_size=batch_size, cache=cache, progress=progress, precision=precision)
    logits, truncated = engine.logits(dataset.pairs())
    return Predictions(
        labels=bundle.labels,
        probs=softmax(logits),
        rows=np.asarray(dataset.rows),
        n_truncated=int(truncated.sum()),
        seconds=time.perf_counter() - start,
        stats=engine.stats,
    )


def write_predictions(path: str | os.PathLike[str], predictions: Predictions, dataset: Dataset) -> Path:
    """Write one JSON object per row (JSONL), atomically."""
    path = Path(path)
    with atomic_write(path, "w") as handle:
        for record in predictions.records(dataset):
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path
