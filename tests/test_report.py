"""The HTML report: self-contained, escaped, small; summaries; re-rendering from JSON."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from trustaudit._audit import AuditConfig, AuditResult, audit
from trustaudit.report import render_html, summary_markdown, summary_text, write_report


@pytest.fixture(scope="module")
def result(trained_pair, bias_tests_file: Path, tmp_path_factory: pytest.TempPathFactory) -> AuditResult:
    """An audit of the trained tiny pair on 12 rows, every one explained, two carrying HTML payloads,
    with the small bias tests (one set label carries a script payload)."""
    base, small, dev = trained_pair
    lines = dev.read_text(encoding="utf-8").splitlines()
    path = tmp_path_factory.mktemp("xss") / "dev-small.tsv"
    path.write_text("\n".join(lines[:13]) + "\n", encoding="utf-8")
    return audit(base, small, path, AuditConfig(explain_n=12, lime_samples=200, shap_max_evals=100, n_resamples=200,
                                                bias_tests=str(bias_tests_file), bias_permutations=500))


@pytest.fixture(scope="module")
def html(result: AuditResult) -> str:
    return render_html(result)


def test_report_is_self_contained(html: str) -> None:
    assert html.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), "a resource from the network"
    assert "<link" not in html and "@import" not in html
    assert not re.search(r"url\((?!#)", html), "only in-document url(#id) references"
    assert html.count("<script") == 1, "only the package's own inline script"
    assert "<svg" in html


def test_data_text_is_escaped(html: str, result: AuditResult) -> None:
    assert "<script>alert(1)</script>" not in html
    assert "<img src=x onerror=alert(1)>" not in html
    assert "onerror=alert(1)>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    explained = {ex["row"] for ex in result["examples"]}
    assert {0, 1} <= explained, "the payload rows are among the explained examples"


def test_report_sections(html: str, result: AuditResult) -> None:
    for anchor in ("verdict", "models", "predictions", "calibration", "bias", "alignment", "reproducibility"):
        assert f'id="{anchor}"' in html
    assert f'<div class="big">{result.status.capitalize()}</div>' in html
    for check in result["verdict"]["checks"]:
        assert check["key"] in html
    assert result["data"]["sha256"][:16] in html
    assert "Flip matrix" in html and "Reliability" in html


def test_explained_examples_are_drilled_down(html: str, result: AuditResult) -> None:
    assert html.count('class="example"') == len(result["examples"]) == 12
    assert html.count('class="w"') > 12 * 4
    shown = [int(r) for r in re.findall(r'<article class="example"[^>]*>\s*<header>\s*<span>row (\d+)</span>', html)]
    expected = [ex["row"] for ex in sorted(result["examples"], key=lambda ex: (-ex["divergence"], ex["row"]))]
    assert shown == expected, "examples are shown most divergent first, ties by row"
    divergences = {ex["row"]: ex["divergence"] for ex in result["examples"]}
    assert len(set(divergences.values())) > 1, "the ordering is only tested when divergences differ"


def test_render_from_json_reproduces_the_report(result: AuditResult, tmp_path: Path) -> None:
    path = result.write_json(tmp_path / "r.json")
    again = AuditResult.read_json(path)
    assert render_html(again) == render_html(result)
    out = write_report(again, tmp_path / "sub" / "report.html")
    assert out.read_text(encoding="utf-8") == render_html(result)
    assert oct(out.stat().st_mode & 0o777) != oct(0o600)


def test_summaries(result: AuditResult) -> None:
    text = summary_text(result, report="r.html")
    first, second = text.splitlines()[:2]
    assert first.startswith(f"trustaudit: {result.status.upper()}  ")
    assert second.strip() == result["verdict"]["sentence"] and second.strip().lower().startswith(result.status)
    assert "r.html" in text and len(text.splitlines()) < 40
    markdown = summary_markdown(result, report="r.html")
    assert markdown.startswith("### ") and "| check | value | 95% interval | limit | result | to decide |" in markdown
    assert markdown.splitlines()[2] == result["verdict"]["sentence"]
    assert markdown.count("\n| `") == len(result["verdict"]["checks"])


GOLD = Path(__file__).parent / "gold"
_SCRUB = [
    (re.compile(r"<svg.*?</svg>", re.S), "<svg/>"),
    (re.compile(r"trustaudit \d+\.\d+\.\d+\S*"), "trustaudit X"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"), "TIMESTAMP"),
    (re.compile(r'(<tr><th>versions</th><td class="mono">).*?(</td>)', re.S), r"\1VERSIONS\2"),
]


def _scrub(html: str) -> str:
    for pattern, replacement in _SCRUB:
        html = pattern.sub(replacement, html)
    return html


def test_stored_report_matches(result: AuditResult) -> None:
    """Rendering the stored results must give the stored report (timestamps, versions, plots scrubbed).

    After an intended template change, TRUSTAUDIT_UPDATE_GOLD=1 re-renders the stored report from
    the stored results; TRUSTAUDIT_UPDATE_GOLD=all also recomputes the results.
    """
    import os

    update = os.environ.get("TRUSTAUDIT_UPDATE_GOLD")
    if update == "all" or (update and not (GOLD / "results.json").exists()):
        doc = result.to_dict()
        for role in ("base", "small"):
            doc["models"][role]["path"] = f"{role}.pt"
        doc["data"]["path"] = "dev.tsv"
        doc["command"] = "trustaudit compare base.pt small.pt --data dev.tsv --explain-n 12"
        GOLD.mkdir(exist_ok=True)
        AuditResult.from_dict(doc).write_json(GOLD / "results.json")
    if update:
        (GOLD / "report.html").write_text(_scrub(render_html(AuditResult.read_json(GOLD / "results.json"))), encoding="utf-8")
    stored = AuditResult.read_json(GOLD / "results.json")
    expected = (GOLD / "report.html").read_text(encoding="utf-8")
    assert _scrub(render_html(stored)) == expected


def test_alignment_says_how_comparison_and_floor_are_paired(html: str, result: AuditResult) -> None:
    assert "Both figures are measured the same way" in html
    assert "LIME: base at seed 0 vs small at seed 1; floor: base at seed 0 vs base at seed 1" in html
    assert "SHAP: base at seed 0 vs small at seed 1" in html and "exact: every coalition" not in html
    doc = result.to_dict()
    doc["attribution"]["shap"].update(floor_exact=True, floor_exact_examples=doc["attribution"]["explained"])
    exact = render_html(doc)
    assert exact.count("(exact: every coalition evaluated)") == 8, "every SHAP metric's floor is marked exact"
    assert "Exact on every example" in exact
    older = AuditResult.read_json(GOLD / "results.json").to_dict()
    assert "pairing" not in older["attribution"]["lime"], "the stored results predate the pairing"
    assert "results written before the comparison and its floor were paired alike" in render_html(older)


def test_report_takes_the_share_of_floor_from_the_results() -> None:
    """The report shows the JSON's guarded share of floor (none for a floor not above 0), never its own."""
    from trustaudit.report import build_context

    doc = AuditResult.read_json(GOLD / "results.json").to_dict()
    lime = doc["attribution"]["lime"]
    spearman, top_k = "Spearman rank correlation (all words)", f"top-{doc['attribution']['k']} feature agreement"
    lime["self_agreement"]["metrics"]["rank_correlation"]["mean"] = -0.2

    def rows() -> dict:
        return {r["metric"]: r for r in build_context(doc)["attribution"]["rows"] if r["explainer"] == "LIME"}

    lime["floor_ratios"] = {**(lime.get("floor_ratios") or {}), "rank_correlation": None, f"feature_agreement@{doc['attribution']['k']}": 0.25}
    assert rows()[spearman]["ratio"] is None and rows()[top_k]["ratio"] == 0.25
    del lime["floor_ratios"]
    assert rows()[spearman]["ratio"] is None, "older results: the same guarded rule"
    assert rows()[top_k]["ratio"] == pytest.approx(lime["feature_agreement"] / lime["floor"])


def test_index_page_links_and_tabulates(result: AuditResult) -> None:
    from trustaudit.report import index_row, render_index

    row = index_row(result, href="pair/report.html", name="pair-<b>", description="a candidate")
    assert row["agreement"] == result.get("predictions.agreement")
    assert row["small_ece"] == result.get("calibration.small.ece")
    assert row["lime"] == result.get("attribution.lime.feature_agreement")
    html = render_index([row, {**row, "href": None, "name": "second"}], title="audits <all>")
    assert 'href="pair/report.html"' in html and "pair-&lt;b&gt;" in html and "audits &lt;all&gt;" in html
    assert html.count("<tr>") == 3


def _long_example(template: dict, row: int, rng) -> dict:
    """A stored example rewritten as a paraphrase-length pair: 24 + 22 words, all of them features."""
    import copy

    words = [f"word{i}" for i in range(400)]
    example = copy.deepcopy(template)
    texts, features = {}, []
    for segment, n in (("a", 24), ("b", 22)):
        chosen = [str(w) for w in rng.choice(words, n)]
        texts[segment] = " ".join(chosen)
        start = 0
        for word in chosen:
            features.append({"index": len(features), "word": word, "segment": segment, "start": start, "end": start + len(word)})
            start += len(word) + 1
    example.update(row=row, text_a=texts["a"], text_b=texts["b"], features=features)
    for scores in example["scores"].values():
        for role in ("base", "small", "base_repeat"):
            if scores.get(role) is not None:
                scores[role] = rng.normal(size=len(features)).tolist()
    return example


def test_report_for_200_explained_examples_stays_under_5_mb(tmp_path: Path) -> None:
    import numpy as np

    doc = AuditResult.read_json(GOLD / "results.json").to_dict()
    rng = np.random.default_rng(0)
    doc["examples"] = [_long_example(doc["examples"][i % len(doc["examples"])], i, rng) for i in range(200)]
    doc["attribution"]["explained"] = 200
    html = render_html(AuditResult.from_dict(doc))
    assert html.count('class="example"') == 200
    assert len(html.encode("utf-8")) < 5_000_000
