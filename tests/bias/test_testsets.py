"""The shipped WEAT 3-8 lists and the loader of a user's own association tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trustaudit.bias import DEFAULT_TEMPLATES, BiasTestSuite, load_bias_tests, parse_bias_tests, standard_tests
from trustaudit.bias._testsets import fill
from trustaudit.exceptions import InvalidInputError


def test_standard_tests_are_weat_3_to_8_with_the_papers_sizes() -> None:
    suite = standard_tests()
    sizes = {t.name: tuple(len(s.words) for s in t.sets) for t in suite.tests}
    assert sizes == {
        "WEAT3": (32, 32, 25, 25), "WEAT4": (16, 16, 25, 25), "WEAT5": (16, 16, 8, 8),
        "WEAT6": (8, 8, 8, 8), "WEAT7": (8, 8, 8, 8), "WEAT8": (8, 8, 8, 8),
    }
    assert "Caliskan" in suite.citation and "Science 356" in suite.citation
    assert suite.templates == DEFAULT_TEMPLATES and all(len(t) == 8 for t in suite.templates.values())
    kinds = {t.name: tuple(s.kind for s in t.sets) for t in suite.tests}
    assert kinds["WEAT3"] == ("name", "name", "term", "term") and kinds["WEAT7"] == ("term",) * 4
    weat5 = suite.tests[2]
    assert set(weat5.A.words) == {"joy", "love", "peace", "wonderful", "pleasure", "friend", "laughter", "happy"}
    assert set(weat5.B.words) == {"agony", "terrible", "horrible", "nasty", "evil", "war", "awful", "failure"}
    weat3 = suite.tests[0]
    assert {"bomb", "evil"} <= set(weat3.B.words) and not {"agony", "prison"} & set(weat3.B.words)
    assert weat3.X.words[:3] == ("Adam", "Harry", "Josh") and weat3.Y.words[-1] == "Yvette"
    assert standard_tests(["WEAT8"]).tests[0].X.words[4:6] == ("Einstein", "NASA")


def test_a_subset_by_name_and_an_unknown_name() -> None:
    assert [t.name for t in standard_tests(["WEAT7", "WEAT6"]).tests] == ["WEAT7", "WEAT6"]
    with pytest.raises(InvalidInputError, match="unknown standard bias test.*WEAT1"):
        standard_tests(["WEAT1"])


def test_templates_fill_the_article() -> None:
    assert fill("This is {a} {word}.", "executive") == "This is an executive."
    assert fill("{A} {word} is a thing.", "career") == "A career is a thing."
    assert fill("{A} {word} is a thing.", "office") == "An office is a thing."
    assert fill("The person's name is {word}.", "Amy") == "The person's name is Amy."


def test_a_users_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({
        "citation": "my lab, 2024",
        "templates": {"term": ["A {word}."]},
        "tests": [{
            "name": "jobs",
            "description": "nurse vs engineer",
            "X": {"label": "care", "words": ["nurse", "nanny", "midwife"]},
            "Y": ["engineer", "plumber"],
            "A": {"label": "female", "kind": "term", "words": [" she ", "woman"]},
            "B": {"words": ["he", "man"], "kind": "term"},
        }],
    }), encoding="utf-8")
    suite = load_bias_tests(path)
    test = suite.tests[0]
    assert (test.name, test.description, suite.source, suite.citation) == ("jobs", "nurse vs engineer", str(path), "my lab, 2024")
    assert test.X.label == "care" and test.Y.label == "Y" and test.Y.words == ("engineer", "plumber")
    assert test.A.words == ("she", "woman") and test.B.kind == "term"
    assert suite.templates["term"] == ("A {word}.",) and suite.templates["name"] == DEFAULT_TEMPLATES["name"]
    again = parse_bias_tests(json.loads(json.dumps(suite.to_dict())), "again")
    assert again.tests == suite.tests and again.templates == suite.templates


GOOD_TEST = {"name": "t", "X": ["a1"], "Y": ["b1"], "A": ["c1"], "B": ["d1"]}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", r"not valid JSON \(line 1, column 2"),
        (json.dumps([GOOD_TEST]), "expected a JSON object with 'tests', got list"),
        (json.dumps({"tests": []}), "'tests' must be a non-empty list"),
        (json.dumps({"tests": [GOOD_TEST], "templtes": {}}), "unknown key.*'templtes'"),
        (json.dumps({"tests": [{**GOOD_TEST, "name": ""}]}), r"tests\[0\] needs a non-empty string 'name'"),
        (json.dumps({"tests": [{k: v for k, v in GOOD_TEST.items() if k != "B"}]}), "test 't' is missing set.*B"),
        (json.dumps({"tests": [{**GOOD_TEST, "A": []}]}), "test 't': set 'A' is empty"),
        (json.dumps({"tests": [{**GOOD_TEST, "A": {"label": "x"}}]}), "set 'A' has no 'words'"),
        (json.dumps({"tests": [{**GOOD_TEST, "X": ["a1", "a1"]}]}), "set 'X' lists 'a1' twice"),
        (json.dumps({"tests": [{**GOOD_TEST, "Y": ["A1"]}]}), "'a1' in both X and Y"),
        (json.dumps({"tests": [{**GOOD_TEST, "X": {"words": ["a1"], "kind": "person"}}]}), "kind must be one of term, name"),
        (json.dumps({"tests": [{**GOOD_TEST, "X": ["a1", 3]}]}), "word 1 must be a non-empty string"),
        (json.dumps({"tests": [GOOD_TEST, GOOD_TEST]}), "test name.*'t' used more than once"),
        (json.dumps({"tests": [GOOD_TEST], "templates": {"term": ["no slot"]}}), "must contain {word} exactly once"),
        (json.dumps({"tests": [GOOD_TEST], "templates": {"term": ["{word} {other}"]}}), "may only use {word}, {a} and {A}"),
        (json.dumps({"tests": [GOOD_TEST], "templates": {"place": ["{word}"]}}), "unknown kind 'place'"),
    ],
)
def test_a_bad_file_gives_a_one_line_error_naming_it(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InvalidInputError, match=message) as caught:
        load_bias_tests(path)
    assert str(caught.value).startswith(f"{path}: ") and "\n" not in str(caught.value)


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="no such bias test file"):
        load_bias_tests(tmp_path / "nope.json")


def test_suite_is_frozen() -> None:
    suite = standard_tests()
    assert isinstance(suite, BiasTestSuite)
    with pytest.raises(AttributeError):
        suite.tests = ()  # type: ignore[misc]
