"""Old names of public keywords, attributes and methods, accepted for one release with a ``DeprecationWarning``."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from trustaudit.exceptions import InvalidInputError

F = TypeVar("F", bound=Callable[..., Any])


def warn_renamed(old: str, new: str, *, stacklevel: int = 3) -> None:
    """Warn that ``old`` is a deprecated name of ``new`` (both as the user writes them)."""
    warnings.warn(f"`{old}` is deprecated and will be removed in the next release; use `{new}`",
                  DeprecationWarning, stacklevel=stacklevel)


def renamed_keywords(**renames: str) -> Callable[[F], F]:
    """Decorator: accept each old keyword (``old="new"``) as the new one, with a ``DeprecationWarning``.

    Passing both names at once is an error, since one of the two values would be ignored.
    """

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in renames.items():
                if old in kwargs:
                    if new in kwargs:
                        raise InvalidInputError(f"pass `{new}` or its deprecated name `{old}`, not both")
                    warn_renamed(old, new)
                    kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def renamed_attribute(old: str, new: str) -> property:
    """A read-only property ``old`` that returns attribute ``new``, with a ``DeprecationWarning``."""

    def get(self: Any) -> Any:
        warn_renamed(f"{type(self).__name__}.{old}", f"{type(self).__name__}.{new}")
        return getattr(self, new)

    return property(get, doc=f"Deprecated name of ``{new}``.")


def read_renamed(data: Mapping[str, Any], new: str, old: str) -> Any:
    """``data[new]``, or ``data[old]`` in a document written before the key was renamed (``KeyError`` if neither)."""
    return data[new] if new in data else data[old]
