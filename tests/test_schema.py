"""The results schema and its validator: the subset of JSON Schema it checks, and every results file we have."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from trustaudit._audit import AuditResult
from trustaudit._schema import SCHEMA_PATH, SchemaError, check_schema, iter_errors, results_schema, validate, validate_results
from trustaudit.cli import main
from trustaudit.exceptions import InvalidInputError

ROOT = Path(__file__).resolve().parents[1]
RESULTS_FILES = sorted([ROOT / "tests" / "gold" / "results.json", *ROOT.glob("sample_reports/*/results.json")])
GOLD = ROOT / "tests" / "gold" / "results.json"

SCHEMA = {
    "type": "object",
    "required": ["n", "name"],
    "properties": {
        "n": {"type": "integer", "minimum": 0, "maximum": 10},
        "name": {"type": "string", "enum": ["a", "b"]},
        "x": {"$ref": "#/$defs/maybe_number"},
        "pair": {"type": ["array", "null"], "minItems": 2, "maxItems": 2, "items": {"type": "number"}},
        "closed": {"type": "object", "properties": {"k": {"type": "boolean"}}, "additionalProperties": False},
        "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
    },
    "$defs": {"maybe_number": {"type": ["number", "null"]}},
}


def _error(instance: object, schema: dict = SCHEMA) -> str:
    errors = list(iter_errors(instance, schema))
    assert errors, "expected an error"
    return str(errors[0])


def test_a_valid_instance_has_no_errors() -> None:
    ok = {"n": 3, "name": "a", "x": None, "pair": [0.1, 2], "closed": {"k": True}, "counts": {"any key": 2}, "extra": [1]}
    assert list(iter_errors(ok, SCHEMA)) == []
    validate(ok, SCHEMA)
    assert list(iter_errors({**ok, "x": 1.5, "pair": None, "n": 3.0}, SCHEMA)) == []


@pytest.mark.parametrize(
    "change,message",
    [
        ({"n": "3"}, "n: expected an integer, got a string"),
        ({"n": True}, "n: expected an integer, got a boolean"),
        ({"n": 2.5}, "n: expected an integer, got a number"),
        ({"n": 11}, "n: expected at most 10, got 11"),
        ({"n": -1}, "n: expected at least 0, got -1"),
        ({"name": "c"}, 'name: expected one of "a", "b", got "c"'),
        ({"x": [1]}, "x: expected a number or null, got a list"),
        ({"x": float("nan")}, "x: expected a number or null, got a non-finite number"),
        ({"pair": [1]}, "pair: expected at least 2 items, got 1"),
        ({"pair": [1, 2, 3]}, "pair: expected at most 2 items, got 3"),
        ({"pair": [1, "2"]}, "pair[1]: expected a number, got a string"),
        ({"closed": {"k": True, "z": 1}}, "closed.z: is not a field of this object"),
        ({"counts": {"missing label": "2"}}, 'counts["missing label"]: expected an integer, got a string'),
    ],
)
def test_each_keyword_reports_the_path_and_the_problem(change: dict, message: str) -> None:
    assert _error({"n": 1, "name": "a", **change}) == message


def test_missing_required_field_and_wrong_top_level_type() -> None:
    assert _error({"n": 1}) == "(top level): the required field 'name' is missing"
    assert _error([1, 2]) == "(top level): expected an object, got a list"
    with pytest.raises(SchemaError) as info:
        validate({"n": 1}, SCHEMA)
    assert isinstance(info.value, InvalidInputError) and info.value.path == ""


def test_unsupported_keywords_and_dangling_refs_are_refused() -> None:
    with pytest.raises(ValueError, match="unsupported schema keyword"):
        check_schema({"type": "string", "pattern": "^a"})
    with pytest.raises(ValueError, match="unknown type"):
        check_schema({"type": "float"})
    with pytest.raises(ValueError, match="dangling"):
        check_schema({"properties": {"a": {"$ref": "#/$defs/none"}}})
    check_schema(results_schema())


def test_the_schema_is_package_data_for_versions_1_and_2() -> None:
    assert SCHEMA_PATH.parent.parent.name == "trustaudit" and SCHEMA_PATH.is_file()
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["properties"]["schema_version"]["enum"] == [1, 2]


def test_a_schema_2_verdict_needs_its_status() -> None:
    from trustaudit._schema import SchemaError, validate_results

    doc = json.loads((ROOT / "tests" / "gold" / "results.json").read_text(encoding="utf-8"))
    validate_results(doc)
    doc["schema_version"] = 2
    with pytest.raises(SchemaError, match="needs the field 'status'"):
        validate_results(doc)
    doc["verdict"].update(status="fine", decision="interval")
    with pytest.raises(SchemaError, match="verdict.status"):
        validate_results(doc)


@pytest.mark.parametrize("path", RESULTS_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_stored_results_file_matches_the_schema(path: Path) -> None:
    validate_results(json.loads(path.read_text(encoding="utf-8")))


def test_stored_results_files_are_found() -> None:
    assert len(RESULTS_FILES) >= 2


def test_the_schema_allows_new_optional_fields_but_not_new_types() -> None:
    doc = json.loads(GOLD.read_text(encoding="utf-8"))
    newer = copy.deepcopy(doc)
    newer["predictions"]["new_figure"] = {"anything": [1, 2]}
    newer["models"]["base"]["new_field"] = "x"
    validate_results(newer)
    retyped = copy.deepcopy(doc)
    retyped["predictions"]["flips"] = "7"
    with pytest.raises(SchemaError, match=r"^predictions\.flips: expected an integer, got a string$"):
        validate_results(retyped)


@pytest.mark.parametrize(
    "edit,message",
    [
        (lambda d: d.__setitem__("schema_version", "1"), "schema_version: expected an integer, got a string"),
        (lambda d: d["calibration"]["base"].__setitem__("ece", [0.1]), "calibration.base.ece: expected a number or null, got a list"),
        (lambda d: d["examples"][0].pop("features"), "examples[0]: the required field 'features' is missing"),
        (lambda d: d["examples"][1]["base_probs"].pop("neutral"), "examples[1].base_probs: has no probability for the label 'neutral'"),
        (lambda d: d["examples"][0]["scores"]["lime"]["small"].pop(), "examples[0].scores.lime.small: has"),
        (lambda d: d["calibration"].pop("comparison"), "calibration: is marked available but the field 'comparison' is missing"),
        (lambda d: d["data"].__setitem__("skipped", {"empty text": -1}), 'data.skipped["empty text"]: expected at least 0, got -1'),
    ],
)
def test_render_refuses_a_bad_results_file_before_writing(
    edit, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = json.loads(GOLD.read_text(encoding="utf-8"))
    edit(doc)
    results = tmp_path / "results.json"
    results.write_text(json.dumps(doc), encoding="utf-8")
    before = results.read_bytes()
    out = tmp_path / "report.html"
    code = main(["render", str(results), "-o", str(out), "--summary", str(tmp_path / "s.md")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"trustaudit: error: {results}: {message}") and err.count("\n") == 1, err
    assert not out.exists() and not (tmp_path / "s.md").exists()
    assert results.read_bytes() == before


def test_newer_schema_version_is_named(tmp_path: Path) -> None:
    doc = json.loads(GOLD.read_text(encoding="utf-8"))
    doc["schema_version"] = 3
    with pytest.raises(InvalidInputError, match="schema_version 3 is newer"):
        AuditResult.from_dict(doc)
