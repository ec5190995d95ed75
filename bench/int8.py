"""Which int8 path keeps trust? PyTorch dynamic int8 against ONNX Runtime dynamic (and static) int8.

Bases: the SNLI and MRPC bases of ``scripts/make_sample_reports.py`` (all-MiniLM-L6-v2
fine-tuned 3 epochs at lr 1e-4, seed 0), taken from its cache (``$TRUSTAUDIT_WORK``,
default /work/trustaudit-work, via ``bench/_common.py::finetuned_minilm``); a base is
fine-tuned only when it is not cached. Candidates of each base:

* ``torch-int8``: ``trustaudit.compress.quantize`` (torch dynamic int8 of every Linear layer);
* ``onnx-int8``: ``trustaudit compress onnx --quantize dynamic`` (fused fp32 graph checked to
  1e-4 of PyTorch, then ``onnxruntime.quantization.quantize_dynamic``, int8 weights per tensor);
* ``onnx-static-int8``: ``--quantize static`` calibrated on ``--calibration-rows`` training rows
  (QDQ, MinMax); a row says so when ONNX Runtime cannot make it.

Each pair is audited with ``trustaudit.audit`` and the default configuration and gate on the
first ``--rows`` held-out rows with ``--explain-n`` rows explained, as the sample reports are.
Printed: one Markdown table per task (size, batch-1 and batched latency, accuracy, agreement,
ECE, LIME/SHAP agreement, verdict). With ``--reports``, the ONNX dynamic int8 audits are
written as sample reports ``sample_reports/<task>-onnx-int8/`` (then
``python scripts/make_sample_reports.py --render-only`` adds them to the index).
ONNX models are kept in ``$TRUSTAUDIT_WORK/onnx/``.

    PYTHONPATH=. python bench/int8.py [--tasks snli mrpc] [--rows 2000] [--explain-n 100] [--threads 2] [--reports]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import torch

from _common import ROOT, finetuned_minilm, machine, task_data, work_dir

EPOCHS, LR, SEED = 3, 1e-4, 0


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def candidates(task: str, base: Any, calibration_rows: int) -> dict[str, Any]:
    """The int8 candidates of ``base``: name -> ModelBundle, or the reason it could not be made."""
    from trustaudit.compress import quantize
    from trustaudit.compress._onnx import to_onnx
    from trustaudit.exceptions import ExportError
    from trustaudit.models import load_model

    store = work_dir() / "onnx"
    store.mkdir(exist_ok=True)
    made: dict[str, Any] = {"torch-int8": quantize(base)}
    for name, mode in (("onnx-int8", "dynamic"), ("onnx-static-int8", "static")):
        folder = store / f"{task}-{EPOCHS}ep-lr{LR:g}-seed{SEED}-{mode}-int8"
        if not folder.exists():
            calibration = task_data(task, "train", calibration_rows, SEED) if mode == "static" else None
            log(f"exporting {task} to {folder.name}")
            try:
                to_onnx(base, folder, quantize=mode, calibration=calibration, calibration_rows=calibration_rows, seed=SEED)
            except ExportError as exc:
                made[name] = f"not made: {exc}"
                continue
        made[name] = load_model(folder)
    return made


def row(name: str, doc: dict[str, Any]) -> str:
    """One Markdown row of an audit of a candidate."""
    small, p, c, a = doc["models"]["small"], doc["predictions"], doc["calibration"], doc["attribution"]
    size = (small.get("provenance") or {}).get("int8_bytes") or small.get("bytes") or 0
    lat = small["latency"]

    def agree(explainer: str) -> str:
        section = (a.get(explainer) or {}) if a.get("available") else {}
        value, floor = section.get("feature_agreement"), section.get("floor")
        if value is None:
            return "–"
        return f"{value:.3f}" + ("" if floor is None else f" ({floor:.2f})")

    verdict = doc["verdict"].get("status") or ("trust-equivalent" if doc["verdict"]["passed"] else "not trust-equivalent")
    return (f"| {name} | {size / 1e6:.1f} | {lat['batch1_ms']:.1f} | {lat['batched_ms_per_example']:.2f} | "
            f"{p['small']['accuracy']:.4f} | {-p['accuracy_drop']:+.4f} | {p['agreement']:.4f} | {c['small']['ece']:.4f} | "
            f"{agree('lime')} | {agree('shap')} | {verdict} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["snli", "mrpc"], choices=["snli", "mrpc"])
    parser.add_argument("--rows", type=int, default=2000, help="held-out rows per audit (default 2000; MRPC has 1,725)")
    parser.add_argument("--explain-n", type=int, default=100)
    parser.add_argument("--calibration-rows", type=int, default=256, help="training rows for static calibration (default 256)")
    parser.add_argument("--threads", type=int, default=2, help="torch and ONNX Runtime threads (default 2, as the sample reports)")
    parser.add_argument("--reports", action="store_true", help="write the ONNX dynamic int8 audits as sample reports")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    import trustaudit

    tables = []
    for task in args.tasks:
        base_path = finetuned_minilm(task, encoder="L6", rows=None, epochs=EPOCHS, lr=LR, seed=SEED, threads=None)
        base = trustaudit.load_model(base_path)
        held_out = task_data(task, "held_out", args.rows)
        lines = [
            f"**{task.upper()}** ({len(held_out):,} held-out rows, {args.explain_n} explained; base {base.n_params:,} "
            f"parameters, {base.bytes_on_disk / 1e6:.1f} MB)",
            "",
            "| candidate | MB | batch-1 ms | batched ms/example | accuracy | vs base | agreement | ECE | LIME agr. (floor) | SHAP agr. (floor) | verdict |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for name, candidate in candidates(task, base, args.calibration_rows).items():
            if isinstance(candidate, str):
                lines.append(f"| {name} | {candidate} |" + " |" * 9)
                continue
            log(f"auditing {task} base vs {name}")
            config = trustaudit.AuditConfig(explain_n=args.explain_n, seed=SEED)
            result = trustaudit.audit(base, candidate, held_out, config, progress=True,
                                      command=f"python bench/int8.py --tasks {task} --rows {args.rows} --explain-n {args.explain_n}")
            doc = result.to_dict()
            lines.append(row(name, doc))
            if args.reports and name == "onnx-int8":
                doc["models"]["base"]["path"] = f"$TRUSTAUDIT_WORK/minilm-L6-{task}.pt"
                doc["models"]["small"]["path"] = f"$TRUSTAUDIT_WORK/onnx/{task}-onnx-int8"
                doc["data"]["path"] = f"../shared/data/{task}/{Path(doc['data']['path']).name}"
                result = trustaudit.AuditResult.from_dict(doc)
                folder = ROOT / "sample_reports" / f"{task}-onnx-int8"
                trustaudit.write_report(result, folder / "report.html")
                result.write_json(folder / "results.json")
                log(f"sample report {folder / 'report.html'}")
        tables.append("\n".join(lines))
    print(f"machine: {machine()}")
    print()
    print("\n\n".join(tables))


if __name__ == "__main__":
    main()
