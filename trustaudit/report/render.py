"""Rendering an audit: the self-contained HTML report, a Markdown summary and a console summary.

Everything here reads only the results document, so ``trustaudit render results.json``
reproduces a report without touching a model. Templates autoescape; ``|safe`` is used only
for the package's own CSS, script and SVG.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from trustaudit._io import write_text_atomic
from trustaudit._resources import templates_dir

ATTRIBUTION_METRICS = (
    ("feature_agreement", "top-k feature agreement", True),
    ("rank_agreement", "top-k rank agreement", True),
    ("sign_agreement", "top-k sign agreement", True),
    ("signed_rank_agreement", "top-k signed rank agreement", True),
    ("topk_jaccard", "top-k Jaccard", True),
    ("rank_correlation", "Spearman rank correlation (all words)", False),
    ("kendall_tau", "Kendall's tau (all words)", False),
    ("pairwise_rank_agreement", "pairwise rank agreement (all words)", False),
)
CALIBRATION_ROWS = (
    ("ece", "ECE (top-label, equal width)", "expected gap between confidence and accuracy; lower is better"),
    ("ece_quantile", "ECE (equal mass)", "the same with bins of equal size; less biased"),
    ("mce", "MCE", "the largest gap of any bin"),
    ("classwise_ece", "classwise ECE", "calibration of every class probability, not only the top one"),
    ("smooth_ece", "smooth ECE", "kernel-smoothed, binning-free (Błasiok & Nakkiran 2024)"),
    ("brier", "Brier score", "squared error of the probability vector, 0 to 2"),
    ("nll", "negative log-likelihood", "log loss of the gold label"),
)


@functools.lru_cache(maxsize=1)
def _environment() -> Any:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=FileSystemLoader(str(templates_dir())),
        autoescape=select_autoescape(enabled_extensions=("html", "j2"), default=True),
        undefined=StrictUndefined,
        trim_blocks=False,
        lstrip_blocks=False,
    )
    return env


def _read(name: str) -> str:
    return (templates_dir() / name).read_text(encoding="utf-8")


def _size_text(n: int | None) -> str:
    if not n:
        return "in memory"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def _provenance_text(provenance: Mapping[str, Any]) -> str:
    if not provenance:
        return "–"
    method = provenance.get("method")
    if method == "asc":
        removed = provenance.get("layers_removed")
        return f"ASC (application-specific compression): removed encoder layers {removed} of the base, then fine-tuned"
    if method == "alad":
        return f"AlAd alignment adapter ({provenance.get('mode', '')}, window {provenance.get('window', '')}) over a compressed model"
    if method in ("quantize", "int8", "dynamic-int8"):
        return "dynamic int8 quantization of the Linear layers"
    if isinstance(method, str) and method.startswith("onnx-"):
        return _onnx_provenance_text(provenance)
    shown = {k: v for k, v in provenance.items() if isinstance(v, (str, int, float, bool)) and k != "similarity"}
    return ", ".join(f"{k}: {v}" for k, v in list(shown.items())[:8]) or "–"


def _onnx_provenance_text(provenance: Mapping[str, Any]) -> str:
    text = f"ONNX export (fp32 max |Δp| vs PyTorch {provenance.get('max_abs_dp', float('nan')):.1e})"
    if provenance.get("quantize"):
        channel = "per channel" if provenance.get("per_channel") else "per tensor"
        text += f", ONNX Runtime {provenance['quantize']} int8 quantization ({channel})"
    return text


def _source_text(model: Mapping[str, Any]) -> str:
    source = model.get("source") or {}
    if not source.get("hub_id"):
        return ""
    return f"{source['hub_id']} @ {source.get('revision', 'main')} (commit {str(source.get('commit', ''))[:12]})"


def _model_view(model: Mapping[str, Any]) -> dict[str, Any]:
    view = dict(model)
    view["name"] = os.path.basename(str(model.get("path", "model")).rstrip("/")) or "model"
    view["size_text"] = _size_text(model.get("bytes"))
    int8 = (model.get("provenance") or {}).get("int8_bytes")
    if int8:
        view["size_text"] += f" (float weights, re-quantized on load; int8 weights {_size_text(int8)})"
    view["provenance"] = dict(model.get("provenance") or {})
    view["provenance_text"] = _provenance_text(view["provenance"])
    view["source_text"] = _source_text(model)
    view["runtime_text"] = str(model.get("runtime") or "")
    return view


def _bins(data: Mapping[str, Any]) -> Any:
    from trustaudit.metrics import ReliabilityBins

    def arr(key: str) -> np.ndarray:
        return np.array([np.nan if v is None else v for v in data[key]], dtype=np.float64)

    return ReliabilityBins(
        edges=arr("edges"),
        counts=np.asarray(data["counts"], dtype=np.int64),
        mean_confidence=arr("mean_confidence"),
        accuracy=arr("accuracy"),
        ci_low=arr("ci_low"),
        ci_high=arr("ci_high"),
        n_bins=int(data["n_bins"]),
        strategy=str(data["strategy"]),
        ci_level=float(data["ci_level"]),
    )


def _figures(doc: Mapping[str, Any], small_name: str, base_name: str) -> dict[str, str]:
    from trustaudit.report.plots import agreement_distribution, figure_to_svg, reliability_diagram, similarity_heatmap

    figures = {"reliability": "", "agreement": "", "asc_heatmap": ""}
    calibration = doc.get("calibration") or {}
    if calibration.get("available"):
        fig = reliability_diagram(_bins(calibration["base"]["bins"]), _bins(calibration["small"]["bins"]), labels=(f"base: {base_name}", f"small: {small_name}"))
        figures["reliability"] = figure_to_svg(fig)
    attribution = doc.get("attribution") or {}
    examples = doc.get("examples") or []
    if attribution.get("available") and examples:
        k = attribution["k"]
        series: dict[str, list[float]] = {}
        floors: dict[str, float] = {}
        for explainer in attribution.get("explainers", []):
            name = f"{explainer.upper()} feature agreement@{k}"
            values = [ex["agreement"][explainer]["feature_agreement"] for ex in examples if explainer in ex.get("agreement", {})]
            if values:
                series[name] = values
                floor = (attribution.get(explainer) or {}).get("floor")
                if floor is not None:
                    floors[name] = floor
        if series:
            figures["agreement"] = figure_to_svg(agreement_distribution(series, floors))
    provenance = (doc.get("models", {}).get("small", {}) or {}).get("provenance") or {}
    if provenance.get("method") == "asc" and provenance.get("similarity"):
        removed = [int(i) + 1 for i in provenance.get("layers_removed", [])]
        figures["asc_heatmap"] = figure_to_svg(similarity_heatmap(provenance["similarity"], removed))
    return figures


def _highlight(text: str | None, features: Sequence[Mapping[str, Any]], scores: Sequence[float], scale: float, segment: str) -> list[dict[str, Any]]:
    """Pieces of ``text``: plain runs and scored words with an inline background style."""
    if text is None:
        return []
    pieces: list[dict[str, Any]] = []
    cursor = 0
    spans = sorted(
        ((f["start"], f["end"], float(s), f["word"]) for f, s in zip(features, scores) if f["segment"] == segment),
        key=lambda item: item[0],
    )
    for start, end, score, word in spans:
        if start > cursor:
            pieces.append({"text": text[cursor:start], "score": None})
        alpha = 0.0 if scale <= 0 else min(1.0, abs(score) / scale) * 0.8
        colour = "--pos" if score >= 0 else "--neg"
        pieces.append({
            "text": text[start:end],
            "score": score,
            "style": f"background: rgba(var({colour}), {alpha:.2f})",
            "title": f"{word}: {score:+.4f}",
        })
        cursor = end
    if cursor < len(text):
        pieces.append({"text": text[cursor:], "score": None})
    return pieces


def _example_view(ex: Mapping[str, Any], labels: Sequence[str], explainers: Sequence[str]) -> dict[str, Any]:
    base_probs, small_probs = ex["base_probs"], ex["small_probs"]
    base_label = max(labels, key=lambda name: base_probs[name])
    small_label = max(labels, key=lambda name: small_probs[name])
    features = ex["features"]
    panels = []
    for explainer in explainers:
        scores = ex["scores"].get(explainer)
        if not scores:
            continue
        scale = {who: max((abs(v) for v in scores[who]), default=0.0) for who in ("base", "small")}
        segs = []
        for segment, text in (("a", ex["text_a"]), ("b", ex.get("text_b"))):
            if text is None:
                continue
            label = ("text a" if segment == "a" else "text b") if ex.get("text_b") is not None else ""
            for who in ("base", "small"):
                segs.append((who, {"label": label, "pieces": _highlight(text, features, scores[who], scale[who], segment)}))
        panels.append({
            "explainer": explainer.upper(),
            "base": [s for who, s in segs if who == "base"],
            "small": [s for who, s in segs if who == "small"],
        })
    summary = [(f"{e.upper()} agreement", ex["agreement"][e]["feature_agreement"]) for e in explainers if e in ex.get("agreement", {})]
    return {
        "row": ex["row"],
        "gold": ex.get("gold"),
        "base_label": base_label,
        "small_label": small_label,
        "base_confidence": base_probs[base_label],
        "small_confidence": small_probs[small_label],
        "flip": base_label != small_label,
        "target": ex["target"],
        "base_target_prob": base_probs[ex["target"]],
        "small_target_prob": small_probs[ex["target"]],
        "agreement_summary": summary,
        "panels": panels,
    }


def _attribution_view(attribution: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    if not attribution.get("available"):
        return {"available": False}
    k = attribution["k"]
    rows = []
    for explainer in attribution.get("explainers", []):
        section = attribution.get(explainer) or {}
        metrics = section.get("metrics", {})
        own = (section.get("self_agreement") or {}).get("metrics", {})
        for name, label, top_k in ATTRIBUTION_METRICS:
            key = f"{name}@{k}" if top_k else name
            if key not in metrics:
                continue
            stat = metrics[key]
            floor = (own.get(key) or {}).get("mean")
            ratio = stat["mean"] / floor if floor not in (None, 0) and stat["mean"] is not None else None
            interval = [stat["ci_low"], stat["ci_high"]] if stat.get("ci_low") is not None else None
            rows.append({
                "explainer": explainer.upper(),
                "metric": label.replace("top-k", f"top-{k}"),
                "value": stat["mean"],
                "interval": interval,
                "floor": floor,
                "ratio": ratio,
            })
    cross = (attribution.get("cross_explainer") or {}).get("metrics", {})
    cross_rows = [
        {"metric": label.replace("top-k", f"top-{k}"), "value": cross[key]["mean"]}
        for name, label, top_k in ATTRIBUTION_METRICS[:1] + ATTRIBUTION_METRICS[5:6]
        if (key := f"{name}@{k}" if top_k else name) in cross
    ]
    params = []
    for explainer in attribution.get("explainers", []):
        section = attribution.get(explainer) or {}
        p = section.get("params") or {}
        params.append(f"{explainer.upper()}: " + ", ".join(f"{key} {value}" for key, value in p.items()))
    target = attribution.get("target", "base_predicted")
    return {
        "available": True,
        "explained": attribution["explained"],
        "seed": config.get("seed"),
        "segment": attribution.get("segment", "both"),
        "k": k,
        "target_text": "the base model predicts (both models explained for the same label)" if target == "base_predicted" else "given by the gold label",
        "rows": rows,
        "cross_rows": cross_rows,
        "params_text": "; ".join(params),
    }


def _calibration_view(calibration: Mapping[str, Any]) -> dict[str, Any]:
    if not calibration.get("available"):
        return {"available": False}
    rows = []
    for key, label, about in CALIBRATION_ROWS:
        m = calibration["comparison"].get(key)
        if m is None:
            continue
        interval = [m["ci_low"], m["ci_high"]] if m.get("ci_low") is not None else None
        rows.append({"label": label, "base": m["base"], "small": m["small"], "diff": m["diff"], "interval": interval, "p_value": m.get("p_value"), "about": about})
    settings = calibration.get("settings", {})
    settings_text = ", ".join(f"{k}: {v}" for k, v in settings.items() if isinstance(v, (str, int, float)))
    return {"available": True, "rows": rows, "settings": settings, "settings_text": settings_text}


def build_context(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Everything the report template needs, derived from a results document."""
    models = doc["models"]
    base, small = _model_view(models["base"]), _model_view(models["small"])
    view_models = {**models, "base": base, "small": small}
    labels = doc["predictions"]["labels"]
    attribution = doc.get("attribution") or {}
    explainers = attribution.get("explainers", [])
    examples = sorted(doc.get("examples") or [], key=lambda ex: (-ex.get("divergence", 0.0), ex["row"]))
    data = dict(doc["data"])
    data["name"] = os.path.basename(str(data.get("path", "data")))
    data["skipped_text"] = ", ".join(f"{n} {why}" for why, n in (data.get("skipped") or {}).items())
    config = doc["config"]
    config_text = ", ".join(f"{k}={v}" for k, v in config.items() if k != "gate")
    versions_text = ", ".join(f"{k} {v}" for k, v in doc.get("versions", {}).items())
    timings_text = ", ".join(f"{k} {v:.1f} s" for k, v in doc.get("timings", {}).items())
    return {
        "tool": doc["tool"],
        "created": doc.get("created", ""),
        "command": doc.get("command", ""),
        "verdict": doc["verdict"],
        "models": view_models,
        "data": data,
        "config": config,
        "config_text": config_text,
        "versions_text": versions_text,
        "timings_text": timings_text,
        "predictions": doc["predictions"],
        "calibration": _calibration_view(doc.get("calibration") or {}),
        "attribution": _attribution_view(attribution, config),
        "examples": [_example_view(ex, labels, explainers) for ex in examples],
        "figures": _figures(doc, small["name"], base["name"]),
        "css": _read("report.css"),
        "script": _read("report.js"),
    }


def render_html(result: Any) -> str:
    """The self-contained HTML report of an :class:`~trustaudit.AuditResult` (or its dict)."""
    doc = result.to_dict() if hasattr(result, "to_dict") else result
    return _environment().get_template("report.html.j2").render(**build_context(doc))


def write_report(result: Any, path: str | os.PathLike[str]) -> Path:
    """Write the HTML report atomically (temporary file, then rename)."""
    write_text_atomic(path, render_html(result))
    return Path(path)


def _fmt(value: Any, style: str = "num") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if style == "pct":
        return f"{100 * value:.1f}%"
    if style == "pts":
        return f"{100 * value:+.2f} pts"
    return f"{value:.3f}"


def key_numbers(doc: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(measure, base, small) rows summarising an audit, shared by the text and Markdown summaries."""
    p, c, a = doc["predictions"], doc.get("calibration") or {}, doc.get("attribution") or {}
    rows = [
        ("accuracy", _fmt(p["base"]["accuracy"], "pct"), _fmt(p["small"]["accuracy"], "pct")),
        ("prediction agreement", "", f"{_fmt(p['agreement'], 'pct')} ({p['flips']} flips)"),
    ]
    if c.get("available"):
        rows.append(("ECE", _fmt(c["base"]["ece"]), _fmt(c["small"]["ece"])))
        rows.append(("Brier", _fmt(c["base"]["brier"]), _fmt(c["small"]["brier"])))
    for explainer in a.get("explainers", []) if a.get("available") else []:
        section = a.get(explainer) or {}
        floor = section.get("floor")
        rows.append((
            f"{explainer.upper()} top-{a['k']} feature agreement",
            f"floor {_fmt(floor)}" if floor is not None else "",
            _fmt(section.get("feature_agreement")),
        ))
    models = doc["models"]
    rows.append(("parameters", f"{models['base']['parameters']:,}", f"{models['small']['parameters']:,}"))
    rows.append(("speed-up (batch 1)", "", f"{models['speedup_batch1']:.2f}x"))
    return rows


def summary_text(result: Any, report: str | None = None, json_path: str | None = None) -> str:
    """A one-screen console summary: verdict, key numbers, failed checks, where the report is."""
    doc = result.to_dict() if hasattr(result, "to_dict") else result
    verdict = doc["verdict"]
    lines = [
        f"trustaudit: {'TRUST-EQUIVALENT' if verdict['passed'] else 'NOT TRUST-EQUIVALENT'}"
        f"  ({os.path.basename(doc['models']['small']['path'])} vs {os.path.basename(doc['models']['base']['path'])}, {doc['data']['rows_used']:,} rows)",
        "",
        f"  {'':34}{'base':>16}{'small':>22}",
    ]
    for name, base, small in key_numbers(doc):
        lines.append(f"  {name:34}{base:>16}{small:>22}")
    lines.append("")
    for check in verdict["checks"]:
        mark = {"pass": "ok  ", "fail": "FAIL", "skipped": "skip"}[check["status"]]
        lines.append(f"  [{mark}] {check['message']}")
    if report:
        lines += ["", f"  report: {report}"]
    if json_path:
        lines.append(f"  results: {json_path}")
    return "\n".join(lines)


def summary_markdown(result: Any, report: str | None = None) -> str:
    """A Markdown summary for a pull-request comment."""
    doc = result.to_dict() if hasattr(result, "to_dict") else result
    verdict = doc["verdict"]
    icon = "✅" if verdict["passed"] else "❌"
    title = "trust-equivalent" if verdict["passed"] else "not trust-equivalent"
    lines = [
        f"### {icon} trustaudit: `{os.path.basename(doc['models']['small']['path'])}` is {title} to `{os.path.basename(doc['models']['base']['path'])}`",
        "",
        verdict["sentence"],
        "",
        "| measure | base | small |",
        "| --- | ---: | ---: |",
    ]
    lines += [f"| {name} | {base} | {small} |" for name, base, small in key_numbers(doc)]
    lines += ["", "| check | value | limit | result |", "| --- | ---: | ---: | --- |"]
    for check in verdict["checks"]:
        value = "–" if check["value"] is None else f"{check['value']:.4f}"
        relation = "≤" if check["kind"] == "max" else "≥"
        lines.append(f"| `{check['key']}` | {value} | {relation} {check['limit']:g} | {check['status']} |")
    lines.append("")
    lines.append(f"{doc['data']['rows_used']:,} rows of `{os.path.basename(doc['data']['path'])}`; thresholds from {verdict['source']}."
                 + (f" Full report: `{report}`." if report else ""))
    return "\n".join(lines) + "\n"


def index_row(result: Any, href: str | None = None, name: str | None = None, description: str = "") -> dict[str, Any]:
    """One row of an index page: the key numbers of one audit."""
    doc = result.to_dict() if hasattr(result, "to_dict") else result
    models, p = doc["models"], doc["predictions"]
    c, a = doc.get("calibration") or {}, doc.get("attribution") or {}
    base_bytes = models["base"].get("bytes") or 0
    small_bytes = (models["small"].get("provenance") or {}).get("int8_bytes") or models["small"].get("bytes") or 0
    size_ratio = small_bytes / base_bytes if base_bytes and small_bytes else models.get("param_ratio")

    def explainer(name_: str, key: str) -> float | None:
        return (a.get(name_) or {}).get(key) if a.get("available") else None

    return {
        "name": name or os.path.basename(str(models["small"]["path"])),
        "description": description or _provenance_text(models["small"].get("provenance") or {}),
        "href": href,
        "data": os.path.basename(str(doc["data"]["path"])),
        "rows": doc["data"]["rows_used"],
        "explained": a.get("explained", 0),
        "base_accuracy": p["base"]["accuracy"],
        "small_accuracy": p["small"]["accuracy"],
        "agreement": p["agreement"],
        "base_ece": c.get("base", {}).get("ece"),
        "small_ece": c.get("small", {}).get("ece"),
        "base_brier": c.get("base", {}).get("brier"),
        "small_brier": c.get("small", {}).get("brier"),
        "lime": explainer("lime", "feature_agreement"),
        "lime_floor": explainer("lime", "floor"),
        "shap": explainer("shap", "feature_agreement"),
        "shap_floor": explainer("shap", "floor"),
        "size_ratio": size_ratio,
        "speedup": models.get("speedup_batch1"),
        "passed": doc["verdict"]["passed"],
        "failed": [c_["key"] for c_ in doc["verdict"]["checks"] if c_["status"] == "fail"],
    }


def render_index(rows: Sequence[Mapping[str, Any]], title: str = "trustaudit: audits", intro: str = "") -> str:
    """An HTML page tabulating several audits (rows from :func:`index_row`), linking each report."""
    from trustaudit._version import __version__

    return _environment().get_template("index.html.j2").render(
        rows=list(rows), title=title, intro=intro, version=__version__, css=_read("report.css"), script=_read("report.js")
    )
