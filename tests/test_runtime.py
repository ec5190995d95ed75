"""`--runtime onnx`: the same model, its forward passes in ONNX Runtime, probabilities within 1e-5 of PyTorch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from tests._helpers import LABELS  # noqa: E402
from trustaudit._evaluation import Evaluator  # noqa: E402
from trustaudit.cli import main  # noqa: E402
from trustaudit.data import load_dataset  # noqa: E402
from trustaudit.models import load_model  # noqa: E402
from trustaudit.models._onnx import OnnxClassifier  # noqa: E402


def _probs(bundle, pairs) -> np.ndarray:
    return Evaluator(bundle, device="cpu", batch_size=8, cache=False, progress=False).probs(pairs)


def test_runtime_onnx_keeps_the_model_and_its_probabilities(trained_pair, tmp_path: Path, monkeypatch) -> None:
    from trustaudit._runtime import with_onnx_runtime

    monkeypatch.setenv("TRUSTAUDIT_CACHE_DIR", str(tmp_path / "cache"))
    base = load_model(trained_pair[0])
    fast = with_onnx_runtime(base)
    assert isinstance(fast.model, OnnxClassifier) and fast.fingerprint == base.fingerprint and fast.kind == "hf"
    assert fast.cache_id != base.cache_id and fast.n_params == base.n_params
    pairs = load_dataset(trained_pair[2], LABELS).pairs()
    assert np.abs(_probs(fast, pairs) - _probs(base, pairs)).max() <= 1e-5
    again = with_onnx_runtime(base)
    assert again.model.graph == fast.model.graph
    assert len(list((tmp_path / "cache" / "onnx").iterdir())) == 1


def test_predict_with_runtime_onnx(trained_pair, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TRUSTAUDIT_CACHE_DIR", str(tmp_path / "cache"))
    base_path, _, dev = trained_pair
    out_torch, out_onnx = tmp_path / "t.jsonl", tmp_path / "o.jsonl"
    assert main(["predict", str(base_path), "--data", str(dev), "--out", str(out_torch), "--no-cache"]) == 0
    assert main(["predict", str(base_path), "--data", str(dev), "--out", str(out_onnx), "--runtime", "onnx"]) == 0
    torch_rows = [json.loads(line) for line in out_torch.read_text().splitlines()]
    onnx_rows = [json.loads(line) for line in out_onnx.read_text().splitlines()]
    assert [r["predicted"] for r in torch_rows] == [r["predicted"] for r in onnx_rows]
