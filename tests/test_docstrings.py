"""The docstring examples of the public functions outside ``trustaudit.metrics`` run, and each is documented in numpydoc sections."""

from __future__ import annotations

import doctest
import importlib

import pytest

#: Modules whose docstring examples must pass.
MODULES = (
    "trustaudit._audit.run",
    "trustaudit._audit.result",
    "trustaudit.models._loading",
    "trustaudit.models._pair",
    "trustaudit.data",
    "trustaudit._predict",
    "trustaudit.explain._pair",
    "trustaudit.explain._registry",
    "trustaudit.metrics._registry",
    "trustaudit.gate",
    "trustaudit.report.html",
    "trustaudit.report.text",
    "trustaudit.report.junit",
    "trustaudit.bias._compare",
    "trustaudit.compress._asc",
    "trustaudit.compress._alad.train",
    "trustaudit.compress._quantize",
    "trustaudit.compress._onnx",
    "trustaudit.compress._search.run",
    "trustaudit.report.search",
)

#: Public functions (module, dotted name) that must have Parameters, Returns and Examples.
DOCUMENTED = (
    ("trustaudit", "audit"),
    ("trustaudit", "rejudge"),
    ("trustaudit", "AuditResult.read_json"),
    ("trustaudit", "AuditResult.write_json"),
    ("trustaudit", "load_model"),
    ("trustaudit", "load_pair"),
    ("trustaudit.models", "from_model"),
    ("trustaudit", "save_bundle"),
    ("trustaudit", "load_dataset"),
    ("trustaudit", "predict"),
    ("trustaudit", "explain_pair"),
    ("trustaudit", "register_explainer"),
    ("trustaudit", "register_metric"),
    ("trustaudit", "evaluate"),
    ("trustaudit", "load_gate_config"),
    ("trustaudit", "write_report"),
    ("trustaudit", "render_html"),
    ("trustaudit", "summary_text"),
    ("trustaudit", "summary_markdown"),
    ("trustaudit", "junit_xml"),
    ("trustaudit.bias", "compare_bias"),
    ("trustaudit.compress", "asc"),
    ("trustaudit.compress", "alad"),
    ("trustaudit.compress", "quantize"),
    ("trustaudit.compress", "to_onnx"),
    ("trustaudit.compress", "search"),
    ("trustaudit.report", "render_search_html"),
)

#: Examples that must really run (not all skipped).
RUNNING = ("evaluate", "load_gate_config", "junit_xml", "load_dataset", "GateConfig")


def _lookup(module: str, dotted: str):
    value = importlib.import_module(module)
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_pass(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False, report=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) of {name} failed"


@pytest.mark.parametrize(("module", "name"), DOCUMENTED, ids=[name for _, name in DOCUMENTED])
def test_public_function_is_documented(module: str, name: str) -> None:
    doc = _lookup(module, name).__doc__ or ""
    lines = [line.strip() for line in doc.splitlines()]
    for section in ("Parameters", "Returns", "Examples"):
        assert section in lines and set(lines[lines.index(section) + 1]) == {"-"}, f"{name} lacks a {section} section"


@pytest.mark.parametrize("name", RUNNING)
def test_example_really_runs(name: str) -> None:
    function = _lookup("trustaudit", name)
    tests = doctest.DocTestFinder().find(function, name, globs={})
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in tests:
        runner.run(test)
    assert runner.failures == 0
    ran = sum(1 for test in tests for example in test.examples if not example.options.get(doctest.SKIP))
    assert ran >= 2, f"{name}'s example does not run"
