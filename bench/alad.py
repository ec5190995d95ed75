"""AlAd on real SNLI data: does an alignment adapter make a small model behave like the base?

Base: all-MiniLM-L6-v2 fine-tuned on a seeded sample of SNLI ``test.tsv``; small:
paraphrase-MiniLM-L3-v2 fine-tuned the same way (both cached by ``_common.finetuned_minilm``).
The adapter is aligned on the text of the same training rows (labels unused). Rows:

- the small model with its own head;
- AlAd frozen: the fine-tuned small encoder + adapter + the base's head, no task training;
- AlAd joint: the same, then adapter and head fine-tuned on the labelled rows;
- AlAd frozen on the *pretrained* L3 encoder (never fine-tuned on the task): plug and play.

Each candidate is audited against the base with ``trustaudit.audit`` on held-out SNLI
``validation.tsv`` rows: accuracy, agreement with the base, ECE (top-label, 15 equal-width
bins), and LIME/SHAP top-5 feature agreement with the base on ``--explain-n`` of them
(LIME 1,000 samples, SHAP budget 500, against the base's own noise floor). Latency is the
best of 5 interleaved passes (batch 32, ``cache=False``, 1 thread) over the first
``--speed-rows`` held-out rows.

    python bench/alad.py [--train-rows 5000] [--eval-rows 2000] [--epochs 3] [--explain-n 30]

Aligned models are cached under $TRUSTAUDIT_WORK/bench-alad (default /work/trustaudit-work).
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from _common import (
    SNLI_LABELS,
    best_seconds,
    eval_cache,
    finetuned_minilm,
    machine,
    minilm_l3_path,
    task_data,
    work_dir,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-rows", type=int, default=5000)
    parser.add_argument("--eval-rows", type=int, default=2000)
    parser.add_argument("--speed-rows", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5, help="timed passes per model (the best counts)")
    parser.add_argument("--asc-student", metavar="PT", help="also align this ASC-pruned model (same width as the base)")
    parser.add_argument("--epochs", type=float, default=3, help="alignment epochs")
    parser.add_argument("--joint-epochs", type=float, default=2)
    parser.add_argument("--explain-n", type=int, default=30, help="held-out rows explained per audit (default 30)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    import trustaudit
    from trustaudit.compress import alad
    from trustaudit.models import from_model, save_bundle

    torch.set_num_threads(1)
    base = trustaudit.load_model(finetuned_minilm("snli", rows=args.train_rows, seed=args.seed))
    small = trustaudit.load_model(finetuned_minilm("snli", encoder="L3", rows=args.train_rows, seed=args.seed))
    torch.manual_seed(args.seed)
    raw_l3 = from_model(
        AutoModelForSequenceClassification.from_pretrained(minilm_l3_path(), num_labels=3),
        AutoTokenizer.from_pretrained(minilm_l3_path()), SNLI_LABELS, task="pair", max_length=base.max_length,
    )
    train = task_data("snli", "train", args.train_rows, args.seed)
    held_out = task_data("snli", "held_out", args.eval_rows)
    cache = work_dir() / "bench-alad"
    cache.mkdir(exist_ok=True)
    tag = f"{args.train_rows}rows-{args.epochs:g}ep-{args.joint_epochs:g}jep-seed{args.seed}"
    infos = {}

    def aligned(name: str, student, **kwargs) -> trustaudit.ModelBundle:
        path = cache / f"{name}-{tag}.pt"
        if not path.exists():
            start = time.perf_counter()
            bundle, info = alad(base, student, train, epochs=args.epochs, joint_epochs=args.joint_epochs,
                                seed=args.seed, device="cpu", **kwargs)
            save_bundle(bundle, path)
            print(f"  {name}: {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
        loaded = trustaudit.load_model(path)
        infos[name] = loaded.provenance
        return loaded

    rows = [
        ("base: MiniLM-L6, fine-tuned", "-", base),
        ("small: MiniLM-L3, fine-tuned", "-", small),
        ("AlAd frozen on the fine-tuned L3", "frozen", aligned("frozen", small, mode="frozen")),
        ("AlAd joint on the fine-tuned L3", "joint", aligned("joint", small, mode="joint")),
        ("AlAd frozen on the pretrained L3 (no task training)", "pretrained", aligned("pretrained", raw_l3, mode="frozen")),
    ]
    if args.asc_student:
        pruned = trustaudit.load_model(args.asc_student)
        layers = pruned.config["num_hidden_layers"]
        rows.append((f"ASC model ({layers} layers), fine-tuned", "-", pruned))
        key = f"asc-{pruned.fingerprint[:8]}-frozen"
        rows.append(("AlAd frozen on the ASC model", key, aligned(key, pruned, mode="frozen")))

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
    print(f"align/train: {len(train):,} SNLI test.tsv rows (seeded sample); alignment {args.epochs:g} epochs at lr 1e-3, "
          f"joint {args.joint_epochs:g} epochs at lr 5e-5 (adapter + head); held out: {len(held_out):,} SNLI "
          f"validation.tsv rows; latency: best of {args.rounds} passes over {len(speed_data):,} of them, batch 32, 1 thread")
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
    print("| AlAd run | token cosine: raw states | untrained adapter | best linear map | after alignment | after joint "
          "| alignment MSE before -> after | align s | joint s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |")
    for key, info in infos.items():
        joint = f"{info['cosine_joint']:.4f}" if info["cosine_joint"] is not None else "-"
        raw = f"{info['cosine_identity']:.4f}" if info["cosine_identity"] is not None else "- (widths differ)"
        untrained = f"{info['cosine_untrained']:.4f}" if "cosine_untrained" in info else "-"
        print(f"| {key} | {raw} | {untrained} | {info['cosine_before']:.4f} | {info['cosine_after']:.4f} | {joint} | "
              f"{info['mse_before']:.4f} -> {info['mse_after']:.4f} | {info['align_seconds']:.0f} | {info['joint_seconds']:.0f} |")


if __name__ == "__main__":
    main()
