"""The page of a compression search (``search.html``): every candidate as a row, the size-against-trust frontier, the chosen one marked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trustaudit.report._shared import environment, read_template, size_text

__all__ = ["render_search_html"]

_ANSWERS = {
    "found": "a trust-equivalent candidate was found",
    "none": "no candidate was shown trust-equivalent",
    "inconclusive": "no candidate was shown trust-equivalent, but the best ones are undecided: more rows might decide them",
    None: "the search is still running; this page is rewritten after every candidate",
}


def render_search_html(doc: Mapping[str, Any]) -> str:
    """One self-contained HTML page (inline CSS and SVG) from a ``search.json`` document.

    Parameters
    ----------
    doc : mapping
        The document :func:`trustaudit.compress.search` writes as ``search.json``.

    Returns
    -------
    str
        The page.

    Examples
    --------
    >>> import json
    >>> from trustaudit.report import render_search_html
    >>> page = render_search_html(json.load(open("best/search.json")))  # doctest: +SKIP
    """
    from trustaudit._version import __version__
    from trustaudit.report.plots import figure_to_svg, size_trust_frontier

    base_bytes = int(doc["base"]["size_bytes"])
    rows = [dict(r) for r in doc["candidates"]]
    for row in rows:
        row["size_text"] = size_text(row["size_bytes"])
        row["size_ratio"] = row["size_bytes"] / base_bytes
    svg = figure_to_svg(size_trust_frontier(rows, base_bytes)) if any(r.get("agreement") is not None for r in rows) else ""
    return environment().get_template("search.html.j2").render(
        doc=doc, rows=rows, answer=_ANSWERS.get(doc.get("answer"), str(doc.get("answer"))), base_size=size_text(base_bytes),
        frontier=svg, version=__version__, css=read_template("report.css"), script=read_template("report.js"),
    )
