"""Checks on the files a command reads and writes, made before any work is done.

An output must not be one of the command's inputs (data, model files, every file inside a
model or tokenizer directory, the gate file, a results file, the evaluation cache) nor
another output of the same run, and its directory must be writable: a temporary file is
created and removed there, so a read-only mount is found now, not after a long audit.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from trustaudit.exceptions import InvalidInputError

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class Named:
    """A path as the user gave it, with the option that named it (``--data``, ``BASE``...)."""

    option: str
    value: str

    @property
    def real(self) -> str:
        """The absolute path with every symbolic link resolved (the file need not exist)."""
        return os.path.realpath(os.path.abspath(os.path.expanduser(self.value)))

    def __str__(self) -> str:
        return f"{self.option} {self.value}" if self.option != self.value else self.value


def named(pairs: Iterable[tuple[str, PathLike | None]]) -> list[Named]:
    """The given ``(option, path)`` pairs as :class:`Named`, leaving out empty paths."""
    return [Named(option, os.fspath(value)) for option, value in pairs if value not in (None, "")]


def _files_of(item: Named) -> list[tuple[Named, str]]:
    """The real paths an input stands for: the file itself, or every file under a directory.

    An input that does not exist stands for nothing (there is nothing to lose; reading it reports it).
    """
    real = item.real
    if not os.path.exists(real):
        return []
    if os.path.isdir(real):
        found = [real]
        for folder, _, files in os.walk(real):
            found.extend(os.path.realpath(os.path.join(folder, name)) for name in files)
        return [(item, path) for path in found]
    return [(item, real)]


def _same(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _probe(out: Named, directory: bool) -> None:
    """Create and remove a temporary file where ``out`` will be written."""
    real = Path(out.real)
    target = real if directory else real.parent
    while not target.exists() and target != target.parent:
        target = target.parent
    if not target.is_dir():
        raise InvalidInputError(f"{out}: cannot write there ({target} is a file, not a directory)")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".trustaudit-probe-", dir=target)
    except OSError as exc:
        raise InvalidInputError(f"{out}: cannot write there ({target}: {exc.strerror or exc})") from None
    os.close(fd)
    os.unlink(tmp)


def check_outputs(
    outputs: Sequence[Named],
    inputs: Sequence[Named] = (),
    directories: Sequence[Named] = (),
) -> None:
    """Refuse, with one line naming both paths, an output that would destroy an input or another output.

    ``outputs`` are files written whole (atomically); ``directories`` are outputs that are
    directories a model is saved into. Symbolic links and relative paths are resolved first;
    hard links are caught by comparing the files themselves.
    """
    input_files = [pair for item in inputs for pair in _files_of(item)]
    seen: list[Named] = []
    for out in outputs:
        real = out.real
        if os.path.isdir(real):
            raise InvalidInputError(f"{out}: is a directory; give a file path")
        for item, path in input_files:
            if _same(real, path):
                what = f"{item}" if path == item.real else f"a file of {item}"
                raise InvalidInputError(f"{out} would overwrite {what}: an output must not be an input; choose another path")
        for other in seen:
            if _same(real, other.real):
                raise InvalidInputError(f"{out} and {other} are the same file: give each output its own path")
        seen.append(out)
        _probe(out, directory=False)
    for out in directories:
        real = out.real
        if os.path.isfile(real):
            raise InvalidInputError(f"{out}: is a file; give a directory path (or a .pt file name)")
        for item, path in input_files:
            if os.path.isdir(item.real) and _inside(real, item.real):
                raise InvalidInputError(f"{out} lies inside {item}: a model saved there would change an input; choose a new directory")
            if _inside(path, real):
                raise InvalidInputError(f"{out} holds {item}: a model saved there could overwrite it; choose a new directory")
        for other in seen:
            if _inside(other.real, real):
                raise InvalidInputError(f"{out} and {other} overlap: give each output its own path")
        seen.append(out)
        _probe(out, directory=True)


def check_cache_dir(value: PathLike | None) -> None:
    """Refuse a ``--cache-dir`` that names an existing file."""
    if value is not None and os.path.exists(value) and not os.path.isdir(value):
        raise InvalidInputError(f"`cache_dir`={os.fspath(value)}: is a file, not a directory")
