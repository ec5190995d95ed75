"""The results document of an audit (:class:`AuditResult`): JSON in and out, validated, older schemas brought up to date."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from trustaudit._audit.document import (
    AttributionSection,
    AuditDocument,
    BiasSection,
    CalibrationSection,
    DataSection,
    Example,
    ExtrasSection,
    ModelsSection,
    PredictionsSection,
    VerdictSection,
)
from trustaudit._audit.verdict import verdict_section
from trustaudit._io import write_text_atomic
from trustaudit._version import __version__
from trustaudit.exceptions import InvalidInputError
from trustaudit.gate import GateConfig, GateResult

SCHEMA_VERSION = 2


@dataclass(frozen=True, eq=False)
class AuditResult:
    """The outcome of an audit: one plain-JSON document with typed accessors.

    ``document`` is the JSON as written; :attr:`sections` is the same document as typed
    sections (:mod:`trustaudit._audit.document`), and ``result.predictions``,
    ``result.calibration``... are its sections, e.g. ``result.calibration.small.ece`` is
    ``result.get("calibration.small.ece")``.
    """

    document: Mapping[str, Any]

    @cached_property
    def sections(self) -> AuditDocument:
        """The document as typed sections, built once from :attr:`document` with ``from_dict``."""
        return AuditDocument.from_dict(self.document)

    @property
    def predictions(self) -> PredictionsSection:
        """The ``predictions`` section: agreement, flips, per-class drops, disagreeing rows."""
        return self.sections.predictions  # type: ignore[return-value]

    @property
    def calibration(self) -> CalibrationSection:
        """The ``calibration`` section: both models' calibration metrics and their comparisons."""
        return self.sections.calibration  # type: ignore[return-value]

    @property
    def attribution(self) -> AttributionSection:
        """The ``attribution`` section: each explainer's agreement against its noise floor."""
        return self.sections.attribution  # type: ignore[return-value]

    @property
    def examples(self) -> list[Example]:
        """The explained rows, with both models' scores."""
        return list(self.sections.examples or [])

    @property
    def verdict(self) -> VerdictSection:
        """The ``verdict`` section: status, checks and sentence."""
        return self.sections.verdict  # type: ignore[return-value]

    @property
    def models(self) -> ModelsSection:
        """The ``models`` section: both models, their sizes, provenance and latency."""
        return self.sections.models  # type: ignore[return-value]

    @property
    def data(self) -> DataSection:
        """The ``data`` section: the file, rows used and skipped, columns."""
        return self.sections.data  # type: ignore[return-value]

    @property
    def bias(self) -> BiasSection | None:
        """The ``bias`` section (None in results written before it)."""
        return self.sections.bias

    @property
    def extras(self) -> ExtrasSection | None:
        """The ``extras`` section (None when the extras comparisons did not run)."""
        return self.sections.extras

    @property
    def passed(self) -> bool:
        """True only when the verdict is ``trust-equivalent``."""
        return bool(self.verdict.passed)

    @property
    def status(self) -> str:
        """The verdict: ``trust-equivalent``, ``not trust-equivalent``, ``inconclusive`` or ``incomplete``."""
        return str(self.verdict.status)

    @property
    def gate(self) -> GateResult:
        """The gate checks as objects."""
        return self.verdict.gate()  # type: ignore[no-any-return]

    def __getitem__(self, key: str) -> Any:
        return self.document[key]

    def get(self, path: str, default: Any = None) -> Any:
        """A value by dotted path, e.g. ``result.get("calibration.small.ece")``."""
        node: Any = self.document
        for part in path.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return default
            node = node[part]
        return node

    def to_dict(self) -> dict[str, Any]:
        """A deep copy of the document (plain JSON types only)."""
        return copy.deepcopy(dict(self.document))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditResult:
        """Wrap a document read back from JSON, validated against the results schema of its version.

        A document of an earlier schema is brought to the current one: its verdict is
        judged again under the current rules from its stored values and intervals (with
        its stored thresholds), and ``verdict.rejudged`` says so. Raises
        :class:`~trustaudit._schema.SchemaError` (an :class:`InvalidInputError`) naming the
        JSON path of the first problem.
        """
        from trustaudit._schema import validate_results

        version = data.get("schema_version") if isinstance(data, Mapping) else None
        if version is None:
            raise InvalidInputError("not a trustaudit results document (no schema_version)")
        if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
            raise InvalidInputError(f"results schema_version {version} is newer than this trustaudit reads ({SCHEMA_VERSION})")
        validate_results(data)
        doc = copy.deepcopy(dict(data))
        if doc["schema_version"] < SCHEMA_VERSION:
            doc = upgrade(doc, doc["schema_version"])
        return cls(doc)

    def to_json(self) -> str:
        """The document as JSON text (no NaN: missing values are null)."""
        return json.dumps(self.document, indent=1, ensure_ascii=False, allow_nan=False) + "\n"

    def write_json(self, path: str | os.PathLike[str]) -> Path:
        """Write the JSON atomically.

        Parameters
        ----------
        path : str or path-like
            The file to write (temporary file, then rename); an existing file is replaced.

        Returns
        -------
        Path
            ``path``.

        Examples
        --------
        >>> import trustaudit
        >>> result = trustaudit.audit("base-model/", "small-model/", "dev.tsv")  # doctest: +SKIP
        >>> result.write_json("results.json")  # doctest: +SKIP
        PosixPath('results.json')
        """
        write_text_atomic(path, self.to_json())
        return Path(path)

    @classmethod
    def read_json(cls, path: str | os.PathLike[str]) -> AuditResult:
        """Read a results file written by :meth:`write_json`; every problem is named with ``path``.

        A document of an earlier schema is brought up to date and judged again.

        Parameters
        ----------
        path : str or path-like
            A results JSON file.

        Returns
        -------
        AuditResult
            The results.

        Raises
        ------
        InvalidInputError
            If ``path`` is missing, a directory, not UTF-8 JSON, or not a valid results
            document.

        Examples
        --------
        >>> from trustaudit import AuditResult
        >>> result = AuditResult.read_json("results.json")  # doctest: +SKIP
        >>> result.status  # doctest: +SKIP
        'trust-equivalent'
        >>> AuditResult.read_json("no-such-results.json")
        Traceback (most recent call last):
        ...
        trustaudit.exceptions.InvalidInputError: no-such-results.json: no such file
        """
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InvalidInputError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise InvalidInputError(f"{path}: is a directory, not a results file") from None
        except UnicodeDecodeError:
            raise InvalidInputError(f"{path}: not UTF-8 text, so not a results file") from None
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
        try:
            return cls.from_dict(data)
        except InvalidInputError as exc:
            raise InvalidInputError(f"{path}: {exc}") from None


def rejudge(result: AuditResult, gate: GateConfig, source: str) -> AuditResult:
    """The same results judged against another gate configuration.

    Nothing is measured again: the stored values and intervals are judged against
    ``gate``, and the document records the new thresholds and where they came from.

    Parameters
    ----------
    result : AuditResult
        An audit's results.
    gate : GateConfig
        The thresholds and decision rule to judge them against.
    source : str
        Where ``gate`` came from (a file name, ``"defaults"``...), stored with the verdict.

    Returns
    -------
    AuditResult
        A new document with the new verdict; ``result`` is unchanged.

    Examples
    --------
    >>> from trustaudit import AuditResult, GateConfig, rejudge
    >>> result = AuditResult.read_json("results.json")  # doctest: +SKIP
    >>> strict = rejudge(result, GateConfig(max_accuracy_drop=0.005), "stricter accuracy")  # doctest: +SKIP
    >>> strict.status  # doctest: +SKIP
    'inconclusive'
    """
    doc = result.to_dict()
    previous = doc["verdict"].get("rejudged")
    doc["verdict"] = verdict_section(doc, gate, source).to_dict()
    if previous:
        doc["verdict"]["rejudged"] = previous
    doc["config"]["gate"] = gate.to_dict()
    doc["config"]["gate_source"] = source
    return AuditResult(doc)


def upgrade(doc: dict[str, Any], version: int) -> dict[str, Any]:
    """A results document of an earlier schema, in the current one, its verdict judged again.

    Schema 1 judged point estimates by default and let a check that could not be measured
    pass; its stored thresholds are kept and judged under the current rules (decision
    ``interval``, four-valued verdict). A schema-1 noise floor paired the base and the small
    model on shared LIME samples, which favours the comparison over its floor.
    """
    stored = dict(doc.get("config", {}).get("gate") or {})
    stored.pop("use_intervals", None)
    gate = GateConfig.from_dict(stored, "stored thresholds", warn=False)
    source = doc.get("verdict", {}).get("source", "stored thresholds")
    written_by = doc.get("tool", {}).get("version", "an earlier version")
    doc["config"]["gate"] = gate.to_dict()
    doc["verdict"] = verdict_section(doc, gate, source).to_dict()
    doc["verdict"]["rejudged"] = (
        f"Re-judged under the rules of trustaudit {__version__} (decision \"interval\", four-valued verdict) from "
        f"results of schema {version} written by trustaudit {written_by}; their noise floors were measured with "
        "the earlier pairing (base and small model on shared LIME samples)."
    )
    doc["schema_version"] = SCHEMA_VERSION
    return doc
