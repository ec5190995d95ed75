"""``trustaudit demo``: the embedded default, with no files and no network.

Generates a small NLI task, trains a "base" BERT and a smaller "compressed" one from
scratch on the CPU, and audits the pair end to end: the same ``compare`` a user runs.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from trustaudit._training import fine_tune
from trustaudit.data import Dataset, load_dataset
from trustaudit.demo._factory import make_bert, make_tokenizer
from trustaudit.demo._task import LABELS, VOCABULARY, generate_task
from trustaudit.models import ModelBundle, from_model, save_bundle

__all__ = ["DemoModels", "run_demo", "train_demo_models"]


@dataclass(frozen=True)
class DemoSize:
    """Shape and training budget of one demo model."""

    layers: int
    hidden: int
    heads: int
    epochs: float
    lr: float


BASE = DemoSize(layers=4, hidden=64, heads=4, epochs=16, lr=5e-4)
SMALL = DemoSize(layers=2, hidden=32, heads=2, epochs=16, lr=7e-4)
N_TRAIN, N_DEV = 6000, 1500


@dataclass(frozen=True)
class DemoModels:
    """Paths written by :func:`train_demo_models`."""

    base: Path
    small: Path
    train: Path
    dev: Path


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _reusable(path: Path, **expected: object) -> bool:
    """Whether ``path`` holds a model of an earlier demo run made with exactly these settings."""
    from trustaudit.exceptions import TrustAuditError
    from trustaudit.models import load_model

    if not path.exists():
        return False
    try:
        provenance = load_model(path).provenance
    except TrustAuditError:
        return False
    if all(provenance.get(key) == value for key, value in expected.items()):
        _say(f"reusing {path}")
        return True
    _say(f"{path} was made with other settings; making it again")
    return False


def _train(tokenizer, size: DemoSize, train: Dataset, seed: int, device: str, desc: str, provenance: dict) -> ModelBundle:
    model = make_bert(tokenizer, LABELS, layers=size.layers, hidden=size.hidden, heads=size.heads, dropout=0.0, seed=seed)
    stats = fine_tune(model, tokenizer, train, epochs=size.epochs, lr=size.lr, batch_size=32, seed=seed, device=device, desc=desc)
    provenance = {**provenance, "trained_steps": stats.steps, "train_seconds": round(stats.seconds, 1)}
    return from_model(model.cpu(), tokenizer, LABELS, task="pair", provenance=provenance)


def train_demo_models(out: Path, seed: int = 0, device: str = "auto") -> DemoModels:
    """Write the demo task (train.tsv, dev.tsv) and the trained base.pt and small.pt under ``out``.

    Models already present from an earlier run with the same seed are reused; others are replaced.
    """
    from trustaudit.data import write_dataset

    out.mkdir(parents=True, exist_ok=True)
    paths = DemoModels(out / "base.pt", out / "small.pt", out / "train.tsv", out / "dev.tsv")
    for path, n, offset in ((paths.train, N_TRAIN, 0), (paths.dev, N_DEV, 1)):
        rows = generate_task(n, seed=seed * 2 + offset)
        write_dataset(
            path,
            Dataset(
                text_a=tuple(r[0] for r in rows),
                text_b=tuple(r[1] for r in rows),
                labels=np.array([LABELS.index(r[2]) for r in rows]),
                label_names=LABELS,
                path=str(path),
                rows=np.arange(n),
            ),
        )
    train = load_dataset(paths.train, LABELS)
    tokenizer = make_tokenizer(VOCABULARY)
    torch.manual_seed(seed)
    for path, size, name in ((paths.base, BASE, "base"), (paths.small, SMALL, "small")):
        if _reusable(path, method="demo", role=name, seed=seed):
            continue
        _say(f"training the {name} model ({size.layers} layers, {size.hidden} wide) on {len(train):,} pairs")
        provenance = {"method": "demo", "role": name, "layers": size.layers, "hidden": size.hidden, "seed": seed}
        save_bundle(_train(tokenizer, size, train, seed, device, f"train {name}", provenance), path)
    return paths


DEMO_AUDIT = {"explain_n": 30, "lime_samples": 500, "shap_max_evals": 300, "batch_size": 128}
CANDIDATES = (
    ("small", "a 2-layer, 32-wide BERT trained from scratch on the same data"),
    ("asc", "ASC: the base with its 2 most redundant layers removed, then fine-tuned"),
    ("alad", "AlAd: the small model with a window adapter onto the base's states and the base's head, adapter and head fine-tuned"),
)


def make_candidates(paths: DemoModels, out: Path, seed: int, device: str) -> dict[str, Path]:
    """Create the ASC and AlAd candidates of the demo (reused when present)."""
    from trustaudit.compress import alad, asc
    from trustaudit.models import load_model

    candidates = {"small": paths.small, "asc": out / "asc.pt", "alad": out / "alad.pt"}
    base = load_model(paths.base)
    small = load_model(paths.small)
    train = load_dataset(paths.train, base.labels)
    if not _reusable(candidates["asc"], method="asc", seed=seed, base_fingerprint=base.fingerprint):
        _say("ASC: measuring how much each layer of the base changes the representation of the task's data")
        pruned, info = asc(base, train, n_remove=2, epochs=2, lr=5e-4, batch_size=32, seed=seed, device=device,
                           optimizer="adamw")
        _say(f"     removed layers {list(info.layers_removed)}: {info.params_before:,} -> {info.params_after:,} parameters")
        save_bundle(pruned, candidates["asc"])
    if not _reusable(candidates["alad"], method="alad", seed=seed, base_fingerprint=base.fingerprint,
                     small_fingerprint=small.fingerprint):
        _say("AlAd: aligning the small model's token states to the base's, then fine-tuning adapter and head")
        aligned, ainfo = alad(base, small, train, window=3, setup="adapter", epochs=2, lr=1e-3, task_epochs=2,
                              task_lr=5e-4, hidden=4 * int(base.config["hidden_size"]), validation=0, batch_size=32,
                              seed=seed, device=device)
        _say(f"     token cosine to the base: {ainfo.cosine_before:.3f} (best linear map) -> {ainfo.cosine_after:.3f} (adapter)")
        save_bundle(aligned, candidates["alad"])
    return candidates


def run_demo(out: Path, seed: int = 0, device: str = "auto") -> int:
    """Train the demo pair, create ASC and AlAd candidates, audit each against the base, write an index."""
    from trustaudit._io import write_text_atomic
    from trustaudit._audit import AuditConfig, audit
    from trustaudit.report import index_row, render_index, summary_text, write_report

    start = time.perf_counter()
    paths = train_demo_models(out, seed=seed, device=device)
    candidates = make_candidates(paths, out, seed, device)
    config = AuditConfig(seed=seed, device=device, **DEMO_AUDIT)
    rows = []
    for name, description in CANDIDATES:
        _say(
            f"auditing {name}.pt against base.pt on {paths.dev.name}: predictions, calibration, and LIME/SHAP on "
            f"{config.explain_n} rows ({config.lime_samples} LIME samples, SHAP budget {config.shap_max_evals})"
        )
        result = audit(paths.base, candidates[name], paths.dev, config, command=f"trustaudit demo --out {out} --seed {seed}")
        write_report(result, out / name / "report.html")
        result.write_json(out / name / "results.json")
        print(summary_text(result, report=str(out / name / "report.html")) + "\n")
        rows.append(index_row(result, href=f"{name}/report.html", name=f"{name}.pt", description=description))
    index = out / "index.html"
    write_text_atomic(index, render_index(
        rows,
        title="trustaudit demo: three compressed candidates of one base model",
        intro="A generated NLI task; a 4-layer base BERT and three smaller candidates, each audited against the base.",
    ))
    print(f"demo finished in {time.perf_counter() - start:.0f} s; open {index} in a browser")
    return 0
