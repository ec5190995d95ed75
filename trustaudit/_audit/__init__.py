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

from trustaudit._lazy import lazy_names

_LAZY: dict[str, str] = {
    "AuditConfig": "trustaudit._audit.config",
    "BIAS_OFF": "trustaudit._audit.config",
    "BIAS_POOLINGS": "trustaudit._audit.config",
    "AuditResult": "trustaudit._audit.result",
    "SCHEMA_VERSION": "trustaudit._audit.result",
    "rejudge": "trustaudit._audit.result",
    "audit": "trustaudit._audit.run",
    "measure_latency": "trustaudit._audit.latency",
    "stratified_sample": "trustaudit._audit.sections",
    "jsonable": "trustaudit._audit.sections",
    "bias_measurement": "trustaudit._audit.verdict",
    "gate_measurements": "trustaudit._audit.verdict",
    "verdict_section": "trustaudit._audit.verdict",
    "explain_and_compare": "trustaudit._audit.attribution",
    "extras_section": "trustaudit._audit.extras",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_names(__name__, _LAZY)
