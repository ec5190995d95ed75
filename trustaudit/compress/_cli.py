"""``trustaudit compress asc|alad|quantize``: create a compressed candidate from the command line."""

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


def _unit_margin(text: str) -> float:
    """An argparse type for a margin in [0, 1)."""
    value = _non_negative_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"expected a number from 0 up to 1, got {text!r}")
    return value


def _common(parser: argparse.ArgumentParser, out_help: str) -> None:
    parser.add_argument("-o", "--out", required=True, metavar="PATH", help=out_help)
    add_model_options(parser)
    add_runtime_options(parser)


def register(subparsers: Any) -> None:
    """Add the ``compress`` command and its ``asc``, ``alad`` and ``quantize`` subcommands."""
    parser = subparsers.add_parser("compress", help="create a compressed candidate of a model: asc, alad or quantize")
    methods = parser.add_subparsers(dest="method", metavar="METHOD", required=True)

    p = methods.add_parser("asc", help="delete the layers that are redundant on the task's data, then fine-tune")
    p.add_argument("base", metavar="BASE", help="the fine-tuned base model (.pt bundle or Hugging Face directory)")
    add_data_options(p)
    rule = p.add_mutually_exclusive_group()
    rule.add_argument("--threshold", type=float, default=0.9, help="remove a layer whose output has at least "
                      "THRESHOLD - MARGIN cosine similarity to a kept earlier state (default: 0.9)")
    rule.add_argument("--n-remove", type=_positive_int, metavar="K", help="remove the K most redundant layers instead")
    p.add_argument("--margin", type=_unit_margin, default=0.01, help="subtracted from --threshold, as the ASC "
                   "authors' code does (default: 0.01, the paper's rule; 0: compare with the threshold itself)")
    p.add_argument("--task-kind", choices=("nli", "paraphrase"), help="sets the paper's fine-tuning epochs "
                   "(nli 5, paraphrase 10); default: read from the label names, an error if they name neither")
    p.add_argument("--epochs", type=_non_negative_float, help="fine-tuning epochs after pruning "
                   "(default: the paper's for the task kind; 0: none)")
    p.add_argument("--lr", type=_positive_float, default=1e-5, help="fine-tuning learning rate (default: 1e-5, the paper's)")
    p.add_argument("--optimizer", choices=("adam", "adamw"), default="adam", help="adam: Adam at a constant "
                   "learning rate (the paper's, default); adamw: AdamW, weight decay 0.01, linear warm-up and decay")
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


def _cmd_asc(args: argparse.Namespace) -> int:
    from trustaudit.compress import asc
    from trustaudit.compress._asc import resolve_epochs

    base = _load(args, args.base)
    epochs, kind, kind_source, epochs_source = resolve_epochs(base.labels, args.epochs, args.task_kind)
    data = _train_data(args, base.labels)
    print(_recipe_line(base.labels, epochs, kind, kind_source, epochs_source, args), flush=True)
    small, info = asc(
        base, data, threshold=args.threshold, n_remove=args.n_remove, epochs=epochs, distill=args.distill,
        max_rows=args.max_rows, batch_size=args.batch_size, lr=args.lr, seed=args.seed, device=args.device,
        margin=args.margin, optimizer=args.optimizer, task_kind=args.task_kind,
    )
    if info.n_remove is not None:
        rule = f"n_remove {info.n_remove}"
    else:
        rule = f"threshold {info.threshold:g} - margin {info.margin:g}: states at similarity >= {info.threshold - info.margin:g}"
    removed = ", ".join(str(i) for i in info.layers_removed)
    paper = ", ".join(str(i) for i in info.layers_removed_paper)
    lines = [
        f"ASC on {info.rows:,} rows ({rule}): removed layer(s) {removed} of {info.layers_before} (0-based; "
        f"layer(s) {paper} numbered from 1 as in the paper) -> {info.layers_after} layers",
        f"parameters {info.params_before:,} -> {info.params_after:,} ({info.params_after / info.params_before - 1:+.1%}); "
        f"weights {_mb(info.bytes_before)} -> {_mb(info.bytes_after)}",
    ]
    if info.train_steps:
        lines.append(
            f"fine-tuned {info.epochs:g} epoch(s){' with distillation' if info.distill else ''}: {info.train_steps:,} steps, "
            f"loss {info.train_losses[0]:.3f} -> {info.train_losses[-1]:.3f}, {info.train_seconds:.0f} s"
        )
    return _finish(args, lines, base, ("pruned", small), allow_dir=True)


def _recipe_line(labels: tuple[str, ...], epochs: float, kind: str | None, kind_source: str | None,
                 epochs_source: str, args: argparse.Namespace) -> str:
    """The fine-tuning recipe ASC will use, and where each default came from (printed before it runs)."""
    if kind_source == "given":
        known = f"task kind {kind} (--task-kind)"
    elif kind_source == "labels":
        known = f"task kind {kind} (from the label names {', '.join(labels)})"
    else:
        known = "task kind unknown"
    source = f"the paper's for {kind}" if epochs_source == "paper" else "--epochs"
    optimizer = "Adam, constant learning rate" if args.optimizer == "adam" else "AdamW, linear warm-up and decay"
    if epochs == 0:
        return f"ASC fine-tuning: none (--epochs 0); {known}"
    return (f"ASC fine-tuning: {epochs:g} epoch(s) ({source}); {known}; {optimizer}, lr {args.lr:g}, "
            f"batch {args.batch_size}")


def _cmd_alad(args: argparse.Namespace) -> int:
    from trustaudit.compress import alad

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

    quantized = quantize(_load(args, args.base))
    prov = quantized.provenance
    print(
        f"quantized {prov['linear_layers']} Linear layers to dynamic int8 (engine {prov['engine']}): weights "
        f"{_mb(prov['float_bytes'])} -> {_mb(prov['int8_bytes'])}\nwritten to {_save(quantized, args.out, allow_dir=False)}"
    )
    return EXIT_OK
