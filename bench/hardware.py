"""What ``--batch-size auto`` chooses and what ``--precision bf16|fp16`` costs and gains, on this machine.

Model: the all-MiniLM-L6-v2 encoder (6 layers, 384 wide) with a fresh 3-way head.
Data: SNLI validation pairs from ../shared/data/snli/validation.tsv.
For each precision: ``trustaudit.predict`` over the rows with a cold cache (best of
``--rounds`` interleaved passes), at batch 32 and at the size ``batch_size="auto"`` finds,
and the largest |p - p_fp32| over the rows.

    python bench/hardware.py [--rows N] [--rounds 2] [--threads 2] [--device cpu]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from _common import SNLI_LABELS, machine, minilm_l6_path, shared_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000, help="SNLI validation rows (default 1000)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved timed passes per setting; the best counts (default 2)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default cpu)")
    parser.add_argument("--precisions", default="fp32,bf16,fp16", help="comma-separated, fp32 first (default fp32,bf16,fp16)")
    args = parser.parse_args()

    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    import trustaudit
    from trustaudit._batching import choose_batch_size
    from trustaudit._evaluation import check_precision, resolve_device
    from trustaudit.exceptions import InvalidInputError
    from trustaudit.models import from_model

    torch.set_num_threads(args.threads)
    data = trustaudit.load_dataset(shared_path("data", "snli", "validation.tsv"), SNLI_LABELS, limit=args.rows)
    path = minilm_l6_path()
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=3).eval()
    bundle = from_model(model, AutoTokenizer.from_pretrained(path), SNLI_LABELS, task="pair")
    device = resolve_device(args.device)
    precisions = []
    for precision in args.precisions.split(","):
        try:
            precisions.append(check_precision(precision, device))
        except InvalidInputError as exc:
            print(f"{precision}: {exc}")

    choices = {}
    for precision in precisions:
        choice = choices[precision] = choose_batch_size(bundle, data.pairs(), device=device, precision=precision)
        tried = ", ".join(f"{t['batch_size']}: {t.get('ms_per_input', float('nan')):.2f} ms" for t in choice.trials)
        print(f"batch_size=auto in {precision}: {choice.batch_size} ({choice.reason}; per input {tried}; "
              f"probe {choice.seconds:.1f} s)", flush=True)
    seconds: dict[tuple[str, int], float] = {}
    probs: dict[str, np.ndarray] = {}
    for _ in range(args.rounds):
        for precision in precisions:
            for size in sorted({32, choices[precision].batch_size}):
                t0 = time.perf_counter()
                preds = trustaudit.predict(bundle, data, batch_size=size, device=device, precision=precision, cache=False, progress=False)
                elapsed = time.perf_counter() - t0
                seconds[precision, size] = min(seconds.get((precision, size), float("inf")), elapsed)
                probs[precision] = preds.probs

    n = len(data)
    print(f"machine: {machine()}, {args.threads} torch threads, device {device}")
    print(f"data: {n} SNLI validation pairs; model: all-MiniLM-L6-v2 encoder + fresh head ({bundle.n_params:,} params)")
    print()
    print("| precision | batch | seconds | pairs/s | vs fp32 batch 32 | max abs(p - p_fp32) | predictions changed |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    reference = seconds["fp32", 32]
    for (precision, size), s in sorted(seconds.items(), key=lambda kv: (precisions.index(kv[0][0]), kv[0][1])):
        diff = np.abs(probs[precision] - probs["fp32"]).max()
        changed = int((probs[precision].argmax(1) != probs["fp32"].argmax(1)).sum())
        print(f"| {precision} | {size} | {s:.1f} | {n / s:.0f} | {reference / s:.2f}x | {diff:.2e} | {changed} |")


if __name__ == "__main__":
    main()
