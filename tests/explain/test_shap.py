"""SHAP: exact Shapley values within the budget (additive, equal to brute force), Partition above."""

from __future__ import annotations

import itertools
import math

import numpy as np

from trustaudit.explain import shap
from trustaudit.explain.features import FeatureSet

PREMISE = "the red cat sleeps in the park"


def _brute_force_shapley(features: FeatureSet, predict, target: int) -> np.ndarray:
    d = len(features)
    masks = np.array(list(itertools.product([False, True], repeat=d)))
    values = dict(zip(map(tuple, masks), predict(features.perturb_many(masks))[:, target]))
    phi = np.zeros(d)
    for i in range(d):
        for mask in masks:
            if mask[i]:
                continue
            size = int(mask.sum())
            with_i = mask.copy()
            with_i[i] = True
            weight = math.factorial(size) * math.factorial(d - size - 1) / math.factorial(d)
            phi[i] += weight * (values[tuple(with_i)] - values[tuple(mask)])
    return phi


def test_exact_values_equal_brute_force_shapley(memo_model) -> None:
    features = FeatureSet(PREMISE, "the cat is red", "b")
    result = shap.explain(features, memo_model, 2, max_evals=500)
    assert result.params["algorithm"] == "exact"
    np.testing.assert_allclose(result.scores, _brute_force_shapley(features, memo_model, 2), rtol=0, atol=1e-12)
    assert result.evaluations == 2**4 and result.unique_evaluations == 2**4


def test_exact_values_add_up_to_the_output_change(memo_model) -> None:
    features = FeatureSet(PREMISE, "the cat is not red and sleeps", "b")
    result = shap.explain(features, memo_model, 0, max_evals=500)
    assert result.params["algorithm"] == "exact"
    empty = memo_model([features.perturb(np.zeros(len(features), dtype=bool))])[0, 0]
    assert result.base_value == empty
    assert result.output == memo_model([features.text])[0, 0]
    assert abs(result.scores.sum() - (result.output - result.base_value)) < 1e-6
    assert np.any(np.abs(result.scores) > 1e-4)


def test_partition_above_the_budget_stays_within_it(memo_model) -> None:
    features = FeatureSet(PREMISE, "the cat is not red and the dog sleeps in the park")
    assert 2 ** len(features) > 60
    result = shap.explain(features, memo_model, 1, max_evals=60)
    assert result.params["algorithm"] == "partition" and result.params["batch_size"] == 60
    assert not result.params["complete"]
    assert result.evaluations <= 60
    assert abs(result.diagnostics["additivity_gap"]) < 1e-6


def test_planned_masks_are_the_coalitions_partition_visits(memo_model) -> None:
    features = FeatureSet(PREMISE, "the cat is not red")
    planned = shap.planned_masks(features, 500)
    assert planned is not None and not shap.uses_exact(len(features), 500)
    visited: list = []

    def recording(pairs):
        visited.extend(pairs)
        return memo_model(pairs)

    result = shap.explain(features, recording, 0, max_evals=500)
    assert result.params["algorithm"] == "partition" and result.params["complete"]
    assert set(visited) == set(features.perturb_many(planned))
    assert result.evaluations == len(planned)


def test_an_incomplete_partition_chooses_only_one_batch_beyond_the_plan(memo_model) -> None:
    features = FeatureSet(PREMISE, "the cat is not red and the dog sleeps in the park")
    planned = set(features.perturb_many(shap.planned_masks(features, 100)))
    calls: list[list] = []

    def recording(pairs):
        calls.append(list(pairs))
        return memo_model(pairs)

    result = shap.explain(features, recording, 1, max_evals=100)
    assert not result.params["complete"] and result.evaluations <= 100
    visited = {text for call in calls for text in call}
    assert planned < visited
    assert sum(1 for call in calls if not set(call) <= planned) == 1


def test_clustering_is_a_linkage_grouping_each_text_first() -> None:
    from scipy.cluster.hierarchy import is_valid_linkage, to_tree

    features = FeatureSet(PREMISE, "the cat is not red")
    linkage = shap.clustering(features)
    assert is_valid_linkage(linkage)
    root = to_tree(linkage)
    assert sorted(root.get_left().pre_order()) == list(range(7))
    assert sorted(root.get_right().pre_order()) == list(range(7, 12))


def _nodes(linkage: np.ndarray, d: int) -> list[tuple[set[int], set[int], float]]:
    """Each merge as (left leaves, right leaves, height), checking it joins two earlier, disjoint nodes."""
    leaves: list[set[int]] = [{i} for i in range(d)]
    heights = [0.0] * d
    nodes = []
    for j, (left, right, height, size) in enumerate(linkage):
        left, right = int(left), int(right)
        assert left < d + j and right < d + j, "a node merges two earlier nodes"
        assert not leaves[left] & leaves[right]
        assert height > max(heights[left], heights[right]), "heights grow towards the root"
        merged = leaves[left] | leaves[right]
        assert size == len(merged)
        assert merged == set(range(min(merged), max(merged) + 1)), "every node holds contiguous words"
        nodes.append((leaves[left], leaves[right], float(height)))
        leaves.append(merged)
        heights.append(float(height))
    assert leaves[-1] == set(range(d)) and len(nodes) == d - 1
    return nodes


def test_seeded_trees_are_other_valid_contiguous_linkages() -> None:
    from scipy.cluster.hierarchy import is_valid_linkage

    premise = "a small red cat sleeps quietly in the old park near the river under a big green tree today"
    features = FeatureSet(premise, "the cat is not red and the dog sleeps")
    d, n_a = len(features), len(premise.split())
    segment = [f.segment for f in features.features]
    trees = {seed: shap.clustering(features, seed) for seed in (None, 0, 1, 2)}
    for seed, tree in trees.items():
        assert is_valid_linkage(tree) and tree.shape == (d - 1, 4)
        for left, right, _ in _nodes(tree, d):
            if len({segment[i] for i in left | right}) > 1:
                assert left == set(range(n_a)) and right == set(range(n_a, d)), "texts are joined last, at the root"
                continue
            n, k = len(left | right), len(left)
            if seed is None:
                assert k == (n + 1) // 2, "the default tree is today's balanced one"
            else:
                assert max(1, -(-n // 3)) <= k <= min(n - 1, 2 * n // 3), (n, k)
    assert np.array_equal(shap.clustering(features, 1), trees[1])
    assert not np.array_equal(trees[0], trees[1]) and not np.array_equal(trees[1], trees[2])
    assert not any(np.array_equal(trees[None], trees[seed]) for seed in (0, 1, 2))


def test_partition_depends_on_its_tree_and_records_it(memo_model) -> None:
    features = FeatureSet(PREMISE, "the cat is not red and the dog sleeps in the park")
    planned = {seed: shap.planned_masks(features, 500, tree_seed=seed) for seed in (0, 1)}
    assert {tuple(m) for m in planned[0]} != {tuple(m) for m in planned[1]}
    first, other = (shap.explain(features, memo_model, 1, max_evals=500, tree_seed=seed) for seed in (0, 1))
    assert first.params["tree_seed"] == 0 and other.params["tree_seed"] == 1
    assert first.params["clustering"] == shap.SEEDED_CLUSTERING
    assert shap.explain(features, memo_model, 1, max_evals=40).params["clustering"] == shap.CLUSTERING
    assert not np.allclose(first.scores, other.scores)
    assert abs(first.scores.sum() - other.scores.sum()) < 1e-9, "both add up to the same output change"
    exact = FeatureSet(PREMISE, "the cat is red", "b")
    a, b = (shap.explain(exact, memo_model, 1, max_evals=500, tree_seed=seed) for seed in (0, 1))
    assert a.params["algorithm"] == "exact" and np.array_equal(a.scores, b.scores)


def test_partition_is_seeded_and_leaves_numpy_global_state_alone(memo_model) -> None:
    features = FeatureSet(PREMISE, "the cat is not red and the dog sleeps in the park")
    np.random.seed(123)
    expected_next = np.random.rand()
    np.random.seed(123)
    first = shap.explain(features, memo_model, 1, max_evals=40, seed=3)
    assert np.random.rand() == expected_next
    again = shap.explain(features, memo_model, 1, max_evals=40, seed=3)
    assert np.array_equal(first.scores, again.scores)
    assert first.params["seed"] == 3


def test_no_words_gives_empty_scores(memo_model) -> None:
    result = shap.explain(FeatureSet("the cat", "!", "b"), memo_model, 0)
    assert result.scores.shape == (0,) and result.base_value == result.output
