"""The wheel ships the report templates and the results schema, and the package finds them from a checkout too."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from trustaudit._resources import templates_dir

ROOT = Path(__file__).resolve().parents[1]


def test_templates_found_from_checkout() -> None:
    found = templates_dir()
    assert (found / "report.css").is_file()
    assert found.resolve() == (ROOT / "templates").resolve()


@pytest.mark.slow
def test_wheel_contains_templates(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        text=True,
    )
    wheel = next(tmp_path.glob("trustaudit-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for template in (ROOT / "templates").iterdir():
        assert f"trustaudit/_templates/{template.name}" in names
    assert "trustaudit/py.typed" in names
    assert "trustaudit/schema/results.schema.json" in names
    extracted = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(extracted)
    code = "from trustaudit._resources import templates_dir; print(templates_dir())"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(extracted)},
                         capture_output=True, text=True, check=True).stdout.strip()
    assert Path(out) == extracted / "trustaudit" / "_templates"
    code = "from trustaudit._schema import SCHEMA_PATH, results_schema; results_schema(); print(SCHEMA_PATH)"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(extracted)},
                         capture_output=True, text=True, check=True).stdout.strip()
    assert Path(out) == extracted / "trustaudit" / "schema" / "results.schema.json"
