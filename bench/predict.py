"""Throughput of ``trustaudit.predict`` against a plain transformers loop, in one run.

Model: the all-MiniLM-L6-v2 encoder (6 layers, 384 wide) with a fresh 3-way head.
Data: SNLI validation pairs from ../shared/data/snli/validation.tsv.
Baseline: fixed batches of 32 in file order, padded to the longest of each batch, no
bucketing, ``torch.inference_mode()``. trustaudit: length-bucketed batches of 32, cold
cache (``cache=False``), then a second run served from a warm cache. The two cold runs
alternate for ``--rounds`` rounds and the best time of each counts.

    python bench/predict.py [--rows N] [--rounds 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import torch

from _common import SNLI_LABELS, machine, minilm_l6_path, shared_path


def naive(model, tokenizer, pairs, batch_size: int = 32) -> np.ndarray:
    out = []
    with torch.inference_mode():
        for s in range(0, len(pairs), batch_size):
            chunk = pairs[s:s + batch_size]
            enc = tokenizer([a for a, _ in chunk], [b for _, b in chunk], padding=True, truncation=True, max_length=512, return_tensors="pt")
            out.append(torch.softmax(model(**enc).logits.double(), -1).numpy())
    return np.concatenate(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=None, help="SNLI validation rows to use (default: the whole file)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timed passes per method; the best counts (default 3)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: stable on a shared machine)")
    args = parser.parse_args()

    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    import trustaudit
    from trustaudit.models import from_model

    data = trustaudit.load_dataset(shared_path("data", "snli", "validation.tsv"), SNLI_LABELS, limit=args.rows)
    path = minilm_l6_path()
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=3).eval()
    tokenizer = AutoTokenizer.from_pretrained(path)
    bundle = from_model(model, tokenizer, SNLI_LABELS, task="pair")
    pairs = data.pairs()

    torch.set_num_threads(args.threads)
    naive(model, tokenizer, pairs[:64])  # warm-up
    naive_s = cold_s = float("inf")
    for _ in range(args.rounds):  # interleaved, best of: load on a shared machine hits both alike
        t0 = time.perf_counter()
        reference = naive(model, tokenizer, pairs)
        naive_s = min(naive_s, time.perf_counter() - t0)
        t0 = time.perf_counter()
        cold = trustaudit.predict(bundle, data, batch_size=32, cache=False, progress=False)
        cold_s = min(cold_s, time.perf_counter() - t0)

    with tempfile.TemporaryDirectory() as cache:
        trustaudit.predict(bundle, data, batch_size=32, cache=cache, progress=False)
        t0 = time.perf_counter()
        warm = trustaudit.predict(bundle, data, batch_size=32, cache=cache, progress=False)
        warm_s = time.perf_counter() - t0

    n = len(pairs)
    print(f"machine: {machine()}")
    print(f"data: {n} SNLI validation pairs ({cold.stats.unique} distinct); model: all-MiniLM-L6-v2 encoder + fresh head ({bundle.n_params:,} params)")
    print(f"max |p_trustaudit - p_naive| = {np.abs(cold.probs - reference).max():.2e}")
    print(f"padding share: naive {naive_padding(tokenizer, pairs):.1%}, trustaudit {cold.stats.padding_share:.1%}")
    print()
    print("| run | seconds | pairs/s | vs naive |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| plain transformers loop, batches of 32 | {naive_s:.1f} | {n / naive_s:.0f} | 1.00x |")
    print(f"| trustaudit.predict, cold cache | {cold_s:.1f} | {n / cold_s:.0f} | {naive_s / cold_s:.2f}x |")
    print(f"| trustaudit.predict, warm cache | {warm_s:.2f} | {n / warm_s:.0f} | {naive_s / warm_s:.0f}x |")
    assert warm.stats.evaluated == 0 and warm.stats.cache_hits == warm.stats.unique, "the warm run must be served from the cache"


def naive_padding(tokenizer, pairs, batch_size: int = 32) -> float:
    lengths = [len(tokenizer(a, b)["input_ids"]) for a, b in pairs]
    real = padded = 0
    for s in range(0, len(lengths), batch_size):
        chunk = lengths[s:s + batch_size]
        real += sum(chunk)
        padded += max(chunk) * len(chunk) - sum(chunk)
    return padded / (real + padded)


if __name__ == "__main__":
    main()
