"""The outputs of an audit, one module each: the HTML report (``html``), the console and
Markdown summaries (``text``), the index page of several audits (``index``), JUnit XML
(``junit``), the page of a compression search (``search``); ``plots`` draws the figures as inline SVG. Every output reads the same results
document. Names are imported lazily.
"""

from __future__ import annotations

from trustaudit._lazy import lazy_names

_LAZY: dict[str, str] = {
    "build_context": "trustaudit.report.html",
    "render_html": "trustaudit.report.html",
    "write_report": "trustaudit.report.html",
    "input_notes": "trustaudit.report.text",
    "key_numbers": "trustaudit.report.text",
    "summary_markdown": "trustaudit.report.text",
    "summary_text": "trustaudit.report.text",
    "verdict_status": "trustaudit.report.text",
    "index_row": "trustaudit.report.index",
    "render_index": "trustaudit.report.index",
    "junit_xml": "trustaudit.report.junit",
    "render_search_html": "trustaudit.report.search",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_names(__name__, _LAZY)
