"""SHAP over word features, with the ``shap`` library's Exact and Partition explainers.

Both run over the same :class:`~trustaudit.explain.features.FeatureSet` as LIME, through a
masker of our own: a mask row over the features is passed to the model function, which
rebuilds a real text (pair) with the masked words removed and lets the model tokenize it.
Nothing like a ``[SEP]`` string is ever masked, and two segments stay two segments.

The algorithm follows the budget ``max_evals``: exact Shapley values (``shap``'s
``ExactExplainer``, every one of the ``2**d`` coalitions) when they cost no more than
the budget, Owen values from ``PartitionExplainer`` above it, over a hierarchy of
contiguous words within each text, the two texts joined last: a balanced binary tree
by default, or with ``tree_seed`` one drawn at random among equally valid contiguous
trees (each run split in its middle third). Exact values do not depend on any tree;
Owen values do, so a second tree seed measures how arbitrary a Partition answer is.
The explained output is the probability of the target class.

Partition picks its next coalitions from the outputs so far, so each model may follow
its own path. It is called with ``batch_size = max_evals`` (by default), the largest
shap allows: each round of its ``owen`` loop then takes every queued node, so the rounds
are the levels of the tree and only the level where the budget runs out depends on the
outputs. :func:`planned_masks` lists the levels that fit, so they are evaluated in
advance with everything else of the example, and a Partition explanation adds one batch
of its own at most. When the whole tree fits, the explanation is *complete*
(``params["complete"]``): it visits every coalition of its tree and does not depend on
the tie-breaking seed, but unlike exact values it still depends on the tree. Coalitions
are evaluated in pairs, so an odd budget may be exceeded by one. Partition breaks ties with ``np.random``: the global numpy
generator is seeded with ``seed`` for the explanation and restored afterwards.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from collections.abc import Iterator
from typing import Any

import numpy as np

from trustaudit.exceptions import InvalidInputError
from trustaudit.explain._attributions import Attributions, PredictFn, Target, as_target, check_probs, check_seed
from trustaudit.explain._protocol import Plan
from trustaudit.explain.features import FeatureSet, Pair

NAME = "shap"
DEFAULT_MAX_EVALS = 500
CLUSTERING = "balanced binary tree over contiguous words within each text, texts joined last"
SEEDED_CLUSTERING = "seeded binary tree over contiguous words within each text (each run split in its middle third), texts joined last"


@dataclass
class _FeatureMasker:
    """A shap masker whose masked input is the mask row itself (the model function rebuilds the text)."""

    n_features: int
    clustering: np.ndarray | None = None
    immutable_outputs: bool = True

    def __call__(self, mask: np.ndarray, x: Any) -> np.ndarray:
        return np.asarray(mask, dtype=bool).reshape(1, -1).copy()

    def shape(self, x: Any) -> tuple[int, int]:
        return (1, self.n_features)

    def mask_shapes(self, x: Any) -> list[tuple[int]]:
        return [(self.n_features,)]


def _import_shap() -> Any:
    """The shap library, without the deprecation warnings its plotting colours raise on import."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        import shap
    return shap


def check_max_evals(max_evals: int, name: str = "max_evals") -> int:
    """A SHAP budget of at least 2 evaluations (the input with none and with all features)."""
    if isinstance(max_evals, bool) or not isinstance(max_evals, (int, np.integer)) or max_evals < 2:
        raise InvalidInputError(f"{name} must be an integer of at least 2, got {max_evals!r}")
    return int(max_evals)


def uses_exact(n_features: int, max_evals: int = DEFAULT_MAX_EVALS) -> bool:
    """True when exact Shapley values (``2**n_features`` evaluations) fit in ``max_evals``."""
    return n_features < 63 and 2**n_features <= max_evals


def _split(lo: int, hi: int, rng: np.random.Generator | None) -> int:
    """Where a run of contiguous words ``[lo, hi)`` splits: the balanced half, or a seeded point in its middle third."""
    n = hi - lo
    if rng is None:
        return lo + (n + 1) // 2
    low, high = max(1, -(-n // 3)), min(n - 1, (2 * n) // 3)
    return lo + int(rng.integers(low, high + 1))


def clustering(features: FeatureSet, tree_seed: int | None = None) -> np.ndarray:
    """A scipy-style linkage matrix over the features: contiguous words within a text first.

    With ``tree_seed=None`` each text's words form a balanced binary tree (halves, then
    halves of halves). With an integer, each node's run of words is split at a position
    drawn uniformly from its middle third (at least one word on each side), with a
    generator seeded by ``tree_seed``: another, equally valid hierarchy of the same
    contiguous words. The texts' trees are joined at the root. Heights count merge
    levels, so they grow towards the root as a linkage requires.
    """
    rng = None if tree_seed is None else np.random.default_rng(check_seed(tree_seed, "tree_seed"))
    d = len(features)
    rows: list[list[float]] = []
    sizes: dict[int, int] = {}

    def build(lo: int, hi: int) -> tuple[int, int]:
        if hi - lo == 1:
            sizes[lo] = 1
            return lo, 0
        mid = _split(lo, hi, rng)
        left, left_height = build(lo, mid)
        right, right_height = build(mid, hi)
        height = max(left_height, right_height) + 1
        rows.append([left, right, height, hi - lo])
        node = d + len(rows) - 1
        sizes[node] = hi - lo
        return node, height

    runs: list[tuple[int, int]] = []
    for feature in features.features:
        if runs and features.features[runs[-1][0]].segment == feature.segment:
            runs[-1] = (runs[-1][0], feature.index + 1)
        else:
            runs.append((feature.index, feature.index + 1))
    tops = [build(lo, hi) for lo, hi in runs]
    while len(tops) > 1:
        (left, left_height), (right, right_height) = tops[0], tops[1]
        height = max(left_height, right_height) + 1
        rows.append([left, right, height, sizes[left] + sizes[right]])
        sizes[d + len(rows) - 1] = sizes[left] + sizes[right]
        tops = [(d + len(rows) - 1, height), *tops[2:]]
    return np.asarray(rows, dtype=np.float64).reshape(-1, 4)


def _all_masks(d: int) -> np.ndarray:
    codes = np.arange(2**d, dtype=np.int64)[:, None]
    return ((codes >> np.arange(d, dtype=np.int64)) & 1).astype(bool)


def _owen_levels(tree: np.ndarray, d: int) -> Iterator[list[np.ndarray]]:
    """The coalitions Partition evaluates, level by level of the tree (two per internal node visit).

    A node is visited once per context its ancestors create: the root once with nothing
    kept, each child of a visit (context ``m00``) with ``m00`` and with ``m00`` plus its
    sibling, as ``PartitionExplainer.owen`` recurses.
    """
    node_masks = [np.eye(d, dtype=bool)[i] for i in range(d)]
    for left, right, _, _ in tree:
        node_masks.append(node_masks[int(left)] | node_masks[int(right)])
    visits = [(np.zeros(d, dtype=bool), 2 * d - 2)]
    while visits:
        masks: list[np.ndarray] = []
        children = []
        for m00, node in visits:
            if node < d:
                continue
            left, right = int(tree[node - d, 0]), int(tree[node - d, 1])
            m10, m01 = m00 | node_masks[left], m00 | node_masks[right]
            masks += [m10, m01]
            children += [(m00, left), (m00, right), (m01, left), (m10, right)]
        if masks:
            yield masks
        visits = children


def _partition_plan(features: FeatureSet, max_evals: int, tree_seed: int | None = None) -> tuple[list[np.ndarray], bool]:
    """The coalitions Partition will evaluate whatever the outputs, and whether that is all of them.

    With ``batch_size >= max_evals`` each round of ``owen`` takes every queued node, so a
    round is a level of the tree; a level is evaluated in full while the pairs it adds start
    below the budget (``max_evals - 2`` after the empty and full coalitions), and only the
    level where the budget runs out is chosen from the outputs.
    """
    d = len(features)
    masks = [np.zeros(d, dtype=bool), np.ones(d, dtype=bool)]
    count = 0
    for level in _owen_levels(clustering(features, tree_seed), d):
        if count + len(level) > max_evals - 1:
            return masks, False
        masks += level
        count += len(level)
    return masks, True


def planned_masks(features: FeatureSet, max_evals: int = DEFAULT_MAX_EVALS, tree_seed: int | None = None) -> np.ndarray:
    """The masks an explanation with the default batch size evaluates whatever the model's outputs.

    All ``2**d`` coalitions for exact Shapley values; for Partition, every level of the tree
    that fits in ``max_evals`` — the whole tree when it fits, in which case nothing is left
    to choose. A Partition explanation then adds at most one batch of its own (part of the
    next level, chosen from the outputs). ``tree_seed`` is the explanation's (see :func:`clustering`).
    """
    d = len(features)
    max_evals = check_max_evals(max_evals)
    if uses_exact(d, max_evals):
        return _all_masks(d)
    return np.asarray(_partition_plan(features, max_evals, tree_seed)[0])


def explain(
    features: FeatureSet,
    predict: PredictFn,
    target: Target | int,
    *,
    max_evals: int = DEFAULT_MAX_EVALS,
    seed: int = 0,
    tree_seed: int | None = None,
    batch_size: int | None = None,
) -> Attributions:
    """SHAP values of ``target`` for one model function: exact within the budget, Partition above.

    ``seed`` seeds Partition's tie-breaking; ``tree_seed`` chooses its word tree (``None``:
    the balanced one, see :func:`clustering`). Exact values use neither.
    """
    shap = _import_shap()
    target = as_target(target)
    max_evals = check_max_evals(max_evals)
    seed = check_seed(seed)
    if tree_seed is not None:
        tree_seed = check_seed(tree_seed, "tree_seed")
    if batch_size is not None and (isinstance(batch_size, bool) or batch_size < 1):
        raise InvalidInputError(f"batch_size must be a positive integer, got {batch_size!r}")
    d = len(features)
    seen: set[Pair] = set()
    requested = 0

    def model(masks: np.ndarray) -> np.ndarray:
        nonlocal requested
        texts = features.perturb_many(masks)
        requested += len(texts)
        seen.update(texts)
        return check_probs(predict(texts), len(texts), target, NAME)[:, target.index]

    output = float(check_probs(predict([features.text]), 1, target, NAME)[0, target.index])
    exact = uses_exact(d, max_evals)
    algorithm = "none" if d == 0 else "exact" if exact else "partition"
    params: dict[str, Any] = {
        "algorithm": algorithm,
        "max_evals": max_evals,
        "seed": seed,
        "tree_seed": tree_seed,
        "output": "probability",
        "complete": exact or _partition_plan(features, max_evals, tree_seed)[1],
    }
    if d == 0:
        scores, base_value = np.zeros(0), output
    else:
        row = np.asarray([features.words], dtype=object)
        state = np.random.get_state()
        np.random.seed(seed)
        try:
            if exact:
                explainer = shap.explainers.Exact(model, _FeatureMasker(d))
                result = explainer(row, max_evals=2**d, batch_size=2**d, silent=True)
                params["batch_size"] = 2**d
            else:
                batch = batch_size or max_evals
                explainer = shap.explainers.Partition(model, _FeatureMasker(d, clustering(features, tree_seed)))
                result = explainer(row, max_evals=max_evals, batch_size=batch, silent=True)
                params.update(batch_size=batch, clustering=CLUSTERING if tree_seed is None else SEEDED_CLUSTERING)
        finally:
            np.random.set_state(state)
        scores = np.asarray(result.values, dtype=np.float64).reshape(-1)
        base_value = float(np.ravel(result.base_values)[0])
    return Attributions(
        explainer=NAME,
        features=features,
        scores=scores,
        target=target,
        params=params,
        evaluations=requested,
        unique_evaluations=len(seen),
        output=output,
        base_value=base_value,
        diagnostics={"additivity_gap": float(scores.sum() - (output - base_value))},
    )


@dataclass(frozen=True)
class ShapExplainer:
    """SHAP behind the :class:`~trustaudit.explain._protocol.Explainer` protocol: its budget is ``max_evals``.

    A run with seed ``s`` uses ``s`` for Partition's tie-breaking and its word tree; its plan
    is :func:`planned_masks` as texts. Exact values (``2**d`` within the budget) are deterministic.
    """

    name: str = NAME
    budget_name: str = "max_evals"
    default_budget: int = DEFAULT_MAX_EVALS
    draws: str = "its word tree and tie-breaking"
    exact_because: str = "every coalition evaluated"

    def check_budget(self, budget: int, name: str = "max_evals") -> int:
        """See :func:`check_max_evals`."""
        return check_max_evals(budget, name)

    def plan(self, features: FeatureSet, *, budget: int, seed: int) -> Plan:
        """The texts of :func:`planned_masks` for the tree of ``seed``."""
        return Plan(tuple(features.perturb_many(planned_masks(features, budget, tree_seed=seed))))

    def deterministic(self, features: FeatureSet, budget: int) -> bool:
        """True when exact Shapley values fit in the budget (:func:`uses_exact`)."""
        return uses_exact(len(features), budget)

    def explain(
        self, features: FeatureSet, predict: PredictFn, target: Target, *, budget: int, seed: int, plan: Plan | None = None
    ) -> Attributions:
        """:func:`explain` with ``seed`` as both the tie-breaking and the tree seed (the plan is already in the memo)."""
        return explain(features, predict, target, max_evals=budget, seed=seed, tree_seed=seed)


EXPLAINER = ShapExplainer()
