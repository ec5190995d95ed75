"""The audit: its settings, its stages and its results document.

``config`` holds :class:`AuditConfig` (light: the command line reads its defaults from it);
``run`` is the facade that loads the pair, predicts, and calls the stages: ``sections``
(predictions, calibration, bias), ``attribution`` (explanations and their agreement against
the noise floor), ``latency``; ``verdict`` turns a results document into gate measurements
and a verdict; ``result`` is the document itself (:class:`AuditResult`), its JSON, schema
validation and upgrade of older schemas. Names are imported lazily, so importing
``trustaudit._audit.config`` does not load torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY: dict[str, str] = {
    "AuditConfig": "config",
    "BIAS_OFF": "config",
    "BIAS_POOLINGS": "config",
    "AuditResult": "result",
    "SCHEMA_VERSION": "result",
    "rejudge": "result",
    "audit": "run",
    "measure_latency": "latency",
    "stratified_sample": "sections",
    "jsonable": "sections",
    "bias_measurement": "verdict",
    "gate_measurements": "verdict",
    "verdict_section": "verdict",
    "explain_and_compare": "attribution",
    "extras_section": "extras",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'trustaudit._audit' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"trustaudit._audit.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
