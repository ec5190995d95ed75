"""``--runtime onnx``: run a PyTorch model's forward passes in ONNX Runtime instead.

Measured on this project's machines (``bench/onnx_runtime.py``: all-MiniLM-L6-v2, the
explanation engine's length-sorted batches of LIME samples, one thread), the fp32 graph
with ONNX Runtime's transformer fusions ran 1.32x faster than PyTorch, with probabilities
within 2.4e-8 of PyTorch's. The model is exported once per fingerprint into the evaluation
cache folder and checked against PyTorch (max |dp| <= 1e-5) before it is used; a model
that cannot be exported within that tolerance keeps running in PyTorch, with a warning.
The bundle keeps its own fingerprint, size and parameters (it is the same model); only
its module changes, and its cached outputs get their own key.
"""

from __future__ import annotations

import argparse
import os
import warnings
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from trustaudit.exceptions import ExportError, InvalidInputError

if TYPE_CHECKING:  # the CLI imports this module to build its parser: no torch at import time
    from trustaudit.models import ModelBundle, ModelPair

RUNTIMES = ("torch", "onnx")
TOLERANCE = 1e-5


def add_runtime_option(parser: argparse.ArgumentParser) -> None:
    """The ``--runtime`` option of the commands that run models."""
    parser.add_argument(
        "--runtime", choices=RUNTIMES, default="torch",
        help="where PyTorch models run: torch (default) or onnx (exported once, checked to 1e-5, then run in ONNX "
             "Runtime; needs pip install 'trustaudit[onnx]')",
    )


def onnx_folder(bundle: ModelBundle) -> Path:
    """Where the exported graph of ``bundle`` is kept: one folder per weights, tokenizer, length and ONNX Runtime version."""
    from trustaudit._cache import default_cache_dir
    from trustaudit.models import tokenizer_digest
    from trustaudit.models import import_onnxruntime

    version = import_onnxruntime().__version__
    key = f"{bundle.fingerprint[:24]}-{tokenizer_digest(bundle.tokenizer)[:12]}-len{bundle.max_length}-ort{version}"
    return default_cache_dir() / "onnx" / key


def with_onnx_runtime(bundle: ModelBundle, root: str | os.PathLike[str] | None = None, tolerance: float = TOLERANCE) -> ModelBundle:
    """``bundle`` with its forward passes in ONNX Runtime (see the module docstring); unchanged when it cannot be.

    Only plain Hugging Face models are exported: ONNX models already run there, and the
    other kinds (torch int8, AlAd) keep their own forward pass. ``root`` is the folder of the
    exported graph (default: under the evaluation cache, see :func:`onnx_folder`).
    """
    from trustaudit.models import OnnxClassifier

    if bundle.kind != "hf":
        return bundle
    folder = onnx_folder(bundle) if root is None else Path(root)
    graph = folder / "model.onnx"
    if not graph.is_file():
        from trustaudit.compress import to_onnx

        try:
            to_onnx(bundle, folder, tolerance=tolerance)
        except ExportError as exc:
            warnings.warn(f"{bundle.path}: keeps running in PyTorch ({exc})", stacklevel=2)
            return bundle
        except OSError:
            if not graph.is_file():
                raise
    module = OnnxClassifier(graph)
    module.cache_salt = "onnxruntime"
    return replace(bundle, model=module.eval())


def apply_runtime(pair: ModelPair, runtime: str) -> ModelPair:
    """Both models of ``pair`` on ``runtime`` (``torch`` leaves them as they are)."""
    if runtime == "torch":
        return pair
    if runtime != "onnx":
        raise InvalidInputError(f"`runtime` must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    base = with_onnx_runtime(pair.base)
    small = base if pair.small is pair.base else with_onnx_runtime(pair.small)
    return replace(pair, base=base, small=small)
