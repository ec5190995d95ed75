"""The outputs of an audit, one module each: the HTML report (``html``), the console and
Markdown summaries (``text``), the index page of several audits (``index``), JUnit XML
(``junit``); ``plots`` draws the figures as inline SVG. Every output reads the same results
document. Names are imported lazily.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY: dict[str, str] = {
    "build_context": "html",
    "render_html": "html",
    "write_report": "html",
    "input_notes": "text",
    "key_numbers": "text",
    "summary_markdown": "text",
    "summary_text": "text",
    "verdict_status": "text",
    "index_row": "index",
    "render_index": "index",
    "junit_xml": "junit",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'trustaudit.report' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"trustaudit.report.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
