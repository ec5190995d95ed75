"""Plots of the audit report, drawn from computed results and rendered to deterministic SVG.

Every function takes results computed elsewhere (compute and draw stay apart), draws on
a new :class:`matplotlib.figure.Figure` or on a given ``ax``, and returns the figure.
pyplot is never used, so no figure is registered globally and nothing is shown.
:func:`figure_to_svg` renders byte-identical SVG for identical input: a fixed hash
salt for element ids, no date in the metadata, text kept as ``<text>`` in a fixed font
family (DejaVu Sans, shipped with matplotlib) so the files stay a few tens of KB.
All style settings live in a :func:`matplotlib.rc_context`, so rcParams never leak.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from mpl_toolkits.axes_grid1 import make_axes_locatable
from numpy.typing import ArrayLike

from trustaudit._audit.document import GateCheck
from trustaudit.exceptions import InvalidInputError
from trustaudit._validation import check_real, check_scores, check_unit_scores
from trustaudit.metrics.calibration import ReliabilityBins

__all__ = [
    "agreement_distribution",
    "figure_to_svg",
    "reliability_diagram",
    "save_png",
    "similarity_heatmap",
    "size_trust_frontier",
    "verdict_forest",
]

_STYLE: dict[str, Any] = {
    "svg.hashsalt": "trustaudit",
    "svg.fonttype": "none",
    "font.family": "DejaVu Sans",
    "font.size": 8.5,
    "axes.titlesize": 9.5,
    "axes.labelsize": 8.5,
    "legend.fontsize": 7.5,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "path.simplify": True,
}
# Colour-blind-safe pairs (Okabe-Ito blue and orange), each with its own marker and line style.
_SERIES = (
    ("#0072B2", "o", "-"),
    ("#D55E00", "s", "--"),
    ("#009E73", "^", "-."),
    ("#CC79A7", "D", ":"),
    ("#E69F00", "v", (0, (5, 1))),
    ("#56B4E9", "P", (0, (3, 1, 1, 1))),
)
_HISTOGRAM_BINS = 40


def _series(i: int) -> tuple[str, str, Any]:
    return _SERIES[i % len(_SERIES)]


def _canvas(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """The figure and axes to draw on: ``ax`` and its figure, or a new figure of ``figsize``."""
    if ax is not None:
        return ax.get_figure(root=True), ax
    fig = Figure(figsize=figsize)
    return fig, fig.add_subplot()


def _confidence_shares(bins: ReliabilityBins, conf: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(shares, edges) for the confidence histogram: from raw confidences when given, else the bins."""
    if conf is None:
        total = max(int(bins.counts.sum()), 1)
        return bins.counts / total, np.asarray(bins.edges)
    counts, edges = np.histogram(conf, bins=_HISTOGRAM_BINS, range=(0.0, 1.0))
    return counts / conf.shape[0], edges


def reliability_diagram(
    base_bins: ReliabilityBins,
    small_bins: ReliabilityBins,
    base_conf: ArrayLike | None = None,
    small_conf: ArrayLike | None = None,
    labels: Sequence[str] = ("base", "small"),
    ax: Axes | None = None,
) -> Figure:
    """Reliability diagram of both models on one axes, with their confidence histograms beneath.

    Each model's non-empty bins are drawn at (mean confidence, accuracy) with their
    Clopper-Pearson intervals as error bars, in its own colour, marker and line style,
    against the diagonal of perfect calibration. The lower axes shows the share of rows
    per confidence value: a 40-bin histogram of ``base_conf``/``small_conf`` when given,
    otherwise the bins' own counts. With ``ax`` the histogram axes is split off below it.
    """
    for name, bins in (("base_bins", base_bins), ("small_bins", small_bins)):
        if not isinstance(bins, ReliabilityBins):
            raise InvalidInputError(f"{name} must be ReliabilityBins, got {type(bins).__name__}")
    if isinstance(labels, str) or len(labels) != 2 or not all(isinstance(label, str) for label in labels):
        raise InvalidInputError(f"labels must be two strings, got {labels!r}")
    confs = [
        None if conf is None else check_unit_scores(conf, name)
        for name, conf in (("base_conf", base_conf), ("small_conf", small_conf))
    ]
    with matplotlib.rc_context(_STYLE):
        fig, ax = _canvas(ax, (4.6, 5.0))
        hist_ax = make_axes_locatable(ax).append_axes("bottom", size="32%", pad=0.12, sharex=ax)
        ax.plot([0, 1], [0, 1], color="#7f7f7f", linewidth=0.8, linestyle=(0, (2, 2)), label="perfect calibration")
        for i, (bins, conf, label) in enumerate(zip((base_bins, small_bins), confs, labels)):
            colour, marker, style = _series(i)
            filled = bins.counts > 0
            accuracy = bins.accuracy[filled]
            ax.errorbar(
                bins.mean_confidence[filled],
                accuracy,
                yerr=np.vstack([accuracy - bins.ci_low[filled], bins.ci_high[filled] - accuracy]),
                color=colour,
                marker=marker,
                markersize=4,
                linestyle=style,
                linewidth=1.1,
                elinewidth=0.8,
                capsize=2,
                label=f"{label} (n={int(bins.counts.sum())})",
            )
            shares, edges = _confidence_shares(bins, conf)
            hist_ax.stairs(shares, edges, color=colour, linestyle=style, linewidth=1.1, label=label)
        ax.set_xlim(0.0, 1.0)
        ax.set_ylim(0.0, 1.02)
        ax.set_ylabel("accuracy")
        ax.set_title(f"Reliability ({base_bins.n_bins} {base_bins.strategy} bins, {base_bins.ci_level:.0%} CI)")
        ax.legend(loc="upper left")
        ax.tick_params(labelbottom=False)
        hist_ax.set_xlabel("confidence")
        hist_ax.set_ylabel("share of rows")
        hist_ax.set_ylim(bottom=0.0)
    return fig


def agreement_distribution(
    per_example: Mapping[str, ArrayLike],
    floors: Mapping[str, float] | None = None,
    ax: Axes | None = None,
    bins: int = 20,
) -> Figure:
    """Distribution of per-example agreement values of each series, with noise-floor lines.

    One step histogram per series (e.g. "LIME feature agreement@5", "SHAP feature
    agreement@5") as the share of examples, over common bins spanning [min(0, lowest
    value), 1]; the legend gives each series' mean. ``floors[name]``, when given, is drawn
    as a dotted vertical line in the series' colour: the agreement the explainer reaches
    with itself, below which disagreement cannot be told from noise.
    """
    if not isinstance(per_example, Mapping) or not per_example:
        raise InvalidInputError("per_example must be a non-empty mapping of series name to values")
    series = {str(name): check_scores(values, f"per_example[{name!r}]") for name, values in per_example.items()}
    floors = {name: check_real(floor, f"floors[{name!r}]") for name, floor in (floors or {}).items()}
    for name in floors:
        if name not in series:
            raise InvalidInputError(f"floors has {name!r}, which is not a series of per_example")
    if isinstance(bins, (bool, np.bool_)) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise InvalidInputError(f"bins must be an integer >= 1, got {bins!r}")
    low = min(0.0, min(float(v.min()) for v in series.values()), min(floors.values(), default=0.0))
    high = max(1.0, max(float(v.max()) for v in series.values()))
    edges = np.linspace(low, high, int(bins) + 1)
    with matplotlib.rc_context(_STYLE):
        fig, ax = _canvas(ax, (4.8, 3.0))
        for i, (name, values) in enumerate(series.items()):
            colour, _, style = _series(i)
            counts, _ = np.histogram(values, bins=edges)
            ax.stairs(
                counts / values.shape[0],
                edges,
                color=colour,
                linestyle=style,
                linewidth=1.2,
                label=f"{name} (mean {values.mean():.2f}, n={values.shape[0]})",
            )
            if name in floors:
                ax.axvline(floors[name], color=colour, linestyle=":", linewidth=1.2, label=f"{name}: noise floor")
        ax.set_xlim(low, high)
        ax.set_ylim(bottom=0.0)
        ax.set_xlabel("agreement")
        ax.set_ylabel("share of examples")
        ax.set_title("Per-example agreement")
        ax.legend(loc="upper left")
    return fig


def similarity_heatmap(matrix: ArrayLike, removed_layers: Sequence[int], ax: Axes | None = None) -> Figure:
    """Annotated heatmap of the (L+1) x (L+1) similarity of hidden states, removed layers in red.

    Row and column 0 are the embeddings, i the output of layer i; each cell shows its
    value. Removed layers (indices into the matrix) get red, bold tick labels and a red
    outline on their diagonal cell.
    """
    array = np.asarray(matrix)
    if array.ndim != 2 or array.shape[0] != array.shape[1] or array.shape[0] < 1:
        raise InvalidInputError(f"matrix must be square (L+1, L+1), got shape {array.shape}")
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise InvalidInputError(f"matrix must be numeric, got dtype {array.dtype}")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        i, j = (int(v) for v in np.argwhere(~np.isfinite(array))[0])
        raise InvalidInputError(f"matrix[{i}, {j}] is {array[i, j]}; values must be finite")
    size = array.shape[0]
    removed = []
    for layer in removed_layers:
        if isinstance(layer, (bool, np.bool_)) or not isinstance(layer, (int, np.integer)) or not 0 <= layer < size:
            raise InvalidInputError(f"removed_layers holds {layer!r}, not a layer index in [0, {size})")
        removed.append(int(layer))
    names = ["emb"] + [str(i) for i in range(1, size)]
    low, high = min(0.0, float(array.min())), max(1.0, float(array.max()))
    with matplotlib.rc_context(_STYLE):
        fig, ax = _canvas(ax, (0.42 * size + 1.8, 0.42 * size + 1.2))
        image = ax.imshow(array, cmap="viridis", vmin=low, vmax=high, interpolation="nearest")
        midpoint = (low + high) / 2.0
        for i in range(size):
            for j in range(size):
                ax.text(
                    j,
                    i,
                    f"{array[i, j]:.2f}",
                    ha="center",
                    va="center",
                    fontsize=6.5,
                    color="black" if array[i, j] > midpoint else "white",
                )
        ax.set_xticks(range(size), names)
        ax.set_yticks(range(size), names)
        for tick_labels in (ax.get_xticklabels(), ax.get_yticklabels()):
            for layer in removed:
                tick_labels[layer].set_color("#C00000")
                tick_labels[layer].set_fontweight("bold")
        for layer in removed:
            ax.add_patch(Rectangle((layer - 0.5, layer - 0.5), 1, 1, fill=False, edgecolor="#C00000", linewidth=1.6))
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_xlabel("layer")
        ax.set_ylabel("layer")
        title = "Hidden-state similarity"
        ax.set_title(title + (f" (removed, in red: {', '.join(names[i] for i in removed)})" if removed else ""))
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.03)
    return fig


_VERDICT_STYLE = {
    "trust-equivalent": ("#1b7f4b", "o"),
    "not trust-equivalent": ("#b42318", "X"),
    "inconclusive": ("#a15c00", "D"),
    "incomplete": ("#5b6475", "s"),
}


def size_trust_frontier(rows: Sequence[Mapping[str, Any]], base_bytes: int, ax: Axes | None = None) -> Figure:
    """Size against prediction agreement of searched candidates, by verdict, with the frontier and the chosen one.

    ``rows`` are candidate rows of ``search.json`` (``size_bytes``, ``agreement``,
    ``status``, ``name``, ``chosen``); rows without an agreement (never audited) are left
    out. The frontier joins the candidates no other candidate beats on both size (smaller)
    and agreement (higher); the chosen candidate is ringed; the base model sits at 100%.
    """
    if not isinstance(base_bytes, (int, np.integer)) or isinstance(base_bytes, bool) or base_bytes <= 0:
        raise InvalidInputError(f"base_bytes must be a positive integer, got {base_bytes!r}")
    shown = [r for r in rows if r.get("agreement") is not None]
    with matplotlib.rc_context(_STYLE):
        fig, ax = _canvas(ax, (6.4, 3.6))
        ax.scatter([base_bytes / 1e6], [100.0], marker="*", s=90, color="#333333", label="base", zorder=3)
        for status, (colour, marker) in _VERDICT_STYLE.items():
            members = [r for r in shown if r.get("status") == status]
            if members:
                ax.scatter([r["size_bytes"] / 1e6 for r in members], [100 * r["agreement"] for r in members],
                           color=colour, marker=marker, s=36, label=status, zorder=3)
        points = sorted(((r["size_bytes"] / 1e6, 100 * r["agreement"]) for r in shown), key=lambda p: (p[0], -p[1]))
        frontier, best = [], -math.inf
        for x, y in points:
            if y > best:
                frontier.append((x, y))
                best = y
        if len(frontier) > 1:
            ax.step([x for x, _ in frontier], [y for _, y in frontier], where="post", color="#0072B2", linewidth=1,
                    linestyle="--", label="frontier", zorder=2)
        for r in shown:
            ax.annotate(str(r.get("name", "")), (r["size_bytes"] / 1e6, 100 * r["agreement"]), textcoords="offset points",
                        xytext=(4, 4), fontsize=6.5)
            if r.get("chosen"):
                ax.scatter([r["size_bytes"] / 1e6], [100 * r["agreement"]], s=170, facecolors="none", edgecolors="#000000",
                           linewidths=1.4, label="chosen", zorder=4)
        low = min([100 * r["agreement"] for r in shown] + [100.0])
        ax.set_ylim(max(0.0, low - 2.0), 100.8)
        ax.set_xlabel("size (MB, state dict as it runs)")
        ax.set_ylabel("prediction agreement with the base (%)")
        ax.set_title("Size against trust of the searched candidates")
        ax.legend(loc="lower right")
    return fig


def figure_to_svg(fig: Figure) -> str:
    """Render ``fig`` as an SVG string, byte-identical for identical figures (no date, fixed ids)."""
    if not isinstance(fig, Figure):
        raise InvalidInputError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    buffer = io.StringIO()
    with matplotlib.rc_context(_STYLE):
        fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    return buffer.getvalue()


def save_png(fig: Figure, path: str | os.PathLike[str], dpi: int = 150) -> None:
    """Write ``fig`` as a PNG file (for reading outside the HTML report)."""
    if not isinstance(fig, Figure):
        raise InvalidInputError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    with matplotlib.rc_context(_STYLE):
        fig.savefig(os.fspath(path), format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})


_STATUS_COLOURS = {"pass": "#1b7f4b", "fail": "#b42318", "inconclusive": "#a15c00", "not measured": "#5b6475"}


def _svg_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _tick(value: float, unit: str) -> str:
    return f"{100 * value:+.1f}" if unit == "points" else f"{value:.3f}"


def verdict_forest(checks: Sequence[GateCheck], width: int = 760) -> str:
    """A forest plot of the gate: each check's interval and point against its limit, as inline SVG.

    One row per check, as judged in the ``verdict`` section (``result.verdict.checks``).
    Checks have different units, so each row has its own scale, centred on its limit: the
    dashed limit is the middle of every row, its bad side is shaded, and a glance tells
    whether an interval (the bar) stays on one side or crosses the middle. The value is the
    dot; colours give the status (pass green, fail red, inconclusive amber, not measured
    grey). Shares shown in points are labelled in percentage points. Deterministic,
    dependency-free SVG.

    Parameters
    ----------
    checks : sequence of GateCheck
        The judged checks; a results file's dicts are read with ``GateCheck.from_dict``.
    width : int
        Width of the SVG in pixels.

    Returns
    -------
    str
        One ``<svg>`` element.
    """
    for i, check in enumerate(checks):
        if not isinstance(check, GateCheck):
            raise InvalidInputError(
                f"`checks[{i}]` must be a GateCheck (the verdict section's checks; GateCheck.from_dict reads a dict), "
                f"got {type(check).__name__}"
            )
        if check.limit is None:
            raise InvalidInputError(f"`checks[{i}]` ({check.key}) has no limit to draw it against")
    label_w, value_w, row_h, top = 250, 150, 30, 8
    plot_x0, plot_x1 = label_w, width - value_w
    height = top + row_h * len(checks) + 22
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        'role="img" aria-label="Each gate check: its 95% interval and value against its limit" '
        'font-family="DejaVu Sans, Arial, sans-serif" font-size="11">'
    ]
    for i, check in enumerate(checks):
        y = top + i * row_h + row_h / 2
        status = str(check.status)
        colour = _STATUS_COLOURS.get(status, "#5b6475")
        unit = str(check.unit or "")
        limit = float(check.limit)  # type: ignore[arg-type]
        value = check.value
        interval = check.interval
        points = ([float(value)] if value is not None else []) + ([float(v) for v in interval] if interval else [])
        reach = max((abs(p - limit) for p in points), default=0.0) or max(abs(limit), 1e-3)
        lo, hi = limit - 1.15 * reach, limit + 1.15 * reach

        def x(v: float) -> float:
            return plot_x0 + (v - lo) / (hi - lo) * (plot_x1 - plot_x0)

        parts.append(f'<text x="4" y="{y + 4:.1f}" fill="#1d2330">{_svg_text(str(check.key))}</text>')
        bad_x0, bad_x1 = (x(limit), plot_x1) if check.kind == "max" else (plot_x0, x(limit))
        parts.append(f'<rect x="{bad_x0:.1f}" y="{y - 10:.1f}" width="{max(0.0, bad_x1 - bad_x0):.1f}" height="20" fill="#b42318" fill-opacity="0.07"/>')
        parts.append(f'<line x1="{plot_x0}" y1="{y:.1f}" x2="{plot_x1}" y2="{y:.1f}" stroke="#d9dee8"/>')
        parts.append(f'<line x1="{x(limit):.1f}" y1="{y - 11:.1f}" x2="{x(limit):.1f}" y2="{y + 11:.1f}" stroke="#1d2330" stroke-dasharray="3,2"/>')
        parts.append(f'<text x="{x(limit):.1f}" y="{y - 12:.1f}" font-size="9" text-anchor="middle" fill="#5b6475">{_tick(limit, unit)}</text>')
        if interval:
            a, b = x(float(interval[0])), x(float(interval[1]))
            parts.append(f'<line x1="{a:.1f}" y1="{y:.1f}" x2="{b:.1f}" y2="{y:.1f}" stroke="{colour}" stroke-width="4" stroke-linecap="round"/>')
        if value is not None:
            parts.append(f'<circle cx="{x(float(value)):.1f}" cy="{y:.1f}" r="4.5" fill="#fff" stroke="{colour}" stroke-width="2.5"/>')
        shown = "not measured" if value is None else f"{_tick(float(value), unit)}{' pts' if unit == 'points' else ''}"
        parts.append(f'<text x="{plot_x1 + 10}" y="{y + 4:.1f}" fill="{colour}" font-weight="600">{_svg_text(status)}</text>')
        parts.append(f'<text x="{width - 4}" y="{y + 4:.1f}" text-anchor="end" fill="#5b6475">{_svg_text(shown)}</text>')
    legend_y = height - 6
    parts.append(
        f'<text x="4" y="{legend_y}" font-size="9.5" fill="#5b6475">bar: 95% interval · dot: value · dashed: the limit (value above it), '
        'centred in each row · shaded: the bad side</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


_BASE_COLOUR, _SMALL_COLOUR = "#3056a0", "#c2410c"


def bias_dot_plot(rows: Sequence[Mapping[str, Any]], width: int = 760) -> str:
    """A dot plot of the association tests: each model's effect size d per test and pooling, as inline SVG.

    One row per dict of ``rows`` (``label``: the test and pooling; ``base``, ``small``: the
    effect sizes, ``None`` when undefined), all on one axis from -2 to 2 (the range of d),
    with zero marked. The base model is a filled blue dot, the small model an open orange
    one, joined by a line whose length is the change. Deterministic, dependency-free SVG;
    every label escaped.
    """
    label_w, value_w, row_h, top = 210, 130, 24, 24
    plot_x0, plot_x1 = label_w, width - value_w
    height = top + row_h * len(rows) + 26

    def x(v: float) -> float:
        return plot_x0 + (max(-2.0, min(2.0, v)) + 2.0) / 4.0 * (plot_x1 - plot_x0)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        'role="img" aria-label="Effect size d of each association test, base model against small model" '
        'font-family="DejaVu Sans, Arial, sans-serif" font-size="11">'
    ]
    for tick in (-2, -1, 0, 1, 2):
        style = 'stroke="#9aa3b5"' if tick == 0 else 'stroke="#e6e9f0" stroke-dasharray="2,3"'
        parts.append(f'<line x1="{x(tick):.1f}" y1="{top - 6}" x2="{x(tick):.1f}" y2="{height - 24}" {style}/>')
        parts.append(f'<text x="{x(tick):.1f}" y="{top - 10}" font-size="9" text-anchor="middle" fill="#5b6475">{tick:+d}</text>')
    for i, row in enumerate(rows):
        y = top + i * row_h + row_h / 2
        parts.append(f'<text x="4" y="{y + 4:.1f}" fill="#1d2330">{_svg_text(str(row["label"]))}</text>')
        base, small = row.get("base"), row.get("small")
        if base is not None and small is not None:
            parts.append(f'<line x1="{x(float(base)):.1f}" y1="{y:.1f}" x2="{x(float(small)):.1f}" y2="{y:.1f}" stroke="#5b6475" stroke-width="1.5"/>')
        if base is not None:
            parts.append(f'<circle cx="{x(float(base)):.1f}" cy="{y:.1f}" r="4.5" fill="{_BASE_COLOUR}"/>')
        if small is not None:
            parts.append(f'<circle cx="{x(float(small)):.1f}" cy="{y:.1f}" r="4.5" fill="#fff" stroke="{_SMALL_COLOUR}" stroke-width="2.5"/>')
        shown = " → ".join("–" if v is None else f"{float(v):+.2f}" for v in (base, small))
        parts.append(f'<text x="{width - 4}" y="{y + 4:.1f}" text-anchor="end" fill="#5b6475">{_svg_text(shown)}</text>')
    parts.append(
        f'<text x="{plot_x0}" y="{height - 8}" font-size="9.5" fill="#5b6475">effect size d (−2 to 2) · '
        f'<tspan fill="{_BASE_COLOUR}">● base</tspan> · <tspan fill="{_SMALL_COLOUR}">○ small</tspan> · '
        'positive: X closer to A than Y is</text>'
    )
    parts.append("</svg>")
    return "".join(parts)
