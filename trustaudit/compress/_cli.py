"""``trustaudit compress asc|alad|quantize|onnx``: create a compressed candidate from the command line."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trustaudit.cli import (
    EXIT_OK,
    _positive_int,
    add_data_options,
    add_model_options,
    add_runtime_options,
    cache_arg,
    check_paths,
    data_kwargs,
)


def _float_option(strict: bool) -> Callable[[str], float]:
    """An argparse type for numbers ``> 0`` (``strict``) or ``>= 0``."""
    wanted = "a positive number" if strict else "a number >= 0"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}") from None
        if not (value > 0 if strict else value >= 0):
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}")
        return value

    return parse


_positive_float = _float_option(strict=True)
_non_negative_float = _float_option(strict=False)


def _common(parser: argparse.ArgumentParser, out_help: str) -> None:
    parser.add_argument("-o", "--out", required=True, metavar="PATH", help=out_help)
    add_model_options(parser)
    add_runtime_options(parser)


def register(subparsers: Any) -> None:
    """Add the ``compress`` command and its ``asc``, ``alad``, ``quantize`` and ``onnx`` subcommands."""
    parser = subparsers.add_parser("compress", help="create a compressed candidate of a model: asc, alad, quantize or onnx")
    methods = parser.add_subparsers(dest="method", metavar="METHOD", required=True)

    p = methods.add_parser("asc", help="delete the layers that are redundant on the task's data, then fine-tune")
    p.add_argument("base", metavar="BASE", help="the fine-tuned base model (.pt bundle or Hugging Face directory)")
    add_data_options(p)
    rule = p.add_mutually_exclusive_group()
    rule.add_argument("--threshold", type=float, default=0.9, help="remove a layer whose output has at least this "
                      "cosine similarity to a kept earlier state (default: 0.9)")
    rule.add_argument("--n-remove", type=_positive_int, metavar="K", help="remove the K most redundant layers instead")
    p.add_argument("--epochs", type=_non_negative_float, default=2, help="fine-tuning epochs after pruning (default: 2; 0: none)")
    p.add_argument("--lr", type=_positive_float, default=5e-5, help="fine-tuning learning rate (default: 5e-5)")
    p.add_argument("--distill", action="store_true", help="add the base model's soft labels as a distillation loss")
    p.add_argument("--max-rows", type=_positive_int, metavar="N", help="use the first N rows of --data")
    p.add_argument("--eval", metavar="FILE", help="report the accuracy of base and pruned model on this file")
    _common(p, "a .pt bundle, or any other path for a save_pretrained directory")
    p.set_defaults(func=_cmd_asc)

    p = methods.add_parser("alad", help="align a small model to the base with a window adapter and reuse the base's head")
    p.add_argument("base", metavar="BASE", help="the large model whose states and head are reused")
    p.add_argument("small", metavar="SMALL", help="the small model (same tokenizer as BASE)")
    add_data_options(p)
    p.add_argument("--window", type=_positive_int, default=3, help="odd number of tokens per window (default: 3)")
    p.add_argument("--mode", choices=("frozen", "joint"), default="frozen",
                   help="frozen: base head on aligned states, no task training; joint: then fine-tune adapter and head")
    p.add_argument("--epochs", type=_positive_float, default=3, help="alignment epochs (default: 3)")
    p.add_argument("--joint-epochs", type=_positive_float, default=2, help="task epochs in joint mode (default: 2)")
    p.add_argument("--train-small", action="store_true", help="in joint mode, fine-tune the small encoder too")
    p.add_argument("--hidden", type=_positive_int, metavar="H", help="adapter hidden width (default: 4 x the base's width)")
    p.add_argument("--max-rows", type=_positive_int, metavar="N", help="use the first N rows of --data")
    p.add_argument("--eval", metavar="FILE", help="report the accuracy of base and aligned model on this file")
    _common(p, "the .pt bundle to write")
    p.set_defaults(func=_cmd_alad)

    p = methods.add_parser("quantize", help="dynamic int8 quantization of the Linear layers")
    p.add_argument("base", metavar="BASE")
    _common(p, "the .pt bundle to write")
    p.set_defaults(func=_cmd_quantize)

    p = methods.add_parser("onnx", help="export to an ONNX Runtime model directory, optionally int8-quantized by ONNX Runtime")
    p.add_argument("base", metavar="BASE")
    p.add_argument("--quantize", choices=("dynamic", "static"), help="int8 quantization with onnxruntime.quantization "
                   "(dynamic: activations scaled on the fly; static: scales from --calibration-data)")
    p.add_argument("--per-channel", action="store_true", help="one weight scale per output channel instead of per tensor")
    p.add_argument("--calibration-data", metavar="FILE", help="rows for static calibration, also added to the export check "
                   "(read like --data: CSV, TSV, JSONL, JSON)")
    p.add_argument("--calibration-rows", type=_positive_int, default=128, metavar="N", help="calibration rows used (default: 128)")
    p.add_argument("--text-col", metavar="COL", help="text column of --calibration-data")
    p.add_argument("--pair-col", metavar="COL", help="second-text column of --calibration-data")
    p.add_argument("--no-header", action="store_true", help="--calibration-data has no header row")
    p.add_argument("--delimiter", metavar="CHAR", help="field delimiter of --calibration-data")
    p.add_argument("--no-optimize", action="store_true", help="skip ONNX Runtime's transformer fusions (attention, LayerNorm, GELU)")
    _common(p, "the model directory to write (must not exist, or be empty)")
    p.set_defaults(func=_cmd_onnx)


def _load(args: argparse.Namespace, path: str) -> Any:
    from trustaudit.models import load_model

    return load_model(path, args.labels, allow_pickle=args.allow_pickle, tokenizer=args.tokenizer, max_length=args.max_length)


def _train_data(args: argparse.Namespace, labels: tuple[str, ...]) -> Any:
    from trustaudit.data import load_dataset

    return load_dataset(args.data, labels, **data_kwargs(args))


def _accuracies(args: argparse.Namespace, models: dict[str, Any]) -> str:
    """One line with each model's accuracy on ``--eval`` (read with the --data column options)."""
    from trustaudit.data import load_dataset
    from trustaudit._predict import predict

    first = next(iter(models.values()))
    kwargs = {**data_kwargs(args), "limit": None, "sample": None}
    data = load_dataset(args.eval, first.labels, require_labels=True, **kwargs)
    parts = []
    for name, bundle in models.items():
        preds = predict(bundle, data, batch_size=args.batch_size, device=args.device, cache=cache_arg(args))
        parts.append(f"{name} {preds.accuracy(data.labels):.4f}")
    return f"accuracy on {args.eval} ({len(data):,} rows): " + ", ".join(parts)


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def _save(bundle: Any, out: str, allow_dir: bool) -> str:
    from trustaudit.models import save_bundle, save_hf_dir

    if allow_dir and Path(out).suffix != ".pt":
        save_hf_dir(bundle, out)
        return f"{out} (save_pretrained directory)"
    save_bundle(bundle, out)
    return out


def _finish(args: argparse.Namespace, lines: list[str], base: Any, result: tuple[str, Any], allow_dir: bool) -> int:
    """Add the accuracies on ``--eval``, save the new model, print the summary."""
    name, bundle = result
    if args.eval:
        lines.append(_accuracies(args, {"base": base, name: bundle}))
    lines.append(f"written to {_save(bundle, args.out, allow_dir)}")
    print("\n".join(lines))
    return EXIT_OK


def _check(args: argparse.Namespace, inputs: tuple[str, ...], allow_dir: bool) -> None:
    """Refuse, before any work, an ``--out`` that is an input or cannot be written."""
    as_dir = allow_dir and Path(args.out).suffix != ".pt"
    check_paths(args, () if as_dir else ("out",), (*inputs, "eval", "tokenizer"), ("out",) if as_dir else ())


def _cmd_asc(args: argparse.Namespace) -> int:
    from trustaudit.compress import asc

    _check(args, ("base", "data"), allow_dir=True)
    base = _load(args, args.base)
    data = _train_data(args, base.labels)
    small, info = asc(
        base, data, threshold=args.threshold, n_remove=args.n_remove, epochs=args.epochs, distill=args.distill,
        max_rows=args.max_rows, batch_size=args.batch_size, lr=args.lr,
        seed=args.seed, device=args.device,
    )
    rule = f"n_remove {info.n_remove}" if info.n_remove is not None else f"threshold {info.threshold:g}"
    removed = ", ".join(str(i) for i in info.layers_removed)
    lines = [
        f"ASC on {info.rows:,} rows ({rule}): removed layer(s) {removed} of {info.layers_before} "
        f"(0-based) -> {info.layers_after} layers",
        f"parameters {info.params_before:,} -> {info.params_after:,} ({info.params_after / info.params_before - 1:+.1%}); "
        f"weights {_mb(info.bytes_before)} -> {_mb(info.bytes_after)}",
    ]
    if info.train_steps:
        lines.append(
            f"fine-tuned {info.epochs:g} epoch(s){' with distillation' if info.distill else ''}: {info.train_steps:,} steps, "
            f"loss {info.train_losses[0]:.3f} -> {info.train_losses[-1]:.3f}, {info.train_seconds:.0f} s"
        )
    return _finish(args, lines, base, ("pruned", small), allow_dir=True)


def _cmd_alad(args: argparse.Namespace) -> int:
    from trustaudit.compress import alad

    _check(args, ("base", "small", "data"), allow_dir=False)
    base = _load(args, args.base)
    small = _load(args, args.small)
    data = _train_data(args, base.labels)
    aligned, info = alad(
        base, small, data, window=args.window, mode=args.mode, epochs=args.epochs, joint_epochs=args.joint_epochs,
        hidden=args.hidden, train_small=args.train_small, max_rows=args.max_rows, batch_size=args.batch_size,
        seed=args.seed, device=args.device,
    )
    identity = f", raw states {info.cosine_identity:.4f}" if info.cosine_identity is not None else ""
    lines = [
        f"AlAd ({info.mode}, window {info.window}, hidden {info.hidden}) on {info.rows:,} rows: token cosine to the base "
        f"{info.cosine_untrained:.4f} -> {info.cosine_after:.4f} (best linear map {info.cosine_before:.4f}{identity}); "
        f"alignment MSE {info.mse_before:.4f} -> {info.mse_after:.4f} in {info.align_seconds:.0f} s",
        f"parameters: small {small.n_params:,} + {info.params_added:,} added (adapter {info.adapter_params:,}, "
        f"base head {info.head_params:,}) = {aligned.n_params:,}; labels of the base: {', '.join(aligned.labels)}",
    ]
    if info.cosine_joint is not None:
        lines.append(
            f"joint fine-tuning {info.joint_epochs:g} epoch(s): loss {info.joint_losses[0]:.3f} -> {info.joint_losses[-1]:.3f}, "
            f"token cosine afterwards {info.cosine_joint:.4f}, {info.joint_seconds:.0f} s"
        )
    return _finish(args, lines, base, ("aligned", aligned), allow_dir=False)


def _cmd_quantize(args: argparse.Namespace) -> int:
    from trustaudit.compress import quantize

    _check(args, ("base",), allow_dir=False)
    quantized = quantize(_load(args, args.base))
    prov = quantized.provenance
    print(
        f"quantized {prov['linear_layers']} Linear layers to dynamic int8 (engine {prov['engine']}): weights "
        f"{_mb(prov['float_bytes'])} -> {_mb(prov['int8_bytes'])}\nwritten to {_save(quantized, args.out, allow_dir=False)}"
    )
    return EXIT_OK


def _cmd_onnx(args: argparse.Namespace) -> int:
    from trustaudit.compress._onnx import to_onnx
    from trustaudit.data import load_dataset

    base = _load(args, args.base)
    calibration = None
    if args.calibration_data:
        calibration = load_dataset(
            args.calibration_data, base.labels, text_col=args.text_col, pair_col=args.pair_col, label_col=None,
            no_header=args.no_header, delimiter=args.delimiter, limit=args.calibration_rows,
        )
    bundle, info = to_onnx(
        base, args.out, quantize=args.quantize, per_channel=args.per_channel, calibration=calibration,
        calibration_rows=args.calibration_rows, optimize=not args.no_optimize, seed=args.seed,
    )
    fused = ", ".join(f"{n} {k}" for k, n in info.fused.items()) or "none"
    lines = [
        f"exported with {info.exporter}, opset {info.opset}; fused ops: {fused}",
        f"fp32 graph vs PyTorch on {info.check_inputs} inputs: max |dp| {info.max_abs_dp:.1e} (limit {info.tolerance:g})",
    ]
    if info.quantize:
        channel = "per channel" if info.per_channel else "per tensor"
        calibrated = f", calibrated on {info.calibration_rows} rows" if info.quantize == "static" else ""
        lines.append(
            f"{info.quantize} int8 ({channel}{calibrated}): {_mb(info.fp32_bytes)} -> {_mb(info.bytes)}; vs PyTorch max |dp| "
            f"{info.quantized_max_abs_dp:.1e}, same prediction on {info.quantized_agreement:.1%} of the check inputs"
        )
    lines.append(f"written to {args.out} ({info.graph}, {bundle.n_params:,} parameters, {_mb(bundle.bytes_on_disk)})")
    print("\n".join(lines))
    return EXIT_OK
