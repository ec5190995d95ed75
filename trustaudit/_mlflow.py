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

from trustaudit._audit.document import VerdictSection, document_of
from trustaudit.exceptions import InvalidInputError, MissingDependencyError

MLFLOW_HINT = "pip install 'trustaudit[mlflow]'"
DEFAULT_URI = "./mlruns"
DEFAULT_EXPERIMENT = "trustaudit"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
#: Headline metrics: each MLflow name is its dotted path in the typed document.
_HEADLINE: tuple[str, ...] = (
    "predictions.base.accuracy", "predictions.small.accuracy", "predictions.accuracy_drop", "predictions.agreement",
    "predictions.kappa", "predictions.flips", "predictions.mcnemar.p_value", "calibration.base.ece",
    "calibration.small.ece", "calibration.ece_increase", "calibration.base.brier", "calibration.small.brier",
    "calibration.brier_increase", "calibration.base.nll", "calibration.small.nll",
    "attribution.cross_explainer.feature_agreement", "models.base.parameters", "models.small.parameters",
    "models.base.bytes", "models.small.bytes", "models.param_ratio", "models.size_ratio", "models.speedup_batch1",
    "models.speedup_batched", "models.base.latency.batch1_ms", "models.small.latency.batch1_ms", "data.rows_used",
    "bias.embedding.max_abs_effect_change", "bias.counterfactual.comparison.base_flip_rate",
    "bias.counterfactual.comparison.small_flip_rate",
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


def _at(section: Any, *fields: str) -> Any:
    """The attribute ``fields`` of a typed section, one level each; ``None`` when a level is absent."""
    value = section
    for name in fields:
        if value is None:
            return None
        value = getattr(value, name)
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and value == value and abs(value) != float("inf"):
        return float(value)
    return None


def verdict_tag(verdict: VerdictSection | Mapping[str, Any]) -> str:
    """The verdict in words: the verdict's own ``status`` when it has one, else from ``passed``.

    ``verdict`` is the typed ``verdict`` section (or its dict, as a results file holds it).
    """
    section = verdict if isinstance(verdict, VerdictSection) else VerdictSection.from_dict(verdict)
    if isinstance(section.status, str) and section.status:
        return section.status
    return "trust-equivalent" if section.passed else "not trust-equivalent"


def audit_metrics(doc: Any) -> dict[str, float]:
    """Every headline number and gate check of a results document, as ``{name: value}``.

    ``doc`` is an :class:`~trustaudit.AuditResult`, its typed document or its dict. A gate
    check ``key`` gives ``gate.<key>`` (its value), ``gate.<key>.limit`` and
    ``gate.<key>.passed`` (1 or 0); missing or non-finite values are left out.
    """
    document = document_of(doc)
    readings: list[tuple[str, Any]] = [(name, _at(document, *name.split("."))) for name in _HEADLINE]
    attribution = document.attribution
    if attribution is not None and attribution.available:
        for name in attribution.explainers or []:
            explainer = attribution.explainer(name)
            readings += [(f"attribution.{name}.{key}", _at(explainer, key)) for key in _EXPLAINER_KEYS]
    verdict = document.verdict
    if verdict is not None:
        readings.append(("verdict.passed", verdict.passed))
        for check in verdict.checks or []:
            key = f"gate.{check.key}"
            readings += [(key, check.value), (f"{key}.limit", check.limit), (f"{key}.passed", check.passed)]
    metrics: dict[str, float] = {}
    for name, raw in readings:
        value = _number(raw)
        if value is not None:
            metrics[name] = value
    return metrics


def audit_params(doc: Any) -> dict[str, str]:
    """The audit's configuration, gate thresholds, models and data as MLflow params (strings).

    ``doc`` is an :class:`~trustaudit.AuditResult`, its typed document or its dict.
    """
    document = document_of(doc)
    params: dict[str, str] = {}
    settings = document.config.settings() if document.config is not None else {}
    for key, value in settings.items():
        if key == "gate" and isinstance(value, Mapping):
            params.update({f"gate.{k}": str(v) for k, v in value.items()})
        else:
            params[f"config.{key}"] = str(value)
    models = document.models
    for role in ("base", "small"):
        model = getattr(models, role) if models is not None else None
        if model is None:
            continue
        for key in ("path", "kind", "fingerprint", "model_type"):
            if getattr(model, key) is not None:
                params[f"{role}.{key}"] = str(getattr(model, key))
        for key, value in (model.source or {}).items():
            params[f"{role}.{key}"] = str(value)
    data = document.data
    for key in ("path", "sha256", "rows_used"):
        if data is not None and getattr(data, key) is not None:
            params[f"data.{key}"] = str(getattr(data, key))
    return {k: v[:5000] for k, v in params.items()}


def audit_tags(doc: Any) -> dict[str, str]:
    """The run's tags: the verdict in words, the version of trustaudit that wrote the results, and the verdict's sentence."""
    document = document_of(doc)
    verdict = document.verdict or VerdictSection()
    version = document.tool.version if document.tool is not None else None
    return {
        "trustaudit.verdict": verdict_tag(verdict),
        "trustaudit.version": str(version if version is not None else ""),
        "trustaudit.sentence": str(verdict.sentence if verdict.sentence is not None else "")[:5000],
    }


def default_run_name(doc: Any) -> str:
    """The default name of the run: the small model's file name vs the base model's."""
    models = document_of(doc).models
    names = []
    for role in ("small", "base"):
        model = getattr(models, role) if models is not None else None
        names.append(os.path.basename(str(model.path if model is not None and model.path is not None else role)))
    return " vs ".join(names)


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

    document = document_of(result)
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
    tags = audit_tags(document)
    sentence = tags.pop("trustaudit.sentence")
    run = client.create_run(experiment_id, run_name=run_name or default_run_name(document), tags=tags)
    run_id = run.info.run_id
    status = "FAILED"
    try:
        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, 0) for k, v in audit_metrics(document).items()]
        params = [Param(k, v) for k, v in audit_params(document).items()]
        for start in range(0, max(len(metrics), len(params)), 100):
            client.log_batch(run_id, metrics=metrics[start:start + 100], params=params[start:start + 100])
        client.log_batch(run_id, tags=[RunTag("trustaudit.sentence", sentence)])
        with tempfile.TemporaryDirectory() as tmp:
            if json_path is None:
                json_path = Path(tmp, "results.json")
                if hasattr(result, "write_json"):
                    result.write_json(json_path)
                else:
                    json_path.write_text(json.dumps(document.to_dict(), indent=1), encoding="utf-8")
            if summary is None:
                summary = Path(tmp, "summary.md")
                summary.write_text(summary_markdown(document, report=str(report) if report else None), encoding="utf-8")
            for path in (report, json_path, summary):
                if path is not None and Path(path).is_file():
                    client.log_artifact(run_id, str(path))
        status = "FINISHED"
    finally:
        client.set_terminated(run_id, status)
    return MlflowRun(target, experiment_id, run_id, client.get_run(run_id).info.artifact_uri)
