"""Hugging Face Hub ids resolved from a real cache layout on disk, offline; local paths win; missing ids exit 2."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from trustaudit.cli import main
from trustaudit.exceptions import ModelLoadError
from trustaudit.models import load_model
from trustaudit.models._hub import hub_cache_dir, parse_hub_id

COMMIT = "0123456789abcdef0123456789abcdef01234567"
OTHER = "fedcba9876543210fedcba9876543210fedcba98"


def add_to_cache(cache: Path, repo_id: str, model_dir: Path, commit: str, refs: tuple[str, ...] = ("main",)) -> Path:
    """Lay ``model_dir`` out as ``huggingface_hub`` does: blobs by content hash, snapshot symlinks, refs."""
    import hashlib

    repo = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / commit
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    snapshot.mkdir(parents=True, exist_ok=True)
    for item in model_dir.iterdir():
        if item.is_file():
            blob = repo / "blobs" / hashlib.sha256(item.read_bytes()).hexdigest()
            shutil.copyfile(item, blob)
            os.symlink(os.path.relpath(blob, snapshot), snapshot / item.name)
    (repo / "refs").mkdir(exist_ok=True)
    for ref in refs:
        (repo / "refs" / ref).write_text(commit)
    return snapshot


@pytest.fixture()
def hub_cache(tmp_path: Path, tiny_model_dir: Path, trained_pair, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Hub cache with org/tiny (main -> COMMIT) and org/tiny at tag v2 -> OTHER (the trained small model)."""
    cache = tmp_path / "hub"
    add_to_cache(cache, "org/tiny", tiny_model_dir, COMMIT)
    small_dir = tmp_path / "small-dir"
    from trustaudit.models import save_hf_dir

    save_hf_dir(load_model(trained_pair[1]), small_dir)
    add_to_cache(cache, "org/tiny", small_dir, OTHER, refs=("v2",))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    return cache


def test_id_resolves_offline_and_records_the_commit(hub_cache: Path, tiny_model_dir: Path) -> None:
    bundle = load_model("org/tiny")
    assert bundle.fingerprint == load_model(tiny_model_dir).fingerprint
    assert bundle.path == "org/tiny"
    described = bundle.describe()
    assert described["source"]["hub_id"] == "org/tiny"
    assert described["source"]["revision"] == "main" and described["source"]["commit"] == COMMIT


def test_revision_by_tag_and_by_commit(hub_cache: Path, trained_pair) -> None:
    tagged = load_model("org/tiny@v2")
    assert tagged.source["commit"] == OTHER and tagged.source["revision"] == "v2"
    assert tagged.fingerprint == load_model(trained_pair[1]).fingerprint
    assert load_model(f"org/tiny@{COMMIT}").source["commit"] == COMMIT


def test_hf_home_is_respected(tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    add_to_cache(tmp_path / "home" / "hub", "someone/model", tiny_model_dir, COMMIT)
    assert hub_cache_dir() == tmp_path / "home" / "hub"
    assert load_model("someone/model").source["commit"] == COMMIT


def test_a_local_path_wins_over_an_id(hub_cache: Path, trained_pair) -> None:
    local = Path("org") / "tiny"
    from trustaudit.models import save_hf_dir

    save_hf_dir(load_model(trained_pair[0]), local)
    bundle = load_model("org/tiny")
    assert bundle.fingerprint == load_model(trained_pair[0]).fingerprint
    assert not bundle.source


def test_missing_id_is_one_line_naming_the_id_and_cache(hub_cache: Path, dev_tsv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["predict", "org/missing-model", "--data", str(dev_tsv)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "org/missing-model" in err and str(hub_cache) in err
    with pytest.raises(ModelLoadError, match="at revision 'v9'"):
        load_model("org/tiny@v9")


def test_file_like_names_are_paths_not_ids() -> None:
    assert parse_hub_id("org/name") == ("org/name", None)
    assert parse_hub_id("org/name@v1.0") == ("org/name", "v1.0")
    for text in ("models/base.pt", "a/b/c", "./x", "plain", "org/name.onnx", "org--x/name", "/abs/path"):
        assert parse_hub_id(text) is None, text
    with pytest.raises(ModelLoadError, match="no such file or directory"):
        load_model("models/base.pt")


def test_compare_records_ids_in_json_and_report(hub_cache: Path, trained_pair, tmp_path: Path) -> None:
    dev = trained_pair[2]
    code = main(["--no-progress", "compare", "org/tiny@v2", "org/tiny@v2", "--data", str(dev), "--explain-n", "0", "--no-bias",
                 "--n-resamples", "50", "--no-cache", "--out", str(tmp_path / "r.html"), "--json", str(tmp_path / "r.json")])
    assert code in (0, 1, 4)  # 4: inconclusive, once the gate has that outcome
    doc = json.loads((tmp_path / "r.json").read_text())
    for role in ("base", "small"):
        model = doc["models"][role]
        assert model["path"] == "org/tiny@v2" and model["source"]["commit"] == OTHER and model["fingerprint"]
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert f"org/tiny @ v2 (commit {OTHER[:12]})" in html
