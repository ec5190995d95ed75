"""The GitHub Action's shell steps run locally on the tiny models: step summary, outputs and the job's exit code.

The three runs each start a fresh Python and audit (marked slow: CI runs them). Steps that
``uses:`` another action (the artifact upload) are GitHub's and are not run; ``${{ ... }}``
expressions appear only in ``env:`` and are resolved here as the runner would.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[1]
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
QUICK = "--explain-n 4 --lime-samples 100 --shap-max-evals 64 --n-resamples 100 --no-bias"


@dataclass
class ActionRun:
    """What a job using the action would see."""

    exit_code: int
    summary: str
    outputs: dict[str, dict[str, str]]
    log: str


def _action() -> dict:
    return yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))


def run_action(inputs: dict[str, str], tmp: Path) -> ActionRun:
    """Run the ``run:`` steps of ``action.yml`` in order with GitHub's shell, stopping at the first failure."""
    spec = _action()
    values = {name: str(meta.get("default", "")) for name, meta in spec["inputs"].items()}
    values.update(inputs)
    outputs: dict[str, dict[str, str]] = {}
    summary = tmp / "step-summary.md"
    summary.touch()
    log = []

    def resolve(match: re.Match[str]) -> str:
        expr = match.group(1)
        if expr.startswith("inputs."):
            return values[expr.removeprefix("inputs.")]
        if expr == "github.action_path":
            return str(ROOT)
        step = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expr)
        if step:
            return outputs.get(step[1], {}).get(step[2], "")
        raise AssertionError(f"expression the test runner does not know: {expr}")

    for index, step in enumerate(spec["runs"]["steps"]):
        if "run" not in step:
            continue
        assert "${{" not in step["run"], f"step {step['name']!r}: expressions belong in env, not in the script"
        output_file = tmp / f"output-{index}.txt"
        output_file.touch()
        env = {
            **os.environ,
            "GITHUB_OUTPUT": str(output_file),
            "GITHUB_STEP_SUMMARY": str(summary),
            "RUNNER_TEMP": str(tmp),
            "GITHUB_ACTION_PATH": str(ROOT),
            "PYTHONPATH": str(ROOT),
        }
        env.update({key: EXPRESSION.sub(resolve, str(value)) for key, value in step.get("env", {}).items()})
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            env=env, capture_output=True, text=True, timeout=600, cwd=tmp,
        )
        log.append(proc.stdout + proc.stderr)
        if "id" in step:
            outputs[step["id"]] = dict(
                line.split("=", 1) for line in output_file.read_text().splitlines() if "=" in line
            )
        if proc.returncode != 0:
            return ActionRun(proc.returncode, summary.read_text(encoding="utf-8"), outputs, "\n".join(log))
    return ActionRun(0, summary.read_text(encoding="utf-8"), outputs, "\n".join(log))


def _inputs(base: Path, small: Path, data: Path, tmp: Path, **extra: str) -> dict[str, str]:
    return {
        "base": str(base), "small": str(small), "data": str(data), "install": "none", "python": sys.executable,
        "output-dir": str(tmp / "out"), "args": f"{QUICK} --no-cache", **extra,
    }


def test_action_declares_its_inputs_and_uploads_the_outputs() -> None:
    spec = _action()
    assert spec["runs"]["using"] == "composite"
    assert {"base", "small", "data", "gate", "args"} <= set(spec["inputs"])
    assert all(spec["inputs"][name]["required"] for name in ("base", "small", "data"))
    upload = [s for s in spec["runs"]["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact@")]
    assert len(upload) == 1 and upload[0]["with"]["path"] == "${{ steps.compare.outputs.dir }}"
    assert upload[0]["if"].startswith("always()")
    assert spec["outputs"]["exit-code"]["value"] == "${{ steps.compare.outputs.exit-code }}"


@pytest.mark.slow
def test_trust_equivalent_pair_passes_the_job(trained_pair, tmp_path: Path) -> None:
    base, _, dev = trained_pair
    run = run_action(_inputs(base, base, dev, tmp_path), tmp_path)
    assert run.exit_code == 0, run.log
    assert run.outputs["compare"]["exit-code"] == "0"
    assert run.summary.startswith("### ✅ trustaudit") and "| check | value | 95% interval | limit | result | to decide |" in run.summary
    for name in ("report.html", "results.json", "junit.xml", "summary.md"):
        assert (tmp_path / "out" / name).is_file(), name


@pytest.mark.slow
def test_failed_gate_fails_the_job_with_its_exit_code(trained_pair, tmp_path: Path) -> None:
    base, small, dev = trained_pair
    gate = tmp_path / "gate.toml"
    gate.write_text("min_prediction_agreement = 1.0\n")
    run = run_action(_inputs(base, small, dev, tmp_path, gate=str(gate)), tmp_path)
    assert run.exit_code == 1, run.log
    assert run.outputs["compare"]["exit-code"] == "1"
    assert run.summary.startswith("### ❌ trustaudit") and "min_prediction_agreement" in run.summary
    assert "::error title=trustaudit::not trust-equivalent" in run.log


@pytest.mark.slow
def test_usage_error_exit_code_passes_through(trained_pair, tmp_path: Path) -> None:
    base, small, _ = trained_pair
    run = run_action(_inputs(base, small, tmp_path / "missing.tsv", tmp_path), tmp_path)
    assert run.exit_code == 2, run.log
    assert "no verdict (exit code 2)" in run.summary
    assert "missing.tsv" in run.log
