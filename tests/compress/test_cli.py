"""``trustaudit compress asc|alad|quantize`` end to end on tiny models, and their input errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests._helpers import make_identity, spread_layers, tiny_classifier
from tests._helpers import LABELS
from trustaudit.cli import main
from trustaudit.models import from_model, load_model, save_bundle


@pytest.fixture(scope="module")
def base_path(tokenizer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = spread_layers(tiny_classifier("bert", tokenizer, layers=3, width=32), seed=1)
    make_identity(model.bert.encoder.layer[1], exact=False)
    path = tmp_path_factory.mktemp("cli") / "base.pt"
    save_bundle(from_model(model, tokenizer, LABELS, task="pair"), path)
    return path


@pytest.fixture(scope="module")
def small_path(tokenizer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "small.pt"
    save_bundle(from_model(tiny_classifier("bert", tokenizer, layers=1, width=32), tokenizer, LABELS, task="pair"), path)
    return path


def test_asc_writes_a_pruned_bundle_and_summarises(base_path: Path, dev_tsv: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "small.pt"
    code = main(["--no-progress", "compress", "asc", str(base_path), "--data", str(dev_tsv), "-o", str(out),
                 "--epochs", "1", "--max-rows", "32", "--eval", str(dev_tsv), "--device", "cpu", "--no-cache"])
    assert code == 0
    text = capsys.readouterr().out
    assert ("ASC fine-tuning: 1 epoch(s) (--epochs); task kind nli (from the label names entailment, neutral, "
            "contradiction); Adam, constant learning rate, lr 1e-05, batch 32") in text
    assert "threshold 0.9 - margin 0.01: states at similarity >= 0.89" in text
    assert "removed layer(s) 1 of 3 (0-based; layer(s) 2 numbered from 1 as in the paper) -> 2 layers" in text
    assert "parameters" in text and "MB" in text and "fine-tuned 1 epoch(s)" in text
    assert "accuracy on" in text and "(60 rows): base " in text and ", pruned " in text
    pruned = load_model(out)
    assert pruned.config["num_hidden_layers"] == 2 and pruned.provenance["rows"] == 32


def test_asc_n_remove_to_a_save_pretrained_directory(base_path: Path, dev_tsv: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "small-dir"
    assert main(["compress", "asc", str(base_path), "--data", str(dev_tsv), "-o", str(out), "--n-remove", "2",
                 "--epochs", "0", "--device", "cpu"]) == 0
    assert "n_remove 2" in capsys.readouterr().out
    loaded = load_model(out)
    assert loaded.config["num_hidden_layers"] == 1
    assert (out / "trustaudit_provenance.json").is_file()
    assert loaded.provenance["method"] == "asc" and len(loaded.provenance["layers_removed"]) == 2


def test_alad_writes_an_aligned_bundle(base_path: Path, small_path: Path, dev_tsv: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "aligned.pt"
    code = main(["compress", "alad", str(base_path), str(small_path), "--data", str(dev_tsv), "-o", str(out),
                 "--epochs", "1", "--task-epochs", "1", "--align-data", str(dev_tsv), "--align-rows", "30",
                 "--eval", str(dev_tsv), "--device", "cpu", "--no-cache"])
    assert code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"AlAd set-up adapter, window 3, hidden 1280: align on 30 general texts of {dev_tsv} for "
                           "1 epoch(s); then align on the task's text for 1 epoch(s) at lr 0.0001; then train adapter "
                           "+ head for 1 epoch(s) at lr 0.0001\n")
    assert "AlAd (adapter, window 3, hidden 1280) on 54 rows" in text and "on general text" in text
    assert "added (adapter" in text and "task training (adapter: " in text
    assert "held-out accuracy (6 rows): small model " in text and "epoch 1 kept -> aligned " in text
    assert "(60 rows): base " in text and ", small " in text and ", aligned " in text
    loaded = load_model(out)
    assert loaded.kind == "alad" and loaded.provenance["setup"] == "adapter" and loaded.provenance["general_rows"] == 30


def test_alad_reuse_head_keeps_the_old_zero_training_mode(base_path: Path, small_path: Path, dev_tsv: Path,
                                                          tmp_path: Path, capsys) -> None:
    out = tmp_path / "reused.pt"
    assert main(["compress", "alad", str(base_path), str(small_path), "--data", str(dev_tsv), "-o", str(out),
                 "--setup", "reuse-head", "--epochs", "1", "--device", "cpu"]) == 0
    text = capsys.readouterr().out
    assert "reuse the base's head untrained (trustaudit's set-up, not the paper's)" in text
    assert "task training" not in text and "base head reused untrained" in text


def test_quantize_writes_an_int8_bundle(base_path: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "q.pt"
    assert main(["compress", "quantize", str(base_path), "-o", str(out)]) == 0
    assert "Linear layers to dynamic int8" in capsys.readouterr().out
    loaded = load_model(out)
    assert loaded.kind == "quantized"
    enc = loaded.tokenizer(["a dog runs"], ["the dog is happy"], return_tensors="pt")
    with torch.inference_mode():
        assert loaded.model(**enc).logits.shape == (1, 3)


@pytest.mark.parametrize("argv, message", [
    (["compress", "asc", "{base}", "--data", "{data}", "-o", "{out}", "--threshold", "-1", "--device", "cpu"],
     "would remove all 3 layers"),
    (["compress", "asc", "{base}", "--data", "{data}", "-o", "{out}", "--n-remove", "3", "--device", "cpu"],
     "n_remove must be"),
    (["compress", "asc", "{base}", "--data", "{data}", "-o", "{out}", "--labels", "no,maybe,yes", "--device", "cpu"],
     "name none trustaudit knows; pass task_kind (nli or paraphrase) or epochs (--task-kind or --epochs)"),
    (["compress", "alad", "{base}", "{base}", "--data", "{data}", "-o", "{out}", "--window", "4", "--device", "cpu"],
     "window must be an odd"),
    (["compress", "quantize", "{out}", "-o", "{out}"], "no such file"),
])
def test_bad_input_exits_2_with_one_line(argv, message, base_path: Path, dev_tsv: Path, tmp_path: Path, capsys) -> None:
    args = [a.format(base=base_path, data=dev_tsv, out=tmp_path / "x.pt") for a in argv]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("trustaudit: error:") and err.count("\n") == 1 and message in err


def test_usage_errors_exit_2(capsys) -> None:
    assert main(["compress"]) == 2
    assert main(["compress", "asc", "x.pt", "--data", "d.tsv", "-o", "o.pt", "--threshold", "0.8", "--n-remove", "1"]) == 2
    assert "not allowed with argument" in capsys.readouterr().err
