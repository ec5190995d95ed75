"""A model pair as bytes, rebuilt once per worker process: what every executor ships to its workers."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trustaudit.models import ModelBundle, ModelPair, bundle_bytes, bundle_from_bytes

ROLES = ("base", "small")


@dataclass(frozen=True)
class PairPayload:
    """Both models of a pair as bundle bytes, with what each bundle said of itself and the label permutation.

    A worker (a local process or a Ray actor on another node) rebuilds the pair from these
    bytes, never from paths it may not have; :meth:`load` checks that each rebuilt model
    computes as the original (same cache id) and keeps the pair for the life of the process.
    """

    models: Mapping[str, bytes]
    described: Mapping[str, Mapping[str, Any]]
    permutation: tuple[int, ...]

    @classmethod
    def from_pair(cls, pair: ModelPair) -> PairPayload:
        """The payload of ``pair`` (raises :class:`~trustaudit.exceptions.ModelLoadError` for ONNX models)."""
        bundles = {"base": pair.base, "small": pair.small}
        return cls(
            models={name: bundle_bytes(b) for name, b in bundles.items()},
            described={
                name: {"path": b.path, "labels": list(b.labels), "max_length": b.max_length, "bytes": b.bytes_on_disk,
                       "cache_id": b.cache_id}
                for name, b in bundles.items()
            },
            permutation=tuple(pair.permutation),
        )

    @property
    def key(self) -> tuple[str, str]:
        """The cache ids of the two models: what identifies the pair across processes."""
        return (str(self.described["base"]["cache_id"]), str(self.described["small"]["cache_id"]))

    def load(self) -> ModelPair:
        """The pair, rebuilt from its bytes the first time this process sees it."""
        if self.key not in _LOADED:
            bundles: dict[str, ModelBundle] = {}
            for name in ROLES:
                d = self.described[name]
                bundle = bundle_from_bytes(
                    self.models[name], path=d["path"], label_names=d["labels"], max_length=d["max_length"], bytes_on_disk=d["bytes"]
                )
                if bundle.cache_id != d["cache_id"]:
                    raise RuntimeError(f"the {name} model rebuilt in a worker process computes differently from {d['path']}")
                bundles[name] = bundle
            _LOADED[self.key] = ModelPair(bundles["base"], bundles["small"], self.permutation)
        return _LOADED[self.key]


#: The model pairs this process rebuilt, by their cache ids: each is loaded once per process.
_LOADED: dict[tuple[str, str], ModelPair] = {}


def error_of(exc: BaseException) -> tuple[str, str, str]:
    """An exception as (module, qualified name, message): what a worker sends back instead of raising."""
    return (type(exc).__module__, type(exc).__qualname__, str(exc))


def reraise(module: str, qualname: str, message: str) -> None:
    """Raise a worker's error in the parent: the same type with its message, else a RuntimeError naming it."""
    try:
        cls: Any = importlib.import_module(module)
        for part in qualname.split("."):
            cls = getattr(cls, part)
        error = cls(message) if isinstance(cls, type) and issubclass(cls, Exception) else None
    except Exception:  # noqa: BLE001 - a type that cannot be rebuilt from its message is named instead
        error = None
    if error is None:
        raise RuntimeError(f"a worker raised {qualname}: {message}")
    raise error
