"""Audit cost per explained row on a GPU, fp32 against bf16, for MiniLM- and BERT-base-shaped pairs.

The README's cluster model needs the time one actor spends per explained row (t_row). On
CPUs it was measured on the fine-tuned MiniLM pair (``bench/scale.py``); this script
measures it on a CUDA GPU, for the MiniLM shape (6 and 3 layers, width 384) and the
BERT-base shape (12 layers, width 768, against a 6-layer model of the same width: the
size of DistilBERT). The models are randomly initialised with those shapes and a
vocabulary generated from the data's words (one token per word or punctuation mark): the
explainers spend a fixed number of model evaluations per row (LIME's samples, SHAP's
budget), so the cost depends on the shapes and the text lengths, not on the weights.

Each setting is one ``trustaudit.audit`` with ``batch_size="auto"`` (the batch found by
doubling), no bias or extras stages, and no evaluation cache, on the first
``--predict-rows`` SNLI validation rows, ``--rows`` of them explained, after one unmeasured
warm-up audit (CUDA start-up, the explainers' compiled code); the bf16 settings
also report the largest probability difference from fp32 on the audited rows (the
audit's ``precision`` section)::

    python bench/gpu.py --data PATH/TO/snli/validation.tsv --json gpu.json
    python bench/gpu.py --device cpu --rows 1 --predict-rows 64 --shapes minilm   # a smoke test
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import SNLI_LABELS  # noqa: E402

#: name -> (base layers, small layers, width, heads, feed-forward width)
SHAPES = {
    "minilm": (6, 3, 384, 12, 1536),
    "bert-base": (12, 6, 768, 12, 3072),
}


def _pair(shape: str, data: Any) -> Any:
    """A randomly initialised base/small pair of ``shape`` over a vocabulary of ``data``'s words."""
    from trustaudit.demo._factory import make_bert, make_tokenizer
    from trustaudit.models import ModelPair, from_model, label_permutation

    words = {w for text in (*data.text_a, *(data.text_b or ())) for w in re.findall(r"\w+|[^\w\s]", text.lower())}
    tokenizer = make_tokenizer(words)
    base_layers, small_layers, width, heads, ff = SHAPES[shape]
    models = [make_bert(tokenizer, SNLI_LABELS, layers=n, hidden=width, heads=heads, intermediate=ff, dropout=0.0,
                        seed=seed) for n, seed in ((base_layers, 1), (small_layers, 2))]
    base, small = (from_model(m, tokenizer, SNLI_LABELS, task="pair") for m in models)
    return ModelPair(base, small, label_permutation(base.labels, small.labels))


def main(argv: list[str] | None = None) -> int:
    """Audit each shape in each precision and print (and optionally write) the per-row figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="SNLI-style TSV (premise, hypothesis, label)")
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    parser.add_argument("--shapes", default="minilm,bert-base", help=f"which of {', '.join(SHAPES)} (default: all)")
    parser.add_argument("--precisions", default="fp32,bf16", help="forward-pass formats to compare (default: fp32,bf16)")
    parser.add_argument("--rows", type=int, default=8, help="explained rows per setting (default: 8)")
    parser.add_argument("--predict-rows", type=int, default=2000, help="rows predicted per setting (default: 2000)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    import torch

    import trustaudit
    from trustaudit import AuditConfig, load_dataset

    data = load_dataset(args.data, SNLI_LABELS, limit=args.predict_rows)
    shapes = [s.strip() for s in args.shapes.split(",") if s.strip()]
    precisions = [p.strip() for p in args.precisions.split(",") if p.strip()]
    figures: list[dict[str, Any]] = []
    warm_up = AuditConfig(explain_n=1, device=args.device, batch_size=32, bias=False, extras=False, n_resamples=50)
    trustaudit.audit(_pair(shapes[0], data), None, data.subset(range(64)), warm_up, cache=False, progress=False)
    for shape in shapes:
        pair = _pair(shape, data)
        for precision in precisions:
            config = AuditConfig(explain_n=args.rows, device=args.device, batch_size="auto", precision=precision,
                                 bias=False, extras=False, n_resamples=200)
            start = time.perf_counter()
            result = trustaudit.audit(pair, None, data, config, cache=False, progress=False).to_dict()
            wall = time.perf_counter() - start
            timings = result["timings"]
            row = {
                "shape": shape, "precision": precision, "device": args.device,
                "params": {"base": pair.base.n_params, "small": pair.small.n_params},
                "batch_size": (result.get("batch_size") or {}).get("chosen"),
                "explained_rows": args.rows, "predicted_rows": len(data), "wall_seconds": wall,
                "explain_seconds_per_row": timings["explain"] / args.rows,
                "predict_rows_per_second": len(data) / timings["predict"],
                "max_abs_prob_diff": (result.get("precision") or {}).get("max_abs_diff"),
                "timings": timings,
            }
            figures.append(row)
            print(f"{shape} {precision}: {wall:.1f} s", file=sys.stderr, flush=True)

    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    print(f"device: {name}, torch {torch.__version__}, {torch.get_num_threads()} CPU threads; "
          f"{args.rows} explained rows, {len(data):,} predicted, LIME 1,000 samples, SHAP 500, with the base repeat")
    print("| shape | parameters (base / small) | precision | batch (auto) | s per explained row | rows / min "
          "| predicted rows / s | max prob. diff vs fp32 |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | --- |")
    for f in figures:
        diff = f["max_abs_prob_diff"]
        diff_text = ", ".join(f"{k} {v:.4f}" for k, v in diff.items()) if diff else "-"
        print(f"| {f['shape']} | {f['params']['base']:,} / {f['params']['small']:,} | {f['precision']} | "
              f"{f['batch_size']} | {f['explain_seconds_per_row']:.2f} | {60 / f['explain_seconds_per_row']:.1f} | "
              f"{f['predict_rows_per_second']:,.0f} | {diff_text} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"device": name, "figures": figures}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
