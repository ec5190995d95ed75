"""``compress search`` on the SNLI and MRPC bases of the sample reports: what the early exits save, and the chosen model per task.

For each task the base is the one ``scripts/make_sample_reports.py`` audits (all-MiniLM-L6-v2
fine-tuned on the task, cached by ``_common.finetuned_minilm``). The search runs twice on
the same candidates, each run with its own fresh evaluation cache so that neither profits
from the other's model outputs:

* ``binary`` -- the default: a cheap pass (predictions and calibration) before any
  explanation, binary search within each family, families skipped once they cannot beat
  the best trust-equivalent candidate;
* ``exhaustive`` -- every candidate fully audited (no early exit), which also tests the
  ordering assumption of the binary search on every pair of rungs.

The table gives, per task and run: candidates audited (cheap pass only / fully), rows
explained, texts run through a model for predictions (evaluation-cache misses), minutes, the chosen candidate, and whether
any pair of audited candidates contradicted the ordering assumption. The fine-tuned ASC
rungs are trained once per run (the runs write separate folders), so the minutes include
training; with ``--reuse`` the later runs load the candidates the first run built instead
(their build minutes are then loading, and the minutes say what the search would cost with
those models already made).

    python bench/search.py [--tasks snli mrpc] [--rows 2000] [--explain-n 100] [--sample-reports]
    python bench/search.py --tiny      # a smoke test on a tiny random BERT and the demo task (seconds, no data)

``--sample-reports`` copies each task's ``search.html`` (binary run) and the candidates'
reports it links to into ``sample_reports/<task>-search/``. Results go to ``$TRUSTAUDIT_WORK/bench-search/``
(``summary.json``), the table to stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from _common import ROOT, machine, task_data, work_dir


def _tiny_task(seed: int) -> tuple[Any, Any, Any]:
    """A 4-layer random BERT over the demo vocabulary (layers 1 and 2 near the identity) and demo-task data."""
    import numpy as np

    from trustaudit.data import Dataset
    from trustaudit.demo._factory import make_bert, make_tokenizer
    from trustaudit.demo._task import VOCABULARY, generate_task
    from trustaudit.models import from_model

    labels = ("entailment", "neutral", "contradiction")
    tokenizer = make_tokenizer(VOCABULARY)
    model = make_bert(tokenizer, labels, layers=4, hidden=32, heads=2, seed=seed)
    with torch.no_grad():
        for layer in (model.bert.encoder.layer[1], model.bert.encoder.layer[2]):
            for linear in (layer.attention.output.dense, layer.output.dense):
                linear.weight.zero_()
                linear.bias.zero_()

    def data(n: int, data_seed: int) -> Dataset:
        rows = generate_task(n, seed=data_seed)
        return Dataset(text_a=tuple(r[0] for r in rows), text_b=tuple(r[1] for r in rows),
                       labels=np.array([labels.index(r[2]) for r in rows]), label_names=labels,
                       path=f"<demo task, seed {data_seed}>", rows=np.arange(n))

    return from_model(model, tokenizer, labels, task="pair"), data(48, seed + 1), data(40, seed + 2)


@contextlib.contextmanager
def _reusing(source: Path | None) -> Iterator[None]:
    """While open, a search loads each PyTorch candidate that the search in ``source`` built instead of making it again."""
    from trustaudit.compress._search.records import ONNX_METHODS
    from trustaudit.compress._search.run import _Search
    from trustaudit.models import load_model

    if source is None:
        yield
        return
    original = _Search._build

    def build(self: Any, plan: Any) -> None:
        prior = source / "candidates" / f"{plan.row['name']}.pt"
        if plan.row["method"] not in ONNX_METHODS and prior.exists():
            plan.build = functools.partial(load_model, prior)
        original(self, plan)

    _Search._build = build
    try:
        yield
    finally:
        _Search._build = original


def _run(task: str, strategy: str, base: Any, train: Any, dev: Any, args: argparse.Namespace, out: Path,
         reuse: Path | None = None) -> dict[str, Any]:
    """One search into ``out`` with a fresh evaluation cache; its numbers for the table.

    With ``reuse``, the candidates that the search in that folder built are loaded from it
    rather than made again (its fine-tuned ASC rungs are not retrained).
    """
    from trustaudit import AuditConfig
    from trustaudit.compress import search

    if out.exists():
        shutil.rmtree(out)
    cache = out.parent / f"{out.name}-cache"
    if cache.exists():
        shutil.rmtree(cache)
    config = AuditConfig(explain_n=args.explain_n, seed=args.seed, lime_samples=args.lime_samples,
                         shap_max_evals=args.shap_max_evals, n_resamples=args.n_resamples,
                         bias=not (args.tiny or args.no_bias), extras=not (args.tiny or args.no_extras), device="cpu")
    asc_options = {"epochs": args.asc_epochs, "lr": args.lr, "seed": args.seed, "margin": args.margin}
    start = time.perf_counter()
    with _reusing(reuse):
        result = search(base, train, dev, out, methods=args.methods, thresholds=args.thresholds, n_remove=args.n_remove,
                        config=config, strategy=strategy, asc_options=asc_options, max_rows=args.train_rows, cache=cache,
                        progress=True, command=f"python bench/search.py --tasks {task} ({strategy})")
    minutes = (time.perf_counter() - start) / 60
    shutil.rmtree(cache, ignore_errors=True)
    doc = result.document
    counts = doc["counts"]
    return {
        "task": task, "strategy": strategy, "answer": result.answer, "chosen": doc["chosen"],
        "chosen_size_ratio": (result.chosen.size_bytes / doc["base"]["size_bytes"]) if result.chosen else None,
        "planned": counts["planned"], "audited": counts["audited"], "cheap_only": counts["rejected_by_cheap_pass"],
        "fully_audited": counts["fully_audited"], "explained": counts["explained"],
        "evaluations": sum(c.evaluations for c in result.candidates),
        "audit_minutes": sum(c.audit_seconds for c in result.candidates) / 60,
        "build_minutes": sum(c.build_seconds for c in result.candidates) / 60,
        "minutes": minutes, "monotonicity": doc["monotonicity"], "reused": str(reuse) if reuse else None,
        "statuses": {c.name: c.status for c in result.candidates},
    }


def _publish(run: Path, target: Path) -> None:
    """Copy a search's page and its candidates' reports (the page links to them) into ``target``."""
    if target.exists():
        shutil.rmtree(target)
    (target / "candidates").mkdir(parents=True)
    shutil.copyfile(run / "search.html", target / "search.html")
    for report in sorted((run / "candidates").glob("*.html")):
        shutil.copyfile(report, target / "candidates" / report.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["snli", "mrpc"], choices=["snli", "mrpc"])
    parser.add_argument("--rows", type=int, default=2000, help="held-out rows each candidate is audited on (MRPC has 1,725)")
    parser.add_argument("--train-rows", type=int, help="training rows for ASC (default all)")
    parser.add_argument("--explain-n", type=int, default=100)
    parser.add_argument("--lime-samples", type=int, default=1000)
    parser.add_argument("--shap-max-evals", type=int, default=500)
    parser.add_argument("--n-resamples", type=int, default=1000)
    parser.add_argument("--methods", default="asc,quantize,asc+quantize")
    parser.add_argument("--thresholds", type=lambda t: tuple(float(x) for x in t.split(",")), help="ASC ladder (default: the search's)")
    parser.add_argument("--n-remove", type=lambda t: tuple(int(x) for x in t.split(",")), help="ASC ladder by layer counts instead")
    parser.add_argument("--epochs", type=float, default=3, help="the base's fine-tuning epochs (as make_sample_reports.py)")
    parser.add_argument("--lr", type=float, default=1e-4, help="the base's fine-tuning learning rate (as make_sample_reports.py)")
    parser.add_argument("--asc-epochs", type=float, help="ASC fine-tuning epochs (default: the paper's for the task)")
    parser.add_argument("--margin", type=float, default=0.01)
    parser.add_argument("--strategies", nargs="+", default=["binary", "exhaustive"], choices=["binary", "linear", "exhaustive"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sample-reports", action="store_true", help="copy each task's search.html into sample_reports/")
    parser.add_argument("--no-bias", action="store_true", help="audits without the bias stage (off the default gate)")
    parser.add_argument("--no-extras", action="store_true",
                        help="audits without representation similarity and adversarial transfer (off the default gate)")
    parser.add_argument("--reuse", action="store_true",
                        help="later strategies load the candidates the first one built instead of training them again")
    parser.add_argument("--tiny", action="store_true", help="smoke test: a tiny random BERT and the demo task, no real data")
    args = parser.parse_args()
    args.methods = tuple(args.methods.split(","))

    torch.set_num_threads(2)
    root = work_dir() / "bench-search"
    rows = []
    for task in (["tiny"] if args.tiny else args.tasks):
        if args.tiny:
            import trustaudit._audit.run as run
            from trustaudit._audit.latency import measure_latency

            run.measure_latency = functools.partial(measure_latency, repeats=1)
            args.explain_n, args.lime_samples, args.shap_max_evals, args.n_resamples = 2, 10, 10, 20
            args.n_remove = args.n_remove or (1, 2, 3)
            args.asc_epochs = 0 if args.asc_epochs is None else args.asc_epochs
            base, train, dev = _tiny_task(args.seed)
        else:
            import trustaudit
            from _common import finetuned_minilm

            base = trustaudit.load_model(finetuned_minilm(task, encoder="L6", rows=None, epochs=args.epochs, lr=args.lr,
                                                          seed=args.seed, threads=None))
            train = task_data(task, "train", args.train_rows, args.seed)
            dev = task_data(task, "held_out", args.rows)
        for n, strategy in enumerate(args.strategies):
            print(f"[{time.strftime('%H:%M:%S')}] {task}: {strategy} search", file=sys.stderr, flush=True)
            reuse = root / f"{task}-{args.strategies[0]}" if args.reuse and n > 0 else None
            rows.append(_run(task, strategy, base, train, dev, args, root / f"{task}-{strategy}", reuse))
            if args.sample_reports and not args.tiny and strategy == "binary":
                _publish(root / f"{task}-{strategy}", ROOT / "sample_reports" / f"{task}-search")
    summary = {"machine": machine(), "settings": {k: v for k, v in vars(args).items() if not callable(v)}, "runs": rows}
    from trustaudit._io import write_text_atomic

    write_text_atomic(root / "summary.json", json.dumps(summary, indent=1, default=str) + "\n")
    print("| task | strategy | audited (cheap only / full) of planned | rows explained | prediction evaluations | minutes (audits, builds) "
          "| chosen (size vs base) | ordering contradicted |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        chosen = f"{r['chosen']} ({100 * r['chosen_size_ratio']:.0f}%)" if r["chosen"] else f"none ({r['answer']})"
        contradicted = ", ".join(f"{a}<{b}" for a, b in r["monotonicity"]["contradictions"]) or \
            f"no ({r['monotonicity']['pairs_compared']} pairs)"
        print(f"| {r['task']} | {r['strategy']} | {r['audited']} ({r['cheap_only']} / {r['fully_audited']}) of {r['planned']} "
              f"| {r['explained']:,} | {r['evaluations']:,} | {r['minutes']:.1f} ({r['audit_minutes']:.1f}, {r['build_minutes']:.1f}) "
              f"| {chosen} | {contradicted} |")
    print(f"\n{machine()}; details in {root / 'summary.json'}")


if __name__ == "__main__":
    main()
