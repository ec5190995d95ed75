"""Finished explanations on disk, so an interrupted audit resumes where it stopped.

Each explained example is written, as soon as it is finished, to
``<cache directory>/explanations/<run key>/<index>.json`` (atomically: a crash leaves the
previous file or none). The run key is a hash of everything the explanation depends on:
both models' cache ids (their weights and how they run), the explainers and budgets, the
seeds, the segment, the target rule, the batch size and the device type; ``index`` is the
example's position in the dataset, and the record also holds its texts, checked on
reading. A resumed run (``resume=True``) takes the examples found there instead of
explaining them again; every other run overwrites them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from trustaudit._io import write_text_atomic

STORE_VERSION = 1


def run_key(settings: Mapping[str, Any]) -> str:
    """A stable hash of an explanation run's settings (a JSON-able mapping)."""
    text = json.dumps({"store_version": STORE_VERSION, **settings}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class ExampleStore:
    """The finished examples of one explanation run, one JSON file per example, under ``directory``."""

    def __init__(self, directory: str | Path, settings: Mapping[str, Any]) -> None:
        self.key = run_key(settings)
        self.directory = Path(directory) / "explanations" / self.key

    def _path(self, index: int) -> Path:
        return self.directory / f"{int(index)}.json"

    def get(self, index: int, texts: Sequence[str | None]) -> dict[str, Any] | None:
        """The stored record of the example at ``index`` (``to_dict`` form), if there is one for the same texts."""
        path = self._path(index)
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("key") != self.key or record.get("texts") != list(texts):
            return None
        example = record.get("example")
        return example if isinstance(example, dict) else None

    def put(self, index: int, texts: Sequence[str | None], example: Mapping[str, Any]) -> None:
        """Write the record of the example at ``index`` atomically."""
        self.directory.mkdir(parents=True, exist_ok=True)
        record = {"key": self.key, "texts": list(texts), "example": dict(example)}
        write_text_atomic(self._path(index), json.dumps(record, ensure_ascii=False))
