"""``trustaudit compress asc|alad|quantize`` end to end on tiny models, and their input errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.compress.conftest import make_identity, spread_layers, tiny_classifier
from tests.conftest import LABELS
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
                 "--mode", "joint", "--epochs", "1", "--joint-epochs", "1", "--eval", str(dev_tsv), "--device", "cpu",
                 "--no-cache"])
    assert code == 0
    text = capsys.readouterr().out
    assert "AlAd (joint, window 3, hidden 128)" in text and "token cosine to the base" in text
    assert "added (adapter" in text and "joint fine-tuning 1 epoch(s)" in text and ", aligned " in text
    assert load_model(out).kind == "alad"


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
