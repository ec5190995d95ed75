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

from tests._helpers import LABELS, write_rows

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(min(2, torch.get_num_threads()))



@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets the session's private evaluation cache, never the user's."""
    monkeypatch.setenv("TRUSTAUDIT_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "eval-cache"))


@pytest.fixture(autouse=True, scope="session")
def _results_follow_the_schema():
    """Every results document a test writes (``to_json``) or renders (``to_dict``) must match the shipped schema."""
    from trustaudit._audit import AuditResult
    from trustaudit._schema import validate_results

    def checked(method):
        def wrapper(self, *args, **kwargs):
            validate_results(self.document)
            return method(self, *args, **kwargs)

        return wrapper

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(AuditResult, "to_json", checked(AuditResult.to_json))
        patch.setattr(AuditResult, "to_dict", checked(AuditResult.to_dict))
        yield


@pytest.fixture(scope="session")
def tokenizer():
    from tests._helpers import make_tokenizer
    from trustaudit.demo._task import VOCABULARY

    return make_tokenizer(VOCABULARY)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory, tokenizer) -> Path:
    """A 2-layer, 32-wide BERT pair classifier saved with save_pretrained (random weights)."""
    from tests._helpers import make_bert

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


XSS_ROWS = [
    ("<script>alert(1)</script> the red cat sleeps", "the cat sleeps", "entailment"),
    ("a dog runs in the park", "<img src=x onerror=alert(1)> the dog is hungry", "neutral"),
]


@pytest.fixture(scope="session")
def trained_pair(tmp_path_factory: pytest.TempPathFactory, tokenizer) -> tuple[Path, Path, Path]:
    """A base (2 layers, 32 wide) and a small (1 layer, 16 wide) model trained for a few seconds
    on the demo task, saved as bundles, and a dev file whose first rows carry HTML/script payloads."""
    from trustaudit._training import fine_tune
    from trustaudit.data import load_dataset
    from tests._helpers import make_bert
    from trustaudit.demo._task import generate_task
    from trustaudit.models import from_model, save_bundle

    root = tmp_path_factory.mktemp("trained")
    train = load_dataset(write_rows(root / "train.tsv", generate_task(600, seed=11)), LABELS)
    paths = []
    for name, layers, hidden, heads, seed in (("base", 2, 32, 2, 1), ("small", 1, 16, 1, 2)):
        model = make_bert(tokenizer, LABELS, layers=layers, hidden=hidden, heads=heads, dropout=0.0, seed=seed)
        fine_tune(model, tokenizer, train, epochs=3, lr=2e-3, batch_size=32, seed=seed, device="cpu", progress=False)
        path = root / f"{name}.pt"
        save_bundle(from_model(model, tokenizer, LABELS, task="pair", provenance={"method": "test", "role": name}), path)
        paths.append(path)
    dev = write_rows(root / "dev.tsv", XSS_ROWS + generate_task(90, seed=12))
    return paths[0], paths[1], dev


#: Two association tests over the demo task's words, small enough for quick audits; one set
#: label carries a script payload that the report must escape.
BIAS_TESTS = {
    "tests": [
        {"name": "people-moods", "description": "a test from the demo vocabulary",
         "X": {"label": "male <script>alert(1)</script>", "words": ["man", "boy", "farmer"]},
         "Y": {"label": "female", "words": ["woman", "girl", "teacher"]},
         "A": {"label": "pleasant", "words": ["happy", "calm", "young"]},
         "B": {"label": "unpleasant", "words": ["sad", "angry", "tired"]}},
        {"name": "animals-colours", "X": ["cat", "dog", "bird"], "Y": ["horse", "child", "chef"],
         "A": ["red", "blue", "green"], "B": ["black", "white", "brown"]},
    ]
}


@pytest.fixture(scope="session")
def bias_tests_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user's own association tests as JSON (see :data:`BIAS_TESTS`)."""
    import json

    path = tmp_path_factory.mktemp("bias") / "tests.json"
    path.write_text(json.dumps(BIAS_TESTS), encoding="utf-8")
    return path
