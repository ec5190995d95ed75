"""ASC against dropping the top layers and dropping random layers, on real SNLI data.

Base: all-MiniLM-L6-v2 fine-tuned on a seeded sample of SNLI ``test.tsv`` (cached by
``_common.finetuned_minilm``). For each ASC threshold, the layers ASC removes set the
layer count K; the two baselines remove the top K layers and K random layers (seeded).
Every candidate is pruned from the same base and fine-tuned with the same budget (same
rows, epochs, learning rate, batch size and seed); ASC runs through ``trustaudit.compress.asc``,
the baselines through ``prune_layers`` + the same fine-tuning routine. The int8 dynamic
quantization of the base is listed for reference. Accuracy is measured on held-out SNLI
``validation.tsv`` rows; speed is the best of 5 interleaved timed passes (batch 32,
``cache=False``) over the first ``--speed-rows`` of them, with 1 thread.

    python bench/asc.py [--thresholds 0.85 0.8 0.7] [--train-rows 5000] [--eval-rows 2000]

Fine-tuned candidates are cached under $TRUSTAUDIT_WORK/bench-asc (default /work/trustaudit-work).
"""

from __future__ import annotations

import argparse
import random
import sys
import time

import numpy as np
import torch

from _common import best_seconds, eval_cache, finetuned_minilm, machine, task_data, work_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.85, 0.8, 0.7])
    parser.add_argument("--distill-threshold", type=float, default=0.8, help="also run ASC with distillation here")
    parser.add_argument("--train-rows", type=int, default=5000)
    parser.add_argument("--eval-rows", type=int, default=2000)
    parser.add_argument("--speed-rows", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5, help="timed passes per model (the best counts)")
    parser.add_argument("--epochs", type=float, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import trustaudit
    from trustaudit._predict import predict
    from trustaudit._training import fine_tune
    from trustaudit.compress import asc, layer_similarity, prune_layers, quantize, redundant_layers
    from trustaudit.compress._common import serialized_bytes
    from trustaudit.models import from_model, save_bundle

    torch.set_num_threads(1)
    base = trustaudit.load_model(finetuned_minilm("snli", rows=args.train_rows, epochs=args.epochs, seed=args.seed))
    train = task_data("snli", "train", args.train_rows, args.seed)
    held_out = task_data("snli", "held_out", args.eval_rows)
    n_layers = int(base.config["num_hidden_layers"])
    cache = work_dir() / "bench-asc"
    cache.mkdir(exist_ok=True)
    tag = f"{args.train_rows}rows-{args.epochs:g}ep-seed{args.seed}"

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
        fine_tune(pruned.model, pruned.tokenizer, train, epochs=args.epochs, lr=5e-5, batch_size=32,
                  max_length=base.max_length, seed=args.seed, device="cpu", desc="baseline fine-tune")
        return from_model(pruned.model, pruned.tokenizer, base.labels, task="pair",
                          provenance={**pruned.provenance, "epochs": args.epochs}, max_length=base.max_length)

    similarity_file = cache / f"similarity-{base.fingerprint[:12]}-{tag}.npy"
    if not similarity_file.exists():
        log("similarity of the base model's hidden states on the training rows")
        np.save(similarity_file, layer_similarity(base, train, device="cpu"))
    similarity = np.load(similarity_file)
    rows: list[tuple[str, tuple[int, ...], trustaudit.ModelBundle]] = [("base (all-MiniLM-L6-v2, fine-tuned)", (), base)]
    rng = random.Random(args.seed)
    for threshold in args.thresholds:
        layers = redundant_layers(similarity, threshold)
        k = len(layers)
        if k == 0:
            log(f"threshold {threshold}: no layer is redundant, skipped")
            continue
        log(f"threshold {threshold}: ASC removes {list(layers)}")
        name = f"asc-t{threshold:g}"
        rows.append((f"ASC, threshold {threshold:g}", layers,
                     cached(name, lambda: asc(base, train, threshold=threshold, epochs=args.epochs, seed=args.seed, device="cpu")[0])))
        if threshold == args.distill_threshold:
            rows.append((f"ASC, threshold {threshold:g}, distilled", layers,
                         cached(name + "-distill", lambda: asc(base, train, threshold=threshold, epochs=args.epochs,
                                                               distill=True, seed=args.seed, device="cpu")[0])))
        top = tuple(range(n_layers - k, n_layers))
        rows.append((f"drop top {k}", top, cached(f"top{k}", lambda: baseline(list(top)))))
        chosen = tuple(sorted(rng.sample(range(n_layers), k)))
        rows.append((f"drop {k} random", chosen, cached(f"random{'-'.join(map(str, chosen))}", lambda: baseline(list(chosen)))))
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
    print(f"train: {len(train):,} SNLI test.tsv rows (seeded sample), {args.epochs:g} epochs, lr 5e-5, batch 32, "
          f"max length {base.max_length}; held out: {len(held_out):,} SNLI validation.tsv rows; "
          f"speed: best of {args.rounds} passes over {len(speed_data):,} of them, batch 32, 1 thread")
    print("\nmean token cosine similarity of hidden states (row/column 0: embeddings, i: output of layer i-1):")
    print(similarity)
    print()
    print("| model | layers removed (0-based) | layers | parameters | weights MB | accuracy | vs base | speed-up |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, layers, bundle in rows:
        if bundle.kind == "quantized":
            size, depth = bundle.provenance["int8_bytes"], n_layers
        else:
            size, depth = serialized_bytes(bundle.model.state_dict()), int(bundle.config["num_hidden_layers"])
        removed = ", ".join(map(str, layers)) or "-"
        print(f"| {name} | {removed} | {depth} | {bundle.n_params:,} | {size / 1e6:.1f} | {accuracy[name]:.4f} | "
              f"{accuracy[name] - accuracy[base_name]:+.4f} | {seconds[base_name] / seconds[name]:.2f}x |")


if __name__ == "__main__":
    main()
