"""AlAd on real data (SNLI, MRPC): does an alignment adapter make a small model behave like the base?

Base: all-MiniLM-L6-v2 fine-tuned on the task's training rows; small: paraphrase-MiniLM-L3-v2
fine-tuned the same way (both cached by ``_common.finetuned_minilm``). Every AlAd run uses the
paper's adapter (window 3, hidden 1280) and alignment (masked MSE to the base's last hidden
states, first 1 epoch on general text -- by default the training texts of the *other* tasks
in ../shared/data, see ``--align-data`` -- then 10 epochs on the task's text at lr 1e-4), and
10% of the labelled rows held out to choose the task epoch. Rows:

- the small model with its own head;
- AlAd in each of the paper's set-ups over the fine-tuned L3: ``head`` (head only),
  ``adapter`` (adapter + head, trustaudit's default) and ``joint`` (adapter + L3 + head),
  3 task epochs at the set-up's default learning rate;
- AlAd ``reuse-head`` (trustaudit's own: the base's head, no task training);
- AlAd ``adapter`` over the *pretrained* L3 (never fine-tuned on the task);
- with ``--legacy``: the previous benchmark's two runs (hidden 4 x 384, 3 alignment epochs
  at lr 1e-3 on the task's text only, no rows held out; ``reuse-head``, and ``adapter``
  with 2 task epochs at 5e-5, then called "frozen" and "joint").

Each candidate is audited against the base with ``trustaudit.audit`` on held-out rows
(SNLI ``validation.tsv``, MRPC ``test.tsv``): accuracy, agreement with the base, ECE
(top-label, 15 equal-width bins), and LIME/SHAP top-5 feature agreement with the base on
``--explain-n`` of them (LIME 1,000 samples, SHAP budget 500, against the base's own noise
floor). Latency is the best of 5 interleaved passes (batch 32, ``cache=False``, 1 thread)
over the first ``--speed-rows`` held-out rows.

    python bench/alad.py --task snli [--train-rows 5000] [--eval-rows 2000] [--explain-n 30] [--legacy]
    python bench/alad.py --task mrpc
    python bench/alad.py --task mrpc --runs head,adapter     # only the paper's set-ups (1) and (2)

Aligned models are cached under $TRUSTAUDIT_WORK/bench-alad (default /work/trustaudit-work).
"""

from __future__ import annotations

import argparse
import random
import sys
import time

import numpy as np
import torch

from _common import (
    TASKS,
    best_seconds,
    eval_cache,
    finetuned_minilm,
    machine,
    minilm_l3_path,
    shared_path,
    task_data,
    work_dir,
)

#: General text per task: the training texts of the other tasks (labels ignored).
GENERAL_TEXT = {
    "snli": (("rte", "train.tsv"), ("mrpc", "train.tsv")),
    "mrpc": (("rte", "train.tsv"), ("snli", "test.tsv")),
}
#: The AlAd runs over the L3 models, in the order they are trained (``--runs``).
RUNS = ("head", "adapter", "joint", "reuse-head", "pretrained-adapter")
LEGACY = dict(hidden=4 * 384, epochs=3, lr=1e-3, task_epochs=2, task_lr=5e-5, validation=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=sorted(GENERAL_TEXT), default="snli")
    parser.add_argument("--train-rows", type=int, default=-1, help="training rows (default: SNLI 5,000, MRPC all)")
    parser.add_argument("--eval-rows", type=int, default=2000)
    parser.add_argument("--speed-rows", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5, help="timed passes per model (the best counts)")
    parser.add_argument("--asc-student", metavar="PT", help="also align this ASC-pruned model (same width as the base)")
    parser.add_argument("--align-data", nargs="+", metavar="FILE", help="general text (default: the other tasks' training files)")
    parser.add_argument("--align-rows", type=int, default=5000, help="general texts used, drawn at random (default 5,000)")
    parser.add_argument("--epochs", type=float, default=10, help="alignment epochs on the task's text (paper: 10)")
    parser.add_argument("--task-epochs", type=float, default=3)
    parser.add_argument("--runs", default=",".join(RUNS),
                        help=f"AlAd runs to train and audit, comma-separated (default: all of {', '.join(RUNS)})")
    parser.add_argument("--legacy", action="store_true", help="also the previous benchmark's frozen and joint runs")
    parser.add_argument("--explain-n", type=int, default=30, help="held-out rows explained per audit (default 30)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    import trustaudit
    from trustaudit.compress import alad
    from trustaudit.compress._alad import read_texts
    from trustaudit.data import Dataset
    from trustaudit.models import from_model, save_bundle

    torch.set_num_threads(1)
    task = args.task
    labels = TASKS[task].labels
    base = trustaudit.load_model(finetuned_minilm(task, rows=args.train_rows, seed=args.seed))
    small = trustaudit.load_model(finetuned_minilm(task, encoder="L3", rows=args.train_rows, seed=args.seed))
    torch.manual_seed(args.seed)
    raw_l3 = from_model(
        AutoModelForSequenceClassification.from_pretrained(minilm_l3_path(), num_labels=len(labels)),
        AutoTokenizer.from_pretrained(minilm_l3_path()), labels, task="pair", max_length=base.max_length,
    )
    rows_wanted = TASKS[task].train_rows if args.train_rows == -1 else args.train_rows
    train = task_data(task, "train", rows_wanted, args.seed)
    held_out = task_data(task, "held_out", args.eval_rows)
    files = args.align_data or [str(shared_path("data", *parts)) for parts in GENERAL_TEXT[task]]
    texts = [t for f in files for t in read_texts(f).text_a]
    if args.align_rows < len(texts):
        keep = sorted(random.Random(args.seed).sample(range(len(texts)), args.align_rows))
        texts = [texts[i] for i in keep]
    general = Dataset(text_a=tuple(texts), text_b=None, labels=None, label_names=(), path=" + ".join(files),
                      rows=np.arange(len(texts)))
    cache = work_dir() / "bench-alad"
    cache.mkdir(exist_ok=True)
    tag = f"{task}-{len(train)}rows-{args.epochs:g}ep-{args.task_epochs:g}tep-g{len(general)}-seed{args.seed}"
    infos = {}

    def aligned(name: str, student, **kwargs) -> trustaudit.ModelBundle:
        path = cache / f"{name}-{tag}.pt"
        if not path.exists():
            start = time.perf_counter()
            settings = dict(epochs=args.epochs, task_epochs=args.task_epochs, align_data=general, seed=args.seed,
                            device="cpu")
            bundle, _ = alad(base, student, train, **{**settings, **kwargs})
            save_bundle(bundle, path)
            print(f"  {name}: {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
        loaded = trustaudit.load_model(path)
        infos[name] = loaded.provenance
        return loaded

    wanted = [s.strip() for s in args.runs.split(",") if s.strip()]
    unknown = sorted(set(wanted) - set(RUNS))
    if unknown:
        parser.error(f"--runs: unknown {', '.join(unknown)} (choose from {', '.join(RUNS)})")
    rows = [("base: MiniLM-L6, fine-tuned", "-", base), ("small: MiniLM-L3, fine-tuned", "-", small)]
    for run in (r for r in RUNS if r in wanted):
        if run == "reuse-head":
            rows.append(("AlAd reuse-head on the fine-tuned L3 (no task training)", run, aligned(run, small, setup=run)))
        elif run == "pretrained-adapter":
            rows.append(("AlAd adapter on the pretrained L3", run, aligned(run, raw_l3, setup="adapter")))
        else:
            rows.append((f"AlAd {run} on the fine-tuned L3", run, aligned(run, small, setup=run)))
    if args.legacy:
        rows.append(("previous: frozen (reuse-head, 4x hidden, 3 epochs at 1e-3)", "legacy-frozen",
                     aligned("legacy-frozen", small, setup="reuse-head", align_data=None, **LEGACY)))
        rows.append(("previous: joint (adapter + head, 2 epochs at 5e-5)", "legacy-joint",
                     aligned("legacy-joint", small, setup="adapter", align_data=None, **LEGACY)))
    if args.asc_student:
        pruned = trustaudit.load_model(args.asc_student)
        layers = pruned.config["num_hidden_layers"]
        rows.append((f"ASC model ({layers} layers), fine-tuned", "-", pruned))
        key = f"asc-{pruned.fingerprint[:8]}-adapter"
        rows.append(("AlAd adapter on the ASC model", key, aligned(key, pruned, setup="adapter")))

    config = trustaudit.AuditConfig(explain_n=args.explain_n, n_resamples=200, seed=args.seed, device="cpu")
    results = {}
    for name, _, bundle in rows[1:]:
        start = time.perf_counter()
        doc = trustaudit.audit(base, bundle, held_out, config, cache=eval_cache(), progress=False)
        print(f"  audited {name}: {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
        results[name] = {
            "accuracy": doc.get("predictions.small.accuracy"),
            "agreement": doc.get("predictions.agreement"),
            "ece": doc.get("calibration.small.ece"),
            "lime": doc.get("attribution.lime.feature_agreement"),
            "shap": doc.get("attribution.shap.feature_agreement"),
        }
        floors = (doc.get("attribution.lime.floor"), doc.get("attribution.shap.floor"))
        results[rows[0][0]] = {
            "accuracy": doc.get("predictions.base.accuracy"), "agreement": 1.0, "ece": doc.get("calibration.base.ece"),
            "lime": floors[0], "shap": floors[1],
        }
    speed_data = held_out.subset(range(min(args.speed_rows, len(held_out))))
    seconds = best_seconds({name: bundle for name, _, bundle in rows}, speed_data, rounds=args.rounds)

    print(f"machine: {machine()}")
    print(f"task {task}: {len(train):,} training rows ({TASKS[task].train}, 10% of them held out inside AlAd to choose "
          f"the task epoch); general text: {len(general):,} texts of {', '.join(files)}; alignment 1 epoch on it, then "
          f"{args.epochs:g} epochs on the task's text at lr 1e-4; task training {args.task_epochs:g} epochs (lr: head 1e-3, "
          f"adapter 1e-4, joint 5e-5); held out: {len(held_out):,} {TASKS[task].held_out} rows; latency: best of "
          f"{args.rounds} passes over {len(speed_data):,} of them, batch 32, 1 thread")
    print(f"audits: trustaudit.audit on the {len(held_out):,} held-out rows, {args.explain_n} of them explained "
          "(LIME 1,000 samples, SHAP budget 500, top-5 feature agreement with the base; the base row gives "
          "its noise floor: the base explained again with another seed)")
    print()
    print("| model | accuracy | agreement with base | ECE | LIME agr. | SHAP agr. | parameters | params added "
          "| ms / pair | latency vs small |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    small_name = rows[1][0]
    for name, key, bundle in rows:
        r = results[name]
        added = f"{infos[key]['params_added']:+,}" if key in infos else "-"
        lime, shap = (f"{r[e]:.3f}" if r[e] is not None else "-" for e in ("lime", "shap"))
        if name == rows[0][0]:
            lime, shap = f"({lime} floor)", f"({shap} floor)"
        print(f"| {name} | {r['accuracy']:.4f} | {r['agreement']:.4f} | {r['ece']:.4f} | {lime} | {shap} | "
              f"{bundle.n_params:,} | {added} | {1000 * seconds[name] / len(speed_data):.2f} | "
              f"{seconds[name] / seconds[small_name]:.2f}x |")
    print()
    print("| AlAd run | token cosine: raw states | untrained adapter | best linear map | after general text "
          "| after task text | after task training | held-out acc.: small / reused head / kept | align s | task s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |")

    def fmt(value) -> str:
        return f"{value:.4f}" if isinstance(value, (int, float)) else "-"

    for key, info in infos.items():
        raw = fmt(info["cosine_identity"]) if info["cosine_identity"] is not None else "- (widths differ)"
        held = " / ".join(fmt(info.get(k)) for k in ("val_accuracy_small", "val_accuracy_reused_head", "val_accuracy"))
        print(f"| {key} | {raw} | {fmt(info['cosine_untrained'])} | {fmt(info['cosine_before'])} | "
              f"{fmt(info['cosine_general'])} | {fmt(info['cosine_after'])} | {fmt(info['cosine_task'])} | {held} | "
              f"{info['align_seconds']:.0f} | {info['task_seconds']:.0f} |")


if __name__ == "__main__":
    main()
