"""`trustaudit compare` and `trustaudit render` end to end on the trained tiny pair: exit codes 0, 1, 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_audit import REQUIRED_ATTRIBUTION, REQUIRED_NUMBERS
from trustaudit._audit import AuditResult
from trustaudit.cli import main

QUICK = ["--explain-n", "6", "--lime-samples", "150", "--shap-max-evals", "64", "--n-resamples", "200", "--no-cache"]


def _get(doc: dict, path: str):
    for part in path.split("."):
        doc = doc[part]
    return doc


def _compare(base: Path, small: Path, dev: Path, out: Path, *extra: str) -> int:
    return main([
        "--no-progress", "compare", str(base), str(small), "--data", str(dev), *QUICK,
        "--out", str(out / "report.html"), "--json", str(out / "results.json"),
        "--junit", str(out / "junit.xml"), "--summary", str(out / "summary.md"), *extra,
    ])


@pytest.fixture(scope="module")
def identical(trained_pair, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path]:
    """The base model audited against itself."""
    base, _, dev = trained_pair
    out = tmp_path_factory.mktemp("identical")
    return _compare(base, base, dev, out), out


def test_identical_pair_passes_with_exit_0(identical, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = identical
    assert code == 0
    for name in ("report.html", "results.json", "junit.xml", "summary.md"):
        assert (out / name).is_file(), name
    assert "✅" in (out / "summary.md").read_text(encoding="utf-8")
    assert 'failures="0"' in (out / "junit.xml").read_text(encoding="utf-8")


def test_results_json_has_every_documented_path(identical) -> None:
    doc = json.loads((identical[1] / "results.json").read_text(encoding="utf-8"))
    assert next(iter(doc)) == "schema_version"
    assert _get(doc, "verdict.passed") is True
    for path in REQUIRED_NUMBERS + REQUIRED_ATTRIBUTION:
        value = _get(doc, path)
        assert isinstance(value, float) and not isinstance(value, bool), path
    assert len(doc["examples"]) == 6


def test_identical_models_score_their_floor_on_every_attribution_metric(identical) -> None:
    """The small model is explained like the floor run (seed s'), so a copy agrees exactly as much as the floor."""
    doc = json.loads((identical[1] / "results.json").read_text(encoding="utf-8"))
    for explainer in ("lime", "shap"):
        metrics = doc["attribution"][explainer]["metrics"]
        floors = doc["attribution"][explainer]["self_agreement"]["metrics"]
        assert len(metrics) == 8
        ratios = doc["attribution"][explainer]["floor_ratios"]
        assert set(ratios) == set(metrics)
        for name, stat in metrics.items():
            assert stat["mean"] == pytest.approx(floors[name]["mean"]), f"{explainer} {name}"
            assert ratios[name] is None or ratios[name] == pytest.approx(1.0), f"{explainer} {name}"
        assert ratios[f"feature_agreement@{doc['attribution']['k']}"] == doc["attribution"][explainer]["floor_ratio"]


def test_render_reproduces_the_report(identical, tmp_path: Path) -> None:
    _, out = identical
    again = tmp_path / "again.html"
    assert main(["render", str(out / "results.json"), "-o", str(again)]) == 0
    assert again.read_text(encoding="utf-8") == (out / "report.html").read_text(encoding="utf-8")


def test_render_with_a_stricter_gate_fails_with_exit_1(identical, tmp_path: Path) -> None:
    gate = tmp_path / "gate.toml"
    gate.write_text("min_lime_floor_ratio = 2.0\n")
    assert main(["render", str(identical[1] / "results.json"), "-o", str(tmp_path / "r.html"), "--gate", str(gate)]) == 1


def test_failed_gate_exits_1(trained_pair, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base, small, dev = trained_pair
    gate = tmp_path / "gate.toml"
    gate.write_text("min_prediction_agreement = 1.0\n")
    code = _compare(base, small, dev, tmp_path, "--gate", str(gate))
    doc = AuditResult.read_json(tmp_path / "results.json")
    assert doc.get("predictions.agreement") < 1.0, "the two models must differ for this test to mean anything"
    assert code == 1 and doc.get("verdict.passed") is False
    assert "NOT TRUST-EQUIVALENT" in capsys.readouterr().out
    junit = (tmp_path / "junit.xml").read_text(encoding="utf-8")
    assert "<failure" in junit and "min_prediction_agreement" in junit
    assert "❌" in (tmp_path / "summary.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "case,message",
    [
        ("missing-data", "no such file"),
        ("unknown-gate-key", "unknown gate key"),
        ("out-is-a-directory", "is a directory"),
        ("bad-top-k", "expected positive integers"),
    ],
)
def test_usage_and_input_errors_exit_2_before_any_work(
    case: str, message: str, trained_pair, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, small, dev = trained_pair
    args = ["--no-progress", "compare", str(base), str(small), "--data", str(dev), "--out", str(tmp_path / "r.html")]
    if case == "missing-data":
        args[args.index(str(dev))] = str(tmp_path / "absent.tsv")
    elif case == "unknown-gate-key":
        (tmp_path / "gate.toml").write_text("max_acuracy_drop = 0.1\n")
        args += ["--gate", str(tmp_path / "gate.toml")]
    elif case == "out-is-a-directory":
        (tmp_path / "taken").mkdir()
        args[-1] = str(tmp_path / "taken")
    else:
        args += ["--top-k", "0"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "r.html").exists()
