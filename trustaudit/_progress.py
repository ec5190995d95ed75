"""Progress bars on stderr (tqdm), on by default when stderr is a terminal."""

from __future__ import annotations

import sys
from typing import Any

from tqdm.auto import tqdm

_ENABLED: bool | None = None


def set_progress(enabled: bool | None) -> None:
    """Force progress bars on or off for this process (``None``: only on a terminal)."""
    global _ENABLED
    _ENABLED = enabled


def progress_enabled(flag: bool | None = None) -> bool:
    """Resolve a ``progress`` argument: explicit flag, else the process setting, else ``isatty``."""
    if flag is not None:
        return flag
    if _ENABLED is not None:
        return _ENABLED
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def bar(total: int | None, desc: str, enabled: bool | None = None, unit: str = "it", **kwargs: Any) -> tqdm:
    """A tqdm bar on stderr with time left, disabled unless :func:`progress_enabled`."""
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        file=sys.stderr,
        disable=not progress_enabled(enabled),
        dynamic_ncols=True,
        leave=False,
        **kwargs,
    )
