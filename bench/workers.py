"""Time :func:`explain_pair` with one process (all threads) against two (half the threads each).

Builds a small random BERT pair and a generated NLI dataset (or loads ``--base``/``--small``
and ``--data``), explains the same few rows with ``workers=1`` and ``workers=2`` in one
session, checks the records are identical, and prints both wall times and their ratio.
Meant for a quick look here and for measurement on real models later::

    python bench/workers.py --rows 4 --threads 2
    python bench/workers.py --base models/base --small models/small --data dev.tsv --rows 16
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _generated_pair(hidden: int, layers: int) -> tuple[Any, Any]:
    """A random BERT pair (base ``layers`` deep, small one layer) and 40 generated NLI rows."""
    import numpy as np

    from tests._helpers import LABELS, make_bert, make_tokenizer
    from trustaudit.data import Dataset
    from trustaudit.demo._task import VOCABULARY, generate_task
    from trustaudit.models import ModelPair, from_model, label_permutation

    tokenizer = make_tokenizer(VOCABULARY)
    base = from_model(make_bert(tokenizer, LABELS, layers=layers, hidden=hidden, heads=2, dropout=0.0, seed=1), tokenizer, LABELS, task="pair")
    small = from_model(make_bert(tokenizer, LABELS, layers=1, hidden=hidden // 2, heads=2, dropout=0.0, seed=2), tokenizer, LABELS, task="pair")
    rows = generate_task(40, seed=3)
    data = Dataset(
        text_a=tuple(r[0] for r in rows),
        text_b=tuple(r[1] for r in rows),
        labels=np.array([LABELS.index(r[2]) for r in rows]),
        label_names=LABELS,
        path="<generated>",
        rows=np.arange(len(rows)),
    )
    return ModelPair(base, small, label_permutation(base.labels, small.labels)), data


def main(argv: list[str] | None = None) -> int:
    """Run both settings once and print the wall times and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", help="base model (default: a generated random BERT)")
    parser.add_argument("--small", help="small model (with --base)")
    parser.add_argument("--data", help="dataset file (with --base)")
    parser.add_argument("--rows", type=int, default=4, help="rows to explain (default: 4)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads in all (default: 2)")
    parser.add_argument("--lime-samples", type=int, default=200)
    parser.add_argument("--shap-max-evals", type=int, default=200)
    parser.add_argument("--hidden", type=int, default=64, help="hidden size of the generated base model")
    parser.add_argument("--layers", type=int, default=2, help="layers of the generated base model")
    args = parser.parse_args(argv)

    import torch

    from trustaudit.explain import explain_pair

    if args.base:
        from trustaudit import load_dataset, load_pair

        pair = load_pair(args.base, args.small)
        data = load_dataset(args.data, pair.labels)
    else:
        pair, data = _generated_pair(args.hidden, args.layers)
    torch.set_num_threads(args.threads)
    rows = list(range(min(args.rows, len(data))))
    options = dict(lime_samples=args.lime_samples, shap_max_evals=args.shap_max_evals, cache=False, progress=False, device="cpu")
    timed: dict[int, tuple[float, Any]] = {}
    for workers in (1, 2):
        start = time.perf_counter()
        result = explain_pair(pair, data, rows, workers=workers, **options)
        timed[workers] = (time.perf_counter() - start, result)
    same = [{k: v for k, v in e.to_dict().items() if k != "seconds"} for e in timed[1][1].examples] == [
        {k: v for k, v in e.to_dict().items() if k != "seconds"} for e in timed[2][1].examples
    ]
    one, two = timed[1][0], timed[2][0]
    print(f"rows {len(rows)}, threads {args.threads}")
    print(f"workers=1 ({args.threads} threads): {one:.2f} s")
    print(f"workers=2 ({max(1, args.threads // 2)} thread each): {two:.2f} s (process start and model transfer included)")
    print(f"ratio workers=1 / workers=2: {one / two:.2f}; identical records: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
