"""The index page of several audits, one row per audited pair (the sample reports, the demo)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from trustaudit._audit.document import document_of
from trustaudit.report._shared import environment, provenance_text, read_template
from trustaudit.report.text import verdict_status


def index_row(result: Any, href: str | None = None, name: str | None = None, description: str = "") -> dict[str, Any]:
    """One row of an index page: the key numbers of one audit."""
    doc = document_of(result)
    models, p = doc.models, doc.predictions
    c, a = doc.calibration, doc.attribution
    base_calibration = c.base if c is not None else None
    small_calibration = c.small if c is not None else None
    base_bytes = models.base.bytes or 0
    small_bytes = (models.small.provenance or {}).get("int8_bytes") or models.small.bytes or 0
    size_ratio = small_bytes / base_bytes if base_bytes and small_bytes else models.param_ratio

    def explainer(name_: str, key: str) -> float | None:
        entry = a.explainer(name_) if a is not None and a.available else None
        return getattr(entry, key) if entry is not None else None

    from trustaudit.explain import EXPLAINERS

    names = list(dict.fromkeys((*EXPLAINERS, *((a.explainers if a is not None else None) or []))))
    return {
        "name": name or os.path.basename(str(models.small.path)),
        "description": description or provenance_text(models.small.provenance or {}),
        "href": href,
        "data": os.path.basename(str(doc.data.path)),
        "rows": doc.data.rows_used,
        "explained": a.explained if a is not None and a.explained is not None else 0,
        "base_accuracy": p.base.accuracy,
        "small_accuracy": p.small.accuracy,
        "agreement": p.agreement,
        "base_ece": base_calibration.ece if base_calibration else None,
        "small_ece": small_calibration.ece if small_calibration else None,
        "base_brier": base_calibration.brier if base_calibration else None,
        "small_brier": small_calibration.brier if small_calibration else None,
        "explainers": names,
        **{name_: explainer(name_, "feature_agreement") for name_ in names},
        **{f"{name_}_floor": explainer(name_, "floor") for name_ in names},
        "size_ratio": size_ratio,
        "speedup": models.speedup_batch1,
        "passed": doc.verdict.passed,
        "status": verdict_status(doc.verdict),
        "failed": [check.key for check in doc.verdict.checks or [] if check.status == "fail"],
        "open": [check.key for check in doc.verdict.checks or [] if check.status in ("inconclusive", "not measured")],
    }


def render_index(rows: Sequence[Mapping[str, Any]], title: str = "trustaudit: audits", intro: str = "") -> str:
    """An HTML page tabulating several audits (rows from :func:`index_row`), linking each report.

    One agreement column per explainer: the built-in ones always, then any other that a row ran.
    """
    from trustaudit._version import __version__
    from trustaudit.explain import EXPLAINERS

    explainers = list(dict.fromkeys(name for row in ({"explainers": EXPLAINERS}, *rows) for name in row.get("explainers", ())))
    return environment().get_template("index.html.j2").render(
        rows=list(rows), explainers=explainers, title=title, intro=intro, version=__version__,
        css=read_template("report.css"), script=read_template("report.js"),
    )


__all__ = ["index_row", "render_index"]
