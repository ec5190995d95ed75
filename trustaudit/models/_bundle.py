"""The :class:`ModelBundle` object and the single-file ``.pt`` bundle format.

A bundle file is a ``torch.save`` of a plain dictionary holding only tensors, strings,
numbers, lists and dicts, so it is read with ``torch.load(..., weights_only=True)``
and loading it never runs pickled code::

    {
      "format": "trustaudit.bundle", "format_version": 1,
      "kind": "hf" | "quantized" | "alad" | ...,   # how to rebuild the module
      "config": "<config.json text>",
      "state_dict": {name: tensor, ...},
      "tokenizer_files": {"tokenizer.json": "<text>", ...},
      "labels": ["entailment", ...],               # in the model's own output order
      "task": "single" | "pair" | None,
      "provenance": "<JSON text>",                 # how the model was made (ASC, AlAd...)
      "extra": {...},                              # kind-specific tensors and strings
    }
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trustaudit._io import atomic_write
from trustaudit.exceptions import ModelLoadError

BUNDLE_FORMAT = "trustaudit.bundle"
BUNDLE_VERSION = 1
TASKS = ("single", "pair")


@dataclass(frozen=True, eq=False)
class ModelBundle:
    """A loaded classifier with everything needed to run and describe it.

    ``labels`` are the label names in the model's own output order. ``fingerprint`` is the
    sha256 of the weights (names, dtypes, shapes and bytes of the state dict), so the same
    weights loaded from a directory or from a bundle share one fingerprint (an ONNX model's is
    the sha256 of its graph files). ``source`` says where a model given by name came from
    (a Hub id: the id, the revision asked for and the commit it resolved to).
    """

    model: nn.Module
    tokenizer: Any
    labels: tuple[str, ...]
    task: str | None
    fingerprint: str
    n_params: int
    bytes_on_disk: int
    path: str
    max_length: int
    kind: str = "hf"
    provenance: Mapping[str, Any] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)
    source: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        model: nn.Module,
        tokenizer: Any,
        labels: tuple[str, ...],
        *,
        config: Mapping[str, Any],
        kind: str = "hf",
        path: str = "<in memory>",
        task: str | None = None,
        provenance: Mapping[str, Any] | None = None,
        max_length: int | None = None,
        bytes_on_disk: int = 0,
        fingerprint: str | None = None,
        n_params: int | None = None,
    ) -> ModelBundle:
        """The one place a bundle is made: what is not given is measured from the model.

        ``fingerprint`` defaults to the sha256 of the weights, ``n_params`` to the count of
        parameters (packed ones included), and the input length to the smaller of the
        tokenizer's and the position embeddings' limits, capped at ``max_length`` when given.
        Every loader (directories, bundles, pickles, ONNX) and every compressor builds its
        bundles here, so the same rules describe every model.
        """
        from trustaudit.models._config import count_parameters, max_length_for

        return cls(
            model=model,
            tokenizer=tokenizer,
            labels=tuple(labels),
            task=task,
            fingerprint=fingerprint if fingerprint is not None else weights_fingerprint(model.state_dict()),
            n_params=int(n_params) if n_params is not None else count_parameters(model),
            bytes_on_disk=int(bytes_on_disk),
            path=str(path),
            max_length=max_length_for(tokenizer, config, max_length),
            kind=kind,
            provenance=dict(provenance or {}),
            config=dict(config),
        )

    @property
    def n_labels(self) -> int:
        """Number of output classes."""
        return len(self.labels)

    @property
    def cache_id(self) -> str:
        """Key of this model's outputs in the evaluation cache.

        Mixes the weights fingerprint with everything else that changes an output for the
        same text: the tokenizer's vocabulary, the maximum length, the model kind and the
        model's own ``cache_salt`` (a change in how it computes its outputs).
        """
        digest = hashlib.sha256()
        parts = [self.fingerprint, self.kind, str(self.max_length), tokenizer_digest(self.tokenizer)]
        salt = getattr(self.model, "cache_salt", None)
        for part in [*parts, str(salt)] if salt else parts:
            digest.update(part.encode())
            digest.update(b"\x00")
        return digest.hexdigest()

    def describe(self) -> dict[str, Any]:
        """Plain-JSON description for reports: path, labels, size, fingerprint, provenance (and source, if any)."""
        described = {
            "path": self.path,
            "kind": self.kind,
            "model_type": self.config.get("model_type"),
            "labels": list(self.labels),
            "task": self.task,
            "parameters": self.n_params,
            "bytes": self.bytes_on_disk,
            "fingerprint": self.fingerprint,
            "max_length": self.max_length,
            "layers": self.config.get("num_hidden_layers", self.config.get("n_layers")),
            "hidden_size": self.config.get("hidden_size", self.config.get("dim")),
            "provenance": dict(self.provenance),
        }
        if self.source:
            described["source"] = dict(self.source)
        runtime = getattr(self.model, "runtime", None)
        if runtime:
            described["runtime"] = str(runtime)
        return described


def weights_fingerprint(state_dict: Mapping[str, torch.Tensor]) -> str:
    """sha256 over a state dict's names, dtypes, shapes and raw bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(state_dict):
        tensor = state_dict[name]
        if not isinstance(tensor, torch.Tensor):
            continue
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        if tensor.is_quantized:
            tensor = tensor.int_repr()
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def tokenizer_digest(tokenizer: Any) -> str:
    """A stable digest of a tokenizer's vocabulary and class, cached on the object."""
    cached = getattr(tokenizer, "_trustaudit_digest", None)
    if cached is not None:
        return cached
    vocab = tokenizer.get_vocab()
    digest = hashlib.sha256(type(tokenizer).__name__.encode())
    digest.update(json.dumps(sorted(vocab.items()), ensure_ascii=False).encode())
    digest.update(str(getattr(tokenizer, "do_lower_case", "")).encode())
    value = digest.hexdigest()
    try:
        tokenizer._trustaudit_digest = value
    except AttributeError:
        pass
    return value


def tokenizer_files(tokenizer: Any) -> dict[str, str]:
    """The tokenizer's saved files as ``{name: text}``, for embedding in a bundle."""
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer.save_pretrained(tmp)
        files = {}
        for path in sorted(Path(tmp).iterdir()):
            if path.is_file():
                files[path.name] = path.read_text(encoding="utf-8")
        return files


def load_tokenizer_files(files: Mapping[str, str]) -> Any:
    """Rebuild a tokenizer from the ``{name: text}`` files stored in a bundle."""
    from transformers import AutoTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        for name, text in files.items():
            if "/" in name or "\\" in name or name.startswith("."):
                raise ModelLoadError(f"bundle holds a tokenizer file with an unsafe name: {name!r}")
            Path(tmp, name).write_text(text, encoding="utf-8")
        return AutoTokenizer.from_pretrained(tmp, local_files_only=True)


def write_bundle(path: str | os.PathLike[str], payload: Mapping[str, Any]) -> None:
    """Write a bundle dictionary atomically (temporary file, then rename)."""
    payload = {"format": BUNDLE_FORMAT, "format_version": BUNDLE_VERSION, **payload}
    with atomic_write(path, "wb") as handle:
        torch.save(payload, handle)


@dataclass(frozen=True)
class ModelKind:
    """How a bundle ``kind`` is rebuilt: ``build(payload) -> nn.Module``."""

    name: str
    build: Callable[[Mapping[str, Any]], nn.Module]


_KINDS: dict[str, ModelKind] = {}
_KIND_MODULES = {"quantized": "trustaudit.compress._quantize", "alad": "trustaudit.compress._alad.model"}


def register_kind(name: str, build: Callable[[Mapping[str, Any]], nn.Module]) -> None:
    """Register how to rebuild the module of bundles of kind ``name``."""
    _KINDS[name] = ModelKind(name, build)


def kind_builder(name: str) -> ModelKind:
    """The registered builder of a bundle kind, importing its module on first use."""
    if name not in _KINDS and name in _KIND_MODULES:
        import importlib

        importlib.import_module(_KIND_MODULES[name])
    if name not in _KINDS:
        raise ModelLoadError(f"bundle kind {name!r} is not known to this version of trustaudit")
    return _KINDS[name]
