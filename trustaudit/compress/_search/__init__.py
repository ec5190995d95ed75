"""Search for the smallest (or fastest) compressed candidate that is shown trust-equivalent.

Candidates come in families, each a ladder ordered from the most compressed rung to the
least: ASC over a ladder of similarity thresholds (or of layer counts), int8 of the base,
int8 of each ASC rung (PyTorch's or ONNX Runtime's dynamic int8), AlAd over each ASC rung.
The ASC similarity matrix is measured once and every rung's layers, size and (for
``objective="latency"``) latency are known before any model is trained, so candidates are
built only when the search reaches them.

Each audited candidate first gets a cheap pass: predictions and calibration only, judged
by the gate's prediction and calibration checks. A candidate that fails there is never
explained; one that passes or is undecided gets the full audit (explanations included).
Within a family the search is a binary search by default: it assumes that a rung that is
trust-equivalent makes every less compressed rung of its family trust-equivalent too, and
``search.json`` says whether any pair of audited rungs contradicted that. A family is only
searched over the rungs that could still beat the best trust-equivalent candidate found.

Every audit shares one evaluation cache, so the base model's outputs are computed once for
the whole search. ``search.json`` and ``search.html`` are rewritten (atomically) after every
candidate, so a crash loses nothing already audited.

The code is in four modules: ``records`` (the families, states, a candidate's row, the
outcome), ``candidates`` (planning and building), ``run`` (:func:`search` and the audits)
and ``document`` (``search.json``, ``search.html``, the chosen model).
"""

from __future__ import annotations

from trustaudit.compress._search.records import (
    DEFAULT_METHODS,
    DEFAULT_THRESHOLDS,
    FOUND,
    METHODS,
    NONE_FOUND,
    OBJECTIVES,
    STRATEGIES,
    UNDECIDED,
    SearchCandidate,
    SearchResult,
    cheap_gate,
)
from trustaudit.compress._search.run import search

__all__ = [
    "DEFAULT_METHODS",
    "DEFAULT_THRESHOLDS",
    "FOUND",
    "METHODS",
    "NONE_FOUND",
    "OBJECTIVES",
    "STRATEGIES",
    "UNDECIDED",
    "SearchCandidate",
    "SearchResult",
    "cheap_gate",
    "search",
]

