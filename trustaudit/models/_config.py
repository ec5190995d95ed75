"""Reading what a model's configuration says: label names, input length, size; shared by every model kind."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trustaudit.exceptions import ModelLoadError

PROVENANCE_FILE = "trustaudit_provenance.json"
_GENERIC_LABEL = re.compile(r"^LABEL_\d+$")
_ROBERTA_LIKE = {"roberta", "xlm-roberta", "camembert", "longformer"}


def parse_labels(label_names: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """Accept ``"a,b,c"`` or a sequence of names; strip blanks; ``None`` passes through."""
    if label_names is None:
        return None
    names = label_names.split(",") if isinstance(label_names, str) else list(label_names)
    names = tuple(str(name).strip() for name in names)
    if not names or any(not name for name in names):
        raise ModelLoadError(f"`label_names` must be a comma-separated list of non-empty names, got {label_names!r}")
    lowered = [name.lower() for name in names]
    if len(set(lowered)) != len(lowered):
        raise ModelLoadError(f"`label_names` has a repeated name (names are compared case-insensitively): {label_names!r}")
    return names


def config_labels(config: Mapping[str, Any]) -> tuple[str, ...]:
    """Label names from a config's ``id2label``, in id order."""
    id2label = config.get("id2label") or {}
    n = int(config.get("num_labels") or len(id2label) or 2)
    names = []
    for i in range(n):
        name = id2label.get(i, id2label.get(str(i)))
        names.append(str(name) if name is not None else f"LABEL_{i}")
    return tuple(names)


def labels_are_generic(label_names: Sequence[str]) -> bool:
    """True when every name is of the ``LABEL_<i>`` form transformers invents."""
    return all(_GENERIC_LABEL.match(name) for name in label_names)


def resolve_labels(found: tuple[str, ...], given: str | Sequence[str] | None, where: str) -> tuple[str, ...]:
    names = parse_labels(given)
    if names is None:
        return found
    if len(names) != len(found):
        raise ModelLoadError(
            f"{where} has {len(found)} output classes but `label_names` names {len(names)}: {', '.join(names)}"
        )
    return names


def max_length_for(tokenizer: Any, config: Mapping[str, Any], override: int | None = None) -> int:
    limits = []
    tok_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_max, int) and 0 < tok_max < 100_000:
        limits.append(tok_max)
    positions = config.get("max_position_embeddings")
    if positions:
        limits.append(int(positions) - (2 if config.get("model_type") in _ROBERTA_LIKE else 0))
    limit = min(limits) if limits else 512
    if override is not None:
        if override < 8:
            raise ModelLoadError(f"max_length must be at least 8, got {override}")
        limit = min(limit, override)
    return limit


def config_dict(config: Any) -> dict[str, Any]:
    return json.loads(config.to_json_string(use_diff=False))


def count_parameters(model: nn.Module) -> int:
    total = sum(p.numel() for p in model.parameters())
    if total == 0:  # dynamically quantized modules keep their weights in packed params
        total = sum(t.numel() for t in model.state_dict().values() if isinstance(t, torch.Tensor))
    return int(total)


def dir_bytes(path: Path) -> int:
    return sum(entry.stat().st_size for entry in path.iterdir() if entry.is_file())
