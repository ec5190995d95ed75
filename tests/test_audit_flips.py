"""Flip forensics in the results document: every field present and consistent with the others."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import precision_score, recall_score

from trustaudit._audit import AuditConfig, AuditResult, audit
from trustaudit.data import load_dataset
from trustaudit.metrics import DEFAULT_BANDS
from trustaudit.models import load_pair

FLIP_KEYS = (
    "negative_flip_rate", "negative_flip_rate_interval", "positive_flip_rate", "positive_flip_rate_interval",
    "negative_flips", "positive_flips", "per_class", "worst_class_recall_drop", "worst_class_recall_drop_interval",
    "worst_class", "confidence_bands",
)
CLASS_KEYS = {
    "label", "support", "base_recall", "small_recall", "recall_drop", "recall_drop_interval",
    "base_precision", "small_precision", "precision_drop", "precision_drop_interval",
}
BAND_KEYS = {"low", "high", "n", "flips", "flip_rate", "negative_flips", "positive_flips"}


@pytest.fixture(scope="module")
def labelled(trained_pair) -> tuple[AuditResult, np.ndarray, np.ndarray, np.ndarray]:
    """The audit, and the gold labels and both models' predictions recomputed independently."""
    from trustaudit._predict import predict

    base, small, dev = trained_pair
    result = audit(base, small, dev, AuditConfig(explain_n=0, n_resamples=200, seed=4, bias=False))
    pair = load_pair(base, small)
    data = load_dataset(dev, pair.labels)
    base_pred = predict(pair.base, data).predicted
    small_pred = predict(pair.small, data).reorder(pair.permutation, pair.labels).predicted
    return AuditResult.from_dict(result.to_dict()), data.labels, base_pred, small_pred


def test_every_flip_field_is_consistent(labelled) -> None:
    result, gold, base, small = labelled
    p = result["predictions"]
    for key in FLIP_KEYS:
        assert key in p, key
    n = p["n"]
    assert p["negative_flips"] == int(np.sum((base == gold) & (small != gold)))
    assert p["positive_flips"] == int(np.sum((base != gold) & (small == gold)))
    assert p["negative_flip_rate"] == pytest.approx(p["negative_flips"] / n)
    assert p["positive_flip_rate"] == pytest.approx(p["positive_flips"] / n)
    assert p["negative_flip_rate"] - p["positive_flip_rate"] == pytest.approx(p["accuracy_drop"])
    for key in ("negative_flip_rate", "positive_flip_rate"):
        low, high = p[f"{key}_interval"]
        assert 0.0 <= low <= high <= 1.0

    labels = p["labels"]
    assert [c["label"] for c in p["per_class"]] == labels
    base_recall = recall_score(gold, base, labels=range(len(labels)), average=None, zero_division=np.nan)
    small_precision = precision_score(gold, small, labels=range(len(labels)), average=None, zero_division=np.nan)
    for c, entry in enumerate(p["per_class"]):
        assert set(entry) == CLASS_KEYS
        assert entry["support"] == int(np.sum(gold == c))
        assert entry["base_recall"] == pytest.approx(base_recall[c])
        assert entry["small_precision"] == (None if np.isnan(small_precision[c]) else pytest.approx(small_precision[c]))
        assert entry["recall_drop"] == pytest.approx(entry["base_recall"] - entry["small_recall"])
        assert entry["recall_drop_interval"] is not None
    assert sum(c["support"] for c in p["per_class"]) == n
    worst = max(p["per_class"], key=lambda c: c["recall_drop"])
    assert p["worst_class_recall_drop"] == worst["recall_drop"] and p["worst_class"] == worst["label"]
    low, high = p["worst_class_recall_drop_interval"]
    assert -1.0 <= low <= high <= 1.0

    bands = p["confidence_bands"]
    assert [(b["low"], b["high"]) for b in bands] == [tuple(b) for b in DEFAULT_BANDS]
    assert all(set(b) == BAND_KEYS for b in bands)
    assert sum(b["n"] for b in bands) == n and sum(b["flips"] for b in bands) == p["flips"]
    assert sum(b["negative_flips"] for b in bands) == p["negative_flips"]
    assert sum(b["positive_flips"] for b in bands) == p["positive_flips"]

    kinds = {"negative": 0, "positive": 0, "both wrong": 0}
    for d in p["disagreements"]:
        kinds[d["kind"]] += 1
        assert d["kind"] == ("negative" if d["base"] == d["gold"] else "positive" if d["small"] == d["gold"] else "both wrong")
    assert len(p["disagreements"]) == p["flips"]
    assert (kinds["negative"], kinds["positive"]) == (p["negative_flips"], p["positive_flips"])


def test_unlabelled_data_keeps_the_bands_and_nulls_the_rest(trained_pair, tmp_path: Path) -> None:
    base, small, dev = trained_pair
    lines = dev.read_text().splitlines()
    unlabelled = tmp_path / "u.tsv"
    unlabelled.write_text("\n".join("\t".join(line.split("\t")[:2]) for line in lines) + "\n")
    p = audit(base, small, unlabelled, AuditConfig(explain_n=0, n_resamples=50, bias=False))["predictions"]
    for key in FLIP_KEYS[:-1]:
        assert p[key] is None, key
    assert sum(b["n"] for b in p["confidence_bands"]) == p["n"]
    assert sum(b["flips"] for b in p["confidence_bands"]) == p["flips"]
    assert all(b["negative_flips"] is None and b["positive_flips"] is None for b in p["confidence_bands"])
    assert {d["kind"] for d in p["disagreements"]} <= {"unlabelled"}


def test_no_resamples_gives_null_intervals(trained_pair) -> None:
    base, small, dev = trained_pair
    p = audit(base, small, dev, AuditConfig(explain_n=0, n_resamples=0, bias=False))["predictions"]
    assert p["negative_flip_rate"] is not None and p["negative_flip_rate_interval"] is None
    assert p["positive_flip_rate_interval"] is None and p["worst_class_recall_drop_interval"] is None
    assert all(c["recall_drop_interval"] is None and c["precision_drop_interval"] is None for c in p["per_class"])


def test_report_shows_the_audits_flip_forensics(labelled) -> None:
    from trustaudit.report import render_html

    result = labelled[0]
    p = result["predictions"]
    html = render_html(result)
    section = html[html.index('<section id="predictions">'):html.index('<section id="calibration">')]
    per_class = section[section.index('id="per-class"'):]
    per_class = per_class[:per_class.index("</table>")]
    assert per_class.count("<tr>") == len(p["labels"]) + 1
    assert all(f"<td>{label}" in per_class for label in p["labels"])
    assert section.count("<tr data-kind=") == len(p["disagreements"])
    assert section.count('<tr data-kind="negative">') == p["negative_flips"]
    assert 'id="confidence-bands"' in section and '<select id="flip-kind"' in section
