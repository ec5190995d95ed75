"""Explained rows per minute in one process, in two local processes and on two Ray actors.

Explains the same rows of a model pair three ways — one process with every torch thread,
``--workers 2`` (two ``spawn``-ed processes, half the threads each) and a local Ray instance
with two actors of one CPU each — checks that the records are identical, and prints per
setting: wall time, explained rows per minute, and the cost of a row split into model time
(forward passes, summed over workers), the rest of the explanation work (tokenizing,
batching, the explainers' own fitting), imbalance (the idle worker-seconds a perfect
scheduler would still leave because the rows do not divide evenly among the workers: at
most a row per worker per audit, so it vanishes per row on long audits) and overhead
(worker start-up, moving the models and the records, scheduling: the other worker-seconds
not spent explaining a row). Ray's start-up
(``ray.init``, actors loading the models) is timed apart from its steady state, because a
cluster pays it once per audit, not per row. ``--json`` writes the same figures.

The default pair is the MiniLM SNLI pair fine-tuned by ``bench/asc.py``'s recipe; the data
the SNLI validation rows of the shared data folder::

    python bench/scale.py --rows 16                      # the measurement (slow: ~15 s per row and setting)
    python bench/scale.py --rows 2 --lime-samples 20 --shap-max-evals 20   # a smoke test
    python bench/scale.py --tiny --rows 4                # generated tiny models, seconds
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

MODELS = Path(os.environ.get("TRUSTAUDIT_WORK", "/work/trustaudit-work")) / "models"
DEFAULT_BASE = MODELS / "minilm-L6-snli-allrows-3ep-lr0.0001-seed0-len128.pt"
DEFAULT_SMALL = MODELS / "minilm-L3-snli-allrows-3ep-lr0.0001-seed0-len128.pt"


def _pid(pair: Any, task: Any) -> int:
    """Warm a worker up: the pair loaded and the explainers' libraries imported (paid once per worker, not per row)."""
    import lime.lime_base  # noqa: F401
    import shap  # noqa: F401

    return os.getpid()


def _records(result: Any) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.to_dict().items() if k != "seconds"} for e in result.examples]


def _largest_difference(one: Any, other: Any) -> float:
    """The largest absolute difference between two runs' attribution scores and probabilities (0.0: identical)."""
    import numpy as np

    largest = 0.0
    for a, b in zip(one.examples, other.examples):
        largest = max(largest, float(np.abs(a.base_probs - b.base_probs).max()), float(np.abs(a.small_probs - b.small_probs).max()))
        for role in ("base", "small", "base_repeat"):
            for name, attributions in getattr(a, role).items():
                largest = max(largest, float(np.abs(attributions.scores - getattr(b, role)[name].scores).max()))
    return largest


def _makespan(shard_seconds: list[float], width: int) -> float:
    """The wall time the shards would take on ``width`` workers that take the next shard the moment they free up, with no overhead."""
    free = [0.0] * max(1, width)
    for seconds in shard_seconds:
        k = free.index(min(free))
        free[k] += seconds
    return max(free)


def _split(result: Any, wall: float, width: int, rows: int, shard_sizes: list[int]) -> dict[str, float]:
    """Per-row seconds: model (forward passes), the rest of the explaining, and the worker-seconds not explaining.

    The worker-seconds not spent explaining a row are split in two. *Imbalance*: the idle
    time a perfect scheduler would still leave, because the shards do not divide evenly
    among the workers (computed from the rows' own times: at most one shard per worker per
    audit, so it vanishes per row as the rows grow). *Overhead*: the rest, i.e. starting
    workers, moving the models and the records, scheduling.
    """
    import numpy as np

    model = sum(s.model_seconds for s in result.stats.values())
    per_row = [e.seconds for e in result.examples]
    explaining = sum(per_row)
    bounds = np.cumsum([0, *shard_sizes])
    shard_seconds = [sum(per_row[bounds[n]:bounds[n + 1]]) for n in range(len(shard_sizes))]
    ideal = _makespan(shard_seconds, width)
    idle = max(0.0, wall * width - explaining)
    imbalance = min(idle, max(0.0, ideal * width - explaining))
    overhead = idle - imbalance
    return {
        "wall_seconds": wall,
        "rows_per_minute": 60.0 * rows / wall,
        "model_seconds_per_row": model / rows,
        "other_explaining_seconds_per_row": max(0.0, explaining - model) / rows,
        "ideal_wall_seconds": ideal,
        "imbalance_seconds_per_row": imbalance / rows,
        "overhead_seconds_per_row": overhead / rows,
        "overhead_share_of_model": overhead / model if model else float("nan"),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the three settings on the same rows and print (and optionally write) the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default=str(DEFAULT_BASE), help="base model (default: the MiniLM-L6 SNLI model)")
    parser.add_argument("--small", default=str(DEFAULT_SMALL), help="small model (default: the MiniLM-L3 SNLI model)")
    parser.add_argument("--data", help="dataset file (default: SNLI validation rows of the shared data folder)")
    parser.add_argument("--tiny", action="store_true", help="generated tiny random models and rows instead (a quick check)")
    parser.add_argument("--rows", type=int, default=8, help="rows to explain per setting (default: 8)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads in all; Ray gets two actors of threads // 2 CPUs (at least 1) (default: 2)")
    parser.add_argument("--lime-samples", type=int, default=1000)
    parser.add_argument("--shap-max-evals", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--settings", default="serial,workers,ray", help="which of serial, workers, ray to run (default: all)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    import torch

    from trustaudit import load_dataset, load_pair
    from trustaudit.explain import explain_pair
    from trustaudit.scale import ProcessExecutor, RayExecutor, SerialExecutor

    if args.tiny:
        from workers import _generated_pair

        pair, data = _generated_pair(64, 2)
    else:
        from _common import SNLI_LABELS, shared_path

        pair = load_pair(args.base, args.small)
        path = args.data or shared_path("data", "snli", "validation.tsv")
        data = load_dataset(path, pair.labels if args.data else SNLI_LABELS, limit=max(args.rows, 1))
    torch.set_num_threads(args.threads)
    rows = list(range(min(args.rows, len(data))))
    options = dict(lime_samples=args.lime_samples, shap_max_evals=args.shap_max_evals, batch_size=args.batch_size,
                   cache=False, progress=False, device="cpu")
    wanted = [s.strip() for s in args.settings.split(",") if s.strip()]
    figures: dict[str, dict[str, Any]] = {}
    results: dict[str, Any] = {}

    def run(name: str, executor: Any, width: int) -> None:
        start = time.perf_counter()
        result = explain_pair(pair, data, rows, executor=executor, **options)
        wall = time.perf_counter() - start
        results[name] = result
        sizes = executor.shards(len(rows))
        figures[name] = {"width": width, **figures.get(name, {}), **_split(result, wall, width, len(rows), sizes)}
        print(f"{name}: {wall:.2f} s for {len(rows)} rows", file=sys.stderr, flush=True)

    _pid(pair, None)
    if "serial" in wanted:
        run("serial", SerialExecutor(), 1)
    if "workers" in wanted:
        run("workers=2", ProcessExecutor(2), 2)
    if "ray" in wanted:
        from trustaudit.scale._executors import import_ray

        ray = import_ray()
        t0 = time.perf_counter()
        per_actor = max(1, args.threads // 2)
        ray.init(num_cpus=2 * per_actor, include_dashboard=False, logging_level="warning",
                 runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}})
        started = time.perf_counter() - t0
        executor = RayExecutor(actors=2, cpus_per_actor=per_actor)
        try:
            t0 = time.perf_counter()
            executor.map(_pid, pair, [0, 1])
            loaded = time.perf_counter() - t0
            figures["ray, 2 actors"] = {"ray_init_seconds": started, "actors_and_models_seconds": loaded}
            run("ray, 2 actors", executor, 2)
        finally:
            executor.close()
            ray.shutdown()

    names = list(results)
    identical = all(_records(results[n]) == _records(results[names[0]]) for n in names[1:])
    differences = {n: _largest_difference(results[names[0]], results[n]) for n in names[1:]}
    doc = {
        "rows": len(rows),
        "threads": args.threads,
        "lime_samples": args.lime_samples,
        "shap_max_evals": args.shap_max_evals,
        "models": {"base": pair.base.path, "small": pair.small.path},
        "identical_records": identical,
        "largest_difference_from_" + (names[0] if names else "none"): differences,
        "settings": figures,
    }
    header = (f"{'setting':<16}{'wall s':>9}{'rows/min':>10}{'model s/row':>13}{'other s/row':>13}"
              f"{'imbalance s/row':>17}{'overhead s/row':>16}{'overhead/model':>16}")
    print(f"{len(rows)} rows, {args.threads} threads, LIME {args.lime_samples} samples, SHAP {args.shap_max_evals} evaluations")
    print(header)
    for name, f in figures.items():
        print(f"{name:<16}{f['wall_seconds']:>9.2f}{f['rows_per_minute']:>10.2f}{f['model_seconds_per_row']:>13.3f}"
              f"{f['other_explaining_seconds_per_row']:>13.3f}{f['imbalance_seconds_per_row']:>17.3f}{f['overhead_seconds_per_row']:>16.3f}{f['overhead_share_of_model']:>15.1%}")
        if "ray_init_seconds" in f:
            print(f"{'':<16}start-up once per audit: ray.init {f['ray_init_seconds']:.2f} s, actors loading the models {f['actors_and_models_seconds']:.2f} s")
    print(f"identical records across settings: {identical}"
          + "".join(f"; largest difference {n} vs {names[0]}: {d:.2g}" for n, d in differences.items()))
    if args.json:
        from trustaudit._io import write_text_atomic

        write_text_atomic(args.json, json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
