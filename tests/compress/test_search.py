"""``trustaudit compress search`` on tiny models: the smallest passing candidate, exit codes, the budget, the cheap pass.

The searches train nothing (``epochs=0``) but audit several candidates each, which takes
about a minute per search on 2 shared cores: those tests are marked slow.
"""

from __future__ import annotations

import functools
import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from tests._helpers import LABELS, generated_nli, make_identity, spread_layers, tiny_classifier, write_rows
from trustaudit import AuditConfig, GateConfig
from trustaudit.cli import main
from trustaudit.compress import search
from trustaudit.compress._search import cheap_gate
from trustaudit.models import from_model, load_model, save_bundle

#: Only prediction agreement and (on the explained rows) LIME are judged, on point estimates:
#: pruning an identity layer keeps every prediction, pruning a real one changes many.
GATE = GateConfig(max_accuracy_drop=None, min_prediction_agreement=0.95, max_ece_increase=None, max_brier_increase=None,
                  min_lime_feature_agreement=0.0, min_shap_feature_agreement=None, decision="point")
EXPLAIN_N = 2


def _config(gate: GateConfig = GATE) -> AuditConfig:
    return AuditConfig(explain_n=EXPLAIN_N, lime_samples=10, explainers=("lime",), n_resamples=20, bias=False, extras=False,
                       gate=gate, device="cpu")


@pytest.fixture(autouse=True)
def _quick_latency(monkeypatch: pytest.MonkeyPatch) -> None:
    """One round of latency timing instead of seven: the search logic, not the timing, is under test."""
    import trustaudit._audit.run as run
    from trustaudit._audit.latency import measure_latency

    monkeypatch.setattr(run, "measure_latency", functools.partial(measure_latency, repeats=1))


def _base(tokenizer, identity: tuple[int, ...]):
    model = spread_layers(tiny_classifier("bert", tokenizer, layers=4, width=32), seed=1)
    for layer in identity:
        make_identity(model.bert.encoder.layer[layer], exact=False)
    return from_model(model, tokenizer, LABELS, task="pair")


@pytest.fixture(scope="module")
def dev():
    return generated_nli(40, seed=6)


@pytest.fixture(scope="module")
def searched(tokenizer, nli_data, dev, tmp_path_factory: pytest.TempPathFactory):
    """A binary search over 3 ASC rungs and int8 of a base whose layers 1 and 2 are (almost) the identity."""
    out = tmp_path_factory.mktemp("search") / "best"
    result = search(_base(tokenizer, (1, 2)), nli_data, dev, out, methods=("asc", "quantize"), n_remove=(1, 2, 3),
                    config=_config(), asc_options={"epochs": 0}, cache=False, progress=False)
    return result, out


@pytest.mark.slow
def test_the_search_returns_the_smallest_candidate_that_passes(searched) -> None:
    result, out = searched
    assert result.answer == "found" and result.complete
    assert result.chosen is not None and result.chosen.name == "asc-2"
    assert result.chosen.layers_removed == (1, 2) and result.chosen.status == "trust-equivalent"
    # Every smaller candidate was audited and is not trust-equivalent.
    smaller = [c for c in result.candidates if c.size_bytes < result.chosen.size_bytes]
    assert {c.name for c in smaller} == {"asc-3", "base-int8"}
    assert all(c.state in ("audited", "rejected by the cheap pass") and c.status != "trust-equivalent" for c in smaller)
    # The least compressed rung was never needed.
    least = next(c for c in result.candidates if c.name == "asc-1")
    assert least.state == "not built" and least.note == "not needed: asc-2, more compressed, is trust-equivalent"
    assert result.document["monotonicity"]["held"] is True
    chosen = load_model(out / "model.pt")
    assert chosen.config["num_hidden_layers"] == 2 and chosen.provenance["search"]["name"] == "asc-2"
    assert json.loads((out / "results.json").read_text())["verdict"]["status"] == "trust-equivalent"
    assert (out / "report.html").is_file()


@pytest.mark.slow
def test_candidates_that_fail_the_cheap_pass_are_never_explained(searched) -> None:
    result, out = searched
    rejected = [c for c in result.candidates if c.state == "rejected by the cheap pass"]
    full = [c for c in result.candidates if c.state == "audited"]
    assert {c.name for c in rejected} == {"asc-3", "base-int8"} and [c.name for c in full] == ["asc-2"]
    assert all(c.explained == 0 and c.lime_agreement is None for c in rejected)
    assert all(c.explained == EXPLAIN_N and c.lime_agreement is not None for c in full)
    for c in rejected:
        stored = json.loads((out / c.results).read_text())
        assert stored["attribution"]["available"] is False and stored["verdict"]["status"] == "not trust-equivalent"
    counts = result.document["counts"]
    assert counts["explained"] == EXPLAIN_N * len(full) and counts["explanations_saved"] == EXPLAIN_N * len(rejected)


@pytest.mark.slow
def test_search_files_hold_every_candidate(searched) -> None:
    result, out = searched
    stored = json.loads((out / "search.json").read_text())
    assert stored == json.loads(json.dumps(result.document))
    assert [r["name"] for r in stored["candidates"]] == [c.name for c in result.candidates]
    assert stored["chosen"] == "asc-2" and stored["state"] == "done"
    page = (out / "search.html").read_text()
    assert "<svg" in page and "★" in page
    assert 'src="http' not in page and "<link" not in page  # self-contained: nothing fetched
    for c in result.candidates:
        assert c.name in page
        if c.bundle:
            assert load_model(out / c.bundle).provenance["search"]["family"] == c.family


@pytest.mark.slow
def test_a_gate_nothing_passes_exits_1_with_the_full_table(tokenizer, nli_data, tmp_path: Path, capsys) -> None:
    base = tmp_path / "base.pt"
    save_bundle(_base(tokenizer, ()), base)
    train = write_rows(tmp_path / "train.tsv", [(a, b, LABELS[y]) for a, b, y in zip(nli_data.text_a, nli_data.text_b, nli_data.labels)])
    gate = tmp_path / "gate.toml"
    gate.write_text("min_prediction_agreement = 0.99\nmax_accuracy_drop = false\nmax_ece_increase = false\n"
                    "max_brier_increase = false\nmin_shap_feature_agreement = false\ndecision = 'point'\n")
    out = tmp_path / "best"
    code = main(["--no-progress", "compress", "search", str(base), "--data", str(train), "--eval", str(train),
                 "--eval-rows", "30", "--methods", "asc,quantize", "--n-remove", "1,2,3", "--epochs", "0", "--gate", str(gate),
                 "--explain-n", "2", "--lime-samples", "10", "--n-resamples", "20", "--no-bias", "--no-extras",
                 "-o", str(out), "--device", "cpu", "--no-cache"])
    text = capsys.readouterr().out
    assert code == 1
    stored = json.loads((out / "search.json").read_text())
    assert stored["answer"] == "none" and stored["chosen"] is None
    names = [r["name"] for r in stored["candidates"]]
    assert sorted(names) == ["asc-1", "asc-2", "asc-3", "base-int8"]
    for name in names:
        assert name in text
    assert "no candidate was shown trust-equivalent" in text
    assert not (out / "model.pt").exists()
    assert all(r["status"] in (None, "not trust-equivalent") for r in stored["candidates"])


@pytest.mark.slow
def test_the_budget_stops_the_search_with_a_valid_partial_answer(tokenizer, nli_data, dev, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import trustaudit.compress._search.run as module

    ticks = iter(range(0, 10_000, 15))
    monkeypatch.setattr(module, "_clock", lambda: float(next(ticks)))
    out = tmp_path / "best"
    result = search(_base(tokenizer, (1, 2)), nli_data, dev, out, methods=("asc", "quantize"), n_remove=(1, 2, 3),
                    config=_config(), strategy="exhaustive", budget_minutes=1, asc_options={"epochs": 0}, cache=False,
                    progress=True)
    assert not result.complete
    progress = capsys.readouterr().err
    assert "[0 of 4 candidates audited]" in progress and "min of the budget left" in progress
    stored = json.loads((out / "search.json").read_text())
    assert stored["state"] == "stopped by the budget" and stored["complete"] is False
    audited = [c for c in result.candidates if c.state in ("audited", "rejected by the cheap pass")]
    assert 1 <= len(audited) < len(result.candidates)
    assert any(c.note == "not reached: the budget ran out" for c in result.candidates)
    if result.chosen is not None:
        assert result.answer == "found" and result.chosen.status == "trust-equivalent" and (out / "model.pt").is_file()
    else:
        assert result.answer in ("none", "inconclusive") and not (out / "model.pt").exists()


def test_cheap_gate_keeps_only_prediction_and_calibration_checks() -> None:
    gate = GateConfig(max_ece_difference=0.05, min_cka=0.9, decision="point")
    cheap = cheap_gate(gate)
    keys = [spec.key for spec in cheap.enabled]
    assert keys == ["max_accuracy_drop", "min_prediction_agreement", "max_ece_increase", "max_brier_increase", "max_ece_difference"]
    assert cheap.decision == "point" and cheap.max_ece_difference == 0.05


def test_search_refuses_a_folder_that_is_not_empty(tokenizer, nli_data, dev, tmp_path: Path) -> None:
    from trustaudit.exceptions import InvalidInputError

    (tmp_path / "old.txt").write_text("x")
    with pytest.raises(InvalidInputError, match="`out`"):
        search(_base(tokenizer, ()), nli_data, dev, tmp_path, n_remove=(1,))


@pytest.mark.slow
def test_undecided_best_candidates_exit_4_and_say_how_many_rows_would_decide(tokenizer, nli_data, tmp_path: Path, capsys) -> None:
    base = tmp_path / "base.pt"
    save_bundle(_base(tokenizer, (1, 2)), base)
    train = write_rows(tmp_path / "train.tsv", [(a, b, LABELS[y]) for a, b, y in zip(nli_data.text_a, nli_data.text_b, nli_data.labels)])
    gate = tmp_path / "gate.toml"  # LIME agreement judged on the interval of 2 explained rows: too few to decide
    gate.write_text("min_lime_feature_agreement = 0.25\nmin_shap_feature_agreement = false\nmax_ece_increase = false\n"
                    "max_brier_increase = false\nmax_accuracy_drop = false\n")
    out = tmp_path / "best"
    code = main(["--no-progress", "compress", "search", str(base), "--data", str(train), "--eval", str(train),
                 "--methods", "asc", "--n-remove", "1", "--epochs", "0", "--gate", str(gate), "--explain-n", "2",
                 "--lime-samples", "10", "--n-resamples", "50", "--no-bias", "--no-extras", "-o", str(out),
                 "--device", "cpu", "--no-cache"])
    capsys.readouterr()
    stored = json.loads((out / "search.json").read_text())
    (row,) = stored["candidates"]
    assert row["status"] == "inconclusive" and row["state"] == "audited" and not row["chosen"]
    assert code == 4 and stored["answer"] == "inconclusive" and not (out / "model.pt").exists()
    assert [u["key"] for u in row["undecided"]] == ["min_lime_feature_agreement"]
    assert "explain about" in row["undecided"][0]["text"]
    assert "min_lime_feature_agreement: explain about" in (out / "search.html").read_text()


@pytest.mark.slow
def test_the_latency_objective_measures_every_audited_candidate(tokenizer, nli_data, dev, tmp_path: Path) -> None:
    result = search(_base(tokenizer, (1, 2)), nli_data, dev, tmp_path / "best", methods=("asc",), n_remove=(1, 2, 3),
                    config=_config(), objective="latency", asc_options={"epochs": 0}, cache=False, progress=False)
    assert result.document["objective"] == "latency" and result.document["base"]["latency_ms"] > 0
    assert all(c.latency_ms is not None and c.latency_ms > 0 for c in result.candidates)
    audited = [c for c in result.audited]
    assert audited and all(not c.latency_estimated for c in audited)
    assert result.answer == "found" and result.chosen is not None and result.chosen.status == "trust-equivalent"
    passed = [c for c in audited if c.status == "trust-equivalent"]
    assert result.chosen.latency_ms == min(c.latency_ms for c in passed)


def test_the_frontier_plot_draws_audited_candidates_and_the_chosen_one() -> None:
    from trustaudit.exceptions import InvalidInputError
    from trustaudit.report.plots import figure_to_svg, size_trust_frontier

    rows = [
        {"name": "asc-3", "size_bytes": 50_000, "agreement": 0.6, "status": "not trust-equivalent", "chosen": False},
        {"name": "asc-2", "size_bytes": 80_000, "agreement": 0.98, "status": "trust-equivalent", "chosen": True},
        {"name": "asc-1", "size_bytes": 120_000, "agreement": None, "status": None, "chosen": False},
    ]
    svg = figure_to_svg(size_trust_frontier(rows, 200_000))
    assert "asc-3" in svg and "asc-2" in svg and "asc-1" not in svg
    assert "chosen" in svg and "frontier" in svg and "not trust-equivalent" in svg
    with pytest.raises(InvalidInputError, match="base_bytes"):
        size_trust_frontier(rows, 0)


def test_a_candidate_row_copies_its_audits_numbers_from_the_typed_sections() -> None:
    """The row of a candidate holds the same numbers as the dotted paths of its results JSON."""
    from trustaudit._audit import AuditResult
    from trustaudit.compress._search.run import _Search

    result = AuditResult.read_json(Path(__file__).resolve().parents[1] / "gold" / "results.json")
    doc = result.to_dict()
    row: dict = {"evaluations": 5}
    _Search._record(None, row, result, "full")  # type: ignore[arg-type]
    assert row["accuracy"] == doc["predictions"]["small"]["accuracy"] and row["agreement"] == doc["predictions"]["agreement"]
    assert row["ece"] == doc["calibration"]["small"]["ece"] and row["ece_increase"] == doc["calibration"]["ece_increase"]
    assert row["lime_agreement"] == doc["attribution"]["lime"]["feature_agreement"]
    assert row["shap_agreement"] == doc["attribution"]["shap"]["feature_agreement"]
    assert row["explained"] == doc["attribution"]["explained"] == 12
    assert row["evaluations"] == 5 + doc["engine"]["base"]["evaluated"] + doc["engine"]["small"]["evaluated"]
    assert row["explain_seconds"] == round(doc["timings"]["explain"], 3) > 0
    assert row["latency_ms"] == doc["models"]["small"]["latency"]["batch1_ms"]
    assert [u["key"] for u in row["undecided"]] == [c["key"] for c in doc["verdict"]["checks"] if c["status"] == "inconclusive"]


# -- ONNX Runtime int8 candidates -------------------------------------------------------------------

#: int8 of a tiny random model flips many of its near-tied predictions (measured: 70% agreement for
#: int8 of the base and of ASC removing layers 1-2, 40% removing three layers); this limit sits
#: between them, so the ONNX family has one failing and one passing rung.
ONNX_GATE = replace(GATE, min_prediction_agreement=0.6)


@pytest.fixture(scope="module")
def onnx_searched(tokenizer, nli_data, dev, tmp_path_factory: pytest.TempPathFactory):
    """A binary search over ONNX Runtime int8 of 2 ASC rungs and of the base; the planned sizes are kept."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from trustaudit.compress._search.run import _Search

    planned: dict[str, tuple[int, bool]] = {}
    plan = _Search.plan

    def keep_sizes(self) -> None:
        plan(self)
        planned.update({p.row["name"]: (p.row["size_bytes"], p.row["size_estimated"]) for p in self.plans})

    out = tmp_path_factory.mktemp("search-onnx") / "best"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_Search, "plan", keep_sizes)
        result = search(_base(tokenizer, (1, 2)), nli_data, dev, out, methods=("asc+onnx-int8", "onnx-int8"), n_remove=(2, 3),
                        config=_config(ONNX_GATE), asc_options={"epochs": 0}, cache=False, progress=False)
    return result, out, planned


@pytest.mark.slow
def test_onnx_int8_candidates_are_planned_built_audited_and_chosen(onnx_searched) -> None:
    result, out, planned = onnx_searched
    by_name = {c.name: c for c in result.candidates}
    assert set(by_name) == {"asc-3", "asc-2", "asc-3-onnx-int8", "asc-2-onnx-int8", "base-onnx-int8"}
    assert result.document["methods"] == ["asc+onnx-int8", "onnx-int8"]
    # Binary search within the ASC family: the most compressed rung fails, the next passes; int8 of the base,
    # larger, cannot beat it.
    assert by_name["asc-3-onnx-int8"].status == "not trust-equivalent"
    assert by_name["asc-2-onnx-int8"].state == "audited" and by_name["asc-2-onnx-int8"].status == "trust-equivalent"
    assert by_name["base-onnx-int8"].state == "skipped"
    assert result.answer == "found" and result.chosen is not None and result.chosen.name == "asc-2-onnx-int8"
    assert result.chosen.explained == EXPLAIN_N and result.chosen.lime_agreement is not None
    for name in ("asc-3-onnx-int8", "asc-2-onnx-int8"):
        row = by_name[name]
        folder = out / row.bundle
        assert folder.is_dir() and row.bundle == f"candidates/{name}"
        model = load_model(folder)
        graphs = list(folder.glob("*.onnx"))
        assert model.kind == "onnx" and [g.name for g in graphs] == ["model_quantized.onnx"]
        # The size is the quantized graph file's, and the plan's size from the untrained structure was exact
        # (ASC with no fine-tuning keeps the structure's weights, and the graph's size does not depend on them).
        assert row.size_bytes == graphs[0].stat().st_size == model.bytes_on_disk and not row.size_estimated
        assert planned[name] == (row.size_bytes, True)
        search_provenance = model.provenance["search"]
        assert search_provenance["family"] == "asc+onnx-int8" and search_provenance["parent"] == name.removesuffix("-onnx-int8")
        assert model.provenance["method"] == "onnx-dynamic-int8" and model.provenance["max_abs_dp"] <= 1e-4
        assert by_name[row.parent].state == "built, not audited" and by_name[row.parent].bundle.endswith(".pt")
    assert planned["base-onnx-int8"][0] == by_name["base-onnx-int8"].size_bytes > by_name["asc-2-onnx-int8"].size_bytes
    # The chosen ONNX directory is copied to best/model/, beside its audit.
    assert result.document["model"] == "model" and not (out / "model.pt").exists()
    chosen = load_model(out / "model")
    assert chosen.fingerprint == load_model(out / result.chosen.bundle).fingerprint
    assert chosen.provenance["search"]["name"] == "asc-2-onnx-int8"
    assert json.loads((out / "results.json").read_text())["verdict"]["status"] == "trust-equivalent"
    assert (out / "report.html").is_file()
    assert not [p.name for p in out.rglob(".*")]  # no staging folder left behind


def test_an_onnx_export_that_fails_its_check_is_a_failed_candidate_and_the_search_goes_on(
        tokenizer, nli_data, dev, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    import trustaudit.compress._onnx as onnx_module

    monkeypatch.setattr(onnx_module, "max_prob_diff", lambda reference, other: 1.0)
    out = tmp_path / "best"
    result = search(_base(tokenizer, (1, 2)), nli_data, dev, out, methods=("asc+onnx-int8",), n_remove=(2, 3),
                    config=_config(), asc_options={"epochs": 0}, cache=False, progress=False)
    failed = [c for c in result.candidates if c.method == "asc+onnx-int8"]
    assert [c.name for c in failed] == ["asc-3-onnx-int8", "asc-2-onnx-int8"]  # the first failure did not stop the search
    for c in failed:
        assert c.state == "failed to build" and c.status is None and c.bundle is None and not c.chosen
        assert c.note.startswith("not built: ") and "does not reproduce the PyTorch probabilities" in c.note
        assert not (out / "candidates" / c.name).exists()
    assert result.answer == "none" and result.chosen is None and result.document["counts"]["failed_to_build"] == 2
    assert result.document["model"] is None and not (out / "model").exists()
    assert not [p.name for p in (out / "candidates").iterdir() if p.name.startswith(".")]


def test_onnx_methods_without_onnxruntime_are_refused_before_any_work(tokenizer, nli_data, dev, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from trustaudit.exceptions import MissingDependencyError

    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    built = []
    monkeypatch.setattr("trustaudit.compress._search.run._Search.__init__", lambda *a, **k: built.append(a))
    out = tmp_path / "best"
    with pytest.raises(MissingDependencyError, match=r"`methods` asc\+onnx-int8, onnx-int8\) need onnxruntime"):
        search(_base(tokenizer, ()), nli_data, dev, out, methods=("asc", "asc+onnx-int8", "onnx-int8"), n_remove=(1,))
    assert not built and not out.exists()
    base = tmp_path / "base.pt"
    save_bundle(_base(tokenizer, ()), base)
    train = write_rows(tmp_path / "train.tsv", [(a, b, LABELS[y]) for a, b, y in zip(nli_data.text_a, nli_data.text_b, nli_data.labels)])
    code = main(["--no-progress", "compress", "search", str(base), "--data", str(train), "--eval", str(train),
                 "--methods", "onnx-int8", "-o", str(out), "--device", "cpu", "--no-cache"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and not built and not out.exists()
    assert len(err.splitlines()) == 1 and "--methods onnx-int8" in err and "pip install 'trustaudit[onnx]'" in err


def test_the_cli_parses_the_onnx_methods() -> None:
    import argparse

    from trustaudit.compress._cli import _methods

    assert _methods("onnx-int8") == ("onnx-int8",)
    assert _methods("asc+onnx-int8,onnx-int8,asc") == ("asc+onnx-int8", "onnx-int8", "asc")
    with pytest.raises(argparse.ArgumentTypeError, match="onnx-int8"):
        _methods("onnx-int4")
