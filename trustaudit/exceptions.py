"""Exceptions raised by trustaudit.

Every error a user can provoke with bad input derives from :class:`TrustAuditError`,
so the CLI can turn it into one line on stderr and exit code 2.
"""

from __future__ import annotations


class TrustAuditError(Exception):
    """Base class of every error trustaudit raises on purpose."""


class InvalidInputError(TrustAuditError, ValueError):
    """An argument or a file's content is not what the function accepts."""


class DataError(InvalidInputError):
    """A dataset file cannot be read as asked (missing column, bad row, unknown label...)."""


class ModelLoadError(TrustAuditError):
    """A model path cannot be loaded (unknown format, corrupt bundle, missing files...)."""


class UnsafeModelError(ModelLoadError):
    """A file would need unpickling arbitrary code to load, and the user did not allow it."""


class LabelMismatchError(InvalidInputError):
    """Two models, or a model and a dataset, do not share one label set."""


class GateConfigError(InvalidInputError):
    """A gate configuration has unknown keys or values out of range."""


class MissingDependencyError(TrustAuditError):
    """An optional back-end (ONNX Runtime, MLflow...) is used but its extra is not installed."""


class ExportError(TrustAuditError):
    """A model cannot be exported faithfully (the exported graph does not reproduce its outputs)."""
