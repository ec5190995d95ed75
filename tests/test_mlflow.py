"""`compare --mlflow`: the audit logged to a real local MLflow file store and read back with mlflow.search_runs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from trustaudit.cli import main

QUICK = ["--explain-n", "4", "--lime-samples", "100", "--shap-max-evals", "64", "--n-resamples", "100", "--no-cache", "--no-bias"]


@pytest.fixture(scope="module")
def logged(trained_pair, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path, Path]:
    """One audit of the trained pair logged to a fresh file store; returns (exit code, store, outputs)."""
    pytest.importorskip("mlflow")
    base, small, dev = trained_pair
    out = tmp_path_factory.mktemp("mlflow-out")
    store = out / "store"
    code = main(["--no-progress", "compare", str(base), str(small), "--data", str(dev), *QUICK,
                 "--out", str(out / "report.html"), "--json", str(out / "results.json"), "--mlflow", str(store)])
    return code, store, out


def _runs(store: Path) -> list:
    import mlflow

    mlflow.set_tracking_uri(store.resolve().as_uri())
    try:
        return mlflow.search_runs(experiment_names=["trustaudit"], output_format="list")
    finally:
        mlflow.set_tracking_uri(None)


def test_the_run_holds_metrics_params_tag_and_artifacts(logged) -> None:
    code, store, out = logged
    assert code in (0, 1, 4)  # 4: inconclusive, once the gate has that outcome
    runs = _runs(store)
    assert len(runs) == 1
    run = runs[0]
    doc = json.loads((out / "results.json").read_text())
    metrics, params, tags = run.data.metrics, run.data.params, run.data.tags
    assert metrics["predictions.agreement"] == pytest.approx(doc["predictions"]["agreement"])
    assert metrics["calibration.small.ece"] == pytest.approx(doc["calibration"]["small"]["ece"])
    assert metrics["attribution.lime.feature_agreement"] == pytest.approx(doc["attribution"]["lime"]["feature_agreement"])
    for check in doc["verdict"]["checks"]:
        assert metrics[f"gate.{check['key']}.limit"] == pytest.approx(check["limit"])
        assert metrics[f"gate.{check['key']}.passed"] == float(check["passed"])
        if check["value"] is not None:
            assert metrics[f"gate.{check['key']}"] == pytest.approx(check["value"])
    assert metrics["verdict.passed"] == float(doc["verdict"]["passed"])
    assert params["config.lime_samples"] == "100" and params["config.seed"] == "0"
    assert params["small.fingerprint"] == doc["models"]["small"]["fingerprint"]
    assert tags["trustaudit.verdict"] == ("trust-equivalent" if doc["verdict"]["passed"] else "not trust-equivalent")
    assert run.info.status == "FINISHED"
    artifacts = Path(run.info.artifact_uri.removeprefix("file://"))
    assert sorted(p.name for p in artifacts.iterdir()) == ["report.html", "results.json", "summary.md"]
    assert json.loads((artifacts / "results.json").read_text()) == doc
    assert "| check | value | 95% interval | limit | result | to decide |" in (artifacts / "summary.md").read_text(encoding="utf-8")


@pytest.mark.slow
def test_a_second_audit_is_a_second_run(logged, trained_pair, tmp_path: Path) -> None:
    _, store, _ = logged
    base, _, dev = trained_pair
    code = main(["--no-progress", "compare", str(base), str(base), "--data", str(dev), *QUICK,
                 "--out", str(tmp_path / "r.html"), f"--mlflow={store}"])
    assert code in (0, 4)
    runs = _runs(store)
    assert len(runs) == 2 and len({r.info.run_id for r in runs}) == 2
    assert {r.data.metrics["predictions.agreement"] for r in runs} >= {1.0}


def test_missing_mlflow_is_an_install_hint_before_any_work(trained_pair, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)
    base, small, dev = trained_pair
    code = main(["compare", str(base), str(small), "--data", str(dev), "--out", str(tmp_path / "r.html"), "--mlflow"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install 'trustaudit[mlflow]'" in err
    assert not (tmp_path / "r.html").exists()


def test_tracking_uri_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from trustaudit._mlflow import tracking_uri

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    assert tracking_uri(None) == (tmp_path / "mlruns").resolve().as_uri()
    assert tracking_uri("http://mlflow.internal:5000") == "http://mlflow.internal:5000"
    assert tracking_uri("sqlite:///mlflow.db") == "sqlite:///mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://elsewhere")
    assert tracking_uri(None) == "http://elsewhere"


GOLD = Path(__file__).parent / "gold"


def test_what_is_logged_of_the_gold_results_is_the_stored_expectation() -> None:
    """Metrics, params, tags and run name read from the typed sections equal those stored from the gold results
    when the logging still read the JSON dict (``tests/gold/mlflow.json``), names and order included."""
    from trustaudit._audit import AuditResult
    from trustaudit._mlflow import audit_metrics, audit_params, audit_tags, default_run_name

    expected = json.loads((GOLD / "mlflow.json").read_text(encoding="utf-8"))
    result = AuditResult.read_json(GOLD / "results.json")
    for doc in (result, result.sections, result.to_dict()):
        assert list(audit_metrics(doc).items()) == list(expected["metrics"].items())
        assert list(audit_params(doc).items()) == list(expected["params"].items())
        assert audit_tags(doc) == expected["tags"]
        assert default_run_name(doc) == expected["run_name"]
    doc = result.to_dict()
    assert expected["metrics"]["gate.min_prediction_agreement.passed"] == float(doc["verdict"]["checks"][1]["passed"]) == 0.0
    assert expected["params"]["config.seed"] == str(doc["config"]["seed"])


def test_verdict_tag_reads_the_typed_section_or_its_dict() -> None:
    from trustaudit._audit.document import VerdictSection
    from trustaudit._mlflow import verdict_tag

    assert verdict_tag(VerdictSection(status="inconclusive", passed=False)) == "inconclusive"
    assert verdict_tag({"status": "incomplete", "passed": False}) == "incomplete"
    assert verdict_tag({"passed": True}) == "trust-equivalent"
    assert verdict_tag(VerdictSection(passed=False)) == "not trust-equivalent"
