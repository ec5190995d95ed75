"""ASC against dropping the top layers, dropping random layers and an off-the-shelf 3-layer model, on real SNLI data.

Base: all-MiniLM-L6-v2 fine-tuned on a seeded sample of SNLI ``test.tsv`` (cached by
``_common.finetuned_minilm``). For each ASC threshold, the layers ASC removes set the
layer count K; the two baselines remove the top K layers and K random layers (seeded).
Every candidate is pruned from the same base and fine-tuned with the same recipe (same
rows, optimizer, epochs, learning rate, batch size and seed); ASC runs through
``trustaudit.compress.asc``, the baselines through ``prune_layers`` + the same fine-tuning
routine. The ASC paper's own comparison is against off-the-shelf compressed models of equal
size, so the pretrained paraphrase-MiniLM-L3-v2 (3 layers, the base's width) is fine-tuned
on the same rows twice: with the candidates' recipe, and as the base itself was. The int8
dynamic quantization of the base is listed for reference. Accuracy is measured on held-out
SNLI ``validation.tsv`` rows; speed is the best of 5 interleaved timed passes (batch 32,
``cache=False``) over the first ``--speed-rows`` of them, with 1 thread.

Defaults are the paper's: thresholds 0.9, 0.85, 0.8 with the ``threshold - 0.01`` rule, and
Adam at a constant 1e-5, batch 32, 5 epochs (NLI). The previous table (trustaudit's own
rule and recipe) is reproduced with

    python bench/asc.py --thresholds 0.85 0.8 0.7 --margin 0 --optimizer adamw --lr 5e-5 --epochs 2

    python bench/asc.py [--thresholds 0.9 0.85 0.8] [--train-rows 5000] [--eval-rows 2000]

Fine-tuned candidates are cached under $TRUSTAUDIT_WORK/bench-asc (default /work/trustaudit-work),
named by the recipe, so runs with different recipes never share a file.
"""

from __future__ import annotations

import argparse
import random
import sys
import time

import numpy as np
import torch

from _common import SNLI_LABELS, best_seconds, eval_cache, finetuned_minilm, machine, minilm_l3_path, task_data, work_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.9, 0.85, 0.8])
    parser.add_argument("--margin", type=float, default=0.01, help="subtracted from each threshold (paper: 0.01)")
    parser.add_argument("--distill-threshold", type=float, default=0.85, help="also run ASC with distillation here")
    parser.add_argument("--train-rows", type=int, default=5000)
    parser.add_argument("--eval-rows", type=int, default=2000)
    parser.add_argument("--speed-rows", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5, help="timed passes per model (the best counts)")
    parser.add_argument("--epochs", type=float, default=5, help="fine-tuning epochs of every candidate (paper, NLI: 5)")
    parser.add_argument("--lr", type=float, default=1e-5, help="fine-tuning learning rate (paper: 1e-5)")
    parser.add_argument("--optimizer", choices=("adam", "adamw"), default="adam",
                        help="adam: constant rate (paper); adamw: trustaudit's warm-up and decay")
    parser.add_argument("--base-epochs", type=float, default=2, help="epochs of the base's own fine-tuning (cached)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads for fine-tuning and accuracy (speed is always timed with 1)")
    args = parser.parse_args()

    import trustaudit
    from trustaudit._predict import predict
    from trustaudit._training import fine_tune
    from trustaudit.compress import asc, layer_similarity, prune_layers, quantize, redundant_layers
    from trustaudit.compress._common import serialized_bytes
    from trustaudit.models import from_model, save_bundle

    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.set_num_threads(args.threads)
    base = trustaudit.load_model(finetuned_minilm("snli", rows=args.train_rows, epochs=args.base_epochs, seed=args.seed))
    train = task_data("snli", "train", args.train_rows, args.seed)
    held_out = task_data("snli", "held_out", args.eval_rows)
    n_layers = int(base.config["num_hidden_layers"])
    cache = work_dir() / "bench-asc"
    cache.mkdir(exist_ok=True)
    tag = f"{args.train_rows}rows-{args.optimizer}-lr{args.lr:g}-{args.epochs:g}ep-seed{args.seed}"
    recipe = dict(epochs=args.epochs, lr=args.lr, batch_size=32, seed=args.seed, optimizer=args.optimizer)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    def cached(name: str, make) -> trustaudit.ModelBundle:
        path = cache / f"{name}-{tag}.pt"
        if not path.exists():
            start = time.perf_counter()
            save_bundle(make(), path)
            log(f"  {name}: {time.perf_counter() - start:.0f} s")
        return trustaudit.load_model(path)

    def baseline(layers: list[int]) -> trustaudit.ModelBundle:
        pruned = prune_layers(base, layers)
        fine_tune(pruned.model, pruned.tokenizer, train, max_length=base.max_length, device="cpu",
                  desc="baseline fine-tune", **recipe)
        return from_model(pruned.model, pruned.tokenizer, base.labels, task="pair",
                          provenance={**pruned.provenance, **recipe}, max_length=base.max_length)

    def off_the_shelf_l3() -> trustaudit.ModelBundle:
        torch.manual_seed(args.seed)
        labels = dict(id2label=dict(enumerate(SNLI_LABELS)), label2id={n: i for i, n in enumerate(SNLI_LABELS)})
        model = AutoModelForSequenceClassification.from_pretrained(minilm_l3_path(), num_labels=3, **labels)
        tokenizer = AutoTokenizer.from_pretrained(minilm_l3_path())
        fine_tune(model, tokenizer, train, max_length=base.max_length, device="cpu", desc="L3 fine-tune", **recipe)
        return from_model(model, tokenizer, SNLI_LABELS, task="pair", max_length=base.max_length,
                          provenance={"method": "fine-tune", "encoder": "paraphrase-MiniLM-L3-v2", **recipe})

    similarity_file = cache / f"similarity-{base.fingerprint[:12]}-{args.train_rows}rows-seed{args.seed}.npy"
    if not similarity_file.exists():
        log("similarity of the base model's hidden states on the training rows")
        np.save(similarity_file, layer_similarity(base, train, device="cpu"))
    similarity = np.load(similarity_file)
    rows: list[tuple[str, tuple[int, ...], trustaudit.ModelBundle]] = [("base (all-MiniLM-L6-v2, fine-tuned)", (), base)]
    rng = random.Random(args.seed)
    for threshold in args.thresholds:
        layers = redundant_layers(similarity, threshold, margin=args.margin)
        k = len(layers)
        if k == 0:
            log(f"threshold {threshold}: no layer is redundant, skipped")
            continue
        log(f"threshold {threshold}: ASC removes {list(layers)}")
        name = f"asc-t{threshold:g}-m{args.margin:g}"
        rows.append((f"ASC, threshold {threshold:g}", layers,
                     cached(name, lambda: asc(base, train, threshold=threshold, margin=args.margin, device="cpu",
                                              **recipe)[0])))
        if threshold == args.distill_threshold:
            rows.append((f"ASC, threshold {threshold:g}, distilled", layers,
                         cached(name + "-distill", lambda: asc(base, train, threshold=threshold, margin=args.margin,
                                                               distill=True, device="cpu", **recipe)[0])))
        top = tuple(range(n_layers - k, n_layers))
        rows.append((f"drop top {k}", top, cached(f"top{k}", lambda: baseline(list(top)))))
        chosen = tuple(sorted(rng.sample(range(n_layers), k)))
        rows.append((f"drop {k} random", chosen, cached(f"random{'-'.join(map(str, chosen))}", lambda: baseline(list(chosen)))))
    rows.append(("paraphrase-MiniLM-L3-v2 (off the shelf), the candidates' recipe", (), cached("l3", off_the_shelf_l3)))
    l3_like_base = finetuned_minilm("snli", encoder="L3", rows=args.train_rows, epochs=args.base_epochs, seed=args.seed)
    rows.append(("paraphrase-MiniLM-L3-v2 (off the shelf), fine-tuned as the base", (), trustaudit.load_model(l3_like_base)))
    rows.append(("int8 dynamic quantization of the base", (), quantize(base)))

    speed_data = held_out.subset(range(min(args.speed_rows, len(held_out))))
    accuracy = {}
    for name, _, bundle in rows:
        preds = predict(bundle, held_out, cache=eval_cache(), device="cpu", progress=False)
        accuracy[name] = preds.accuracy(held_out.labels)
    seconds = best_seconds({name: bundle for name, _, bundle in rows}, speed_data, rounds=args.rounds)

    base_name = rows[0][0]
    np.set_printoptions(precision=3, suppress=True)
    print(f"machine: {machine()}")
    print(f"base: {base.path}")
    optimizer = "Adam, constant rate" if args.optimizer == "adam" else "AdamW, warm-up and linear decay"
    print(f"train: {len(train):,} SNLI test.tsv rows (seeded sample); base fine-tuned {args.base_epochs:g} epochs "
          f"(AdamW 5e-5); every candidate {args.epochs:g} epochs, {optimizer}, lr {args.lr:g}, batch 32, max length "
          f"{base.max_length}; selection rule: similarity >= threshold - {args.margin:g}; held out: {len(held_out):,} "
          f"SNLI validation.tsv rows; speed: best of {args.rounds} passes over {len(speed_data):,} of them, batch 32, 1 thread")
    print("\nmean token cosine similarity of hidden states (row/column 0: embeddings, i: output of layer i-1):")
    print(similarity)
    print()
    print("| model | layers removed (0-based) | (paper's numbering) | layers | parameters | weights MB | accuracy | vs base "
          "| speed-up |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, layers, bundle in rows:
        if bundle.kind == "quantized":
            size, depth = bundle.provenance["int8_bytes"], n_layers
        else:
            size, depth = serialized_bytes(bundle.model.state_dict()), int(bundle.config["num_hidden_layers"])
        removed = ", ".join(map(str, layers)) or "-"
        paper = ", ".join(str(i + 1) for i in layers) or "-"
        print(f"| {name} | {removed} | {paper} | {depth} | {bundle.n_params:,} | {size / 1e6:.1f} | {accuracy[name]:.4f} | "
              f"{accuracy[name] - accuracy[base_name]:+.4f} | {seconds[base_name] / seconds[name]:.2f}x |")


if __name__ == "__main__":
    main()
