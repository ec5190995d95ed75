"""The typed sections of a results document: one frozen dataclass per section, each with ``to_dict`` / ``from_dict``.

The stage that computes a section builds its dataclass once (``sections.py``: predictions,
calibration, bias; ``attribution.py``: attribution and examples; ``latency.py``; ``extras.py``;
``verdict.py``; ``run.py``: models, data and the whole :class:`AuditDocument`); the JSON is
their serialisation, and every output (``trustaudit.report``) reads attributes of the
objects that :meth:`AuditDocument.from_dict` rebuilds from it.

One module per section: ``predictions``, ``calibration``, ``attribution`` (and the
explained examples), ``verdict``, ``models`` (models, latency, data), ``bias`` (bias and
extras), ``config`` (the settings and the tool), ``costs`` (engine work and timings),
``hardware`` (the automatic batch size and the reduced precision's check);
``_section`` is the :class:`Section` base that gives each its ``to_dict`` and
``from_dict``; this module holds the whole :class:`AuditDocument`.

Parts that stay plain mappings, because they are free-form and no output reads a key of
them it does not also write out as given: ``executor`` (the executor's own description),
``versions`` (package name to version), a model's ``provenance`` and ``source`` (what made
it and where it came from; they vary by kind of model), the gate thresholds under
``config.gate`` (one key per registered check), the attack records
``extras.adversarial.rows`` and the bias comparison's stage times.

Two rules make ``from_dict(d).to_dict() == d`` hold for every document, of every schema:

- a key the class does not declare (written by a newer trustaudit, or a metric registered
  at run time) is kept in ``extra`` and written back where it was;
- ``keys`` records which keys the document had and in which order, so a key an older
  document lacks is not invented on the way back (its field reads ``None``). A section
  built by its stage leaves ``keys`` unset: it then writes its declared fields in order,
  less those marked ``omit_if_none`` that are ``None``, then ``extra``.

Values are plain JSON types when read back; a stage may pass numpy scalars and NaN, which
``to_dict`` converts (NaN becomes ``null``, as everywhere in the JSON).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from trustaudit._audit.document._section import Section, many, one, optional_key
from trustaudit._audit.document.attribution import AgreementSummary, AttributionSection, Example, ExampleAgreement, ExampleScores, ExplainerAgreement, Feature, SelfAgreement, Statistic, share_of_floor
from trustaudit._audit.document.bias import (
    AdversarialSection,
    AssociationResult,
    AssociationTest,
    AttackParams,
    BiasEmbedding,
    BiasSection,
    CounterfactualExample,
    CounterfactualFlips,
    EffectChange,
    EffectSize,
    ExtrasSection,
    FlipComparison,
    LargestChange,
    LayerCka,
    PoolingCka,
    PoolingResult,
    RepresentationSection,
    Swap,
    TransferDirection,
    TransferRates,
    WordSet,
)
from trustaudit._audit.document.calibration import CalibrationSection, MetricComparison, ModelCalibration, ReliabilityBinsData
from trustaudit._audit.document.config import ConfigSection, ToolInfo
from trustaudit._audit.document.costs import EngineSection, EngineWork, Timings
from trustaudit._audit.document.hardware import BatchSizeSection, BatchTrial, PrecisionSection
from trustaudit._audit.document.models import DataSection, Latency, ModelInfo, ModelsSection
from trustaudit._audit.document.predictions import ClassComparison, ConfidenceBand, Disagreement, McNemar, ModelPredictions, PredictionsSection
from trustaudit._audit.document.verdict import GateCheck, VerdictSection


@dataclasses.dataclass(frozen=True, kw_only=True)
class AuditDocument(Section):
    """A whole results document, section by section; its ``to_dict`` is the results JSON.

    ``extras`` is written only when the extras comparisons ran (``None`` otherwise), ``executor``
    only when the rows ran elsewhere than in this process, and
    ``bias`` is ``None`` in results written before the bias comparison.
    """

    schema_version: int | None = None
    tool: ToolInfo | None = None
    created: str | None = None
    command: str | None = None
    verdict: VerdictSection | None = None
    models: ModelsSection | None = None
    data: DataSection | None = None
    config: ConfigSection | None = None
    executor: Mapping[str, Any] | None = optional_key()
    predictions: PredictionsSection | None = None
    calibration: CalibrationSection | None = None
    attribution: AttributionSection | None = None
    examples: list[Example] | None = None
    bias: BiasSection | None = None
    extras: ExtrasSection | None = optional_key()
    engine: EngineSection | None = None
    batch_size: BatchSizeSection | None = optional_key()
    precision: PrecisionSection | None = optional_key()
    timings: Timings | None = None
    versions: Mapping[str, str] | None = None

    _nested: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        "predictions": one(PredictionsSection),
        "calibration": one(CalibrationSection),
        "attribution": one(AttributionSection),
        "examples": many(Example),
        "verdict": one(VerdictSection),
        "models": one(ModelsSection),
        "data": one(DataSection),
        "bias": one(BiasSection),
        "extras": one(ExtrasSection),
        "tool": one(ToolInfo),
        "config": one(ConfigSection),
        "engine": one(EngineSection),
        "timings": one(Timings),
        "batch_size": one(BatchSizeSection),
        "precision": one(PrecisionSection),
    }


def document_of(result: Any) -> AuditDocument:
    """The typed document of an :class:`~trustaudit.AuditResult`, of a results dict, or the document itself."""
    if isinstance(result, AuditDocument):
        return result
    if isinstance(getattr(result, "sections", None), AuditDocument):
        return result.sections  # type: ignore[no-any-return]
    return AuditDocument.from_dict(result.to_dict() if hasattr(result, "to_dict") else result)


__all__ = [
    "AdversarialSection",
    "AgreementSummary",
    "AssociationResult",
    "AssociationTest",
    "AttackParams",
    "AttributionSection",
    "AuditDocument",
    "BatchSizeSection",
    "BatchTrial",
    "BiasEmbedding",
    "BiasSection",
    "CalibrationSection",
    "ClassComparison",
    "ConfidenceBand",
    "ConfigSection",
    "CounterfactualExample",
    "CounterfactualFlips",
    "DataSection",
    "Disagreement",
    "EffectChange",
    "EffectSize",
    "EngineSection",
    "EngineWork",
    "Example",
    "ExampleAgreement",
    "ExampleScores",
    "ExplainerAgreement",
    "ExtrasSection",
    "Feature",
    "FlipComparison",
    "GateCheck",
    "LargestChange",
    "Latency",
    "LayerCka",
    "McNemar",
    "MetricComparison",
    "ModelCalibration",
    "ModelInfo",
    "ModelPredictions",
    "ModelsSection",
    "PoolingCka",
    "PoolingResult",
    "PrecisionSection",
    "PredictionsSection",
    "ReliabilityBinsData",
    "RepresentationSection",
    "Section",
    "SelfAgreement",
    "Statistic",
    "Swap",
    "Timings",
    "ToolInfo",
    "TransferDirection",
    "TransferRates",
    "VerdictSection",
    "WordSet",
    "document_of",
    "optional_key",
    "share_of_floor",
]
