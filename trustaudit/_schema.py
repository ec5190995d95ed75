"""Validation of results documents against the JSON Schema shipped with the package.

``jsonschema`` is not a dependency, so this module validates the subset of JSON Schema
(draft 2020-12) that ``schema/results.schema.json`` uses: ``type`` (a name or a list of
names), ``properties``, ``required``, ``additionalProperties`` (a boolean or a schema),
``items``, ``enum``, ``minimum``, ``maximum``, ``minItems``, ``maxItems``, ``anyOf`` and
``$ref`` to ``#/$defs/<name>``. A schema using any other validation keyword is refused, so the schema
cannot silently ask for a check that is not made.

Errors name the place in the document as a dotted path with list indices, such as
``calibration.base.ece`` or ``examples[3].features``.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from trustaudit.exceptions import InvalidInputError

SCHEMA_PATH = Path(__file__).resolve().parent / "schema" / "results.schema.json"

_VALIDATION_KEYWORDS = frozenset({
    "type", "properties", "required", "additionalProperties", "items", "enum",
    "minimum", "maximum", "minItems", "maxItems", "$ref", "anyOf",
})
_ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "$comment", "title", "description", "default", "examples"})
_TYPES = ("null", "boolean", "integer", "number", "string", "array", "object")
_NAMES = {
    "null": "null", "boolean": "true or false", "integer": "an integer", "number": "a number",
    "string": "a string", "array": "a list", "object": "an object",
}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_@\-]*$")


class SchemaError(InvalidInputError):
    """A document does not match its schema; ``path`` is where, ``reason`` what is wrong."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path or '(top level)'}: {reason}")
        self.path = path
        self.reason = reason


def _kind(value: Any) -> str:
    """The JSON type name of a Python value read from JSON ('integer' for whole numbers)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if math.isfinite(value) and value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _matches(value: Any, wanted: str) -> bool:
    kind = _kind(value)
    if wanted == "number":
        return kind in ("integer", "number") and math.isfinite(value)
    return kind == wanted


def _child(path: str, key: str) -> str:
    part = key if _IDENTIFIER.match(key) else json.dumps(key, ensure_ascii=False)
    if not _IDENTIFIER.match(key):
        return f"{path}[{part}]"
    return f"{path}.{part}" if path else part


def _got(value: Any) -> str:
    kind = _kind(value)
    if kind == "number" and not math.isfinite(value):
        return "a non-finite number"
    return {"null": "null", "boolean": "a boolean", "integer": "an integer", "number": "a number", "string": "a string",
            "array": "a list", "object": "an object"}.get(kind, f"a {kind}")


def _expected(types: Sequence[str]) -> str:
    names = [_NAMES[t] for t in types]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def check_schema(schema: Mapping[str, Any], root: Mapping[str, Any] | None = None, where: str = "#") -> None:
    """Raise :class:`ValueError` if ``schema`` uses a keyword or a type this validator does not know."""
    root = schema if root is None else root
    unknown = set(schema) - _VALIDATION_KEYWORDS - _ANNOTATIONS
    if unknown:
        raise ValueError(f"{where}: unsupported schema keyword(s) {', '.join(sorted(unknown))}")
    types = schema.get("type", [])
    for name in [types] if isinstance(types, str) else types:
        if name not in _TYPES:
            raise ValueError(f"{where}: unknown type {name!r}")
    if "$ref" in schema:
        _resolve(root, schema["$ref"])
    for name, sub in schema.get("$defs", {}).items():
        check_schema(sub, root, f"{where}/$defs/{name}")
    for name, sub in schema.get("properties", {}).items():
        check_schema(sub, root, f"{where}/properties/{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), Mapping):
            check_schema(schema[key], root, f"{where}/{key}")
    for i, sub in enumerate(schema.get("anyOf", [])):
        check_schema(sub, root, f"{where}/anyOf/{i}")


def _resolve(root: Mapping[str, Any], ref: str) -> Mapping[str, Any]:
    prefix = "#/$defs/"
    if not ref.startswith(prefix) or ref[len(prefix):] not in root.get("$defs", {}):
        raise ValueError(f"unsupported or dangling $ref {ref!r} (only #/$defs/<name>)")
    return root["$defs"][ref[len(prefix):]]


def iter_errors(instance: Any, schema: Mapping[str, Any], root: Mapping[str, Any] | None = None, path: str = "") -> Iterator[SchemaError]:
    """Every place where ``instance`` does not match ``schema``, depth first, in document order.

    Below a value of the wrong type nothing more is reported.
    """
    root = schema if root is None else root
    if "$ref" in schema:
        yield from iter_errors(instance, _resolve(root, schema["$ref"]), root, path)
    if "anyOf" in schema:
        reasons = [next(iter_errors(instance, sub, root, path), None) for sub in schema["anyOf"]]
        if all(r is not None for r in reasons):
            yield SchemaError(path, " or ".join(dict.fromkeys(r.reason for r in reasons if r is not None)))
            return
    if "type" in schema:
        types = [schema["type"]] if isinstance(schema["type"], str) else list(schema["type"])
        if not any(_matches(instance, t) for t in types):
            yield SchemaError(path, f"expected {_expected(types)}, got {_got(instance)}")
            return
    if "enum" in schema and not any(_kind(instance) == _kind(v) and instance == v for v in schema["enum"]):
        options = ", ".join(json.dumps(v, ensure_ascii=False) for v in schema["enum"])
        yield SchemaError(path, f"expected one of {options}, got {json.dumps(instance, ensure_ascii=False)[:60]}")
    if _kind(instance) in ("integer", "number"):
        if "minimum" in schema and instance < schema["minimum"]:
            yield SchemaError(path, f"expected at least {schema['minimum']}, got {instance}")
        if "maximum" in schema and instance > schema["maximum"]:
            yield SchemaError(path, f"expected at most {schema['maximum']}, got {instance}")
    if isinstance(instance, Mapping):
        yield from _object_errors(instance, schema, root, path)
    elif isinstance(instance, (list, tuple)):
        if "minItems" in schema and len(instance) < schema["minItems"]:
            yield SchemaError(path, f"expected at least {schema['minItems']} items, got {len(instance)}")
        if "maxItems" in schema and len(instance) > schema["maxItems"]:
            yield SchemaError(path, f"expected at most {schema['maxItems']} items, got {len(instance)}")
        if isinstance(schema.get("items"), Mapping):
            for i, item in enumerate(instance):
                yield from iter_errors(item, schema["items"], root, f"{path}[{i}]")


def _object_errors(instance: Mapping[str, Any], schema: Mapping[str, Any], root: Mapping[str, Any], path: str) -> Iterator[SchemaError]:
    for key in schema.get("required", ()):
        if key not in instance:
            yield SchemaError(path, f"the required field {key!r} is missing")
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for key, value in instance.items():
        if key in properties:
            yield from iter_errors(value, properties[key], root, _child(path, str(key)))
        elif extra is False:
            yield SchemaError(_child(path, str(key)), "is not a field of this object")
        elif isinstance(extra, Mapping):
            yield from iter_errors(value, extra, root, _child(path, str(key)))


def validate(instance: Any, schema: Mapping[str, Any]) -> None:
    """Raise the first :class:`SchemaError` of ``instance`` against ``schema``, if any."""
    for error in iter_errors(instance, schema):
        raise error


@functools.lru_cache(maxsize=1)
def results_schema() -> dict[str, Any]:
    """The JSON Schema of the results document (``trustaudit/schema/results.schema.json``)."""
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    check_schema(schema)
    return schema


def validate_results(doc: Any) -> None:
    """Raise :class:`SchemaError` unless ``doc`` is a results document a report can be made from.

    The schema checks types and required fields; the few rules it cannot state (a section
    marked available has its parts; every example speaks of the document's labels and
    scores each of its features) are checked here.
    """
    validate(doc, results_schema())
    if doc["schema_version"] >= 2:
        for key in ("status", "decision"):
            if key not in doc["verdict"]:
                raise SchemaError("verdict", f"a schema-{doc['schema_version']} verdict needs the field {key!r}")
    labels = doc["predictions"]["labels"]
    for name, parts in (("calibration", ("base", "small", "comparison")), ("attribution", ("k", "explainers"))):
        section = doc.get(name) or {}
        if section.get("available"):
            for part in parts:
                if part not in section:
                    raise SchemaError(name, f"is marked available but the field {part!r} is missing")
    for i, example in enumerate(doc.get("examples") or []):
        where = f"examples[{i}]"
        for key in ("base_probs", "small_probs"):
            missing = [label for label in labels if label not in example[key]]
            if missing:
                raise SchemaError(f"{where}.{key}", f"has no probability for the label {missing[0]!r}")
        if example["target"] not in labels:
            raise SchemaError(f"{where}.target", f"{example['target']!r} is not one of the labels {labels}")
        n = len(example["features"])
        for explainer, scores in example["scores"].items():
            for role in ("base", "small", "base_repeat"):
                values = scores.get(role)
                if values is not None and len(values) != n:
                    raise SchemaError(
                        _child(f"{where}.scores", explainer) + f".{role}", f"has {len(values)} scores for {n} features"
                    )
