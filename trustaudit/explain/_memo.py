"""One evaluation stream per model for everything the explainers of an example ask for.

The explainers never call a model directly: they get a model function from
:class:`ExplainEngine`, which answers from a per-example memo of probabilities and sends
only texts it has not seen to the :class:`~trustaudit._evaluation.Evaluator`
(which de-duplicates, looks up the on-disk cache, sorts by length into batches padded to
their longest input, and caches what it computes). Texts known in advance — LIME's
samples, exact or fully expanded SHAP coalitions — are sent with :meth:`prefetch` in one
call per model before any explainer runs, so a model sees few, large batches.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

import numpy as np
import torch

from trustaudit._cache import EvalCache
from trustaudit._evaluation import EngineStats, Evaluator, softmax
from trustaudit.explain._attributions import PredictFn
from trustaudit.explain.features import Pair
from trustaudit.models import ModelBundle, ModelPair


class ExplainEngine:
    """Memoised, batched probabilities of several models, columns in one shared label order.

    ``orders[name][i]`` is model ``name``'s output column of the shared label ``i`` (as
    :attr:`ModelPair.permutation`); a model without an order keeps its own columns. Logits
    are reordered before the softmax, so a model whose classes are merely listed in another
    order gets bit-identical probabilities.
    """

    def __init__(
        self,
        bundles: Mapping[str, ModelBundle],
        orders: Mapping[str, Sequence[int]] | None = None,
        *,
        device: str | torch.device | None = "auto",
        batch_size: int = 32,
        cache: bool | str | os.PathLike[str] | EvalCache | None = True,
        precision: str = "fp32",
    ) -> None:
        self.evaluators = {
            name: Evaluator(bundle, device=device, batch_size=batch_size, cache=cache, progress=False, desc=name, precision=precision)
            for name, bundle in bundles.items()
        }
        self._orders = {name: list(order) for name, order in (orders or {}).items()}
        self._memo: dict[str, dict[Pair, np.ndarray]] = {name: {} for name in bundles}
        self._requested = dict.fromkeys(bundles, 0)

    @classmethod
    def for_pair(
        cls,
        pair: ModelPair,
        *,
        device: str | torch.device | None = "auto",
        batch_size: int = 32,
        cache: bool | str | os.PathLike[str] | EvalCache | None = True,
        precision: str = "fp32",
    ) -> ExplainEngine:
        """Models ``base`` and ``small``, the small one's columns mapped onto the base's labels."""
        return cls(
            {"base": pair.base, "small": pair.small},
            {"small": pair.permutation},
            device=device,
            batch_size=batch_size,
            cache=cache,
            precision=precision,
        )

    @property
    def device(self) -> torch.device:
        """The device the models run on."""
        return next(iter(self.evaluators.values())).device

    def prefetch(self, name: str, pairs: Iterable[Pair]) -> int:
        """Evaluate, in one call, the texts of ``pairs`` not yet known; returns how many were new."""
        memo = self._memo[name]
        todo = list(dict.fromkeys(p for p in pairs if p not in memo))
        if todo:
            logits, _ = self.evaluators[name].logits(todo)
            if name in self._orders:
                logits = logits[:, self._orders[name]]
            memo.update(zip(todo, softmax(logits)))
        return len(todo)

    def remember(self, name: str, pairs: Sequence[Pair], probs: np.ndarray) -> None:
        """Put known probabilities of model ``name`` in the memo (a worker process given the parent's)."""
        self._memo[name].update(zip(pairs, np.asarray(probs)))

    def probs(self, name: str, pairs: Sequence[Pair]) -> np.ndarray:
        """Probabilities ``(n, k)`` of model ``name``, counted as requested by an explainer."""
        self._requested[name] += len(pairs)
        self.prefetch(name, pairs)
        memo = self._memo[name]
        return np.stack([memo[p] for p in pairs]) if pairs else np.zeros((0, self.evaluators[name].bundle.n_labels))

    def predictor(self, name: str) -> PredictFn:
        """Model ``name`` as the explainers call it."""
        return lambda pairs: self.probs(name, list(pairs))

    def clear(self, keep: Iterable[Pair] = ()) -> None:
        """Forget the memo but the texts of ``keep`` (between examples; the disk cache keeps the rest)."""
        kept = set(keep)
        for name, memo in self._memo.items():
            self._memo[name] = {p: memo[p] for p in kept if p in memo}

    def stats(self, name: str) -> EngineStats:
        """What model ``name`` did: ``requested`` by the explainers, ``unique`` texts sent to the model
        (after de-duplication across every explainer of an example), cache hits, batches, padding, time."""
        stats = self.evaluators[name].stats
        return replace(stats, requested=self._requested[name], unique=stats.requested)
