"""Where the report templates live: inside the installed package, or at the checkout's top level."""

from __future__ import annotations

from pathlib import Path

from trustaudit.exceptions import TrustAuditError

_PACKAGE = Path(__file__).resolve().parent


def templates_dir() -> Path:
    """The directory of the Jinja2 templates and CSS of the report.

    A wheel ships ``templates/`` as ``trustaudit/_templates``; a checkout (or an editable
    install) has it beside the package as ``templates/``.
    """
    for candidate in (_PACKAGE / "_templates", _PACKAGE.parent / "templates"):
        if (candidate / "report.css").is_file():
            return candidate
    raise TrustAuditError(
        f"the report templates are missing (looked in {_PACKAGE / '_templates'} and {_PACKAGE.parent / 'templates'}); "
        "reinstall trustaudit"
    )
