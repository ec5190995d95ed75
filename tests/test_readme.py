"""The README stays true: its Python example runs, its CLI reference matches the parser."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_python_example_runs(trained_pair, bias_tests_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    base, small, dev = trained_pair
    for src, name in ((base, "base.pt"), (small, "small.pt"), (dev, "dev.tsv")):
        shutil.copy(src, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    code = re.search(r"## Python API\n\n```python\n(.*?)```", README, re.S).group(1)
    code = code.replace("explain_n=50", f"explain_n=3, lime_samples=50, shap_max_evals=40, n_resamples=50, bias_tests={str(bias_tests_file)!r}")
    exec(compile(code, "README.md", "exec"), {})
    assert (tmp_path / "results.json").is_file() and (tmp_path / "report.html").is_file()


def test_every_cli_option_in_the_reference_exists() -> None:
    from trustaudit.cli import build_parser

    parser = build_parser()
    known: set[str] = set()
    stack = [parser]
    while stack:
        current = stack.pop()
        for action in current._actions:
            known.update(action.option_strings)
            if hasattr(action, "choices") and isinstance(action.choices, dict):
                stack.extend(action.choices.values())
    section = README[README.index("## Command line"):README.index("## JSON results")]
    section += README[README.index("## Making compressed candidates"):README.index("## Python API")]
    mentioned = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", section))
    assert mentioned - known == set()


def test_gate_table_lists_every_key() -> None:
    from trustaudit.gate import GateConfig

    for key in GateConfig().to_dict():
        assert f"`{key}`" in README
