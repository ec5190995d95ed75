"""Shared fixtures: tiny BERT classifiers built from a config with a generated vocabulary.

Nothing is downloaded. Models are saved as Hugging Face directories and as .pt bundles once
per session; tests that train do so for a few seconds on the built-in demo task.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(min(2, torch.get_num_threads()))

LABELS = ("entailment", "neutral", "contradiction")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets the session's private evaluation cache, never the user's."""
    monkeypatch.setenv("TRUSTAUDIT_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "eval-cache"))


@pytest.fixture(scope="session")
def tokenizer():
    from trustaudit.demo._factory import make_tokenizer
    from trustaudit.demo._task import VOCABULARY

    return make_tokenizer(VOCABULARY)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory, tokenizer) -> Path:
    """A 2-layer, 32-wide BERT pair classifier saved with save_pretrained (random weights)."""
    from trustaudit.demo._factory import make_bert

    path = tmp_path_factory.mktemp("models") / "tiny-bert"
    model = make_bert(tokenizer, LABELS, layers=2, hidden=32, heads=2, seed=1)
    model.save_pretrained(str(path))
    tokenizer.save_pretrained(str(path))
    return path


@pytest.fixture(scope="session")
def tiny_bundle_path(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    from trustaudit.models import pack

    path = tmp_path_factory.mktemp("bundles") / "tiny.pt"
    pack(tiny_model_dir, path, task="pair")
    return path


def write_rows(path: Path, rows: list[tuple[str, str, str]], header=("premise", "hypothesis", "label")) -> Path:
    import csv

    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter="\t" if path.suffix == ".tsv" else ",", lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture(scope="session")
def task_rows() -> list[tuple[str, str, str]]:
    from trustaudit.demo._task import generate_task

    return generate_task(60, seed=3)


@pytest.fixture(scope="session")
def dev_tsv(tmp_path_factory: pytest.TempPathFactory, task_rows) -> Path:
    return write_rows(tmp_path_factory.mktemp("data") / "dev.tsv", task_rows)


@pytest.fixture()
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
