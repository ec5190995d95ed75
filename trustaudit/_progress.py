"""Progress bars on stderr (tqdm), on by default when stderr is a terminal."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from typing import Any

from tqdm.auto import tqdm

_ENABLED: bool | None = None
_QUIET_ENV = {"HF_HUB_DISABLE_PROGRESS_BARS": "1", "TRANSFORMERS_VERBOSITY": "error"}


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



@contextlib.contextmanager
def quiet_libraries(quiet: bool = True) -> Iterator[None]:
    """Within the block, silence transformers' own progress bars and advisory logging.

    Its "Loading weights" bars and warnings (a missing optional file, a deprecation) are not
    something a user of trustaudit can act on; ``--debug`` leaves them on. Before transformers
    is imported, environment variables do it (read once, at its import); once imported, its
    own switches. Afterwards the environment and those switches are as they were.
    """
    if not quiet:
        yield
        return
    saved_env = {name: os.environ.get(name) for name in _QUIET_ENV}
    loaded = "transformers" in sys.modules
    if loaded:
        from transformers.utils import logging as hf_logging

        saved = (hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity())
        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity(logging.ERROR)
    else:
        os.environ.update(_QUIET_ENV)
    try:
        yield
    finally:
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if "transformers" in sys.modules:
            from transformers.utils import logging as hf_logging

            if not loaded:
                level = logging.getLevelName((saved_env.get("TRANSFORMERS_VERBOSITY") or "warning").upper())
                saved = (not saved_env.get("HF_HUB_DISABLE_PROGRESS_BARS"), level if isinstance(level, int) else logging.WARNING)
            with warnings.catch_warnings():  # huggingface_hub warns that the variable it read at import wins
                warnings.simplefilter("ignore")
                (hf_logging.enable_progress_bar if saved[0] else hf_logging.disable_progress_bar)()
            hf_logging.set_verbosity(saved[1])
