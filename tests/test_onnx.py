"""ONNX Runtime models: export and reload, the directory layouts, int8 graphs, `compress onnx` and `compare` end to end."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from tests._helpers import LABELS  # noqa: E402
from trustaudit._evaluation import Evaluator  # noqa: E402
from trustaudit.cli import main  # noqa: E402
from trustaudit.compress._onnx import check_inputs, to_onnx  # noqa: E402
from trustaudit.data import load_dataset  # noqa: E402
from trustaudit.exceptions import ExportError, InvalidInputError, MissingDependencyError  # noqa: E402
from trustaudit.models import load_model, load_pair  # noqa: E402
from trustaudit.models._onnx import OnnxClassifier  # noqa: E402

QUICK = ["--explain-n", "4", "--lime-samples", "100", "--shap-max-evals", "64", "--n-resamples", "100", "--no-cache"]


def _probs(bundle, pairs) -> np.ndarray:
    return Evaluator(bundle, device="cpu", batch_size=8, cache=False, progress=False).probs(pairs)


@pytest.fixture(scope="module")
def base(trained_pair):
    return load_model(trained_pair[0])


@pytest.fixture(scope="module")
def exported(base, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("onnx") / "base-onnx"
    bundle, info = to_onnx(base, out)
    return out, info


def test_export_reloads_with_the_pytorch_probabilities(base, exported, trained_pair) -> None:
    out, info = exported
    bundle = load_model(out)
    data = load_dataset(trained_pair[2], LABELS)
    pairs = data.pairs() + check_inputs(base.tokenizer, n=16, seed=3)
    assert bundle.kind == "onnx" and isinstance(bundle.model, OnnxClassifier)
    assert bundle.labels == base.labels
    assert info.max_abs_dp <= 1e-4 and info.fused.get("Attention") == 2
    diff = np.abs(_probs(bundle, pairs) - _probs(base, pairs)).max()
    assert diff <= 1e-4
    assert sorted(p.name for p in out.iterdir()) == [
        "config.json", "model.onnx", "tokenizer.json", "tokenizer_config.json", "trustaudit_provenance.json"
    ]


def test_size_parameters_and_fingerprint_come_from_the_graph(base, exported) -> None:
    out, _ = exported
    bundle = load_model(out)
    graph = out / "model.onnx"
    assert bundle.fingerprint == hashlib.sha256(b"model.onnx\x00" + graph.read_bytes()).hexdigest()
    assert bundle.fingerprint != base.fingerprint
    assert bundle.bytes_on_disk == graph.stat().st_size
    assert bundle.n_params == base.n_params
    assert bundle.describe()["provenance"]["method"] == "onnx-export"
    assert bundle.describe()["runtime"].startswith("onnxruntime ")


def test_graph_file_and_onnx_subfolder_layouts_load(exported, tmp_path: Path) -> None:
    out, _ = exported
    hub_layout = tmp_path / "repo"
    (hub_layout / "onnx").mkdir(parents=True)
    for item in out.iterdir():
        shutil.copy(item, hub_layout / "onnx" / item.name if item.suffix == ".onnx" else hub_layout / item.name)
    shutil.copy(out / "model.onnx", hub_layout / "onnx" / "model_quantized.onnx")
    assert load_model(hub_layout).path == str(hub_layout)
    single = load_model(hub_layout / "onnx" / "model_quantized.onnx")
    assert single.kind == "onnx" and single.labels == LABELS
    (hub_layout / "onnx" / "model.onnx").unlink()
    shutil.copy(out / "model.onnx", hub_layout / "onnx" / "other.onnx")
    with pytest.raises(Exception, match="several ONNX graphs"):
        load_model(hub_layout)


def test_bad_onnx_file_is_one_line_exit_2(exported, dev_tsv, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = exported
    broken = tmp_path / "broken"
    shutil.copytree(out, broken)
    (broken / "model.onnx").write_bytes(b"\x08\x07 this is not a protobuf graph" * 10)
    assert main(["predict", str(broken), "--data", str(dev_tsv), "--no-cache"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "model.onnx" in err and "Traceback" not in err


def test_missing_onnxruntime_gives_the_install_hint(exported, dev_tsv, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    assert main(["predict", str(exported[0]), "--data", str(dev_tsv)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install 'trustaudit[onnx]'" in err
    with pytest.raises(MissingDependencyError):
        OnnxClassifier(exported[0] / "model.onnx")


def test_export_above_the_tolerance_writes_nothing(base, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="does not reproduce the PyTorch probabilities"):
        to_onnx(base, tmp_path / "out", tolerance=1e-15)
    assert not (tmp_path / "out").exists() and list(tmp_path.iterdir()) == []


def test_refuses_existing_output_and_bad_options(base, exported) -> None:
    with pytest.raises(InvalidInputError, match="already exists"):
        to_onnx(base, exported[0])
    with pytest.raises(InvalidInputError, match="calibration"):
        to_onnx(base, exported[0].parent / "static", quantize="static")
    with pytest.raises(InvalidInputError, match="`per_channel` applies to quantization"):
        to_onnx(base, exported[0].parent / "pc", per_channel=True)


def test_dynamic_int8_graph_runs_each_row_alone(base, tmp_path: Path, trained_pair) -> None:
    quantized, info = to_onnx(base, tmp_path / "q", quantize="dynamic")
    assert (tmp_path / "q" / "model_quantized.onnx").is_file() and quantized.model.rows_alone
    assert info.bytes < info.fp32_bytes and info.quantized_agreement is not None
    pairs = load_dataset(trained_pair[2], LABELS).pairs()[:12]
    tok = base.tokenizer
    batch = tok([a for a, _ in pairs], [b for _, b in pairs], padding=True, return_tensors="pt")
    assert (batch["attention_mask"] == 0).any()
    with torch.inference_mode():
        together = quantized.model(**batch).logits
        alone = torch.cat([quantized.model(**tok(a, b, return_tensors="pt")).logits for a, b in pairs])
    assert torch.equal(together, alone)
    assert quantized.model.cache_salt == "rows-alone"
    assert np.abs(_probs(quantized, pairs) - _probs(base, pairs)).max() < 0.1


def test_compress_onnx_static_then_compare_end_to_end(trained_pair, tmp_path: Path, capsys) -> None:
    base_path, _, dev = trained_pair
    out = tmp_path / "static"
    code = main(["compress", "onnx", str(base_path), "-o", str(out), "--quantize", "static", "--per-channel",
                 "--calibration-data", str(dev), "--calibration-rows", "32"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "max |dp|" in printed and "static int8 (per channel, calibrated on 32 rows)" in printed
    provenance = json.loads((out / "trustaudit_provenance.json").read_text())
    assert provenance["method"] == "onnx-static-int8" and provenance["per_channel"] is True
    assert provenance["max_abs_dp"] <= 1e-4


def test_quantized_onnx_candidate_through_compare(trained_pair, bias_tests_file: Path, tmp_path: Path, capsys) -> None:
    base_path, _, dev = trained_pair
    out = tmp_path / "dyn"
    assert main(["compress", "onnx", str(base_path), "-o", str(out), "--quantize", "dynamic"]) == 0
    capsys.readouterr()
    code = main(["--no-progress", "compare", str(base_path), str(out), "--data", str(dev), *QUICK,
                 "--bias-tests", str(bias_tests_file), "--out", str(tmp_path / "r.html"), "--json", str(tmp_path / "r.json")])
    assert code in (0, 1, 4)  # 4: inconclusive, once the gate has that outcome
    doc = json.loads((tmp_path / "r.json").read_text())
    small = doc["models"]["small"]
    assert small["kind"] == "onnx" and small["provenance"]["method"] == "onnx-dynamic-int8"
    assert doc["attribution"]["available"] and doc["attribution"]["lime"]["feature_agreement"] is not None
    assert doc["predictions"]["agreement"] > 0.5
    assert doc["bias"]["available"] is False and "hidden states" in doc["bias"]["reason"]
    extras = doc["extras"]
    assert extras["representation"]["available"] is False and "hidden states" in extras["representation"]["reason"]
    assert extras["adversarial"]["available"] is False and "input embeddings" in extras["adversarial"]["reason"]
    assert "ONNX Runtime dynamic int8" in (tmp_path / "r.html").read_text(encoding="utf-8")


def test_onnx_and_torch_models_pair_up_by_label_name(exported, trained_pair) -> None:
    pair = load_pair(trained_pair[1], exported[0])
    assert pair.small.kind == "onnx" and pair.permutation == (0, 1, 2)
