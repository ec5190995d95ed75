"""The HTML report: a view model built from the results document, rendered by Jinja2 into one self-contained file."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trustaudit._audit.document import (
    AdversarialSection,
    AssociationTest,
    AttackParams,
    AttributionSection,
    AuditDocument,
    BiasSection,
    CalibrationSection,
    ConfidenceBand,
    ConfigSection,
    EffectChange,
    EffectSize,
    Example,
    ExplainerAgreement,
    ExtrasSection,
    Feature,
    LayerCka,
    ModelInfo,
    PredictionsSection,
    RepresentationSection,
    TransferRates,
    VerdictSection,
    document_of,
)
from trustaudit._io import write_text_atomic
from trustaudit.report._shared import environment, precision_sentence, provenance_text, read_template, size_text, source_text, visible
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


def _model_view(model: ModelInfo) -> dict[str, Any]:
    view = model.values()
    view["name"] = visible(os.path.basename(str(model.path if model.path is not None else "model").rstrip("/")) or "model")
    view["size_text"] = size_text(model.bytes)
    int8 = (model.provenance or {}).get("int8_bytes")
    if int8:
        view["size_text"] += f" (float weights, re-quantized on load; int8 weights {size_text(int8)})"
    view["provenance"] = dict(model.provenance or {})
    view["provenance_text"] = provenance_text(view["provenance"])
    view["source_text"] = source_text(model.source or {})
    view["runtime_text"] = str(model.runtime or "")
    return view


def _figures(doc: AuditDocument, small_name: str, base_name: str) -> dict[str, str]:
    from trustaudit.report.plots import (
        agreement_distribution,
        figure_to_svg,
        reliability_diagram,
        similarity_heatmap,
        verdict_forest,
    )

    figures = {"reliability": "", "agreement": "", "asc_heatmap": "", "verdict": ""}
    checks = (doc.verdict.checks if doc.verdict else None) or []
    if checks:
        figures["verdict"] = verdict_forest(checks)
    calibration = doc.calibration
    if calibration is not None and calibration.available and calibration.base and calibration.small:
        fig = reliability_diagram(
            calibration.base.bins.to_bins(), calibration.small.bins.to_bins(),  # type: ignore[union-attr]
            labels=(f"base: {base_name}", f"small: {small_name}"),
        )
        figures["reliability"] = figure_to_svg(fig)
    attribution = doc.attribution
    examples = doc.examples or []
    if attribution is not None and attribution.available and examples:
        k = attribution.k
        series: dict[str, list[float]] = {}
        floors: dict[str, float] = {}
        for explainer in attribution.explainers or []:
            name = f"{explainer.upper()} feature agreement@{k}"
            values = [ex.agreement[explainer].feature_agreement for ex in examples if explainer in (ex.agreement or {})]
            if values:
                series[name] = values
                entry = attribution.explainer(explainer)
                if entry is not None and entry.floor is not None:
                    floors[name] = entry.floor
        if series:
            figures["agreement"] = figure_to_svg(agreement_distribution(series, floors))
    provenance = (doc.models.small.provenance if doc.models and doc.models.small else None) or {}
    if provenance.get("method") == "asc" and provenance.get("similarity"):
        removed = [int(i) + 1 for i in provenance.get("layers_removed", [])]
        figures["asc_heatmap"] = figure_to_svg(similarity_heatmap(provenance["similarity"], removed))
    return figures


def _highlight(text: str | None, features: Sequence[Feature], scores: Sequence[float], scale: float, segment: str) -> list[dict[str, Any]]:
    """Pieces of ``text``: plain runs and scored words with an inline background style."""
    if text is None:
        return []
    pieces: list[dict[str, Any]] = []
    cursor = 0
    spans = sorted(
        ((f.start, f.end, float(s), f.word) for f, s in zip(features, scores) if f.segment == segment),
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


def _example_view(ex: Example, label_names: Sequence[str], explainers: Sequence[str]) -> dict[str, Any]:
    base_probs, small_probs = ex.base_probs or {}, ex.small_probs or {}
    base_label = max(label_names, key=lambda name: base_probs[name])
    small_label = max(label_names, key=lambda name: small_probs[name])
    features = ex.features or []
    agreement = ex.agreement or {}
    panels = []
    for explainer in explainers:
        scores = (ex.scores or {}).get(explainer)
        if scores is None:
            continue
        by_model = {"base": scores.base or [], "small": scores.small or []}
        scale = {who: max((abs(v) for v in by_model[who]), default=0.0) for who in ("base", "small")}
        segs = []
        for segment, text in (("a", ex.text_a), ("b", ex.text_b)):
            if text is None:
                continue
            label = ("text a" if segment == "a" else "text b") if ex.text_b is not None else ""
            for who in ("base", "small"):
                segs.append((who, {"label": label, "pieces": _highlight(text, features, by_model[who], scale[who], segment)}))
        panels.append({
            "explainer": explainer.upper(),
            "base": [s for who, s in segs if who == "base"],
            "small": [s for who, s in segs if who == "small"],
        })
    summary = [(f"{e.upper()} agreement", agreement[e].feature_agreement) for e in explainers if e in agreement]
    return {
        "row": ex.row,
        "gold": ex.gold,
        "base_label": base_label,
        "small_label": small_label,
        "base_confidence": base_probs[base_label],
        "small_confidence": small_probs[small_label],
        "flip": base_label != small_label,
        "target": ex.target,
        "base_target_prob": base_probs[ex.target],
        "small_target_prob": small_probs[ex.target],
        "agreement_summary": summary,
        "panels": panels,
    }


def _floor_note(explainer: str, section: ExplainerAgreement, explained: int, seed: Any) -> str:
    """How one explainer's comparison and floor were paired, and which floors are exact."""
    if section.self_agreement is None:
        return f"{explainer.upper()}: no noise floor measured (self-agreement off)."
    if section.pairing is None:
        return (
            f"{explainer.upper()}: results written before the comparison and its floor were paired alike "
            "(both models explained with the same seed, the floor with another): the share of floor is biased upward."
        )
    other = (seed + 1) % 2**32 if isinstance(seed, int) else "s+1"
    draws, exact_because = _explainer_wording(explainer)
    note = f"{explainer.upper()}: base at seed {seed} vs small at seed {other}; floor: base at seed {seed} vs base at seed {other} (a second draw of {draws})."
    exact = section.floor_exact_examples or 0
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


def _attribution_view(attribution: AttributionSection | None, config: ConfigSection) -> dict[str, Any]:
    if attribution is None or not attribution.available:
        return {"available": False}
    k = attribution.k
    explainers = attribution.explainers or []
    entries = {name: attribution.explainer(name) or ExplainerAgreement() for name in explainers}
    rows = []
    for explainer, section in entries.items():
        metrics = section.metrics or {}
        own = (section.self_agreement.metrics if section.self_agreement else None) or {}
        for name, label, top_k in ATTRIBUTION_METRICS:
            key = f"{name}@{k}" if top_k else name
            if key not in metrics:
                continue
            stat = metrics[key]
            floor = own[key].mean if key in own else None
            rows.append({
                "explainer": explainer.upper(),
                "metric": label.replace("top-k", f"top-{k}"),
                "value": stat.mean,
                "interval": stat.interval,
                "floor": floor,
                "floor_exact": bool(section.floor_exact),
                "ratio": section.share_of_floor(key),
                "ratio_interval": section.floor_ratio_interval if key == f"feature_agreement@{k}" else None,
            })
    cross = (attribution.cross_explainer.metrics if attribution.cross_explainer else None) or {}
    cross_rows = [
        {"metric": label.replace("top-k", f"top-{k}"), "value": cross[key].mean}
        for name, label, top_k in ATTRIBUTION_METRICS[:1] + ATTRIBUTION_METRICS[5:6]
        if (key := f"{name}@{k}" if top_k else name) in cross
    ]
    params = [f"{name.upper()}: " + ", ".join(f"{key} {value}" for key, value in (section.params or {}).items()) for name, section in entries.items()]
    target = attribution.target if attribution.target is not None else "base_predicted"
    seed = attribution.seed if attribution.seed is not None else config.seed
    return {
        "available": True,
        "explained": attribution.explained,
        "seed": config.seed,
        "segment": attribution.segment if attribution.segment is not None else "both",
        "k": k,
        "target_text": "the base model predicts (both models explained for the same label)" if target == "base_predicted" else "given by the gold label",
        "rows": rows,
        "paired": all(section.pairing is not None for section in entries.values()),
        "floor_notes": [_floor_note(name, section, attribution.explained or 0, seed) for name, section in entries.items()],
        "cross_rows": cross_rows,
        "params_text": "; ".join(params),
    }


def _calibration_view(calibration: CalibrationSection | None) -> dict[str, Any]:
    if calibration is None or not calibration.available:
        return {"available": False}
    comparison = calibration.comparison or {}
    rows = []
    for key, label, about in calibration_rows(list(comparison)):
        m = comparison.get(key)
        if m is None:
            continue
        rows.append({"label": label, "base": m.base, "small": m.small, "diff": m.diff, "interval": m.interval, "p_value": m.p_value, "about": about})
    settings = calibration.settings or {}
    settings_text = ", ".join(f"{k}: {v}" for k, v in settings.items() if isinstance(v, (str, int, float)))
    return {"available": True, "rows": rows, "settings": settings, "settings_text": settings_text}


#: Flipped counterfactual examples shown in the report (the JSON keeps them all).
BIAS_EXAMPLES_SHOWN = 20


def _extras_view(extras: ExtrasSection | None) -> dict[str, Any] | None:
    """The view of the ``extras`` section (CKA and adversarial transfer); None when the results have none."""
    if extras is None:
        return None
    rep = extras.representation or RepresentationSection()
    representation: dict[str, Any] = {"available": bool(rep.available), "reason": str(rep.reason or "")}
    if representation["available"]:
        layers = rep.layers or LayerCka()
        poolings = {"[CLS]": rep.cls, "mean-pooled": rep.mean}
        representation.update(
            rows=rep.rows, row_source=rep.row_source if rep.row_source is not None else "",
            poolings=[{"name": name, **cka.values()} for name, cka in poolings.items() if cka is not None],
            layers=[{"base_state": i, "cells": row} for i, row in enumerate(layers.mean or [])],
            small_states=list(range(int(layers.small_states or 0))),
        )
    adv = extras.adversarial or AdversarialSection()
    adversarial: dict[str, Any] = {"available": bool(adv.available), "reason": str(adv.reason or "")}
    if adversarial["available"]:
        rates = adv.rates or TransferRates()
        adversarial.update(
            explainer=str(adv.explainer if adv.explainer is not None else "").upper(), attacked=adv.attacked,
            params=adv.params or AttackParams(),
            directions=[rates.base_to_small, rates.small_to_base],
            transfer_gap=adv.transfer_gap, transfer_gap_interval=adv.transfer_gap_interval,
        )
    return {"representation": representation, "adversarial": adversarial}


def _bias_view(bias: BiasSection | None) -> dict[str, Any]:
    """The Bias section: headline, a row per test and pooling, the dot plot, counterfactual flips.

    Results written before the bias comparison existed have no ``bias`` section; the view
    then says so (``predates``) instead of claiming it was turned off.
    """
    from trustaudit.report.plots import bias_dot_plot

    if bias is None:
        return {"available": False, "predates": True, "reason": ""}
    if not bias.available or bias.embedding is None:
        return {"available": False, "predates": False, "reason": str(bias.reason or "")}
    embedding = bias.embedding
    rows, dots = [], []
    for item in embedding.tests or []:
        test = item.test or AssociationTest()
        sets = {key: getattr(test, key).label if getattr(test, key) is not None else None for key in ("X", "Y", "A", "B")}
        for result in item.results or []:
            base, small = result.base or EffectSize(), result.small or EffectSize()
            change = result.change or EffectChange()
            rows.append({
                "test": test.name, "description": test.description or "", "sets": sets,
                "pooling": result.pooling,
                "base": base.effect_size, "base_p": base.p_value,
                "small": small.effect_size, "small_p": small.p_value,
                "difference": change.difference, "difference_ci": change.difference_ci,
                "absolute_ci": change.absolute_difference_ci,
            })
            dots.append({"label": f"{test.name} ({result.pooling})", "base": base.effect_size, "small": small.effect_size})
    largest = embedding.largest_change
    headline = None
    if largest is not None:
        match = next((r for r in rows if r["test"] == largest.test and r["pooling"] == largest.pooling), None)
        headline = {**largest.values(), "difference_ci": match["difference_ci"] if match else None}
    counterfactual = bias.counterfactual
    cf_view = None
    if counterfactual is not None:
        row_numbers = list(bias.rows or [])
        flipped = [e for e in counterfactual.examples or [] if e.flipped]
        shown = []
        for example in flipped[:BIAS_EXAMPLES_SHOWN]:
            index = int(example.index)  # type: ignore[arg-type]
            shown.append({
                **example.values(),
                "row": row_numbers[index] if index < len(row_numbers) else index,
                "swapped_words": ", ".join(f"{s.original} → {s.replacement}" for s in example.swaps or []),
            })
        cf_view = {**counterfactual.values(), "flipped": len(flipped), "shown": shown,
                   "pairs_text": ", ".join(f"{a} ↔ {b}" for a, b in counterfactual.swap_pairs or [])}
    return {
        "available": True, "predates": False, "reason": "",
        "headline": headline, "rows": rows, "plot": bias_dot_plot(dots), "counterfactual": cf_view,
        "templates": {kind: list(t) for kind, t in (embedding.templates or {}).items()},
        "source": embedding.source, "citation": embedding.citation,
        "n_permutations": embedding.n_permutations, "n_resamples": embedding.n_resamples,
        "seed": embedding.seed, "poolings": ", ".join(embedding.poolings or []),
    }


def _verdict_view(verdict: VerdictSection) -> dict[str, Any]:
    """The verdict section with, for every inconclusive check, how much more data would decide it."""
    from trustaudit.gate import decide_text

    view = verdict.values()
    view["status"] = verdict_status(verdict)
    view["rejudged"] = verdict.rejudged if verdict.rejudged is not None else ""
    view["css"] = {"trust-equivalent": "pass", "not trust-equivalent": "fail"}.get(view["status"], "warn")
    view["checks"] = [
        {**check.values(), "decide": decide_text(check.result()) if check.status == "inconclusive" and check.interval else ""}
        for check in verdict.checks or []
    ]
    return view


def _band_text(band: ConfidenceBand, last: bool) -> str:
    return f"[{band.low:.2f}, {band.high:.2f}{']' if last else ')'}"


def _predictions_view(predictions: PredictionsSection) -> dict[str, Any]:
    """The predictions section with the flip forensics filled in; results files older than them render without."""
    view = predictions.values()
    view["has_flip_rates"] = predictions.has_flip_rates
    view["per_class"] = list(predictions.per_class or [])
    bands = list(predictions.confidence_bands or [])
    view["confidence_bands"] = [{**band.values(), "text": _band_text(band, i == len(bands) - 1)} for i, band in enumerate(bands)]
    view["disagreements"] = [{**row.values(), "kind": row.flip_kind} for row in predictions.disagreements or []]
    counts = {kind: sum(row["kind"] == kind for row in view["disagreements"]) for kind, _ in FLIP_KINDS}
    view["flip_kinds"] = [{"value": kind, "label": label, "count": counts[kind]} for kind, label in FLIP_KINDS if counts[kind]]
    return view


def _hardware_view(doc: AuditDocument) -> dict[str, str]:
    """One sentence each for the batch size found by ``--batch-size auto`` and the precision's cost; empty when absent."""
    view = {"batch_size": "", "precision": ""}
    choice = doc.batch_size
    if choice is not None:
        tried = ", ".join(str(t.batch_size) + ("" if t.fits else " (out of memory)") for t in choice.trials or [])
        view["batch_size"] = f"{choice.chosen}, chosen by doubling on the longest inputs (tried {tried}; stopped: {choice.reason})"
    view["precision"] = precision_sentence(doc.precision)
    return view


def build_context(result: Any) -> dict[str, Any]:
    """Everything the report template needs, read from the typed sections of a results document.

    ``result`` is an :class:`~trustaudit.AuditResult`, its dict, or its
    :class:`~trustaudit._audit.document.AuditDocument`.
    """
    doc = document_of(result)
    models = doc.models
    base, small = _model_view(models.base), _model_view(models.small)
    view_models = {**models.values(), "base": base, "small": small, "same_model": base.get("fingerprint") == small.get("fingerprint")}
    label_names = doc.predictions.labels
    explainers = (doc.attribution.explainers if doc.attribution else None) or []
    examples = sorted(doc.examples or [], key=lambda ex: (-(ex.divergence if ex.divergence is not None else 0.0), ex.row))
    data = doc.data.values()
    data["name"] = os.path.basename(str(doc.data.path if doc.data.path is not None else "data"))
    data["skipped_text"] = ", ".join(f"{n} {why}" for why, n in (doc.data.skipped or {}).items())
    config = doc.config or ConfigSection()
    config_text = ", ".join(f"{k}={v}" for k, v in config.settings().items() if k != "gate")
    versions_text = ", ".join(f"{k} {v}" for k, v in (doc.versions or {}).items())
    timings_text = ", ".join(f"{k} {v:.1f} s" for k, v in (doc.timings.stages() if doc.timings else {}).items())
    return {
        "tool": doc.tool,
        "created": doc.created or "",
        "command": doc.command or "",
        "verdict": _verdict_view(doc.verdict),
        "models": view_models,
        "data": data,
        "config": config,
        "config_text": config_text,
        "versions_text": versions_text,
        "timings_text": timings_text,
        "hardware": _hardware_view(doc),
        "predictions": _predictions_view(doc.predictions),
        "calibration": _calibration_view(doc.calibration),
        "bias": _bias_view(doc.bias),
        "extras": _extras_view(doc.extras),
        "attribution": _attribution_view(doc.attribution, config),
        "examples": [_example_view(ex, label_names, explainers) for ex in examples],
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
    return environment().get_template("report.html.j2").render(**build_context(result))


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
