"""The predictions section's flip forensics in the report: tables present, data escaped, old results still render."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest

from trustaudit._audit import AuditResult
from trustaudit.report import render_html

GOLD = Path(__file__).resolve().parents[1] / "gold" / "results.json"
PAYLOAD = "<script>alert(2)</script>"


@pytest.fixture(scope="module")
def old() -> dict:
    """A results document written before flip forensics existed."""
    return AuditResult.read_json(GOLD).to_dict()


@pytest.fixture(scope="module")
def new(old: dict) -> dict:
    """The same document with flip forensics and a class name carrying markup."""
    doc = copy.deepcopy(old)
    p = doc["predictions"]
    p.update(
        negative_flip_rate=3 / 92, negative_flip_rate_interval=[0.01, 0.07], positive_flip_rate=6 / 92,
        positive_flip_rate_interval=[0.02, 0.11], negative_flips=3, positive_flips=6,
        worst_class_recall_drop=0.25, worst_class_recall_drop_interval=[0.05, 0.4], worst_class=PAYLOAD,
        per_class=[
            {"label": PAYLOAD, "support": 4, "base_recall": 0.75, "small_recall": 0.5, "recall_drop": 0.25,
             "recall_drop_interval": [0.05, 0.4], "base_precision": 1.0, "small_precision": None,
             "precision_drop": None, "precision_drop_interval": None},
            {"label": "neutral", "support": 0, "base_recall": None, "small_recall": None, "recall_drop": None,
             "recall_drop_interval": None, "base_precision": 0.5, "small_precision": 0.25,
             "precision_drop": 0.25, "precision_drop_interval": [-0.1, 0.6]},
        ],
        confidence_bands=[
            {"low": 0.0, "high": 0.5, "n": 80, "flips": 12, "flip_rate": 0.15, "negative_flips": 3, "positive_flips": 6},
            {"low": 0.5, "high": 0.7, "n": 12, "flips": 0, "flip_rate": 0.0, "negative_flips": 0, "positive_flips": 0},
            {"low": 0.7, "high": 0.9, "n": 0, "flips": 0, "flip_rate": None, "negative_flips": 0, "positive_flips": 0},
            {"low": 0.9, "high": 1.0, "n": 0, "flips": 0, "flip_rate": None, "negative_flips": 0, "positive_flips": 0},
        ],
    )
    return doc


def _section(html: str) -> str:
    return html[html.index('<section id="predictions">'):html.index('<section id="calibration">')]


def test_flip_rates_per_class_and_bands_are_shown(new: dict) -> None:
    html = _section(render_html(new))
    for text in ("negative flip rate", "positive flip rate", "worst class recall drop", "<h3>Per class</h3>", "Flips by the base model's confidence"):
        assert text in html, text
    assert "3.3%" in html and "1.0% to 7.0%" in html and "+25.00 pts" in html and "+5.00 to +40.00" in html
    per_class = html[html.index('id="per-class"'):]
    per_class = per_class[:per_class.index("</table>")]
    assert per_class.count("<tr>") == 3 and "largest recall drop" in per_class
    bands = html[html.index('id="confidence-bands"'):]
    bands = bands[:bands.index("</table>")]
    assert "[0.00, 0.50)" in bands and "[0.90, 1.00]" in bands and bands.count("<tr>") == 5


def test_markup_in_labels_and_kinds_is_escaped(new: dict) -> None:
    doc = copy.deepcopy(new)
    doc["predictions"]["disagreements"][0]["kind"] = '"><img src=z onerror=alert(3)>'
    html = render_html(doc)
    assert PAYLOAD not in html and "&lt;script&gt;alert(2)&lt;/script&gt;" in html
    assert "onerror=alert(3)>" not in html and 'data-kind="&#34;&gt;&lt;img src=z onerror=alert(3)&gt;"' in html


def test_kind_filter_lists_each_kind_with_its_rows(new: dict) -> None:
    html = _section(render_html(new))
    assert '<select id="flip-kind"' in html
    rows = re.findall(r'<tr data-kind="([^"]*)">', html)
    assert len(rows) == len(new["predictions"]["disagreements"])
    options = dict(re.findall(r'<option value="([^"]*)">[^<]*\((\d+)\)</option>', html))
    assert options[""] == str(len(rows))
    assert sum(int(count) for value, count in options.items() if value) == len(rows)


def test_old_results_render_without_the_new_tables(old: dict) -> None:
    html = _section(render_html(old))
    assert "negative flip rate" not in html and 'id="per-class"' not in html and 'id="confidence-bands"' not in html
    # The kind of each difference is derived from its labels.
    kinds = re.findall(r'<tr data-kind="([^"]*)">', html)
    expected = [
        "negative" if d["base"] == d["gold"] else "positive" if d["small"] == d["gold"] else "both wrong"
        for d in old["predictions"]["disagreements"]
    ]
    assert kinds == expected


def test_unlabelled_results_show_dashes(new: dict) -> None:
    doc = copy.deepcopy(new)
    p = doc["predictions"]
    for key in ("negative_flip_rate", "negative_flip_rate_interval", "positive_flip_rate", "positive_flip_rate_interval",
                "negative_flips", "positive_flips", "per_class", "worst_class_recall_drop", "worst_class_recall_drop_interval", "worst_class"):
        p[key] = None
    for band in p["confidence_bands"]:
        band["negative_flips"] = band["positive_flips"] = None
    for d in p["disagreements"]:
        d["gold"], d["kind"] = None, "unlabelled"
    html = _section(render_html(doc))
    assert 'id="per-class"' not in html and 'id="confidence-bands"' in html
    assert '<option value="unlabelled">no gold label' in html
    assert re.search(r"negative flip rate</td><td class=\"num\">–</td>", html)
