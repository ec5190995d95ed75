"""The HTML report: a view model built from the results document, rendered by Jinja2 into one self-contained file."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from trustaudit._io import write_text_atomic
from trustaudit.report._shared import environment, provenance_text, read_template, size_text, source_text, visible
from trustaudit.report.text import verdict_status

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


def calibration_rows(compared: Sequence[str] = ()) -> list[tuple[str, str, str]]:
    """(result key, label, explanation) of each row of the calibration table, from the metric registry.

    Registered calibration metrics come first, in registry order; a metric of ``compared``
    (the results document's comparison keys) that is not registered now, say one registered
    only while the audit ran, follows under its key.
    """
    from trustaudit.metrics import metrics_in

    rows = [(spec.key, spec.long_label, spec.explanation) for spec in metrics_in("calibration")]
    known = {key for key, _, _ in rows}
    return rows + [(key, key, "") for key in compared if key not in known]


#: Kinds of rows where the predictions differ, as the "Where they differ" filter offers them.
FLIP_KINDS = (
    ("negative", "negative: base right, small wrong"),
    ("positive", "positive: small right, base wrong"),
    ("both wrong", "both wrong"),
    ("unlabelled", "no gold label"),
)


_FLIP_KEYS = (
    "negative_flip_rate", "negative_flip_rate_interval", "positive_flip_rate", "positive_flip_rate_interval",
    "negative_flips", "positive_flips", "worst_class_recall_drop", "worst_class_recall_drop_interval", "worst_class",
)


def _model_view(model: Mapping[str, Any]) -> dict[str, Any]:
    view = dict(model)
    view["name"] = visible(os.path.basename(str(model.get("path", "model")).rstrip("/")) or "model")
    view["size_text"] = size_text(model.get("bytes"))
    int8 = (model.get("provenance") or {}).get("int8_bytes")
    if int8:
        view["size_text"] += f" (float weights, re-quantized on load; int8 weights {size_text(int8)})"
    view["provenance"] = dict(model.get("provenance") or {})
    view["provenance_text"] = provenance_text(view["provenance"])
    view["source_text"] = source_text(model)
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
    from trustaudit.report.plots import (
        agreement_distribution,
        figure_to_svg,
        reliability_diagram,
        similarity_heatmap,
        verdict_forest,
    )

    figures = {"reliability": "", "agreement": "", "asc_heatmap": "", "verdict": ""}
    checks = (doc.get("verdict") or {}).get("checks") or []
    if checks:
        figures["verdict"] = verdict_forest(checks)
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
            "title": f"{visible(word)}: {score:+.4f}",
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


def _share_of_floor(section: Mapping[str, Any], key: str, value: float | None, floor: float | None) -> float | None:
    """The results' own share of floor for ``key`` (documents without ``floor_ratios``: the same guarded rule)."""
    ratios = section.get("floor_ratios")
    if ratios is not None:
        return ratios.get(key)
    if value is None or floor is None:
        return None
    from trustaudit.metrics import fraction_of_floor

    ratio = fraction_of_floor(value, floor)
    return None if math.isnan(ratio) else float(ratio)


def _floor_note(explainer: str, section: Mapping[str, Any], explained: int, seed: Any) -> str:
    """How one explainer's comparison and floor were paired, and which floors are exact."""
    if section.get("self_agreement") is None:
        return f"{explainer.upper()}: no noise floor measured (self-agreement off)."
    if "pairing" not in section:
        return (
            f"{explainer.upper()}: results written before the comparison and its floor were paired alike "
            "(both models explained with the same seed, the floor with another): the share of floor is biased upward."
        )
    other = (seed + 1) % 2**32 if isinstance(seed, int) else "s+1"
    draws, exact_because = _explainer_wording(explainer)
    note = f"{explainer.upper()}: base at seed {seed} vs small at seed {other}; floor: base at seed {seed} vs base at seed {other} (a second draw of {draws})."
    exact = section.get("floor_exact_examples") or 0
    if exact:
        where = "every example" if exact == explained else f"{exact} of {explained} examples"
        note += f" Exact on {where}: {exact_because}, so the floor is exact by construction."
    return note


def _explainer_wording(name: str) -> tuple[str, str]:
    """What a second seed redraws and why a deterministic floor is exact, as the registered explainer says.

    Results of an explainer not registered in this process get neutral wording.
    """
    from trustaudit.explain import explainer_names, get_explainer

    if name not in explainer_names():
        return "its random choices", "the explanation does not depend on the seed"
    explainer = get_explainer(name)
    return explainer.draws, explainer.exact_because


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
            interval = [stat["ci_low"], stat["ci_high"]] if stat.get("ci_low") is not None else None
            rows.append({
                "explainer": explainer.upper(),
                "metric": label.replace("top-k", f"top-{k}"),
                "value": stat["mean"],
                "interval": interval,
                "floor": floor,
                "floor_exact": bool(section.get("floor_exact")),
                "ratio": _share_of_floor(section, key, stat["mean"], floor),
                "ratio_interval": section.get("floor_ratio_interval") if key == f"feature_agreement@{k}" else None,
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
        "paired": all("pairing" in (attribution.get(name) or {}) for name in attribution.get("explainers", [])),
        "floor_notes": [
            _floor_note(name, attribution.get(name) or {}, attribution["explained"], attribution.get("seed", config.get("seed")))
            for name in attribution.get("explainers", [])
        ],
        "cross_rows": cross_rows,
        "params_text": "; ".join(params),
    }


def _calibration_view(calibration: Mapping[str, Any]) -> dict[str, Any]:
    if not calibration.get("available"):
        return {"available": False}
    rows = []
    for key, label, about in calibration_rows(list(calibration["comparison"])):
        m = calibration["comparison"].get(key)
        if m is None:
            continue
        interval = [m["ci_low"], m["ci_high"]] if m.get("ci_low") is not None else None
        rows.append({"label": label, "base": m["base"], "small": m["small"], "diff": m["diff"], "interval": interval, "p_value": m.get("p_value"), "about": about})
    settings = calibration.get("settings", {})
    settings_text = ", ".join(f"{k}: {v}" for k, v in settings.items() if isinstance(v, (str, int, float)))
    return {"available": True, "rows": rows, "settings": settings, "settings_text": settings_text}


#: Flipped counterfactual examples shown in the report (the JSON keeps them all).
BIAS_EXAMPLES_SHOWN = 20


def _extras_view(extras: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The view of the ``extras`` section (CKA and adversarial transfer); None when the results have none."""
    if extras is None:
        return None
    rep = extras.get("representation") or {}
    representation: dict[str, Any] = {"available": bool(rep.get("available")), "reason": str(rep.get("reason") or "")}
    if representation["available"]:
        layers = rep.get("layers") or {}
        representation.update(
            rows=rep["rows"], row_source=rep.get("row_source", ""),
            poolings=[{"name": {"cls": "[CLS]", "mean": "mean-pooled"}[k], **rep[k]} for k in ("cls", "mean") if k in rep],
            layers=[{"base_state": i, "cells": row} for i, row in enumerate(layers.get("mean") or [])],
            small_states=list(range(int(layers.get("small_states") or 0))),
        )
    adv = extras.get("adversarial") or {}
    adversarial: dict[str, Any] = {"available": bool(adv.get("available")), "reason": str(adv.get("reason") or "")}
    if adversarial["available"]:
        rates = adv["rates"]
        adversarial.update(
            explainer=str(adv.get("explainer", "")).upper(), attacked=adv.get("attacked"), params=adv.get("params") or {},
            directions=[rates["base_to_small"], rates["small_to_base"]],
            transfer_gap=adv.get("transfer_gap"), transfer_gap_interval=adv.get("transfer_gap_interval"),
        )
    return {"representation": representation, "adversarial": adversarial}


def _bias_view(bias: Mapping[str, Any] | None) -> dict[str, Any]:
    """The Bias section: headline, a row per test and pooling, the dot plot, counterfactual flips.

    Results written before the bias comparison existed have no ``bias`` section; the view
    then says so (``predates``) instead of claiming it was turned off.
    """
    from trustaudit.report.plots import bias_dot_plot

    if bias is None:
        return {"available": False, "predates": True, "reason": ""}
    if not bias.get("available"):
        return {"available": False, "predates": False, "reason": str(bias.get("reason") or "")}
    embedding = bias["embedding"]
    rows, dots = [], []
    for item in embedding["tests"]:
        test = item["test"]
        sets = {key: test[key]["label"] for key in ("X", "Y", "A", "B")}
        for result in item["results"]:
            change = result["change"]
            label = f"{test['name']} ({result['pooling']})"
            rows.append({
                "test": test["name"], "description": test.get("description") or "", "sets": sets,
                "pooling": result["pooling"],
                "base": result["base"]["effect_size"], "base_p": result["base"]["p_value"],
                "small": result["small"]["effect_size"], "small_p": result["small"]["p_value"],
                "difference": change["difference"], "difference_ci": change["difference_ci"],
                "absolute_ci": change["absolute_difference_ci"],
            })
            dots.append({"label": label, "base": result["base"]["effect_size"], "small": result["small"]["effect_size"]})
    largest = embedding.get("largest_change")
    headline = None
    if largest:
        match = next((r for r in rows if r["test"] == largest["test"] and r["pooling"] == largest["pooling"]), None)
        headline = {**largest, "difference_ci": match["difference_ci"] if match else None}
    counterfactual = bias.get("counterfactual")
    cf_view = None
    if counterfactual is not None:
        row_numbers = list(bias.get("rows") or [])
        flipped = [e for e in counterfactual["examples"]
                   if e["base_before"] != e["base_after"] or e["small_before"] != e["small_after"]]
        shown = []
        for example in flipped[:BIAS_EXAMPLES_SHOWN]:
            index = int(example["index"])
            shown.append({
                **example,
                "row": row_numbers[index] if index < len(row_numbers) else index,
                "swapped_words": ", ".join(f"{s['original']} → {s['replacement']}" for s in example["swaps"]),
            })
        cf_view = {**counterfactual, "flipped": len(flipped), "shown": shown,
                   "pairs_text": ", ".join(f"{a} ↔ {b}" for a, b in counterfactual["swap_pairs"])}
    return {
        "available": True, "predates": False, "reason": "",
        "headline": headline, "rows": rows, "plot": bias_dot_plot(dots), "counterfactual": cf_view,
        "templates": {kind: list(t) for kind, t in embedding["templates"].items()},
        "source": embedding["source"], "citation": embedding["citation"],
        "n_permutations": embedding["n_permutations"], "n_resamples": embedding["n_resamples"],
        "seed": embedding["seed"], "poolings": ", ".join(embedding["poolings"]),
    }


def _verdict_view(verdict: Mapping[str, Any]) -> dict[str, Any]:
    """The verdict section with, for every inconclusive check, how much more data would decide it."""
    from trustaudit.gate import CheckResult, decide_text

    view = dict(verdict)
    status = verdict_status(verdict)
    view["status"] = status
    view.setdefault("rejudged", "")
    view["css"] = {"trust-equivalent": "pass", "not trust-equivalent": "fail"}.get(status, "warn")
    checks = []
    for check in verdict["checks"]:
        item = dict(check)
        item["decide"] = decide_text(CheckResult.from_dict(check)) if check["status"] == "inconclusive" and check.get("interval") else ""
        checks.append(item)
    view["checks"] = checks
    return view


def _flip_kind(row: Mapping[str, Any]) -> str:
    """A disagreement's kind, derived from its labels in results written before it was stored."""
    if row.get("kind"):
        return str(row["kind"])
    if row.get("gold") is None:
        return "unlabelled"
    if row["base"] == row["gold"]:
        return "negative"
    return "positive" if row["small"] == row["gold"] else "both wrong"


def _band_text(band: Mapping[str, Any], last: bool) -> str:
    return f"[{band['low']:.2f}, {band['high']:.2f}{']' if last else ')'}"


def _predictions_view(predictions: Mapping[str, Any]) -> dict[str, Any]:
    """The predictions section with the flip forensics filled in; results files older than them render without."""
    view = dict(predictions)
    view["has_flip_rates"] = "negative_flip_rate" in predictions
    for key in _FLIP_KEYS:
        view.setdefault(key, None)
    view["per_class"] = list(predictions.get("per_class") or [])
    bands = list(predictions.get("confidence_bands") or [])
    view["confidence_bands"] = [{**band, "text": _band_text(band, i == len(bands) - 1)} for i, band in enumerate(bands)]
    view["disagreements"] = [{**row, "kind": _flip_kind(row)} for row in predictions.get("disagreements") or []]
    counts = {kind: sum(row["kind"] == kind for row in view["disagreements"]) for kind, _ in FLIP_KINDS}
    view["flip_kinds"] = [{"value": kind, "label": label, "count": counts[kind]} for kind, label in FLIP_KINDS if counts[kind]]
    return view


def _small_number(value: float) -> str:
    return f"{value:.4f}" if value == 0 or value >= 1e-4 else f"{value:.1e}"


def _hardware_view(doc: Mapping[str, Any]) -> dict[str, str]:
    """One sentence each for the batch size found by ``--batch-size auto`` and the precision's cost; empty when absent."""
    view = {"batch_size": "", "precision": ""}
    choice = doc.get("batch_size")
    if choice:
        tried = ", ".join(str(t["batch_size"]) + ("" if t["fits"] else " (out of memory)") for t in choice.get("trials", []))
        view["batch_size"] = f"{choice['chosen']}, chosen by doubling on the longest inputs (tried {tried}; stopped: {choice['reason']})"
    check = doc.get("precision")
    if check:
        names = list(check["max_abs_diff"])
        diffs = ", ".join(f"{_small_number(check['max_abs_diff'][n])} ({n})" for n in names)
        view["precision"] = f"forward passes in {check['precision']}: max |Δp| vs fp32 = {diffs} over {check['rows']} rows"
        changed = check.get("changed_predictions")
        if changed:
            view["precision"] += "; predictions that differ from fp32: " + ", ".join(f"{changed[n]} ({n})" for n in names)
    return view


def build_context(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Everything the report template needs, derived from a results document."""
    models = doc["models"]
    base, small = _model_view(models["base"]), _model_view(models["small"])
    view_models = {**models, "base": base, "small": small, "same_model": base.get("fingerprint") == small.get("fingerprint")}
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
        "verdict": _verdict_view(doc["verdict"]),
        "models": view_models,
        "data": data,
        "config": config,
        "config_text": config_text,
        "versions_text": versions_text,
        "timings_text": timings_text,
        "hardware": _hardware_view(doc),
        "predictions": _predictions_view(doc["predictions"]),
        "calibration": _calibration_view(doc.get("calibration") or {}),
        "bias": _bias_view(doc.get("bias")),
        "extras": _extras_view(doc.get("extras")),
        "attribution": _attribution_view(attribution, config),
        "examples": [_example_view(ex, labels, explainers) for ex in examples],
        "figures": _figures(doc, small["name"], base["name"]),
        "css": read_template("report.css"),
        "script": read_template("report.js"),
    }


def render_html(result: Any) -> str:
    """The self-contained HTML report of an :class:`~trustaudit.AuditResult` (or its dict).

    Parameters
    ----------
    result : AuditResult or dict
        An audit's results, or their dict (``AuditResult.to_dict()``, a results JSON).

    Returns
    -------
    str
        One HTML page with inline CSS, SVG figures and script; it loads nothing from the
        network.

    Examples
    --------
    >>> from trustaudit import AuditResult, render_html
    >>> html = render_html(AuditResult.read_json("results.json"))  # doctest: +SKIP
    >>> html.startswith("<!DOCTYPE html>")  # doctest: +SKIP
    True
    """
    doc = result.to_dict() if hasattr(result, "to_dict") else result
    return environment().get_template("report.html.j2").render(**build_context(doc))


def write_report(result: Any, path: str | os.PathLike[str]) -> Path:
    """Write the HTML report atomically (temporary file, then rename).

    Parameters
    ----------
    result : AuditResult or dict
        An audit's results, or their dict (``AuditResult.to_dict()``, a results JSON).
    path : str or path-like
        The HTML file to write; an existing file is replaced.

    Returns
    -------
    Path
        ``path``.

    Examples
    --------
    >>> from trustaudit import AuditResult, write_report
    >>> write_report(AuditResult.read_json("results.json"), "report.html")  # doctest: +SKIP
    PosixPath('report.html')
    """
    write_text_atomic(path, render_html(result))
    return Path(path)


__all__ = ["build_context", "render_html", "write_report"]
