"""`trustaudit demo` end to end: trains its pair from scratch and writes a full audit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trustaudit.cli import main

pytestmark = pytest.mark.slow


def test_demo_runs_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    assert main(["--no-progress", "demo", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "TRUST-EQUIVALENT" in printed and str(out / "report.html") in printed
    for name in ("train.tsv", "dev.tsv", "base.pt", "small.pt", "report.html", "results.json"):
        assert (out / name).is_file(), name
    results = json.loads((out / "results.json").read_text())
    assert results["predictions"]["base"]["accuracy"] > 0.75
    assert results["attribution"]["explained"] == 30
    assert results["models"]["small"]["parameters"] < results["models"]["base"]["parameters"] / 4
