"""Nothing lost, nothing silently wrong: outputs never overwrite inputs, models without a tokenizer
are refused, bad files are input errors (exit 2, one line), and the inputs are never touched."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests._helpers import LABELS, write_rows
from trustaudit._audit import AuditResult
from trustaudit.cli import main

GOLD = Path(__file__).parent / "gold" / "results.json"
QUICK = ["--explain-n", "0", "--n-resamples", "50", "--no-cache", "--no-bias"]
NO_ATTRIBUTION_GATE = "min_lime_feature_agreement = false\nmin_shap_feature_agreement = false\n"


def _snapshot(*paths: Path) -> dict[Path, bytes]:
    """The bytes of every file among ``paths`` (directories: every file inside)."""
    files: dict[Path, bytes] = {}
    for path in paths:
        for item in ([path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())):
            files[item] = item.read_bytes()
    return files


def _unchanged(snapshot: dict[Path, bytes]) -> None:
    for path, data in snapshot.items():
        assert path.read_bytes() == data, f"{path} changed"


def _refused(args: list[str], capsys: pytest.CaptureFixture[str], *fragments: str) -> str:
    """Run the CLI, expect exit 2 with one line on stderr holding every fragment."""
    capsys.readouterr()
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("trustaudit: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    return err


@pytest.fixture()
def work(trained_pair, tiny_model_dir: Path, tmp_path: Path) -> dict[str, Path]:
    """Private copies of the models, the data, a gate file and a results file."""
    base, small, dev = trained_pair
    paths = {
        "base": Path(shutil.copy(base, tmp_path / "base.pt")),
        "small": Path(shutil.copy(small, tmp_path / "small.pt")),
        "dev": Path(shutil.copy(dev, tmp_path / "dev.tsv")),
        "hf": Path(shutil.copytree(tiny_model_dir, tmp_path / "hf")),
        "gate": tmp_path / "gate.toml",
        "results": Path(shutil.copy(GOLD, tmp_path / "results.json")),
        "cache": tmp_path / "cache",
    }
    paths["gate"].write_text("max_accuracy_drop = 0.5\n", encoding="utf-8")
    (paths["cache"]).mkdir()
    (paths["cache"] / "evals.sqlite").write_bytes(b"SQLite format 3\x00 pretend")
    return paths


COLLISIONS = [
    ("compare-out-is-data", ["compare", "{base}", "{small}", "--data", "{dev}", "--out", "{dev}"], ["--out {dev}", "--data {dev}"]),
    ("compare-out-is-model", ["compare", "{base}", "{small}", "--data", "{dev}", "--out", "{small}"], ["--out {small}", "the small model {small}"]),
    ("summary-is-data-junit-is-gate", ["compare", "{base}", "{small}", "--data", "{dev}", "--out", "{tmp}/r.html",
                                       "--summary", "{dev}", "--junit", "{gate}", "--gate", "{gate}"], ["--junit {gate}", "--gate {gate}"]),
    ("summary-is-data", ["compare", "{base}", "{small}", "--data", "{dev}", "--out", "{tmp}/r.html", "--summary", "{dev}"],
     ["--summary {dev}", "--data {dev}"]),
    ("json-is-out", ["compare", "{base}", "{small}", "--data", "{dev}", "--out", "{tmp}/r.html", "--json", "{tmp}/r.html"],
     ["--json {tmp}/r.html and --out {tmp}/r.html are the same file"]),
    ("render-over-results", ["render", "{results}", "-o", "{results}"], ["--out {results}", "the results file {results}"]),
    ("predict-out-is-data", ["predict", "{base}", "--data", "{dev}", "--out", "{dev}"], ["--out {dev}", "--data {dev}"]),
    ("out-in-model-dir", ["compare", "{hf}", "{small}", "--data", "{dev}", "--out", "{tmp}/r.html", "--json", "{hf}/config.json"],
     ["--json {hf}/config.json", "a file of the base model {hf}"]),
    ("out-is-cache", ["predict", "{base}", "--data", "{dev}", "--cache-dir", "{cache}", "--out", "{cache}/evals.sqlite"],
     ["--out {cache}/evals.sqlite", "the evaluation cache"]),
    ("pack-over-weights", ["pack", "{hf}", "-o", "{hf}/model.safetensors"], ["--out {hf}/model.safetensors", "a file of the model {hf}"]),
    ("quantize-over-base", ["compress", "quantize", "{base}", "-o", "{base}"], ["--out {base}", "the base model {base}"]),
    ("alad-over-data", ["compress", "alad", "{base}", "{small}", "--data", "{dev}", "-o", "{dev}"], ["--out {dev}", "--data {dev}"]),
    ("asc-into-model-dir", ["compress", "asc", "{hf}", "--data", "{dev}", "-o", "{hf}"], ["--out {hf} lies inside the base model {hf}"]),
    ("asc-dir-holds-data", ["compress", "asc", "{base}", "--data", "{dev}", "-o", "{tmp}"], ["--out {tmp} holds the base model {base}"]),
]


@pytest.mark.parametrize("case,args,fragments", COLLISIONS, ids=[c[0] for c in COLLISIONS])
def test_an_output_that_is_an_input_or_another_output_is_refused(
    case: str, args: list[str], fragments: list[str], work: dict[str, Path], tmp_path: Path, capsys
) -> None:
    names = {**{k: str(v) for k, v in work.items()}, "tmp": str(tmp_path)}
    snapshot = _snapshot(*(work[k] for k in ("base", "small", "dev", "hf", "gate", "results", "cache")))
    before = set(tmp_path.rglob("*"))
    _refused(["--no-progress", *[a.format(**names) for a in args]], capsys, *[f.format(**names) for f in fragments])
    _unchanged(snapshot)
    assert set(tmp_path.rglob("*")) == before, "nothing may be written"


def test_symlinked_and_relative_outputs_are_resolved(work: dict[str, Path], tmp_path: Path, monkeypatch, capsys) -> None:
    snapshot = _snapshot(work["dev"])
    link = tmp_path / "link.jsonl"
    link.symlink_to(work["dev"])
    _refused(["predict", str(work["base"]), "--data", str(work["dev"]), "--out", str(link)], capsys, f"--out {link}", "--data")
    assert link.is_symlink()
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    _refused(["predict", str(work["base"]), "--data", "../dev.tsv", "--out", "./../sub/../dev.tsv"], capsys,
             "--out ./../sub/../dev.tsv", "--data ../dev.tsv")
    hard = tmp_path / "hard.tsv"
    os.link(work["dev"], hard)
    _refused(["predict", str(work["base"]), "--data", str(work["dev"]), "--out", str(hard)], capsys, f"--out {hard}")
    _unchanged(snapshot)


def test_an_unwritable_output_is_found_before_any_work(work: dict[str, Path], capsys) -> None:
    try:
        fd, probe = tempfile.mkstemp(dir="/sys")
    except OSError:
        pass
    else:  # pragma: no cover - only where /sys is writable
        os.close(fd)
        os.unlink(probe)
        pytest.skip("/sys is writable here")
    snapshot = _snapshot(work["dev"], work["base"])
    _refused(["compare", str(work["base"]), str(work["small"]), "--data", str(work["dev"]), "--out", "/sys/trustaudit/r.html"],
             capsys, "--out /sys/trustaudit/r.html: cannot write there (/sys")
    _unchanged(snapshot)


@pytest.fixture()
def no_tokenizer_dir(tiny_model_dir: Path, tmp_path: Path) -> Path:
    """Exactly what the issue describes: config.json and weights, no tokenizer files."""
    path = tmp_path / "no-tokenizer"
    path.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(tiny_model_dir / name, path / name)
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "model.safetensors"]
    return path


def test_a_directory_without_tokenizer_files_is_refused(no_tokenizer_dir: Path, dev_tsv: Path, tmp_path: Path, capsys) -> None:
    snapshot = _snapshot(no_tokenizer_dir, dev_tsv)
    message = f"{no_tokenizer_dir}: no usable tokenizer files (vocab.txt, tokenizer.json …); pass --tokenizer DIR"
    _refused(["predict", str(no_tokenizer_dir), "--data", str(dev_tsv)], capsys, message)
    _refused(["pack", str(no_tokenizer_dir), "-o", str(tmp_path / "broken.pt")], capsys, message)
    assert not (tmp_path / "broken.pt").exists()
    _unchanged(snapshot)


def test_tokenizer_option_works_for_directories_and_bundles(
    no_tokenizer_dir: Path, tiny_model_dir: Path, dev_tsv: Path, tmp_path: Path, capsys
) -> None:
    def probs(model: Path, *extra: str) -> list[dict]:
        out = tmp_path / "p.jsonl"
        assert main(["--no-progress", "predict", str(model), "--data", str(dev_tsv), "--limit", "8", "--no-cache", "--out", str(out), *extra]) == 0
        return [json.loads(line)["probs"] for line in out.read_text().splitlines()]

    reference = probs(tiny_model_dir)
    assert probs(no_tokenizer_dir, "--tokenizer", str(tiny_model_dir)) == reference
    bundle = tmp_path / "packed.pt"
    assert main(["pack", str(no_tokenizer_dir), "-o", str(bundle), "--tokenizer", str(tiny_model_dir)]) == 0
    assert probs(bundle) == reference
    assert probs(bundle, "--tokenizer", str(tiny_model_dir)) == reference
    capsys.readouterr()
    _refused(["predict", str(bundle), "--data", str(dev_tsv), "--tokenizer", str(no_tokenizer_dir)], capsys,
             f"--tokenizer {no_tokenizer_dir}: no usable tokenizer files")


def test_a_bundle_carrying_an_empty_tokenizer_is_refused(tiny_model_dir: Path, dev_tsv: Path, tmp_path: Path, capsys) -> None:
    from transformers import BertTokenizer

    from trustaudit.models import from_model, load_model, save_bundle

    model = load_model(tiny_model_dir).model
    empty = BertTokenizer(vocab={t: i for i, t in enumerate(("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"))})
    path = tmp_path / "empty-tokenizer.pt"
    save_bundle(from_model(model, empty, LABELS), path)
    _refused(["predict", str(path), "--data", str(dev_tsv)], capsys, f"{path}: no usable tokenizer files", "pass --tokenizer DIR")
    assert main(["--no-progress", "predict", str(path), "--data", str(dev_tsv), "--limit", "2", "--tokenizer", str(tiny_model_dir)]) == 0


def test_truncated_safetensors_is_an_input_error(tiny_model_dir: Path, dev_tsv: Path, tmp_path: Path, capsys) -> None:
    path = Path(shutil.copytree(tiny_model_dir, tmp_path / "cut"))
    weights = path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    snapshot = _snapshot(path, dev_tsv)
    _refused(["predict", str(path), "--data", str(dev_tsv)], capsys, f"{weights}: the weights are damaged or truncated")
    _unchanged(snapshot)


def test_a_weights_pickle_carrying_code_is_refused_without_running_it(tiny_model_dir: Path, dev_tsv: Path, tmp_path: Path, capsys) -> None:
    import pathlib

    import torch

    marker = tmp_path / "payload-ran"

    class Payload:
        def __reduce__(self):
            return (pathlib.Path.touch, (marker,))

    path = Path(shutil.copytree(tiny_model_dir, tmp_path / "evil"))
    (path / "model.safetensors").unlink()
    torch.save({"bert.embeddings.word_embeddings.weight": Payload()}, path / "pytorch_model.bin")
    snapshot = _snapshot(path)
    _refused(["predict", str(path), "--data", str(dev_tsv)], capsys,
             f"{path / 'pytorch_model.bin'}: the weights are a pickle that calls ", "when loaded, so they are refused")
    assert not marker.exists()
    _unchanged(snapshot)


@pytest.fixture(scope="module")
def self_audit(trained_pair, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The base model audited against itself on data with blank, NaN and long rows, at 16 tokens."""
    base, _, dev = trained_pair
    root = tmp_path_factory.mktemp("self-audit")
    rows = [tuple(line.split("\t")) for line in dev.read_text(encoding="utf-8").splitlines()[3:23]]
    long_row = (" ".join(["the red cat sleeps in the park"] * 6), "the cat sleeps", "entailment")
    data = write_rows(root / "dev.tsv", [*rows, ("   ", "the cat", "neutral"), ("NaN", "a dog", "neutral"), long_row])
    gate = root / "gate.toml"
    gate.write_text(NO_ATTRIBUTION_GATE, encoding="utf-8")
    snapshot = _snapshot(base, data, gate)
    capture = subprocess.run(
        [sys.executable, "-m", "trustaudit.cli", "--no-progress", "compare", str(base), str(base), "--data", str(data), *QUICK,
         "--gate", str(gate), "--max-length", "16", "--out", str(root / "r.html"), "--json", str(root / "r.json"), "--summary", str(root / "s.md")],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    _unchanged(snapshot)
    return {"code": capture.returncode, "out": capture.stdout, "err": capture.stderr, "root": root}


def test_self_comparison_warns_and_never_shows_negative_zero(self_audit: dict) -> None:
    assert self_audit["code"] == 0, self_audit["err"]
    warnings = [line for line in self_audit["err"].splitlines() if line.startswith("trustaudit: warning:")]
    assert len(warnings) == 1 and "are the same file: this audit compares a model with itself" in warnings[0]
    text = (self_audit["root"] / "r.json").read_text(encoding="utf-8")
    doc = json.loads(text)
    assert doc["predictions"]["accuracy_drop"] == 0.0 and str(doc["predictions"]["accuracy_drop"]) == "0.0"
    assert "-0.0," not in text and "-0.0\n" not in text and "-0.0]" not in text
    html = (self_audit["root"] / "r.html").read_text(encoding="utf-8")
    assert "compares a model with itself" in html
    assert not re.search(r"[>( ]-0\.0+(?![0-9])", html), re.search(r".{40}[>( ]-0\.0+(?![0-9]).{20}", html)
    assert not re.search(r" -0\.0+(?![0-9])", self_audit["out"])
    assert "Loading weights" not in self_audit["err"] and "it/s" not in self_audit["err"]


def test_blank_texts_and_truncation_are_reported(self_audit: dict) -> None:
    doc = json.loads((self_audit["root"] / "r.json").read_text(encoding="utf-8"))
    assert doc["data"]["skipped"] == {"empty text": 2} and doc["data"]["rows_used"] == 21
    n_truncated = doc["predictions"]["base"]["n_truncated"]
    assert n_truncated >= 1
    assert "rows left out: 2 (2 empty text)" in self_audit["out"]
    assert f"inputs truncated: base {n_truncated} at 16 tokens, small {n_truncated} at 16 tokens" in self_audit["out"]
    html = (self_audit["root"] / "r.html").read_text(encoding="utf-8")
    assert "2 rows left out: 2 empty text" in html
    assert f"16 tokens · {n_truncated} inputs truncated" in html


def test_keep_empty_keeps_blank_rows(tiny_bundle_path: Path, tmp_path: Path, capsys) -> None:
    data = write_rows(tmp_path / "d.tsv", [("a cat sleeps", "the cat", "neutral"), ("", "the dog", "neutral"), ("nan", "x", "neutral")])
    assert main(["--no-progress", "predict", str(tiny_bundle_path), "--data", str(data), "--no-cache"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 1 and "1 rows (2 empty text skipped)" in captured.err
    assert main(["--no-progress", "predict", str(tiny_bundle_path), "--data", str(data), "--no-cache", "--keep-empty"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3


def test_same_weights_in_two_files_warn(trained_pair, tmp_path: Path) -> None:
    base, _, dev = trained_pair
    copy = Path(shutil.copy(base, tmp_path / "copy.pt"))
    lines = dev.read_text(encoding="utf-8").splitlines()
    data = tmp_path / "d.tsv"
    data.write_text("\n".join(lines[:1] + lines[3:15]) + "\n", encoding="utf-8")
    gate = tmp_path / "gate.toml"
    gate.write_text(NO_ATTRIBUTION_GATE, encoding="utf-8")
    capture = subprocess.run(
        [sys.executable, "-m", "trustaudit.cli", "--no-progress", "compare", str(base), str(copy), "--data", str(data), *QUICK,
         "--gate", str(gate), "--out", str(tmp_path / "r.html")],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert capture.returncode == 0, capture.stderr
    assert "are the same weights (fingerprint" in capture.stderr


@pytest.mark.parametrize(
    "name,content,extra,fragments",
    [
        ("dup.tsv", "premise\thypothesis\tPremise\tlabel\na\tb\tc\tneutral\n", [], ["dup.tsv: the header names the column 'Premise' twice"]),
        ("obj.jsonl", '{"premise": "a", "hypothesis": "b", "label": "neutral"}\n{"premise": {"x": 1}, "hypothesis": "b", "label": "neutral"}\n',
         [], ["obj.jsonl: row 1: the text column 'premise' holds an object, not text"]),
        ("list.json", '[{"text": ["a", "b"], "label": "neutral"}]', [], ["list.json: row 0: the text column 'text' holds a list, not text"]),
        ("adir", None, [], ["adir: is a directory, not a data file"]),
        ("ok.tsv", "premise\thypothesis\tlabel\na\tb\tneutral\n", ["--cache-dir", "{data}"], ["--cache-dir", "ok.tsv: is a file, not a directory"]),
    ],
)
def test_bad_data_and_cache_paths_name_the_problem(
    name: str, content: str | None, extra: list[str], fragments: list[str], tiny_bundle_path: Path, tmp_path: Path, capsys
) -> None:
    data = tmp_path / name
    if content is None:
        data.mkdir()
    else:
        data.write_text(content, encoding="utf-8")
    snapshot = _snapshot(data) if content is not None else {}
    _refused(["predict", str(tiny_bundle_path), "--data", str(data), *[e.format(data=data) for e in extra]], capsys, *fragments)
    _unchanged(snapshot)


def test_sample_larger_than_the_data_warns_and_uses_every_row(tiny_bundle_path: Path, dev_tsv: Path, capsys) -> None:
    assert main(["--no-progress", "predict", str(tiny_bundle_path), "--data", str(dev_tsv), "--sample", "500"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 60
    assert f"trustaudit: warning: {dev_tsv}: --sample 500 is more than the 60 usable rows; using all of them\n" in captured.err


def _edited_gold(tmp_path: Path, edit) -> Path:
    """The stored results, brought to the current schema, edited."""
    doc = AuditResult.from_dict(json.loads(GOLD.read_text(encoding="utf-8"))).to_dict()
    edit(doc)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_hidden_characters_are_shown_in_the_report(tmp_path: Path) -> None:
    def edit(doc: dict) -> None:
        doc["examples"][0]["text_a"] = doc["examples"][0]["text_a"] + " \u202egnp.exe\x00"
        doc["models"]["small"]["path"] = "small\u202e.pt"
        doc["predictions"]["disagreements"].append({**doc["predictions"]["disagreements"][0], "text_a": "pay \u2066\u202e01$\u2069 now"})

    results = _edited_gold(tmp_path, edit)
    before = results.read_bytes()
    assert main(["render", str(results), "-o", str(tmp_path / "r.html")]) in (0, 1)
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    for raw in ("\u202e", "\u2066", "\u2069", "\x00"):
        assert raw not in html
    assert '<span class="ctl" title="hidden character U+202E">\\u202e</span>gnp.exe<span class="ctl" title="hidden character U+0000">\\u0000</span>' in html
    assert "<title>trustaudit: base.pt vs small\\u202e.pt" in html
    assert results.read_bytes() == before


def test_markdown_summary_escapes_backticks_and_pipes(tmp_path: Path) -> None:
    def edit(doc: dict) -> None:
        doc["models"]["small"]["path"] = "dir/my`model|v2.pt"
        doc["data"]["path"] = "dev|set.tsv"
        doc["verdict"]["checks"][0]["key"] = "odd|key`"

    results = _edited_gold(tmp_path, edit)
    assert main(["render", str(results), "-o", str(tmp_path / "r.html"), "--summary", str(tmp_path / "s.md")]) == 1
    md = (tmp_path / "s.md").read_text(encoding="utf-8")
    assert md.startswith("### ") and "``my`model|v2.pt``" in md.splitlines()[0]
    assert "of `dev|set.tsv`" in md
    row = next(line for line in md.splitlines() if "odd" in line)
    assert row.startswith("| `` odd\\|key` `` |")
    assert row.replace("\\|", "").count("|") == 7


def test_transformers_progress_bars_are_silent_unless_debug(tiny_model_dir: Path, dev_tsv: Path, tmp_path: Path) -> None:
    def stderr(*flags: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "trustaudit.cli", *flags, "--no-progress", "predict", str(tiny_model_dir), "--data", str(dev_tsv),
             "--limit", "2", "--no-cache", "--out", str(tmp_path / "p.jsonl")],
            capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        ).stderr

    assert "Loading weights" not in stderr()
    assert "Loading weights" in stderr("--debug")
