"""Executors (this process, local processes, Ray actors) give the audit of one process; an interrupted run resumes."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

from trustaudit.exceptions import InvalidInputError
from trustaudit.explain import explain_pair, lime

SMALL = {"lime_samples": 60, "shap_max_evals": 64, "progress": False}


def _records(result) -> list[dict[str, Any]]:
    """Every example's record without its timing."""
    return [{k: v for k, v in e.to_dict().items() if k != "seconds"} for e in result.examples]


def _scrubbed(value: Any) -> Any:
    """``value`` without timings and engine statistics, which differ between runs."""
    if isinstance(value, dict):
        return {k: _scrubbed(v) for k, v in value.items() if "seconds" not in k and k not in ("stats", "engine")}
    if isinstance(value, list):
        return [_scrubbed(v) for v in value]
    return value


# --- the executor objects -------------------------------------------------------------------------


def test_executors_describe_themselves_and_the_default_is_not_recorded() -> None:
    from trustaudit.scale import ProcessExecutor, RayExecutor, SerialExecutor, resolve_executor

    assert SerialExecutor().describe() is None
    assert ProcessExecutor(3).describe() == {"kind": "processes", "workers": 3}
    assert RayExecutor(actors=4).describe() == {"kind": "ray", "address": "local", "actors": 4}
    assert RayExecutor("auto").describe()["address"] == "auto"
    assert isinstance(resolve_executor(None, 1), SerialExecutor)
    assert resolve_executor(None, 2).describe() == {"kind": "processes", "workers": 2}
    with pytest.raises(InvalidInputError, match="either `workers`"):
        resolve_executor(SerialExecutor(), 2)
    with pytest.raises(InvalidInputError, match="`executor` must be"):
        resolve_executor("ray", 1)  # type: ignore[arg-type]


@pytest.mark.parametrize("kwargs", [{"actors": 0}, {"actors": 1.5}, {"cpus_per_actor": 0}, {"rows_per_task": True},
                                    {"max_restarts": -1}, {"gpus_per_actor": -1}, {"address": ""}])
def test_ray_executor_checks_its_settings(kwargs) -> None:
    from trustaudit.scale import RayExecutor

    with pytest.raises(InvalidInputError, match=f"`{next(iter(kwargs))}`"):
        RayExecutor(**kwargs)


def test_shards_are_contiguous_and_cover_every_row() -> None:
    from trustaudit.scale import ProcessExecutor, RayExecutor

    assert ProcessExecutor(2).shards(5) == [3, 2]
    assert ProcessExecutor(4).shards(2) == [1, 1]
    assert RayExecutor(rows_per_task=2).shards(5) == [2, 2, 1]
    assert RayExecutor().shards(0) == []


def test_the_serial_executor_runs_tasks_in_order_and_reports_each(model_pair) -> None:
    from trustaudit.scale import SerialExecutor

    seen: list[tuple[int, Any]] = []
    out = SerialExecutor().map(lambda pair, task: (pair.labels, task * 2), model_pair, [1, 2, 3], done=lambda k, r: seen.append((k, r)))
    assert [r[1] for r in out] == [2, 4, 6]
    assert [k for k, _ in seen] == [0, 1, 2]


def test_without_ray_the_ray_executor_says_how_to_install_it(monkeypatch, model_pair) -> None:
    from trustaudit.exceptions import MissingDependencyError
    from trustaudit.scale import RayExecutor

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'trustaudit\[ray\]'"):
        RayExecutor().map(lambda pair, task: task, model_pair, [1])


def test_compare_with_ray_but_without_ray_installed_exits_2_with_a_hint(monkeypatch, capsys, dev_tsv, tiny_bundle_path) -> None:
    from trustaudit.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)
    code = main(["compare", str(tiny_bundle_path), str(tiny_bundle_path), "--data", str(dev_tsv), "--ray"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines() == ["trustaudit: error: the Ray executor needs Ray: install it with: pip install 'trustaudit[ray]'"]


# --- resuming an interrupted run ------------------------------------------------------------------


def test_an_interrupted_run_resumes_without_explaining_finished_examples_again(model_pair, nli_data, tmp_path, monkeypatch) -> None:
    from trustaudit.explain import _pair

    rows = [0, 2, 3, 5, 7]
    reference = explain_pair(model_pair, nli_data, rows, cache=tmp_path / "fresh", **SMALL)

    calls = {"n": 0}
    original = _pair._explain_example

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        if calls["n"] == 2:
            raise KeyboardInterrupt("stopped by the test after two examples")
        calls["n"] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(_pair, "_explain_example", interrupted)
    with pytest.raises(KeyboardInterrupt):
        explain_pair(model_pair, nli_data, rows, cache=tmp_path / "cache", **SMALL)
    assert len(list((tmp_path / "cache" / "explanations").rglob("*.json"))) == 2

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        return original(*args, **kwargs)

    calls["n"] = 0
    monkeypatch.setattr(_pair, "_explain_example", counted)
    resumed = explain_pair(model_pair, nli_data, rows, cache=tmp_path / "cache", resume=True, **SMALL)
    assert calls["n"] == len(rows) - 2
    assert resumed.resumed == 2
    assert _records(resumed) == _records(reference)
    assert [e.index for e in resumed.examples] == rows

    calls["n"] = 0
    again = explain_pair(model_pair, nli_data, rows, cache=tmp_path / "cache", resume=True, **SMALL)
    assert calls["n"] == 0 and again.resumed == len(rows)
    assert _records(again) == _records(reference)



def test_a_store_written_with_the_old_keys_is_resumed(model_pair, nli_data, tmp_path, monkeypatch) -> None:
    """Stored examples of earlier versions call the base repeat ``noise``: a resumed run reads them, explaining nothing."""
    import json

    from trustaudit.explain import _pair

    rows = [0, 2]
    reference = explain_pair(model_pair, nli_data, rows, cache=tmp_path / "cache", **SMALL)
    files = sorted((tmp_path / "cache" / "explanations").rglob("*.json"))
    assert len(files) == 2
    for path in files:
        record = json.loads(path.read_text(encoding="utf-8"))
        example = record["example"]
        example["noise"], example["noise_exact"] = example.pop("base_repeat"), example.pop("repeat_exact")
        example["seeds"]["noise"] = example["seeds"].pop("base_repeat")
        path.write_text(json.dumps(record), encoding="utf-8")
    monkeypatch.setattr(_pair, "_explain_example", lambda *args, **kwargs: pytest.fail("a stored example was explained again"))
    resumed = explain_pair(model_pair, nli_data, rows, cache=tmp_path / "cache", resume=True, **SMALL)
    assert resumed.resumed == 2
    assert _records(resumed) == _records(reference)

def test_an_interrupted_audit_resumes_to_the_uninterrupted_result(model_pair, nli_data, tmp_path, monkeypatch) -> None:
    from trustaudit import AuditConfig, audit
    from trustaudit.explain import _pair

    config = AuditConfig(explain_n=4, lime_samples=40, shap_max_evals=40, bias=False, extras=False, n_resamples=30)
    reference = audit(model_pair, None, nli_data, config, cache=tmp_path / "fresh", progress=False).to_dict()
    original, calls = _pair._explain_example, {"n": 0}

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        if calls["n"] == 3:
            raise KeyboardInterrupt("stopped by the test")
        calls["n"] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(_pair, "_explain_example", interrupted)
    with pytest.raises(KeyboardInterrupt):
        audit(model_pair, None, nli_data, config, cache=tmp_path / "cache", progress=False)
    calls["n"] = -10
    resumed = audit(model_pair, None, nli_data, config, cache=tmp_path / "cache", progress=False, resume=True).to_dict()
    assert calls["n"] == -10 + 1, "only the row the interruption stopped was explained again"
    for section in ("predictions", "calibration", "attribution", "examples", "verdict", "config"):
        assert _scrubbed(resumed[section]) == _scrubbed(reference[section]), section
    assert "executor" not in resumed


def test_resume_ignores_records_of_other_settings_and_other_texts(model_pair, nli_data, tmp_path) -> None:
    explain_pair(model_pair, nli_data, [0, 1], cache=tmp_path, **SMALL)
    assert explain_pair(model_pair, nli_data, [0, 1], cache=tmp_path, resume=True, **SMALL).resumed == 2
    assert explain_pair(model_pair, nli_data, [0, 1], cache=tmp_path, resume=True, seed=5, **{**SMALL}).resumed == 0
    for record in (tmp_path / "explanations").rglob("0.json"):
        record.write_text(record.read_text().replace(nli_data.text_a[0], "some other text"))
    assert explain_pair(model_pair, nli_data, [0, 1], cache=tmp_path, resume=True, **SMALL).resumed == 1


def test_resume_needs_a_cache(model_pair, nli_data) -> None:
    with pytest.raises(InvalidInputError, match="resume"):
        explain_pair(model_pair, nli_data, [0], cache=False, resume=True, **SMALL)


def test_compare_resume_without_a_cache_is_a_usage_error(capsys, dev_tsv, tiny_bundle_path) -> None:
    from trustaudit.cli import main

    code = main(["compare", str(tiny_bundle_path), str(tiny_bundle_path), "--data", str(dev_tsv), "--resume", "--no-cache"])
    assert code == 2
    assert "--resume" in capsys.readouterr().err


# --- Ray ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray instance for this module: 2 CPUs, a small object store, no dashboard."""
    ray = pytest.importorskip("ray")
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, object_store_memory=200 * 1024**2, include_dashboard=False, logging_level="warning",
                 runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}})
    yield ray
    if started:
        ray.shutdown()


class _DyingLime(lime.LimeExplainer):
    """LIME whose process ends abruptly the first time it explains (a marker file says it already did)."""

    def __init__(self, marker: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.marker = marker

    def explain(self, *args: Any, **kwargs: Any) -> Any:
        if not os.path.exists(self.marker):
            Path(self.marker).write_text(str(os.getpid()))
            os._exit(1)
        return super().explain(*args, **kwargs)


@pytest.mark.slow
def test_an_audit_on_ray_is_the_audit_of_one_process(local_ray, model_pair, nli_data, monkeypatch) -> None:
    from trustaudit import AuditConfig, audit
    from trustaudit.scale import RayExecutor, _sharded

    monkeypatch.setattr(_sharded, "BATCHES_PER_TASK", 1)
    tasks: list[int] = []
    ray_map = RayExecutor.map

    def spied(self: Any, fn: Any, pair: Any, batch: Any, **kwargs: Any) -> Any:
        if fn is _sharded._run_batches:
            tasks.extend(len(task["pairs"]) for task in batch)
        return ray_map(self, fn, pair, batch, **kwargs)

    monkeypatch.setattr(RayExecutor, "map", spied)

    settings = dict(explain_n=4, lime_samples=50, shap_max_evals=50, bias=False, extras=False, n_resamples=50, batch_size=2)
    one = audit(model_pair, None, nli_data, AuditConfig(**settings), cache=False, progress=False).to_dict()
    with RayExecutor(actors=2) as executor:
        on_ray = audit(model_pair, None, nli_data, AuditConfig(**settings), cache=False, progress=False, executor=executor).to_dict()
        assert executor._pool, "the executor given by the caller stays open"
    assert on_ray["executor"] == {"kind": "ray", "address": "local", "actors": 2}
    assert "executor" not in one
    assert tasks == [2, 2, 2, 2] * 2, "predictions went to the actors in whole batches of the single-process engine"
    assert on_ray["engine"]["base"]["batches"] == one["engine"]["base"]["batches"] == 4
    assert on_ray["engine"]["base"]["evaluated"] == one["engine"]["base"]["evaluated"]
    for section in ("predictions", "calibration", "attribution", "examples", "verdict", "config"):
        assert _scrubbed(on_ray[section]) == _scrubbed(one[section]), section


@pytest.mark.slow
def test_a_shard_whose_actor_dies_is_retried_and_the_result_is_unchanged(local_ray, model_pair, nli_data, tmp_path) -> None:
    import ray.cloudpickle

    from trustaudit.explain import register_explainer, unregister_explainer
    from trustaudit.scale import RayExecutor

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    marker = tmp_path / "died"
    register_explainer(_DyingLime(str(marker), name="dying_lime"))
    try:
        args = dict(explainers=("dying_lime",), budgets={"dying_lime": 60}, cache=False, progress=False)
        marker.write_text("not this time")
        reference = explain_pair(model_pair, nli_data, [0, 1, 2, 4], **args)
        marker.unlink()
        with RayExecutor(actors=2, max_restarts=2) as executor:
            survived = explain_pair(model_pair, nli_data, [0, 1, 2, 4], executor=executor, **args)
    finally:
        unregister_explainer("dying_lime")
        ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert marker.exists(), "an actor process ended mid-audit"
    assert int(marker.read_text()) != os.getpid()
    assert _records(survived) == _records(reference)


@pytest.mark.slow
def test_compare_on_ray_records_the_executor(local_ray, tmp_path, dev_tsv, tiny_bundle_path) -> None:
    import json

    from trustaudit.cli import main

    out = tmp_path / "results.json"
    code = main(["compare", str(tiny_bundle_path), str(tiny_bundle_path), "--data", str(dev_tsv), "--ray", "--ray-actors", "2",
                 "--explain-n", "2", "--lime-samples", "20", "--shap-max-evals", "20", "--no-bias", "--no-extras",
                 "--n-resamples", "20", "--no-cache", "--out", str(tmp_path / "report.html"), "--json", str(out)])
    assert code in (0, 1, 4)
    doc = json.loads(out.read_text())
    assert doc["executor"] == {"kind": "ray", "address": "local", "actors": 2}
    assert doc["attribution"]["explained"] == 2
    assert local_ray.is_initialized(), "a Ray instance the command did not start is left running"


def test_compare_with_both_workers_and_ray_is_a_usage_error(capsys, dev_tsv, tiny_bundle_path) -> None:
    from trustaudit.cli import main

    code = main(["compare", str(tiny_bundle_path), str(tiny_bundle_path), "--data", str(dev_tsv), "--ray", "--workers", "2"])
    assert code == 2
    assert "either --workers or --ray" in capsys.readouterr().err


@pytest.mark.slow
def test_an_error_on_an_actor_is_raised_as_itself(local_ray, model_pair, nli_data) -> None:
    from trustaudit.exceptions import DataError
    from trustaudit.scale import RayExecutor

    def fails(pair: Any, task: Any) -> Any:
        raise DataError(f"task {task} failed on {pair.labels[0]}")

    with RayExecutor(actors=1) as executor, pytest.raises(DataError, match=f"^task 7 failed on {model_pair.labels[0]}$"):
        executor.map(fails, model_pair, [7])
