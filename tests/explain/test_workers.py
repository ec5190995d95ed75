"""``workers > 1`` explains the rows in several processes and gives the same records as one process."""

from __future__ import annotations

from typing import Any

import pytest

from trustaudit.exceptions import InvalidInputError
from trustaudit.explain import explain_pair, lime

SMALL_BUDGET = {"lime_samples": 60, "shap_max_evals": 64, "cache": False, "progress": False}


def _records(result) -> list[dict[str, Any]]:
    """Every example's record without its timing."""
    return [{k: v for k, v in e.to_dict().items() if k != "seconds"} for e in result.examples]


def test_two_workers_give_the_records_of_one_process(model_pair, nli_data) -> None:
    rows = [0, 3, 5, 6, 7]
    one = explain_pair(model_pair, nli_data, rows, **SMALL_BUDGET)
    two = explain_pair(model_pair, nli_data, rows, workers=2, **SMALL_BUDGET)
    assert [e.index for e in two.examples] == rows
    assert _records(two) == _records(one)
    assert two.config == one.config
    for name in ("base", "small"):
        assert two.stats[name].evaluated == one.stats[name].evaluated
        assert two.stats[name].requested == one.stats[name].requested


def test_a_worker_error_is_raised_with_its_type_and_message(model_pair) -> None:
    from trustaudit.exceptions import ModelLoadError
    from trustaudit.scale._executors import call_in_worker
    from trustaudit.scale._payload import PairPayload, reraise

    payload = PairPayload(
        models={"base": b"not a bundle", "small": b"not a bundle"},
        described={
            name: {"path": "x.pt", "labels": list(b.labels), "max_length": 8, "bytes": 0, "cache_id": f"other-{name}"}
            for name, b in (("base", model_pair.base), ("small", model_pair.small))
        },
        permutation=model_pair.permutation,
    )
    status, error = call_in_worker(lambda pair, task: task, payload, None, 1)
    assert status == "error"
    with pytest.raises(ModelLoadError, match="x.pt: not a trustaudit bundle"):
        reraise(*error)


@pytest.mark.parametrize("workers", [0, -1, 1.5, True, "2"])
def test_workers_must_be_a_positive_integer(model_pair, nli_data, workers) -> None:
    with pytest.raises(InvalidInputError, match="workers"):
        explain_pair(model_pair, nli_data, [0], workers=workers, **SMALL_BUDGET)


def _scrubbed(value: Any) -> Any:
    """``value`` without timing and engine statistics, which differ between runs."""
    if isinstance(value, dict):
        return {k: _scrubbed(v) for k, v in value.items() if "seconds" not in k and k not in ("stats", "engine")}
    if isinstance(value, list):
        return [_scrubbed(v) for v in value]
    return value


@pytest.mark.slow
def test_an_audit_with_two_workers_is_the_audit_of_one(model_pair, nli_data) -> None:
    from trustaudit import AuditConfig, audit

    settings = dict(explain_n=4, lime_samples=50, shap_max_evals=50, bias=False, n_resamples=50)
    one = audit(model_pair, None, nli_data, AuditConfig(**settings), cache=False, progress=False).to_dict()
    two = audit(model_pair, None, nli_data, AuditConfig(workers=2, **settings), cache=False, progress=False).to_dict()
    assert two["attribution"]["explained"] == 4
    for section in ("attribution", "examples"):
        assert _scrubbed(two[section]) == _scrubbed(one[section])
    assert two["config"] == {**one["config"], "workers": 2}


def test_audit_config_checks_and_stores_workers() -> None:
    from trustaudit import AuditConfig

    assert "workers" not in AuditConfig().to_dict()
    assert AuditConfig(workers=3).to_dict()["workers"] == 3
    assert AuditConfig.from_dict(AuditConfig(workers=3).to_dict()).workers == 3
    for bad in (0, -2, 1.0, True):
        with pytest.raises(InvalidInputError, match="workers"):
            AuditConfig(workers=bad)


class _FailingLime(lime.LimeExplainer):
    """LIME that plans like LIME and refuses to explain: an error raised inside a worker process."""

    def explain(self, *args: Any, **kwargs: Any) -> Any:
        from trustaudit.exceptions import DataError

        raise DataError("this explainer always fails")


@pytest.mark.slow
def test_an_error_in_a_worker_process_is_raised_as_itself(model_pair, nli_data) -> None:
    from trustaudit.exceptions import DataError
    from trustaudit.explain import register_explainer, unregister_explainer

    register_explainer(_FailingLime(name="failing_lime"))
    try:
        with pytest.raises(DataError, match="^this explainer always fails$"):
            explain_pair(model_pair, nli_data, [0, 1], explainers=("failing_lime",), budgets={"failing_lime": 60}, workers=2, **SMALL_BUDGET)
    finally:
        unregister_explainer("failing_lime")
