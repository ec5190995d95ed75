"""The console summary and the Markdown summary (for a pull-request comment) of an audit."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from trustaudit._audit.document import VerdictSection, document_of
from trustaudit.report._shared import fmt, no_negative_zero, precision_sentence, visible


def key_numbers(result: Any) -> list[tuple[str, str, str]]:
    """(measure, base, small) rows summarising an audit, shared by the text and Markdown summaries.

    ``result`` is an :class:`~trustaudit.AuditResult`, its dict, or its typed document.
    """
    doc = document_of(result)
    p, c, a = doc.predictions, doc.calibration, doc.attribution
    rows = [
        ("accuracy", fmt(p.base.accuracy, "pct"), fmt(p.small.accuracy, "pct")),
        ("prediction agreement", "", f"{fmt(p.agreement, 'pct')} ({p.flips} flips)"),
    ]
    if p.negative_flip_rate is not None:
        rows.append(("negative flips (base right, small wrong)", "", f"{fmt(p.negative_flip_rate, 'pct')} ({p.negative_flips} rows)"))
    if c is not None and c.available:
        rows.append(("ECE", fmt(c.base.ece), fmt(c.small.ece)))
        rows.append(("Brier", fmt(c.base.brier), fmt(c.small.brier)))
    for explainer in (a.explainers or []) if a is not None and a.available else []:
        section = a.explainer(explainer)
        floor = section.floor if section else None
        rows.append((
            f"{explainer.upper()} top-{a.k} feature agreement",
            f"floor {fmt(floor)}" if floor is not None else "",
            fmt(section.feature_agreement if section else None),
        ))
    bias = doc.bias
    largest = bias.embedding.largest_change if bias is not None and bias.available and bias.embedding is not None else None
    if largest is not None:
        delta = no_negative_zero(f"{largest.difference:+.3f}", signed=True)
        rows.append((
            "largest change in bias (d)",
            fmt(largest.base),
            f"{fmt(largest.small)} (Δ {delta})",
        ))
    models = doc.models
    rows.append(("parameters", f"{models.base.parameters:,}", f"{models.small.parameters:,}"))
    rows.append(("speed-up (batch 1)", "", f"{models.speedup_batch1:.2f}x"))
    return rows


STATUS_MARKS = {"pass": "ok  ", "fail": "FAIL", "inconclusive": "open", "not measured": "n/m "}


VERDICT_ICONS = {"trust-equivalent": "✅", "not trust-equivalent": "❌", "inconclusive": "⚠️", "incomplete": "❔"}


def verdict_status(verdict: VerdictSection | Mapping[str, Any]) -> str:
    """The four-valued verdict of a results document's ``verdict`` section (typed, or its dict)."""
    return str(verdict.status if isinstance(verdict, VerdictSection) else verdict["status"])


def input_notes(result: Any) -> list[str]:
    """Lines about the inputs a reader should know of: rows left out, truncated inputs, a model compared with itself,
    and what a reduced precision (``--precision bf16|fp16``) cost against fp32."""
    doc = document_of(result)
    data, p, models = doc.data, doc.predictions, doc.models
    notes = []
    if data.rows_skipped:
        reasons = ", ".join(f"{n:,} {why}" for why, n in (data.skipped or {}).items())
        notes.append(f"rows left out: {data.rows_skipped:,} ({reasons})")
    notes.append(
        f"inputs truncated: base {p.base.n_truncated:,} at {models.base.max_length} tokens, "
        f"small {p.small.n_truncated:,} at {models.small.max_length} tokens"
    )
    if models.base.fingerprint == models.small.fingerprint:
        notes.append("both models have the same weights: this audit compares a model with itself")
    if doc.precision is not None:
        notes.append(precision_sentence(doc.precision))
    return notes + [""]


def _md_code(text: str, table: bool = False) -> str:
    """``text`` as a Markdown code span that survives backticks in it (and pipes, in a ``table`` cell)."""
    text = visible(str(text))
    if table:
        text = text.replace("|", "\\|")
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _md_text(text: str) -> str:
    """``text`` as plain Markdown: characters that would start markup or split a table cell are escaped."""
    return re.sub(r"([\\`*\[\]<>|])", r"\\\1", visible(str(text)))


def summary_text(result: Any, *, report: str | None = None, json_path: str | None = None) -> str:
    """A one-screen console summary: the verdict in a sentence, key numbers, every check, where the report is.

    Parameters
    ----------
    result : AuditResult or dict
        An audit's results, or their dict (``AuditResult.to_dict()``, a results JSON).
    report : str, optional
        Where the HTML report was written, shown on a ``report:`` line. Default not shown.
    json_path : str, optional
        Where the results JSON was written, shown on a ``results:`` line. Default not shown.

    Returns
    -------
    str
        Plain text lines (no trailing newline).

    Examples
    --------
    >>> from trustaudit import AuditResult, summary_text
    >>> result = AuditResult.read_json("results.json")  # doctest: +SKIP
    >>> print(summary_text(result, report="report.html"))  # doctest: +SKIP
    trustaudit: TRUST-EQUIVALENT  (small vs base, 2,000 rows)
      Trust-equivalent: all 6 checks pass on their 95% intervals, ...
    """
    doc = document_of(result)
    verdict = doc.verdict
    lines = [
        f"trustaudit: {verdict_status(verdict).upper()}"
        f"  ({visible(os.path.basename(doc.models.small.path))} vs {visible(os.path.basename(doc.models.base.path))}, "
        f"{doc.data.rows_used:,} rows)",
        f"  {verdict.sentence}",
        "",
        f"  {'':34}{'base':>16}{'small':>22}",
    ]
    for name, base, small in key_numbers(doc):
        lines.append(f"  {name:34}{base:>16}{small:>22}")
    lines.append("")
    lines += [f"  {line}" if line else "" for line in input_notes(doc)]
    for check in verdict.checks or []:
        mark = STATUS_MARKS.get(check.status, check.status)
        lines.append(f"  [{mark}] {check.message}")
    if verdict.rejudged:
        lines += ["", f"  {verdict.rejudged}"]
    if report:
        lines += ["", f"  report: {report}"]
    if json_path:
        lines.append(f"  results: {json_path}")
    return "\n".join(lines)


def summary_markdown(result: Any, *, report: str | None = None) -> str:
    """A Markdown summary for a pull-request comment.

    Parameters
    ----------
    result : AuditResult or dict
        An audit's results, or their dict (``AuditResult.to_dict()``, a results JSON).
    report : str, optional
        Where the HTML report was written, named at the end. Default not named.

    Returns
    -------
    str
        Markdown: a heading with the verdict, its sentence, a table of key numbers and the
        checks; text from the results is escaped.

    Examples
    --------
    >>> from trustaudit import AuditResult, summary_markdown
    >>> result = AuditResult.read_json("results.json")  # doctest: +SKIP
    >>> print(summary_markdown(result, report="report.html"))  # doctest: +SKIP
    ### ... trustaudit: `small` is trust-equivalent to `base`
    ...
    """
    doc = document_of(result)
    verdict = doc.verdict
    status = verdict_status(verdict)
    small, base = os.path.basename(doc.models.small.path), os.path.basename(doc.models.base.path)
    relation = {
        "trust-equivalent": "is trust-equivalent to",
        "not trust-equivalent": "is not trust-equivalent to",
        "inconclusive": "is not yet shown trust-equivalent to (inconclusive)",
        "incomplete": "was not fully audited against (incomplete)",
    }[status]
    lines = [
        f"### {VERDICT_ICONS[status]} trustaudit: {_md_code(small)} {relation} {_md_code(base)}",
        "",
        _md_text(verdict.sentence),
        "",
        "| measure | base | small |",
        "| --- | ---: | ---: |",
    ]
    lines += [f"| {_md_text(name)} | {_md_text(b)} | {_md_text(s_)} |" for name, b, s_ in key_numbers(doc)]
    lines += ["", "| check | value | 95% interval | limit | result | to decide |", "| --- | ---: | ---: | ---: | --- | --- |"]
    for check in verdict.checks or []:
        value = "–" if check.value is None else f"{check.value:.4f}"
        interval = "–" if not check.interval else f"{check.interval[0]:.4f} to {check.interval[1]:.4f}"
        relation_ = "≤" if check.kind == "max" else "≥"
        decide = ""
        if check.status == "inconclusive" and check.interval:
            from trustaudit.gate import decide_text

            decide = decide_text(check.result())
        lines.append(
            f"| {_md_code(check.key, table=True)} | {value} | {interval} | {relation_} {check.limit:g} | "
            f"{_md_text(check.status)} | {_md_text(decide)} |"
        )
    if verdict.rejudged:
        lines += ["", f"_{_md_text(verdict.rejudged)}_"]
    if doc.precision is not None:
        lines += ["", _md_text(precision_sentence(doc.precision)[0].upper() + precision_sentence(doc.precision)[1:]) + "."]
    lines.append("")
    lines.append(f"{doc.data.rows_used:,} rows of {_md_code(os.path.basename(doc.data.path))}; "
                 f"thresholds from {_md_text(verdict.source)}." + (f" Full report: {_md_code(report)}." if report else ""))
    return "\n".join(lines) + "\n"


__all__ = ["input_notes", "key_numbers", "summary_markdown", "summary_text", "verdict_status"]
