"""Hugging Face Hub model ids (``org/name`` or ``org/name@revision``) resolved through the Hub cache.

A model id is looked up in ``huggingface_hub``'s cache (``$HF_HUB_CACHE``, else
``$HF_HOME/hub``, else ``~/.cache/huggingface/hub``) first, so a cached model never needs
the network. Only when it is not cached and ``HF_HUB_OFFLINE`` is explicitly off (``0``;
trustaudit defaults it to ``1``) is it downloaded into that cache. A local path of the
same name always wins: ids are only tried for paths that do not exist.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trustaudit.exceptions import ModelLoadError

_HUB_ID = re.compile(r"^(?P<repo>[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9_.-]{1,96})(?:@(?P<revision>[A-Za-z0-9_./-]+))?$")
_FILE_SUFFIXES = (".pt", ".pth", ".bin", ".onnx", ".safetensors", ".json", ".tsv", ".csv", ".jsonl")
_TRUE = {"1", "on", "yes", "true"}
_IGNORE = ["*.h5", "*.msgpack", "*.ot", "tf_model*", "flax_model*", "rust_model*", "coreml/*", "openvino/*"]


@dataclass(frozen=True)
class HubModel:
    """A model id resolved to a snapshot folder of the Hub cache."""

    repo_id: str
    revision: str
    commit: str
    path: Path
    cache: Path

    def describe(self) -> dict[str, Any]:
        """What the report and the JSON record: the id, the revision asked for and the commit it resolved to."""
        return {"hub_id": self.repo_id, "revision": self.revision, "commit": self.commit, "snapshot": str(self.path)}


def parse_hub_id(text: str) -> tuple[str, str | None] | None:
    """``(repo_id, revision)`` of ``org/name[@revision]``; ``None`` when ``text`` is not shaped like an id.

    Strings that end like a file (``.pt``, ``.onnx``, ``.json``...) are paths, not ids.
    """
    match = _HUB_ID.match(text)
    if match is None or text.lower().endswith(_FILE_SUFFIXES):
        return None
    repo = match["repo"]
    if ".." in repo or "--" in repo or repo.endswith((".", "-")):
        return None
    return repo, match["revision"]


def hub_cache_dir() -> Path:
    """The Hub cache folder as ``huggingface_hub`` finds it, read from the environment now."""
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(name):
            return Path(os.environ[name]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "huggingface" / "hub"


def hub_offline() -> bool:
    """True unless ``HF_HUB_OFFLINE`` is set to a false value (trustaudit never downloads by default)."""
    return os.environ.get("HF_HUB_OFFLINE", "1").strip().lower() in _TRUE


def resolve_hub_id(text: str) -> HubModel:
    """The cached snapshot of a model id, downloading it only when allowed (see the module docstring).

    A missing id raises :class:`ModelLoadError` with one line naming the id and the cache searched.
    """
    parsed = parse_hub_id(text)
    if parsed is None:
        raise ModelLoadError(f"{text}: not a Hugging Face Hub model id (expected org/name or org/name@revision)")
    repo_id, revision = parsed
    from huggingface_hub import snapshot_download

    cache = hub_cache_dir()
    try:
        folder = snapshot_download(repo_id, revision=revision, cache_dir=str(cache), local_files_only=True)
    except (OSError, ValueError) as exc:
        if hub_offline():
            raise ModelLoadError(
                f"{text}: no such file or directory, and Hugging Face Hub model {repo_id!r}"
                f"{f' at revision {revision!r}' if revision else ''} is not in the Hub cache {cache} "
                "(offline: download it with `hf download`, or set HF_HUB_OFFLINE=0 to let trustaudit fetch it)"
            ) from exc
        try:
            folder = snapshot_download(repo_id, revision=revision, cache_dir=str(cache), ignore_patterns=_IGNORE)
        except (OSError, ValueError) as fetch_exc:
            first = str(fetch_exc).strip().splitlines()[0] if str(fetch_exc).strip() else type(fetch_exc).__name__
            raise ModelLoadError(f"{text}: cannot get Hugging Face Hub model {repo_id!r} into the cache {cache}: {first}") from fetch_exc
    path = Path(folder)
    return HubModel(repo_id=repo_id, revision=revision or "main", commit=path.name, path=path, cache=cache)
