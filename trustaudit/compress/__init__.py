"""Create compressed candidates of a classifier, to audit against it.

- :func:`asc` -- application-specific compression: delete the encoder layers whose output
  barely differs from an earlier state on the task's data, then fine-tune (a plain,
  smaller Hugging Face model). The paper's selection rule and fine-tuning recipe by default.
- :func:`alad` -- alignment adapter: map a small model's token states onto the large
  model's, then train a task head over them in one of the paper's three set-ups (a bundle
  of kind ``"alad"``).
- :func:`quantize` -- dynamic int8 quantization of the Linear layers (kind ``"quantized"``).
- :func:`search` -- the smallest (or fastest) candidate of ASC, int8 and AlAd that an audit
  shows trust-equivalent, found with a cheap first pass and a binary search over the ladder.

The implementations live in ``_asc``, ``_alad``, ``_quantize`` and ``_search`` and are imported on first
use, so importing this package (and the CLI that registers its subcommands) stays light.
"""

from __future__ import annotations

from trustaudit._lazy import lazy_names

_LAZY: dict[str, str] = {
    "asc": "trustaudit.compress._asc",
    "ASCInfo": "trustaudit.compress._asc",
    "layer_similarity": "trustaudit.compress._asc",
    "prune_layers": "trustaudit.compress._asc",
    "redundant_layers": "trustaudit.compress._asc",
    "task_kind_from_labels": "trustaudit.compress._asc",
    "alad": "trustaudit.compress._alad",
    "AlAdInfo": "trustaudit.compress._alad",
    "AlignedModel": "trustaudit.compress._alad",
    "quantize": "trustaudit.compress._quantize",
    "QuantizedClassifier": "trustaudit.compress._quantize",
    "to_onnx": "trustaudit.compress._onnx",
    "search": "trustaudit.compress._search",
    "SearchResult": "trustaudit.compress._search",
    "SearchCandidate": "trustaudit.compress._search",
    "OnnxExportInfo": "trustaudit.compress._onnx",
}

__all__ = list(_LAZY)

__getattr__, __dir__ = lazy_names(__name__, _LAZY)
