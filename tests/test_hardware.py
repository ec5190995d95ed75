"""Devices, ``batch_size="auto"`` and reduced precision: tested on the CPU, the CUDA paths only where a GPU is."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from trustaudit import _batching
from trustaudit._audit import AuditConfig, audit
from trustaudit._batching import choose_batch_size, resolve_batch_size
from trustaudit._evaluation import Evaluator, check_precision, resolve_device, softmax
from trustaudit._predict import predict
from trustaudit.cli import main
from trustaudit.data import load_dataset
from trustaudit.exceptions import InvalidInputError
from trustaudit.models import load_model, load_pair
from trustaudit.report import render_html

CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")
without_cuda = pytest.mark.skipif(CUDA, reason="checks the refusal on a machine without CUDA")
#: A quick audit: two explained rows with small budgets, no bias or extras.
QUICK = dict(explain_n=2, lime_samples=40, shap_max_evals=40, n_resamples=50, bias=False, extras=False)


def _bf16_supported_on_cpu() -> bool:
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return torch.nn.functional.linear(torch.ones(2, 2), torch.ones(2, 2)).dtype == torch.bfloat16
    except RuntimeError:
        return False


needs_cpu_bf16 = pytest.mark.skipif(not _bf16_supported_on_cpu(), reason="this torch build has no bf16 autocast on the CPU")


def _comparable(doc: dict[str, Any]) -> dict[str, Any]:
    """A results document without what differs between two runs of the same audit (time, how the size was found)."""
    out = json.loads(json.dumps(doc))
    for key in ("created", "timings", "batch_size", "versions"):
        out.pop(key, None)
    out["config"].pop("batch_size")
    for role in ("base", "small"):
        out["models"][role].pop("latency")
        out["engine"][role].pop("seconds")
        out["engine"][role].pop("model_seconds")
    for key in ("speedup_batch1", "speedup_batched"):
        out["models"].pop(key)
    out["attribution"].pop("seconds", None)
    for stats in out["attribution"].get("engine", {}).values():
        stats.pop("seconds")
        stats.pop("model_seconds")
    for example in out["examples"]:
        example.pop("seconds", None)
    return out


# --- devices -------------------------------------------------------------------------------


@without_cuda
@pytest.mark.parametrize("device", ["cuda", "cuda:0", "CUDA:1"])
def test_a_cuda_request_without_cuda_is_one_clear_input_error(device: str) -> None:
    with pytest.raises(InvalidInputError, match=r"^`device`=cuda(:\d)?: CUDA is not available here .*use `device`=cpu$"):
        resolve_device(device)


@without_cuda
def test_an_audit_on_cuda_without_cuda_fails_before_loading_anything(tmp_path: Path) -> None:
    """The models and data do not exist: the device is checked first."""
    with pytest.raises(InvalidInputError, match="`device`=cuda"):
        audit(tmp_path / "no-base.pt", tmp_path / "no-small.pt", tmp_path / "no.tsv", AuditConfig(device="cuda"))


@without_cuda
@pytest.mark.parametrize("command", ["compare", "predict"])
def test_the_command_line_names_the_device_flag(command: str, trained_pair, tmp_path: Path, capsys) -> None:
    base, small, dev = trained_pair
    models = [str(base), str(small)] if command == "compare" else [str(base)]
    code = main([command, *models, "--data", str(dev), "--device", "cuda", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err and "`" not in err
    assert err.startswith("trustaudit: error: --device cuda: CUDA is not available here") and "use --device cpu" in err


def test_device_names_are_checked() -> None:
    assert resolve_device("CPU") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if CUDA else "cpu")
    for bad in ("gpu", "tpu:0", "meta"):
        with pytest.raises(InvalidInputError, match="^`device` must be auto, cpu or cuda"):
            resolve_device(bad)
    with pytest.raises(InvalidInputError, match="`device`"):
        AuditConfig(device="")


@needs_cuda
def test_a_cuda_index_past_the_last_gpu_is_refused() -> None:
    count = torch.cuda.device_count()
    assert resolve_device(f"cuda:{count - 1}") == torch.device(f"cuda:{count - 1}")
    with pytest.raises(InvalidInputError, match=f"`device`=cuda:{count}: this machine has {count} CUDA device"):
        resolve_device(f"cuda:{count}")


@needs_cuda
def test_an_audit_on_cuda_in_bf16_with_an_automatic_batch_size(trained_pair) -> None:
    base, small, dev = trained_pair
    result = audit(base, small, dev, AuditConfig(device="cuda", batch_size="auto", precision="bf16", **QUICK), cache=False)
    doc = result.to_dict()
    assert doc["models"]["base"]["latency"]["device"] == "cuda"
    assert doc["batch_size"]["device"].startswith("cuda") and doc["batch_size"]["chosen"] >= 8
    assert all("peak_bytes" in t for t in doc["batch_size"]["trials"] if t["fits"])
    assert 0 < doc["precision"]["max_abs_diff"]["base"] < 0.05
    fp32 = audit(base, small, dev, AuditConfig(device="cuda", **QUICK), cache=False).to_dict()
    cpu = audit(base, small, dev, AuditConfig(device="cpu", **QUICK), cache=False).to_dict()
    assert fp32["predictions"]["base"]["accuracy"] == pytest.approx(cpu["predictions"]["base"]["accuracy"])


# --- batch_size="auto" ----------------------------------------------------------------------


def test_auto_batch_size_picks_a_doubling_of_the_start_and_says_why(tiny_bundle_path: Path, dev_tsv: Path) -> None:
    bundle = load_model(tiny_bundle_path)
    data = load_dataset(dev_tsv, bundle.labels)
    choice = choose_batch_size(bundle, data.pairs(), device="cpu", cap=128)
    assert choice.batch_size in (8, 16, 32, 64, 128)
    sizes = [t["batch_size"] for t in choice.trials]
    assert sizes == [8 * 2**i for i in range(len(sizes))] and choice.batch_size in sizes
    taken = [t for t in choice.trials if t["fits"]]
    if choice.reason.startswith(f"batch {sizes[-1]} was not"):
        last, taken = taken[-1], taken[:-1]
        chosen_ms = next(t["ms_per_input"] for t in taken if t["batch_size"] == choice.batch_size)
        assert last["ms_per_input"] > _batching.CPU_MIN_GAIN * chosen_ms, "the doubling that ended the search did not pay"
    best = min(taken, key=lambda t: t["ms_per_input"])
    assert best["batch_size"] == choice.batch_size, "on the CPU the fastest of the doublings that paid is chosen"
    assert choice.reason and choice.to_dict()["requested"] == "auto"
    lengths = sorted(min(len(bundle.tokenizer(a, b)["input_ids"]), bundle.max_length) for a, b in data.pairs())
    assert lengths[0] <= choice.probe_tokens <= lengths[-1]
    assert abs(choice.probe_tokens - lengths[len(lengths) // 2]) <= 2, "on the CPU speed is timed at the median length"


class _Fake:
    """Timings of a pretend device: ``per_call`` seconds a forward pass, out of memory above ``fits``."""

    def __init__(self, per_call: float, per_input: float, fits: int) -> None:
        self.per_call, self.per_input, self.fits, self.sizes = per_call, per_input, fits, []

    def __call__(self, bundle: Any, batch: list, device: torch.device, precision: str) -> float:
        self.sizes.append(len(batch))
        if len(batch) > self.fits:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return self.per_call + self.per_input * len(batch)


def test_auto_batch_size_backs_off_when_memory_runs_out(tiny_bundle_path: Path, dev_tsv: Path, monkeypatch) -> None:
    bundle = load_model(tiny_bundle_path)
    pairs = load_dataset(dev_tsv, bundle.labels).pairs()
    fake = _Fake(per_call=1.0, per_input=0.0, fits=32)
    monkeypatch.setattr(_batching, "_forward_seconds", fake)
    choice = choose_batch_size(bundle, pairs, device="cpu")
    assert choice.batch_size == 32 and choice.reason == "batch 64 ran out of memory"
    assert [t["fits"] for t in choice.trials] == [True, True, True, False]
    fake = _Fake(per_call=1.0, per_input=0.0, fits=2)
    monkeypatch.setattr(_batching, "_forward_seconds", fake)
    assert choose_batch_size(bundle, pairs, device="cpu").batch_size == 2, "a start that does not fit is halved"
    monkeypatch.setattr(_batching, "_forward_seconds", _Fake(per_call=1.0, per_input=0.0, fits=0))
    with pytest.raises(InvalidInputError, match="`batch_size`=auto: not even one input"):
        choose_batch_size(bundle, pairs, device="cpu")


def test_auto_batch_size_stops_when_a_doubling_no_longer_pays_on_the_cpu(tiny_bundle_path: Path, dev_tsv: Path, monkeypatch) -> None:
    bundle = load_model(tiny_bundle_path)
    pairs = load_dataset(dev_tsv, bundle.labels).pairs()
    # 1 s per call + 0.2 s per input, per input: 8 -> 0.325, 16 -> 0.2625, 32 -> 0.23125, 64 -> 0.215625 (7% better)
    monkeypatch.setattr(_batching, "_forward_seconds", _Fake(per_call=1.0, per_input=0.2, fits=10_000))
    choice = choose_batch_size(bundle, pairs, device="cpu")
    assert choice.batch_size == 32 and [t["batch_size"] for t in choice.trials] == [8, 16, 32, 64]
    assert choice.reason == "batch 64 was not 10% faster per input than batch 32"
    monkeypatch.setattr(_batching, "_forward_seconds", _Fake(per_call=1.0, per_input=0.0, fits=10_000))
    assert choose_batch_size(bundle, pairs, device="cpu", cap=256).reason == "the cap of 256"
    monkeypatch.setattr(_batching, "_available_memory", lambda: 4 * 2**20)
    capped = choose_batch_size(bundle, pairs, device="cpu", cap=256)
    assert capped.batch_size < 256 and "of the available memory" in capped.reason


def test_batch_size_settings_are_checked(tiny_bundle_path: Path) -> None:
    bundle = load_model(tiny_bundle_path)
    assert resolve_batch_size(16, bundle, [("a", None)]) == (16, None)
    for bad in (0, "big", 2.5, True):
        with pytest.raises(InvalidInputError, match="`batch_size`"):
            resolve_batch_size(bad, bundle, [("a", None)])
        with pytest.raises(InvalidInputError, match="`batch_size`"):
            AuditConfig(batch_size=bad)
    with pytest.raises(InvalidInputError, match="needs at least one input"):
        choose_batch_size(bundle, [], device="cpu")


def test_an_audit_with_an_automatic_batch_size_records_it_and_equals_that_size_fixed(trained_pair) -> None:
    base, small, dev = trained_pair
    auto = audit(base, small, dev, AuditConfig(batch_size="auto", **QUICK), cache=False)
    doc = json.loads(auto.to_json())
    chosen = doc["batch_size"]["chosen"]
    assert doc["config"]["batch_size"] == "auto" and chosen in [t["batch_size"] for t in doc["batch_size"]["trials"]]
    assert auto.sections.batch_size.chosen == chosen and auto.sections.config.batch_size == "auto"
    assert doc["models"]["base"]["latency"]["batch_size"] == min(chosen, doc["data"]["rows_used"]), "latency at the chosen size"
    fixed = audit(base, small, dev, AuditConfig(batch_size=chosen, **QUICK), cache=False)
    assert "batch_size" not in fixed.to_dict()
    assert _comparable(doc) == _comparable(fixed.to_dict())
    assert doc["engine"]["base"]["batches"] == -(-len(load_dataset(dev, load_model(base).labels)) // chosen)


# --- precision -----------------------------------------------------------------------------


def test_precision_names_are_checked() -> None:
    with pytest.raises(InvalidInputError, match=r"^`precision` must be one of fp32, bf16, fp16, got 'fp8'$"):
        check_precision("fp8", torch.device("cpu"))
    with pytest.raises(InvalidInputError, match="`precision`"):
        AuditConfig(precision="half")
    assert "precision" not in AuditConfig().to_dict()
    assert AuditConfig.from_dict(AuditConfig(precision="bf16").to_dict()).precision == "bf16"


def test_a_precision_the_device_cannot_run_is_refused_in_one_line(monkeypatch) -> None:
    def unsupported(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("In CPU autocast, but the target dtype is not supported. Disabling autocast.\nmore")

    monkeypatch.setattr(torch, "autocast", unsupported)
    with pytest.raises(InvalidInputError) as info:
        check_precision("fp16", torch.device("cpu"))
    message = str(info.value)
    assert message.startswith("`precision`=fp16 is not supported on cpu by torch ") and "\n" not in message
    assert message.endswith("use one of fp32, bf16")


def test_fp16_on_the_cpu_runs_where_this_torch_supports_it(tiny_bundle_path: Path, dev_tsv: Path) -> None:
    """What this torch build does with fp16 autocast on the CPU decides: it runs, or it is refused clearly."""
    bundle = load_model(tiny_bundle_path)
    data = load_dataset(dev_tsv, bundle.labels)
    try:
        with torch.autocast("cpu", dtype=torch.float16):
            supported = torch.nn.functional.linear(torch.ones(2, 2), torch.ones(2, 2)).dtype == torch.float16
    except RuntimeError:
        supported = False
    if not supported:
        with pytest.raises(InvalidInputError, match="`precision`=fp16 is not supported on cpu"):
            predict(bundle, data, device="cpu", precision="fp16", cache=False)
        return
    half = predict(bundle, data, device="cpu", precision="fp16", cache=False).probs
    full = predict(bundle, data, device="cpu", cache=False).probs
    assert 0 < np.abs(half - full).max() < 0.01


def _probs_in(bundle: Any, pairs: list, dtype: torch.dtype | None) -> np.ndarray:
    """Probabilities of one forward pass over every input, padded by the tokenizer, under autocast to ``dtype``."""
    enc = bundle.tokenizer([a for a, _ in pairs], [b for _, b in pairs], padding=True, truncation=True,
                           max_length=bundle.max_length, return_tensors="pt")
    with torch.inference_mode():
        if dtype is None:
            logits = bundle.model(**enc).logits
        else:
            with torch.autocast("cpu", dtype=dtype):
                logits = bundle.model(**enc).logits
    return softmax(logits.float().numpy())


@needs_cpu_bf16
def test_bf16_audit_reports_its_difference_from_fp32(trained_pair, tmp_path: Path) -> None:
    base, small, dev = trained_pair
    pair = load_pair(base, small)
    data = load_dataset(dev, pair.labels)
    n = len(data)
    # On the CPU even where a GPU is present: the reference below runs the models on the CPU.
    result = audit(pair, None, data, AuditConfig(precision="bf16", batch_size=n, device="cpu", **QUICK),
                   cache=tmp_path / "cache")
    doc = json.loads(result.to_json())
    section = doc["precision"]
    assert doc["config"]["precision"] == "bf16" and section["precision"] == "bf16" and section["rows"] == n
    for name, bundle in (("base", pair.base), ("small", pair.small)):
        independent = np.abs(_probs_in(bundle, data.pairs(), torch.bfloat16) - _probs_in(bundle, data.pairs(), None)).max()
        assert 0 < section["max_abs_diff"][name] < 0.05
        assert section["max_abs_diff"][name] == pytest.approx(independent, rel=0.02, abs=1e-6)
        assert 0 <= section["mean_abs_diff"][name] <= section["max_abs_diff"][name]
    assert doc["models"]["base"]["latency"]["precision"] == "bf16"
    html = render_html(result)
    shown = re.search(r"forward passes in bf16: max \|Δp\| vs fp32 = (\S+) \(base\), (\S+) \(small\) over (\d+) rows", html)
    assert shown is not None and int(shown.group(3)) == n
    assert float(shown.group(1)) == pytest.approx(section["max_abs_diff"]["base"], rel=0.1)
    assert float(shown.group(2)) == pytest.approx(section["max_abs_diff"]["small"], rel=0.1)
    fp32 = audit(pair, None, data, AuditConfig(batch_size=n, device="cpu", **QUICK), cache=tmp_path / "cache").to_dict()
    assert "precision" not in fp32 and "precision" not in fp32["config"]
    probs = np.array(fp32["predictions"]["base"]["accuracy"])
    assert probs == pytest.approx(doc["predictions"]["base"]["accuracy"], abs=2 / n), "bf16 moves at most a row or two"


@needs_cpu_bf16
def test_the_cache_keeps_precisions_apart(tiny_bundle_path: Path, dev_tsv: Path, tmp_path: Path) -> None:
    bundle = load_model(tiny_bundle_path)
    pairs = load_dataset(dev_tsv, bundle.labels).pairs()
    cache = tmp_path / "cache"

    def run(precision: str) -> tuple[np.ndarray, int]:
        engine = Evaluator(bundle, device="cpu", cache=cache, precision=precision)
        logits, _ = engine.logits(pairs)
        return logits, engine.stats.cache_hits

    fp32, hits = run("fp32")
    assert hits == 0
    bf16, hits = run("bf16")
    assert hits == 0, "fp32 logits are never served for a bf16 request"
    assert not np.array_equal(bf16, fp32)
    again, hits = run("bf16")
    assert hits == len(set(pairs)) and np.array_equal(again, bf16)
    exact, hits = run("fp32")
    assert hits == len(set(pairs)) and np.array_equal(exact, fp32), "nor bf16 logits for an fp32 request"


@needs_cpu_bf16
def test_the_command_line_takes_batch_size_auto_and_precision(trained_pair, tmp_path: Path, capsys) -> None:
    base, small, dev = trained_pair
    out = tmp_path / "results.json"
    code = main(["compare", str(base), str(small), "--data", str(dev), "--batch-size", "auto", "--precision", "bf16",
                 "--explain-n", "0", "--no-bias", "--no-extras", "--n-resamples", "50", "--no-cache",
                 "--json", str(out), "--out", str(tmp_path / "report.html")])
    assert code in (0, 1, 4), capsys.readouterr().err
    doc = json.loads(out.read_text())
    assert doc["config"]["batch_size"] == "auto" and doc["config"]["precision"] == "bf16"
    assert doc["batch_size"]["chosen"] >= 1 and doc["precision"]["max_abs_diff"]["base"] > 0
    assert "forward passes in bf16" in (tmp_path / "report.html").read_text()
    assert main(["compare", str(base), str(small), "--data", str(dev), "--precision", "fp8"]) == 2
    assert "--precision" in capsys.readouterr().err
    assert main(["predict", str(base), "--data", str(dev), "--batch-size", "auto", "--precision", "bf16",
                 "--no-cache", "--out", str(tmp_path / "p.jsonl")]) == 0
    assert main(["predict", str(base), "--data", str(dev), "--batch-size", "0"]) == 2
