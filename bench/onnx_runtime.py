"""Does ONNX Runtime run the *fp32* model faster than PyTorch on the explanation engine's batches?

Model: all-MiniLM-L6-v2 with a fresh, seeded 3-way head (no fine-tuning needed: speed and
probability changes do not depend on the head's training). Inputs: the LIME samples
(``--lime-samples`` per example, segment ``both``) of the first ``--examples`` SNLI
validation pairs, sent per example through ``trustaudit._evaluation.Evaluator`` exactly as the
explanation engine sends them (de-duplicated, sorted by length, batches of
``--batch-size`` padded to their longest input), with the cache off.

Variants, all fp32, run in alternation (example by example, round by round; best of
``--rounds`` kept per example), one thread each:

* ``pytorch``: the transformers model as trustaudit runs it (SDPA attention);
* ``ort``: ``trustaudit compress onnx`` without fusions, ONNX Runtime's ORT_ENABLE_ALL session optimisations;
* ``ort-fused``: the same plus ONNX Runtime's transformer optimizer (fused Attention,
  EmbedLayerNormalization, SkipLayerNormalization, BiasGelu), what ``compress onnx`` writes.

Reported: seconds per example (model time and end to end, tokenization included), speed-up
over PyTorch, and the largest probability change against PyTorch over every text.

    PYTHONPATH=. python bench/onnx_runtime.py [--examples 4] [--lime-samples 1000] [--rounds 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from _common import SNLI_LABELS, machine, minilm_l6_path, shared_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=4)
    parser.add_argument("--lime-samples", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=128)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    import trustaudit
    from trustaudit._evaluation import Evaluator, softmax
    from trustaudit.compress._onnx import to_onnx
    from trustaudit.explain import FeatureSet, lime
    from trustaudit.models import from_model

    hf_logging.set_verbosity_error()
    source = minilm_l6_path()
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(source, num_labels=len(SNLI_LABELS)).eval()
    tokenizer = AutoTokenizer.from_pretrained(source)
    tokenizer.model_max_length = args.max_length
    base = from_model(model, tokenizer, SNLI_LABELS, task="pair", path=source)
    data = trustaudit.load_dataset(shared_path("data", "snli", "validation.tsv"), SNLI_LABELS, limit=args.examples)
    inputs = [
        list(dict.fromkeys(lime.sample(FeatureSet(a, b, "both"), num_samples=args.lime_samples, seed=0).texts))
        for a, b in data.pairs()
    ]

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        plain, plain_info = to_onnx(base, Path(tmp, "plain"), optimize=False)
        fused, fused_info = to_onnx(base, Path(tmp, "fused"))
        export_s = time.perf_counter() - t0
        bundles = {"pytorch": base, "ort": plain, "ort-fused": fused}
        evaluators = {n: Evaluator(b, device="cpu", batch_size=args.batch_size, cache=False, progress=False) for n, b in bundles.items()}
        for evaluator in evaluators.values():
            evaluator.logits(inputs[0][: args.batch_size])
        best = {n: np.full((len(inputs), 2), np.inf) for n in bundles}
        probs: dict[str, list[np.ndarray]] = {n: [] for n in bundles}
        for r in range(args.rounds):
            for i, texts in enumerate(inputs):
                for name, evaluator in evaluators.items():
                    before = evaluator.stats.model_seconds
                    t0 = time.perf_counter()
                    logits, _ = evaluator.logits(texts)
                    total = time.perf_counter() - t0
                    best[name][i] = np.minimum(best[name][i], (evaluator.stats.model_seconds - before, total))
                    if r == 0:
                        probs[name].append(softmax(logits))

    n_texts = sum(len(t) for t in inputs)
    print(f"machine: {machine()}; load average {open('/proc/loadavg').read().split()[:3]}")
    print(f"{len(inputs)} SNLI validation pairs x {args.lime_samples} LIME samples ({n_texts:,} unique texts), batches of "
          f"{args.batch_size} sorted by length, max length {args.max_length}; best of {args.rounds} interleaved rounds; "
          f"exports + checks {export_s:.0f} s (fp32 check max |dp| {plain_info.max_abs_dp:.1e} plain, {fused_info.max_abs_dp:.1e} fused; "
          f"fused ops {fused_info.fused})")
    print()
    print("| runtime | model s/example | end-to-end s/example | speed-up (model) | speed-up (end to end) | max abs prob change vs PyTorch |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    ref_model, ref_total = best["pytorch"].sum(axis=0)
    reference = np.concatenate(probs["pytorch"])
    for name in bundles:
        model_s, total_s = best[name].sum(axis=0)
        dp = float(np.abs(np.concatenate(probs[name]) - reference).max())
        print(f"| {name} | {model_s / len(inputs):.2f} | {total_s / len(inputs):.2f} | {ref_model / model_s:.2f}x | "
              f"{ref_total / total_s:.2f}x | {dp:.1e} |")


if __name__ == "__main__":
    main()
