"""The command line: version, pack, predict, exit codes and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests._helpers import LABELS
from trustaudit import __version__
from trustaudit.cli import main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"trustaudit {__version__}"


def test_console_script_version_is_fast_and_light() -> None:
    code = "import sys, trustaudit; print('torch' in sys.modules, trustaudit.__version__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", __version__]


def test_no_command_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert main(["predict"]) == 2


def test_pack_then_predict_jsonl(tiny_model_dir: Path, dev_tsv: Path, tmp_path: Path, capsys) -> None:
    bundle = tmp_path / "m.pt"
    assert main(["pack", str(tiny_model_dir), "-o", str(bundle), "--task", "pair"]) == 0
    assert "packed" in capsys.readouterr().out
    out = tmp_path / "preds.jsonl"
    assert main(["--no-progress", "predict", str(bundle), "--data", str(dev_tsv), "--out", str(out), "--batch-size", "8"]) == 0
    summary = capsys.readouterr().out
    assert "60 rows" in summary and "accuracy" in summary and str(out) in summary
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 60
    first = records[0]
    assert set(first) == {"row", "probs", "predicted", "label"}
    assert first["row"] == 0 and set(first["probs"]) == set(LABELS)
    assert abs(sum(first["probs"].values()) - 1) < 1e-9
    assert first["predicted"] == max(first["probs"], key=first["probs"].get)
    assert first["label"] in LABELS


def test_predict_to_stdout_with_summary_on_stderr(tiny_bundle_path: Path, dev_tsv: Path, capsys) -> None:
    assert main(["predict", str(tiny_bundle_path), "--data", str(dev_tsv), "--limit", "4"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 4
    assert "4 rows (56 over limit skipped)" in captured.err


def test_input_errors_exit_2_with_one_line(tiny_bundle_path: Path, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.tsv"
    bad.write_text("premise\thypothesis\tlabel\np\th\tmaybe\n")
    assert main(["predict", str(tiny_bundle_path), "--data", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("trustaudit: error:") and err.count("\n") == 1 and "Traceback" not in err
    assert main(["--debug", "predict", str(tiny_bundle_path), "--data", str(bad)]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_pickle_refused_on_the_command_line(tmp_path: Path, dev_tsv: Path, capsys) -> None:
    import torch

    path = tmp_path / "obj.pt"
    torch.save(Path("x"), path)
    assert main(["predict", str(path), "--data", str(dev_tsv)]) == 2
    assert "--allow-pickle" in capsys.readouterr().err


def test_subprocess_entry_point(tiny_bundle_path: Path, dev_tsv: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "trustaudit.cli", "predict", str(tiny_bundle_path), "--data", str(tmp_path / "nope.tsv")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"trustaudit: error: {tmp_path / 'nope.tsv'}: no such file"


def test_compare_defaults_are_the_audit_configs() -> None:
    """Every option of ``compare`` left out gives AuditConfig's default, so the two cannot drift apart."""
    from dataclasses import fields

    from trustaudit._audit import AuditConfig
    from trustaudit.cli import audit_config, build_parser

    args = build_parser().parse_args(["compare", "base.pt", "small.pt", "--data", "dev.tsv"])
    from_cli, default = audit_config(args), AuditConfig()
    differing = [f.name for f in fields(AuditConfig) if getattr(from_cli, f.name) != getattr(default, f.name)]
    assert differing == []
    assert from_cli.to_dict() == default.to_dict()
    changed = audit_config(build_parser().parse_args(["compare", "b", "s", "--data", "d", "--explain-n", "7", "--top-k", "3,5"]))
    assert (changed.explain_n, changed.top_k) == (7, (3, 5))


def test_library_parameters_are_shown_as_flags(tiny_bundle_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The library names its parameters (`label_map`); the command line shows the flags that set them."""
    from trustaudit._options import as_flags

    assert as_flags("pass `tokenizer`=DIR, or `label_map`; keep `x`=1 and plain label_map") == (
        "pass --tokenizer DIR, or --label-map; keep --x 1 and plain label_map"
    )
    assert as_flags("pass `label_names` / `small_label_names` to name them") == "pass --labels / --small-labels to name them"
    data = tmp_path / "raw.tsv"
    data.write_text("a\tb\tentailment\n", encoding="utf-8")
    code = main(["predict", str(tiny_bundle_path), "--data", str(data), "--no-header", "--text-col", "0", "--pair-col", "1",
                 "--label-col", "2", "--label-map", "bogus"])
    err = capsys.readouterr().err
    assert code == 2
    assert "error: --label-map entries look like 0=entailment; got 'bogus'" in err and "`" not in err
