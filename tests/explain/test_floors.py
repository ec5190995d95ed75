"""Noise floors measured like the comparison: a model against an exact copy of itself scores its floor."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from tests._helpers import LABELS
from trustaudit._audit.attribution import _ratio_interval, explain_and_compare
from trustaudit._audit import AuditConfig
from trustaudit.data import load_dataset
from trustaudit.explain._pair import PAIRING
from trustaudit._bootstrap import count_weights
from trustaudit.models import load_pair


@pytest.fixture(scope="module")
def copy_pair(trained_pair, tmp_path_factory: pytest.TempPathFactory):
    """The trained base model and an exact copy of it saved under another path."""
    base = trained_pair[0]
    copy = tmp_path_factory.mktemp("copy") / "copy-of-base.pt"
    shutil.copyfile(base, copy)
    return load_pair(base, copy)


@pytest.fixture(scope="module")
def dev(trained_pair):
    return load_dataset(trained_pair[2], LABELS)


def _section(pair, dev, rows, **settings) -> dict:
    config = AuditConfig(n_resamples=200, device="cpu", **settings)
    section, _ = explain_and_compare(pair, dev, np.asarray(rows), config, cache=False, progress=False)
    return section.to_dict()


def test_a_copy_of_the_base_scores_its_own_floor(copy_pair, dev) -> None:
    """30 examples, LIME and SHAP forced into Partition (2**d > 40 > its tree): share of floor within noise of 1."""
    rows = list(range(2, 32))
    section = _section(copy_pair, dev, rows, lime_samples=200, shap_max_evals=40)
    for name in ("lime", "shap"):
        entry = section[name]
        assert entry["pairing"] == PAIRING
        assert 0.9 <= entry["floor_ratio"] <= 1.1, (name, entry["floor_ratio"])
        for key, ratio in entry["floor_ratios"].items():
            assert ratio is None or 0.9 <= ratio <= 1.1, (name, key, ratio)
        low, high = entry["floor_ratio_interval"]
        assert 0.9 <= low <= entry["floor_ratio"] <= high <= 1.1
        assert entry["floor_exact"] is False
        assert entry["floor_exact_examples"] == entry["self_agreement"]["deterministic_examples"] == 0
        assert entry["floor"] < 1.0, "a second draw (samples, tree) is not the same explanation"
    assert section["shap"]["params"]["algorithm"] == "partition"
    assert section["shap"]["params"]["complete"] is False


def test_only_exact_shap_has_an_exact_floor(copy_pair, dev) -> None:
    short = [i for i in range(2, 40) if len(dev.text_b[i].split()) <= 6][:4]
    exact = _section(copy_pair, dev, short, explainers=("shap",), segment="b", shap_max_evals=500)["shap"]
    assert exact["params"]["algorithm"] == "exact"
    assert exact["floor_exact"] is True and exact["floor_exact_examples"] == 4
    assert exact["floor"] == 1.0 and exact["self_agreement"]["deterministic_examples"] == 4
    complete = _section(copy_pair, dev, short[:2], explainers=("shap",), segment="both", shap_max_evals=500)["shap"]
    assert complete["params"]["algorithm"] == "partition" and complete["params"]["complete"] is True
    assert complete["floor_exact"] is False and complete["floor_exact_examples"] == 0


def test_without_self_agreement_the_floor_keys_are_null(copy_pair, dev) -> None:
    entry = _section(copy_pair, dev, [2, 3], explainers=("lime",), lime_samples=50, self_agreement=False)["lime"]
    assert entry["pairing"] == PAIRING and entry["feature_agreement"] is not None
    for key in ("floor", "floor_ratio", "floor_ratios", "floor_ratio_interval", "floor_exact", "floor_exact_examples"):
        assert entry[key] is None, key


def test_ratio_interval_is_a_paired_bootstrap_of_the_ratio_of_means() -> None:
    rng = np.random.default_rng(0)
    floor = rng.uniform(0.4, 1.0, 25)
    cross = np.clip(floor - rng.uniform(0.0, 0.3, 25), 0, 1)
    low, high = _ratio_interval(cross, floor, 300, seed=7)
    ratios = np.concatenate([(w @ cross) / (w @ floor) for w in count_weights(25, 300, 7)])
    assert (low, high) == pytest.approx(tuple(np.quantile(ratios, [0.025, 0.975])))
    assert low < cross.mean() / floor.mean() < high < 1.0
    assert _ratio_interval(floor, floor, 300, seed=7) == [1.0, 1.0], "paired: a copy has no spread"
    assert _ratio_interval(cross, np.zeros(25), 300, seed=7) is None
    assert _ratio_interval(cross, floor, 0, seed=7) is None
