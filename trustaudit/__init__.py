"""trustaudit: can the compressed model be trusted as the large one was?

Audits a large/compressed text-classifier pair on interpretability alignment
(LIME, SHAP), calibration and predictions. The public API is listed in ``__all__``;
names are imported lazily so that ``import trustaudit`` (and ``trustaudit --version``)
does not pay for torch, transformers, shap or lime until they are used.
"""

from __future__ import annotations

from trustaudit._lazy import lazy_names

from trustaudit._version import __version__
from trustaudit.exceptions import (
    DataError,
    GateConfigError,
    InvalidInputError,
    LabelMismatchError,
    ModelLoadError,
    TrustAuditError,
    UnsafeModelError,
)

_LAZY: dict[str, str] = {
    "ModelBundle": "trustaudit.models",
    "ModelPair": "trustaudit.models",
    "load_model": "trustaudit.models",
    "load_pair": "trustaudit.models",
    "save_bundle": "trustaudit.models",
    "Dataset": "trustaudit.data",
    "load_dataset": "trustaudit.data",
    "Predictions": "trustaudit._predict",
    "predict": "trustaudit._predict",
    "AuditConfig": "trustaudit._audit",
    "AuditResult": "trustaudit._audit",
    "audit": "trustaudit._audit",
    "GateConfig": "trustaudit.gate",
    "load_gate_config": "trustaudit.gate",
    "explain_pair": "trustaudit.explain",
    "PairExplanations": "trustaudit.explain",
    "ExampleExplanation": "trustaudit.explain",
    "Attributions": "trustaudit.explain",
    "FeatureSet": "trustaudit.explain",
    "render_html": "trustaudit.report",
    "write_report": "trustaudit.report",
    "summary_text": "trustaudit.report",
    "summary_markdown": "trustaudit.report",
    "junit_xml": "trustaudit.report",
    "rejudge": "trustaudit._audit",
    "evaluate": "trustaudit.gate",
    "register_explainer": "trustaudit.explain",
    "register_metric": "trustaudit.metrics",
}

__all__ = [
    "__version__",
    "TrustAuditError",
    "InvalidInputError",
    "DataError",
    "ModelLoadError",
    "UnsafeModelError",
    "LabelMismatchError",
    "GateConfigError",
    *_LAZY,
]

__getattr__, __dir__ = lazy_names(__name__, _LAZY)
