"""Report plots: deterministic, self-contained SVG without global matplotlib state."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure

from trustaudit.exceptions import InvalidInputError
from trustaudit.metrics import reliability_bins
from trustaudit.report.plots import (
    agreement_distribution,
    figure_to_svg,
    reliability_diagram,
    save_png,
    similarity_heatmap,
)


def _probs(n: int, seed: int, power: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet([2.0, 1.0, 1.0], size=n) ** power
    probs /= probs.sum(axis=1, keepdims=True)
    return probs, rng.integers(0, 3, n)


def _reliability_figure() -> Figure:
    base, labels = _probs(400, 0, 1.0)
    small, _ = _probs(400, 0, 1.8)
    return reliability_diagram(
        reliability_bins(base, labels),
        reliability_bins(small, labels),
        base.max(axis=1),
        small.max(axis=1),
        labels=("BERT-base", "pruned"),
    )


def _agreement_figure() -> Figure:
    rng = np.random.default_rng(1)
    return agreement_distribution(
        {"LIME feature_agreement@5": rng.random(50), "SHAP feature_agreement@5": rng.beta(5, 2, 50)},
        floors={"LIME feature_agreement@5": 0.7},
    )


def _heatmap_figure() -> Figure:
    rng = np.random.default_rng(2)
    matrix = rng.uniform(0.5, 1.0, (7, 7))
    matrix = (matrix + matrix.T) / 2
    np.fill_diagonal(matrix, 1.0)
    return similarity_heatmap(matrix, removed_layers=[2, 5])


BUILDERS = [_reliability_figure, _agreement_figure, _heatmap_figure]


@pytest.mark.parametrize("build", BUILDERS, ids=lambda b: b.__name__.strip("_"))
def test_svg_is_deterministic_small_and_inert(build) -> None:
    import matplotlib.pyplot as plt

    figures_before = plt.get_fignums()
    rc_before = {key: matplotlib.rcParams[key] for key in ("svg.hashsalt", "svg.fonttype", "font.family", "font.size")}
    first, second = figure_to_svg(build()), figure_to_svg(build())
    assert first == second
    assert first.lstrip().startswith("<?xml") and "</svg>" in first
    assert "<script" not in first.lower()
    assert "<dc:date>" not in first and not re.search(r"\d{4}-\d{2}-\d{2}T", first)
    assert len(first.encode()) < 80_000
    assert "DejaVu Sans" in first
    assert plt.get_fignums() == figures_before
    assert {key: matplotlib.rcParams[key] for key in rc_before} == rc_before


def test_reliability_diagram_content() -> None:
    fig = _reliability_figure()
    assert len(fig.axes) == 2  # the diagram and the confidence histograms beneath it
    svg = figure_to_svg(fig)
    assert "BERT-base (n=400)" in svg and "pruned (n=400)" in svg and "perfect calibration" in svg


def test_reliability_diagram_on_a_given_axes_without_confidences() -> None:
    base, labels = _probs(200, 3, 1.0)
    fig = Figure()
    ax = fig.add_subplot()
    returned = reliability_diagram(reliability_bins(base, labels), reliability_bins(base, labels, n_bins=5), ax=ax)
    assert returned is fig and len(fig.axes) == 2


def test_heatmap_marks_removed_layers() -> None:
    svg = figure_to_svg(_heatmap_figure())
    assert "removed, in red: 2, 5" in svg and "emb" in svg and "1.00" in svg


def test_save_png(tmp_path) -> None:
    path = tmp_path / "diagram.png"
    save_png(_agreement_figure(), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: reliability_diagram(None, None), r"base_bins must be ReliabilityBins, got NoneType"),
        (
            lambda: reliability_diagram(*[reliability_bins([[0.6, 0.4]], [0])] * 2, base_conf=[1.5]),
            r"base_conf\[0\] = 1.5 is outside \[0, 1\]",
        ),
        (lambda: reliability_diagram(*[reliability_bins([[0.6, 0.4]], [0])] * 2, labels=("a",)), r"labels must be two"),
        (lambda: agreement_distribution({}), r"per_example must be a non-empty mapping"),
        (lambda: agreement_distribution({"a": [0.5]}, floors={"b": 0.5}), r"floors has 'b'"),
        (lambda: agreement_distribution({"a": [np.nan]}), r"per_example\['a'\]\[0\] is nan"),
        (lambda: agreement_distribution({"a": [0.5]}, floors={"a": np.inf}), r"floors\['a'\] must be finite"),
        (lambda: agreement_distribution({"a": [0.5]}, bins=0), r"bins must be an integer >= 1"),
        (lambda: similarity_heatmap(np.ones((3, 4)), []), r"matrix must be square"),
        (lambda: similarity_heatmap(np.ones((3, 3)), [3]), r"removed_layers holds 3, not a layer index in \[0, 3\)"),
        (lambda: similarity_heatmap(np.full((2, 2), np.inf), []), r"matrix\[0, 0\] is inf"),
        (lambda: figure_to_svg("not a figure"), r"fig must be a matplotlib Figure, got str"),
    ],
)
def test_validation(call, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        call()


def test_verdict_forest_centres_each_row_on_its_limit_and_colours_by_status() -> None:
    import re

    from trustaudit._audit.document import GateCheck
    from trustaudit.report.plots import verdict_forest

    checks = [
        GateCheck(key="max_accuracy_drop", kind="max", limit=0.02, value=0.014, interval=[-0.005, 0.033], status="inconclusive", unit="points"),
        GateCheck(key="min_<agreement>", kind="min", limit=0.9, value=0.85, interval=[0.8, 0.88], status="fail", unit=""),
        GateCheck(key="min_lime", kind="min", limit=0.5, value=None, interval=None, status="not measured", unit=""),
    ]
    svg = verdict_forest(checks, width=760)
    assert svg.startswith("<svg") and svg.endswith("</svg>") and "&lt;agreement&gt;" in svg and "<agreement>" not in svg
    limits = [float(x) for x in re.findall(r'<line x1="([\d.]+)" y1="[\d.]+" x2="\1" y2="[\d.]+" stroke="#1d2330" stroke-dasharray', svg)]
    assert len(limits) == 3 and max(limits) - min(limits) < 1e-6, "every limit sits at the same x: the middle of its row"
    assert svg.count('stroke="#a15c00" stroke-width="4"') == 1 and svg.count('stroke="#b42318" stroke-width="4"') == 1
    assert "not measured" in svg and svg.count("<circle") == 2
    assert verdict_forest(checks) == svg


GOLD = Path(__file__).resolve().parents[1] / "gold"
SAMPLES = sorted((Path(__file__).resolve().parents[2] / "sample_reports").glob("*/results.json"))


def test_verdict_forest_of_the_gold_checks_is_the_stored_svg() -> None:
    """The typed checks draw the SVG stored from the gold results when the plot still took dicts."""
    from trustaudit._audit import AuditResult
    from trustaudit.report.plots import verdict_forest

    checks = AuditResult.read_json(GOLD / "results.json").verdict.checks
    assert checks and {c.status for c in checks} >= {"fail", "inconclusive"}
    assert verdict_forest(checks) + "\n" == (GOLD / "verdict_forest.svg").read_text(encoding="utf-8")


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.parent.name)
def test_verdict_forest_of_a_sample_report_is_the_one_in_its_stored_page(path: Path) -> None:
    from trustaudit._audit import AuditResult
    from trustaudit.report.plots import verdict_forest

    svg = verdict_forest(AuditResult.read_json(path).verdict.checks)
    assert svg.count("<svg") == 1 and svg in (path.parent / "report.html").read_text(encoding="utf-8")


def test_verdict_forest_takes_typed_checks_only() -> None:
    from trustaudit._audit.document import GateCheck
    from trustaudit.report.plots import verdict_forest

    with pytest.raises(InvalidInputError, match=r"`checks\[0\]` must be a GateCheck .*got dict"):
        verdict_forest([{"key": "k", "limit": 0.1}])  # type: ignore[list-item]
    with pytest.raises(InvalidInputError, match=r"`checks\[1\]` \(min_x\) has no limit"):
        verdict_forest([GateCheck(key="k", limit=0.1), GateCheck(key="min_x")])
