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
    assert str(out / "index.html") in printed
    statuses = ("TRUST-EQUIVALENT", "NOT TRUST-EQUIVALENT", "INCONCLUSIVE", "INCOMPLETE")
    verdicts = [line for line in printed.splitlines() if line.startswith("trustaudit: ") and line.split("  (")[0][12:] in statuses]
    assert [line.split("(")[1].split(" vs ")[0] for line in verdicts] == ["small.pt", "asc.pt", "alad.pt"]
    for name in ("train.tsv", "dev.tsv", "base.pt", "small.pt", "asc.pt", "alad.pt", "index.html"):
        assert (out / name).is_file(), name
    index = (out / "index.html").read_text()
    for candidate in ("small", "asc", "alad"):
        results = json.loads((out / candidate / "results.json").read_text())
        assert results["predictions"]["base"]["accuracy"] > 0.75
        assert results["attribution"]["explained"] == 30
        assert results["models"]["small"]["parameters"] < results["models"]["base"]["parameters"]
        assert (out / candidate / "report.html").is_file()
        printed_verdict = next(line for line in verdicts if f"({candidate}.pt vs" in line)
        assert printed_verdict.startswith(f"trustaudit: {results['verdict']['status'].upper()}  (")
        assert results["verdict"]["passed"] == (results["verdict"]["status"] == "trust-equivalent")
        assert f'href="{candidate}/report.html"' in index
    asc = json.loads((out / "asc" / "results.json").read_text())["models"]["small"]
    assert asc["provenance"]["method"] == "asc" and asc["layers"] == 2
    assert "ASC layer similarity" in (out / "asc" / "report.html").read_text()
