"""Log an audit to an MLflow run: headline metrics and gate checks as metrics, the config as params,
the verdict as a tag, and the report, JSON results and Markdown summary as artifacts.

MLflow is an optional dependency (``pip install 'trustaudit[mlflow]'``), imported only here.
The run is made with an explicit ``MlflowClient``, so the caller's active run and tracking
URI are left alone.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trustaudit.exceptions import InvalidInputError, MissingDependencyError

MLFLOW_HINT = "pip install 'trustaudit[mlflow]'"
DEFAULT_URI = "./mlruns"
DEFAULT_EXPERIMENT = "trustaudit"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_HEADLINE = (
    "predictions.base.accuracy", "predictions.small.accuracy", "predictions.accuracy_drop", "predictions.agreement",
    "predictions.kappa", "predictions.flips", "predictions.mcnemar.p_value",
    "calibration.base.ece", "calibration.small.ece", "calibration.ece_increase",
    "calibration.base.brier", "calibration.small.brier", "calibration.brier_increase",
    "calibration.base.nll", "calibration.small.nll",
    "attribution.cross_explainer.feature_agreement",
    "models.base.parameters", "models.small.parameters", "models.base.bytes", "models.small.bytes",
    "models.param_ratio", "models.size_ratio", "models.speedup_batch1", "models.speedup_batched",
    "models.base.latency.batch1_ms", "models.small.latency.batch1_ms",
    "data.rows_used",
    "bias.embedding.max_abs_effect_change",
    "bias.counterfactual.comparison.base_flip_rate", "bias.counterfactual.comparison.small_flip_rate",
)
_EXPLAINER_KEYS = ("feature_agreement", "rank_correlation", "floor", "floor_ratio")


@dataclass(frozen=True)
class MlflowRun:
    """Where an audit was logged."""

    tracking_uri: str
    experiment_id: str
    run_id: str
    artifact_uri: str


def require_mlflow() -> None:
    """Raise a one-line install hint when MLflow is not installed (checked before an audit starts)."""
    try:
        import mlflow  # noqa: F401
    except ImportError:
        raise MissingDependencyError(f"--mlflow needs MLflow: {MLFLOW_HINT}") from None


def tracking_uri(uri: str | None) -> str:
    """``uri`` as MLflow takes it: ``None`` is ``$MLFLOW_TRACKING_URI`` or ``./mlruns``; a plain path becomes a ``file:`` URI."""
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI
    if _SCHEME.match(uri) and not re.match(r"^[A-Za-z]:[\\/]", uri):
        return uri
    return Path(uri).expanduser().resolve().as_uri()


def _lookup(doc: Mapping[str, Any], dotted: str) -> Any:
    value: Any = doc
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and value == value and abs(value) != float("inf"):
        return float(value)
    return None


def verdict_tag(verdict: Mapping[str, Any]) -> str:
    """The verdict in words: the verdict's own ``status`` when it has one, else from ``passed``."""
    status = verdict.get("status")
    if isinstance(status, str) and status:
        return status
    return "trust-equivalent" if verdict.get("passed") else "not trust-equivalent"


def audit_metrics(doc: Mapping[str, Any]) -> dict[str, float]:
    """Every headline number and gate check of a results document, as ``{name: value}``.

    A gate check ``key`` gives ``gate.<key>`` (its value), ``gate.<key>.limit`` and
    ``gate.<key>.passed`` (1 or 0); missing or non-finite values are left out.
    """
    metrics: dict[str, float] = {}
    attribution = doc.get("attribution") or {}
    paths = list(_HEADLINE)
    for explainer in attribution.get("explainers", []) if attribution.get("available") else []:
        paths += [f"attribution.{explainer}.{key}" for key in _EXPLAINER_KEYS]
    for path in paths:
        value = _number(_lookup(doc, path))
        if value is not None:
            metrics[path] = value
    verdict = doc.get("verdict") or {}
    passed = _number(verdict.get("passed"))
    if passed is not None:
        metrics["verdict.passed"] = passed
    for check in verdict.get("checks", []):
        key = f"gate.{check['key']}"
        for name, raw in ((key, check.get("value")), (f"{key}.limit", check.get("limit")), (f"{key}.passed", check.get("passed"))):
            value = _number(raw)
            if value is not None:
                metrics[name] = value
    return metrics


def audit_params(doc: Mapping[str, Any]) -> dict[str, str]:
    """The audit's configuration, gate thresholds, models and data as MLflow params (strings)."""
    params: dict[str, str] = {}
    config = doc.get("config") or {}
    for key, value in config.items():
        if key == "gate" and isinstance(value, Mapping):
            params.update({f"gate.{k}": str(v) for k, v in value.items()})
        else:
            params[f"config.{key}"] = str(value)
    for role in ("base", "small"):
        model = (doc.get("models") or {}).get(role) or {}
        for key in ("path", "kind", "fingerprint", "model_type"):
            if model.get(key) is not None:
                params[f"{role}.{key}"] = str(model[key])
        for key, value in (model.get("source") or {}).items():
            params[f"{role}.{key}"] = str(value)
    data = doc.get("data") or {}
    for key in ("path", "sha256", "rows_used"):
        if data.get(key) is not None:
            params[f"data.{key}"] = str(data[key])
    return {k: v[:5000] for k, v in params.items()}


def log_audit(
    result: Any,
    uri: str | None = None,
    *,
    report: str | os.PathLike[str] | None = None,
    json_path: str | os.PathLike[str] | None = None,
    summary: str | os.PathLike[str] | None = None,
    experiment: str | None = None,
    run_name: str | None = None,
) -> MlflowRun:
    """Log an :class:`~trustaudit.AuditResult` as one finished MLflow run and return where it went.

    ``report``, ``json_path`` and ``summary`` are files already written; the JSON results and
    the Markdown summary are written to a temporary folder when not given, so every run has
    all three artifacts (the HTML report when one was written). A local file store (the
    default ``./mlruns``) is allowed explicitly: MLflow 3 keeps it in maintenance mode and
    refuses it unless ``MLFLOW_ALLOW_FILE_STORE`` is set.
    """
    require_mlflow()
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    from trustaudit.report import summary_markdown

    doc = result.to_dict() if hasattr(result, "to_dict") else dict(result)
    target = tracking_uri(uri)
    if target.startswith("file:"):
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    client = MlflowClient(tracking_uri=target)
    name = experiment or os.environ.get("MLFLOW_EXPERIMENT_NAME") or DEFAULT_EXPERIMENT
    try:
        found = client.get_experiment_by_name(name)
        experiment_id = found.experiment_id if found is not None else client.create_experiment(name)
    except Exception as exc:  # MLflow raises MlflowException, OSError or requests errors for a bad store
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInputError(f"--mlflow {target}: cannot use this tracking store: {first}") from exc
    models = doc.get("models") or {}
    default_name = f"{os.path.basename(str(models.get('small', {}).get('path', 'small')))} vs " \
                   f"{os.path.basename(str(models.get('base', {}).get('path', 'base')))}"
    verdict = verdict_tag(doc.get("verdict") or {})
    tags = {"trustaudit.verdict": verdict, "trustaudit.version": str((doc.get("tool") or {}).get("version", ""))}
    run = client.create_run(experiment_id, run_name=run_name or default_name, tags=tags)
    run_id = run.info.run_id
    status = "FAILED"
    try:
        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, 0) for k, v in audit_metrics(doc).items()]
        params = [Param(k, v) for k, v in audit_params(doc).items()]
        for start in range(0, max(len(metrics), len(params)), 100):
            client.log_batch(run_id, metrics=metrics[start:start + 100], params=params[start:start + 100])
        client.log_batch(run_id, tags=[RunTag("trustaudit.sentence", str((doc.get("verdict") or {}).get("sentence", ""))[:5000])])
        with tempfile.TemporaryDirectory() as tmp:
            if json_path is None:
                json_path = Path(tmp, "results.json")
                if hasattr(result, "write_json"):
                    result.write_json(json_path)
                else:
                    json_path.write_text(json.dumps(doc, indent=1), encoding="utf-8")
            if summary is None:
                summary = Path(tmp, "summary.md")
                summary.write_text(summary_markdown(doc, report=str(report) if report else None), encoding="utf-8")
            for path in (report, json_path, summary):
                if path is not None and Path(path).is_file():
                    client.log_artifact(run_id, str(path))
        status = "FINISHED"
    finally:
        client.set_terminated(run_id, status)
    return MlflowRun(target, experiment_id, run_id, client.get_run(run_id).info.artifact_uri)
