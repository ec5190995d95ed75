"""`trustaudit compare` and `trustaudit render` end to end on the trained tiny pair: the four verdicts
and their exit codes (0 trust-equivalent, 1 not, 4 inconclusive or incomplete), and 2 for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests._helpers import REQUIRED_ATTRIBUTION, REQUIRED_NUMBERS
from trustaudit._audit import AuditResult
from trustaudit.cli import main
from trustaudit.gate import CHECKS

QUICK = ["--explain-n", "6", "--lime-samples", "150", "--shap-max-evals", "64", "--n-resamples", "200", "--no-cache", "--no-bias"]


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


LENIENT_ATTRIBUTION = "min_lime_feature_agreement = 0.0\nmin_shap_feature_agreement = 0.0\n"


@pytest.fixture(scope="module")
def identical(trained_pair, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path]:
    """The base model audited against itself, with attribution limits every pair meets."""
    base, _, dev = trained_pair
    out = tmp_path_factory.mktemp("identical")
    gate = out / "gate.toml"
    gate.write_text(LENIENT_ATTRIBUTION)
    return _compare(base, base, dev, out, "--gate", str(gate)), out


def test_identical_pair_is_trust_equivalent_with_exit_0(identical, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = identical
    assert code == 0
    for name in ("report.html", "results.json", "junit.xml", "summary.md"):
        assert (out / name).is_file(), name
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "✅" in summary and "is trust-equivalent to" in summary
    assert summary.splitlines()[2].startswith("Trust-equivalent: all 6 checks pass on their 95% intervals")
    assert 'failures="0"' in (out / "junit.xml").read_text(encoding="utf-8")
    assert json.loads((out / "results.json").read_text())["verdict"]["status"] == "trust-equivalent"


def test_results_json_has_every_documented_path(identical) -> None:
    doc = json.loads((identical[1] / "results.json").read_text(encoding="utf-8"))
    assert next(iter(doc)) == "schema_version"
    assert _get(doc, "verdict.passed") is True and _get(doc, "verdict.status") == "trust-equivalent"
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
    gate.write_text('decision = "point"\nmin_lime_floor_ratio = 2.0\n')
    assert main(["render", str(identical[1] / "results.json"), "-o", str(tmp_path / "r.html"), "--gate", str(gate)]) == 1


@pytest.fixture(scope="module")
def different(trained_pair, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path, str, str]:
    """The base against the small model with a gate that only asks for perfect agreement."""
    base, small, dev = trained_pair
    out = tmp_path_factory.mktemp("different")
    gate = out / "gate.toml"
    gate.write_text("min_prediction_agreement = 1.0\n" + LENIENT_ATTRIBUTION)
    import contextlib
    import io

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = _compare(base, small, dev, out, "--gate", str(gate))
    return code, out, stdout.getvalue(), stderr.getvalue()


def test_a_failed_check_exits_1(different) -> None:
    code, out, printed, _ = different
    doc = AuditResult.read_json(out / "results.json")
    assert doc.get("predictions.agreement") < 1.0, "the two models must differ for this test to mean anything"
    assert doc.get("predictions.agreement_interval")[1] < 1.0
    assert code == 1 and doc.get("verdict.passed") is False and doc.status == "not trust-equivalent"
    assert printed.startswith("trustaudit: NOT TRUST-EQUIVALENT")
    assert "Not trust-equivalent: " in printed.splitlines()[1]
    junit = (out / "junit.xml").read_text(encoding="utf-8")
    assert "<failure" in junit and "min_prediction_agreement" in junit
    assert "❌" in (out / "summary.md").read_text(encoding="utf-8")


def _gate_at_an_observed_value(out: Path, tmp_path: Path) -> Path:
    """A gate whose only limit lies between a measured value and its interval's end: inconclusive by construction."""
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    candidates = [
        ("max_ece_increase", doc["calibration"]["ece_increase"], doc["calibration"]["ece_increase_interval"]),
        ("max_brier_increase", doc["calibration"]["brier_increase"], doc["calibration"]["brier_increase_interval"]),
        ("min_lime_feature_agreement", doc["attribution"]["lime"]["feature_agreement"], doc["attribution"]["lime"]["feature_agreement_interval"]),
        ("min_prediction_agreement", doc["predictions"]["agreement"], doc["predictions"]["agreement_interval"]),
    ]
    key, value, (low, high) = next((k, v, i) for k, v, i in candidates if i[0] < v < i[1] and 0 < v < 1)
    gate = tmp_path / "gate.toml"
    limits = {spec.key: "false" for spec in CHECKS}
    limits[key] = repr((value + high) / 2 if key.startswith("max_") else (low + value) / 2)
    gate.write_text("".join(f"{k} = {v}\n" for k, v in limits.items()))
    return gate


def test_an_interval_across_the_limit_is_inconclusive_with_exit_4(different, tmp_path: Path, capsys) -> None:
    _, out, _, _ = different
    gate = _gate_at_an_observed_value(out, tmp_path)
    args = ["render", str(out / "results.json"), "-o", str(tmp_path / "r.html"), "--gate", str(gate),
            "--summary", str(tmp_path / "s.md"), "--junit", str(tmp_path / "j.xml")]
    assert main(args) == 4
    printed = capsys.readouterr().out
    assert printed.startswith("trustaudit: INCONCLUSIVE")
    assert "rows would decide it" in printed
    summary = (tmp_path / "s.md").read_text(encoding="utf-8")
    assert "⚠️" in summary and "rows would decide it" in summary
    assert 'tests="1" failures="1"' in (tmp_path / "j.xml").read_text(encoding="utf-8")
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Inconclusive" in html and "<svg" in html.split('id="verdict"')[1].split("</section>")[0]


def test_allow_inconclusive_exits_0_with_a_warning(different, tmp_path: Path, capsys) -> None:
    _, out, _, _ = different
    gate = _gate_at_an_observed_value(out, tmp_path)
    code = main(["render", str(out / "results.json"), "-o", str(tmp_path / "r.html"), "--gate", str(gate), "--allow-inconclusive"])
    assert code == 0
    assert "warning: the verdict is inconclusive" in capsys.readouterr().err


def test_no_explanations_make_an_incomplete_audit_with_exit_4(trained_pair, tmp_path: Path, capsys) -> None:
    base, _, dev = trained_pair
    code = main(["--no-progress", "compare", str(base), str(base), "--data", str(dev), "--explain-n", "0", "--no-bias",
                 "--n-resamples", "100", "--no-cache", "--out", str(tmp_path / "r.html"), "--json", str(tmp_path / "r.json")])
    assert code == 4
    assert capsys.readouterr().out.startswith("trustaudit: INCOMPLETE")
    doc = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert doc["verdict"]["status"] == "incomplete" and doc["verdict"]["passed"] is False
    assert main(["render", str(tmp_path / "r.json"), "-o", str(tmp_path / "again.html"), "--allow-inconclusive"]) == 0


def test_deprecated_use_intervals_warns_in_one_line(identical, tmp_path: Path, capsys) -> None:
    gate = tmp_path / "gate.toml"
    gate.write_text("use_intervals = true\n" + LENIENT_ATTRIBUTION)
    assert main(["render", str(identical[1] / "results.json"), "-o", str(tmp_path / "r.html"), "--gate", str(gate)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f'trustaudit: warning: {gate}: use_intervals is deprecated; write decision = "interval" instead']


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
