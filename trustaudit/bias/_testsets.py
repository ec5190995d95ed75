"""Association test sets (WEAT/SEAT): the shipped WEAT 3-8 and a user's own, as JSON.

A test-set file is a JSON object::

    {
      "templates": {"term": ["This is {a} {word}.", ...], "name": ["This is {word}.", ...]},  # optional
      "tests": [
        {"name": "WEAT6", "description": "...",                                             # description optional
         "X": {"label": "male names", "kind": "name", "words": ["John", ...]},
         "Y": {...}, "A": {...}, "B": {...}},
        ...
      ]
    }

X and Y are the target sets, A and B the attribute sets. A set may also be a bare list of
words (label = its key, kind ``term``). ``kind`` chooses the sentence templates: ``name``
for first names, ``term`` for everything else. What is required: at least one test; test
names unique; every set non-empty, of non-empty strings without duplicates; no word in both
X and Y nor in both A and B (case-insensitive). X and Y may differ in size (the
permutation test re-partitions into sets of the sizes given). Templates hold ``{word}``
once and may use ``{a}``/``{A}`` (``a``/``an`` by the word's first letter); ``source``,
``citation``, ``licence``, ``note``, ``format``, ``version`` and ``description`` are kept
as text and otherwise ignored. Anything else is an error naming the file and the key.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from trustaudit.exceptions import InvalidInputError

__all__ = [
    "DEFAULT_TEMPLATES",
    "KINDS",
    "BiasTest",
    "BiasTestSuite",
    "WordSet",
    "load_bias_tests",
    "parse_bias_tests",
    "standard_tests",
]

#: Kinds of word set: ``name`` (first names) and ``term`` (any other word).
KINDS = ("term", "name")
SET_KEYS = ("X", "Y", "A", "B")
_TOP_KEYS = {"format", "version", "description", "citation", "source", "licence", "license", "note", "templates", "tests"}
_TEST_KEYS = {"name", "description", "source", *SET_KEYS}
_SET_KEYS = {"label", "kind", "words"}
STANDARD_SOURCE = "trustaudit:bias/data/weat.json"

#: SEAT's singular semantically bleached templates (May et al. 2019), per kind of word.
DEFAULT_TEMPLATES: dict[str, tuple[str, ...]] = {
    "term": (
        "This is {a} {word}.", "That is {a} {word}.", "There is {a} {word}.", "Here is {a} {word}.",
        "The {word} is here.", "The {word} is there.", "{A} {word} is a thing.", "It is {a} {word}.",
    ),
    "name": (
        "This is {word}.", "That is {word}.", "There is {word}.", "Here is {word}.",
        "{word} is here.", "{word} is there.", "{word} is a person.", "The person's name is {word}.",
    ),
}


def article(word: str) -> str:
    """``an`` before a word starting with a vowel letter, else ``a`` (a spelling rule, not a phonetic one)."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def fill(template: str, word: str) -> str:
    """The sentence of ``template`` for ``word`` (``{word}``, ``{a}`` and ``{A}`` filled in)."""
    a = article(word)
    return template.format(word=word, a=a, A=a.capitalize())


@dataclass(frozen=True)
class WordSet:
    """One set of an association test: its label, kind (``term`` or ``name``) and words."""

    label: str
    kind: str
    words: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form, as in a test-set file."""
        return {"label": self.label, "kind": self.kind, "words": list(self.words)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WordSet:
        """Rebuild from :meth:`to_dict` (no checks; files go through :func:`parse_bias_tests`)."""
        return cls(str(data["label"]), str(data["kind"]), tuple(str(w) for w in data["words"]))


@dataclass(frozen=True)
class BiasTest:
    """An association test: targets X, Y and attributes A, B (Caliskan et al. 2017)."""

    name: str
    X: WordSet
    Y: WordSet
    A: WordSet
    B: WordSet
    description: str = ""

    @property
    def sets(self) -> tuple[WordSet, WordSet, WordSet, WordSet]:
        """The four sets in the order X, Y, A, B."""
        return self.X, self.Y, self.A, self.B

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form, as in a test-set file."""
        return {"name": self.name, "description": self.description,
                **{key: ws.to_dict() for key, ws in zip(SET_KEYS, self.sets)}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BiasTest:
        """Rebuild from :meth:`to_dict`."""
        return cls(str(data["name"]), *(WordSet.from_dict(data[k]) for k in SET_KEYS),
                   description=str(data.get("description", "")))


@dataclass(frozen=True)
class BiasTestSuite:
    """Association tests with the sentence templates they are encoded with, and where they came from."""

    tests: tuple[BiasTest, ...]
    templates: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_TEMPLATES))
    source: str = ""
    citation: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form, readable by :func:`parse_bias_tests`."""
        return {
            "source": self.source,
            "citation": self.citation,
            "templates": {kind: list(t) for kind, t in self.templates.items()},
            "tests": [test.to_dict() for test in self.tests],
        }


def _fail(where: str, problem: str) -> InvalidInputError:
    return InvalidInputError(f"{where}: {problem}")


def _check_unknown(data: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(data) - known)
    if unknown:
        raise _fail(where, f"unknown key(s) {', '.join(map(repr, unknown))}; expected {', '.join(sorted(known))}")


def _parse_templates(value: Any, where: str) -> dict[str, tuple[str, ...]]:
    templates = dict(DEFAULT_TEMPLATES)
    if value is None:
        return templates
    if not isinstance(value, Mapping):
        raise _fail(where, f"'templates' must be an object of kind -> list of sentences, got {type(value).__name__}")
    for kind, sentences in value.items():
        if kind not in KINDS:
            raise _fail(where, f"templates has unknown kind {kind!r}; kinds are {', '.join(KINDS)}")
        if not isinstance(sentences, list) or not sentences or not all(isinstance(t, str) for t in sentences):
            raise _fail(where, f"templates[{kind!r}] must be a non-empty list of strings")
        for template in sentences:
            if template.count("{word}") != 1:
                raise _fail(where, f"template {template!r} must contain {{word}} exactly once")
            try:
                fill(template, "word")
            except (KeyError, IndexError, ValueError) as exc:
                raise _fail(where, f"template {template!r} may only use {{word}}, {{a}} and {{A}} ({exc!r})") from exc
        templates[kind] = tuple(sentences)
    return templates


def _parse_set(value: Any, key: str, where: str) -> WordSet:
    where = f"{where}: set {key!r}"
    if isinstance(value, list):
        value = {"words": value}
    if not isinstance(value, Mapping):
        raise InvalidInputError(f"{where} must be an object with 'words' (or a list of words), got {type(value).__name__}")
    _check_unknown(value, _SET_KEYS, where)
    if "words" not in value:
        raise InvalidInputError(f"{where} has no 'words'")
    words = value["words"]
    if not isinstance(words, list):
        raise InvalidInputError(f"{where}: 'words' must be a list of strings, got {type(words).__name__}")
    if not words:
        raise InvalidInputError(f"{where} is empty; every set needs at least one word")
    cleaned = []
    for i, word in enumerate(words):
        if not isinstance(word, str) or not word.strip():
            raise InvalidInputError(f"{where}: word {i} must be a non-empty string, got {word!r}")
        cleaned.append(word.strip())
    seen: set[str] = set()
    for word in cleaned:
        if word in seen:
            raise InvalidInputError(f"{where} lists {word!r} twice")
        seen.add(word)
    kind = value.get("kind", "term")
    if kind not in KINDS:
        raise InvalidInputError(f"{where}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    label = value.get("label", key)
    if not isinstance(label, str) or not label.strip():
        raise InvalidInputError(f"{where}: label must be a non-empty string, got {label!r}")
    return WordSet(label.strip(), kind, tuple(cleaned))


def _parse_test(value: Any, index: int, where: str) -> BiasTest:
    if not isinstance(value, Mapping):
        raise _fail(where, f"tests[{index}] must be an object, got {type(value).__name__}")
    name = value.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _fail(where, f"tests[{index}] needs a non-empty string 'name'")
    here = f"{where}: test {name.strip()!r}"
    _check_unknown(value, _TEST_KEYS, here)
    missing = [key for key in SET_KEYS if key not in value]
    if missing:
        raise InvalidInputError(f"{here} is missing set(s) {', '.join(missing)}; a test needs targets X, Y and attributes A, B")
    sets = {key: _parse_set(value[key], key, here) for key in SET_KEYS}
    for first, second in (("X", "Y"), ("A", "B")):
        shared = sorted({w.lower() for w in sets[first].words} & {w.lower() for w in sets[second].words})
        if shared:
            raise InvalidInputError(f"{here}: {', '.join(map(repr, shared))} in both {first} and {second}")
    description = value.get("description", "")
    if not isinstance(description, str):
        raise InvalidInputError(f"{here}: description must be a string")
    return BiasTest(name.strip(), sets["X"], sets["Y"], sets["A"], sets["B"], description)


def parse_bias_tests(data: Any, source: str = "bias test set") -> BiasTestSuite:
    """Validate a test-set document (already parsed JSON) and return it; errors name ``source``."""
    if not isinstance(data, Mapping):
        raise _fail(source, f"expected a JSON object with 'tests', got {type(data).__name__}")
    _check_unknown(data, _TOP_KEYS, source)
    tests = data.get("tests")
    if not isinstance(tests, list) or not tests:
        raise _fail(source, "'tests' must be a non-empty list of tests")
    parsed = tuple(_parse_test(value, i, source) for i, value in enumerate(tests))
    names = [test.name for test in parsed]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise _fail(source, f"test name(s) {', '.join(map(repr, duplicates))} used more than once")
    citation = data.get("citation", "")
    return BiasTestSuite(parsed, _parse_templates(data.get("templates"), source), source,
                         citation if isinstance(citation, str) else "")


def load_bias_tests(path: str | os.PathLike[str]) -> BiasTestSuite:
    """Read and validate a user's association tests from a JSON file (format in the module docstring).

    Every problem is an :class:`~trustaudit.exceptions.InvalidInputError` of one line naming
    the file, the test and the set.
    """
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InvalidInputError(f"{where}: no such bias test file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{where}: cannot read the bias test file ({exc})") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{where}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from exc
    return parse_bias_tests(data, where)


def standard_tests(names: Sequence[str] | None = None) -> BiasTestSuite:
    """The shipped WEAT 3-8 (Caliskan et al. 2017), optionally only the tests named in ``names``."""
    text = resources.files("trustaudit.bias").joinpath("data", "weat.json").read_text(encoding="utf-8")
    suite = parse_bias_tests(json.loads(text), STANDARD_SOURCE)
    if names is None:
        return suite
    known = {test.name: test for test in suite.tests}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InvalidInputError(f"unknown standard bias test(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return BiasTestSuite(tuple(known[n] for n in names), suite.templates, suite.source, suite.citation)
