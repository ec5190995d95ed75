"""``trustaudit compress asc|alad|quantize|onnx``: create a compressed candidate from the command line."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trustaudit._options import (
    EXIT_GATE_FAILED,
    EXIT_OK,
    EXIT_UNDECIDED,
    non_negative_int,
    positive_int,
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
    """Add the ``compress`` command and its ``asc``, ``alad``, ``quantize``, ``onnx`` and ``search`` subcommands."""
    parser = subparsers.add_parser("compress", help="create a compressed candidate of a model: asc, alad, quantize, onnx, "
                                   "or search for the smallest trust-equivalent one")
    methods = parser.add_subparsers(dest="method", metavar="METHOD", required=True)

    p = methods.add_parser("asc", help="delete the layers that are redundant on the task's data, then fine-tune")
    p.add_argument("base", metavar="BASE", help="the fine-tuned base model (.pt bundle or Hugging Face directory)")
    add_data_options(p)
    rule = p.add_mutually_exclusive_group()
    rule.add_argument("--threshold", type=float, default=0.9, help="remove a layer whose output has at least "
                      "THRESHOLD - MARGIN cosine similarity to a kept earlier state (default: 0.9)")
    rule.add_argument("--n-remove", type=positive_int, metavar="K", help="remove the K most redundant layers instead")
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
    p.add_argument("--max-rows", type=positive_int, metavar="N", help="use the first N rows of --data")
    p.add_argument("--eval", metavar="FILE", help="report the accuracy of base and pruned model on this file")
    _common(p, "a .pt bundle, or any other path for a save_pretrained directory")
    p.set_defaults(func=_cmd_asc)

    p = methods.add_parser("alad", help="align a small model's states to the base's with a window adapter, then train a task head")
    p.add_argument("base", metavar="BASE", help="the large model whose states are the alignment target")
    p.add_argument("small", metavar="SMALL", help="the small model (same tokenizer as BASE)")
    add_data_options(p)
    p.add_argument("--setup", choices=("head", "adapter", "joint", "reuse-head"), default="adapter",
                   help="the paper's set-ups, each training a task head: head (head only), adapter (adapter + head over "
                   "the frozen small model, default), joint (adapter + small model + head); reuse-head (trustaudit's, "
                   "not the paper's): the base's head on the aligned states, no task training")
    p.add_argument("--window", type=positive_int, default=3, help="odd number of tokens per window, the paper's 1, 3 "
                   "or 5 (default: 3)")
    p.add_argument("--hidden", type=positive_int, default=1280, metavar="H", help="adapter hidden width (default: 1280, the paper's)")
    p.add_argument("--align-data", metavar="FILE", help="general text to align on first: a .txt file (one text a line) "
                   "or any data file (its texts; labels ignored), e.g. another task's training file")
    p.add_argument("--align-rows", type=positive_int, metavar="N", help="use N texts of --align-data, drawn at random (see --seed)")
    p.add_argument("--general-epochs", type=_positive_float, default=1, help="alignment epochs on --align-data (default: 1)")
    p.add_argument("--epochs", type=_positive_float, default=10, help="alignment epochs on the task's text (default: 10, the paper's)")
    p.add_argument("--lr", type=_positive_float, default=1e-4, help="alignment learning rate (default: 1e-4, the paper's)")
    p.add_argument("--task-epochs", type=_positive_float, default=3, help="task training epochs (default: 3)")
    p.add_argument("--task-lr", type=_positive_float, help="task training learning rate (default: head 1e-3, adapter 1e-4, joint 5e-5)")
    p.add_argument("--validation", type=_unit_margin, default=0.1, help="share of the labelled rows held out to choose "
                   "the task epoch and to compare with the small model (default: 0.1, at most 1,000 rows; 0: none)")
    p.add_argument("--max-rows", type=positive_int, metavar="N", help="use the first N rows of --data")
    p.add_argument("--eval", metavar="FILE", help="report the accuracy of base, small and aligned model on this file")
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
    p.add_argument("--calibration-rows", type=positive_int, default=128, metavar="N", help="calibration rows used (default: 128)")
    p.add_argument("--text-col", metavar="COL", help="text column of --calibration-data")
    p.add_argument("--pair-col", metavar="COL", help="second-text column of --calibration-data")
    p.add_argument("--no-header", action="store_true", help="--calibration-data has no header row")
    p.add_argument("--delimiter", metavar="CHAR", help="field delimiter of --calibration-data")
    p.add_argument("--no-optimize", action="store_true", help="skip ONNX Runtime's transformer fusions (attention, LayerNorm, GELU)")
    _common(p, "the model directory to write (must not exist, or be empty)")
    p.set_defaults(func=_cmd_onnx)
    _register_search(methods)


def _float_list(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers like 0.85,0.9,0.95, got {text!r}") from None
    if not all(-1 <= v <= 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected cosine similarities between -1 and 1, got {text!r}")
    return values


def _int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected positive integers like 2,4,6, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers like 2,4,6, got {text!r}")
    return values


def _methods(text: str) -> tuple[str, ...]:
    from trustaudit.compress._search import METHODS

    values = tuple(part.strip() for part in text.split(","))
    if not values or not set(values) <= set(METHODS) or len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"expected distinct methods among {', '.join(METHODS)}, got {text!r}")
    return values


def _register_search(methods: Any) -> None:
    from trustaudit._audit.config import AuditConfig
    from trustaudit.compress._search import DEFAULT_METHODS, DEFAULT_THRESHOLDS, OBJECTIVES, STRATEGIES

    d = AuditConfig()
    p = methods.add_parser("search", help="make candidates (ASC ladder, int8, AlAd) and find the smallest one an audit "
                           "shows trust-equivalent")
    p.add_argument("base", metavar="BASE", help="the fine-tuned base model (.pt bundle or Hugging Face directory)")
    add_data_options(p)
    p.add_argument("--eval", required=True, metavar="FILE", help="labelled data every candidate is audited on "
                   "(read with the --data column options)")
    p.add_argument("--eval-rows", type=positive_int, metavar="N", help="audit on the first N usable rows of --eval")
    p.add_argument("--methods", type=_methods, default=DEFAULT_METHODS, metavar="M[,M...]",
                   help=f"candidate families among asc, quantize (int8 of the base), asc+quantize (int8 of each ASC model), "
                   f"alad (AlAd over each ASC model), onnx-int8 and asc+onnx-int8 (ONNX Runtime dynamic int8 of the base "
                   f"and of each ASC model; need pip install 'trustaudit[onnx]') (default: {','.join(DEFAULT_METHODS)})")
    ladder = p.add_mutually_exclusive_group()
    ladder.add_argument("--thresholds", type=_float_list, metavar="T[,T...]", help="ASC similarity thresholds of the ladder "
                        f"(default: {','.join(f'{t:g}' for t in DEFAULT_THRESHOLDS)}; thresholds removing the same layers are one candidate)")
    ladder.add_argument("--n-remove", type=_int_list, metavar="K[,K...]", help="numbers of layers to remove instead of thresholds")
    p.add_argument("--objective", choices=OBJECTIVES, default="size", help="best means the smallest state dict (size, "
                   "default) or the lowest batch-1 latency measured in the candidate's audit (latency)")
    p.add_argument("--strategy", choices=STRATEGIES, default="binary", help="binary search within each family (default), a "
                   "scan from the most compressed candidate (linear), or a full audit of every candidate (exhaustive)")
    p.add_argument("--budget-minutes", type=_positive_float, metavar="N", help="start no candidate after N minutes; "
                   "the answer is the best found so far")
    p.add_argument("--gate", metavar="FILE", help="gate thresholds (TOML); default: [tool.trustaudit.gate] in ./pyproject.toml, else built-in")
    p.add_argument("--max-rows", type=positive_int, metavar="N", help="use the first N rows of --data for ASC and AlAd")
    asc_group = p.add_argument_group("ASC")
    asc_group.add_argument("--margin", type=_unit_margin, default=0.01, help="subtracted from each threshold (default: 0.01, the paper's rule)")
    asc_group.add_argument("--task-kind", choices=("nli", "paraphrase"), help="sets the paper's fine-tuning epochs (default: from the label names)")
    asc_group.add_argument("--epochs", type=_non_negative_float, help="ASC fine-tuning epochs (default: the paper's for the task kind; 0: none)")
    asc_group.add_argument("--lr", type=_positive_float, default=1e-5, help="ASC fine-tuning learning rate (default: 1e-5)")
    alad_group = p.add_argument_group("AlAd (with --methods alad)")
    alad_group.add_argument("--alad-setup", choices=("head", "adapter", "joint", "reuse-head"), default="adapter", help="AlAd set-up (default: adapter)")
    alad_group.add_argument("--alad-epochs", type=_positive_float, default=10, help="AlAd alignment epochs (default: 10)")
    alad_group.add_argument("--alad-task-epochs", type=_positive_float, default=3, help="AlAd task training epochs (default: 3)")
    alad_group.add_argument("--alad-hidden", type=positive_int, default=1280, metavar="H", help="AlAd adapter width (default: 1280)")
    audit_group = p.add_argument_group("audit of each candidate")
    audit_group.add_argument("--explain-n", type=non_negative_int, default=d.explain_n, metavar="N", help=f"rows to explain (default: {d.explain_n})")
    audit_group.add_argument("--lime-samples", type=positive_int, default=d.lime_samples, metavar="N", help=f"LIME samples per explanation (default: {d.lime_samples})")
    audit_group.add_argument("--shap-max-evals", type=positive_int, default=d.shap_max_evals, metavar="N", help=f"SHAP budget per explanation (default: {d.shap_max_evals})")
    audit_group.add_argument("--n-resamples", type=non_negative_int, default=d.n_resamples, metavar="N", help=f"bootstrap resamples (default: {d.n_resamples})")
    audit_group.add_argument("--no-bias", dest="bias", action="store_false", help="skip the bias comparison")
    audit_group.add_argument("--no-extras", dest="extras", action="store_false", help="skip the representation and adversarial comparisons")
    p.add_argument("-o", "--out", required=True, metavar="DIR", help="the folder to write (must not exist, or be empty): "
                   "candidates/, search.json, search.html and, when one is found, model.pt (model/ for an ONNX candidate), "
                   "results.json, report.html")
    add_model_options(p)
    add_runtime_options(p)
    p.set_defaults(func=_cmd_search)


def _load(args: argparse.Namespace, path: str) -> Any:
    from trustaudit.models import load_model

    return load_model(path, args.labels, allow_pickle=args.allow_pickle, tokenizer=args.tokenizer, max_length=args.max_length)


def _train_data(args: argparse.Namespace, labels: tuple[str, ...]) -> Any:
    from trustaudit.data import load_dataset

    return load_dataset(args.data, labels, **data_kwargs(args))


def _accuracies(args: argparse.Namespace, models: dict[str, Any]) -> str:
    """One line with each model's accuracy on ``--eval`` (read with the --data column options)."""
    from trustaudit.data import load_dataset
    from trustaudit.exceptions import LabelMismatchError
    from trustaudit.models import label_permutation
    from trustaudit._predict import predict

    first = next(iter(models.values()))
    kwargs = {**data_kwargs(args), "limit": None, "sample": None}
    data = load_dataset(args.eval, first.labels, require_labels=True, **kwargs)
    parts = []
    for name, bundle in models.items():
        try:
            order = label_permutation(first.labels, bundle.labels)
        except LabelMismatchError:
            parts.append(f"{name} - (other labels)")
            continue
        preds = predict(bundle, data, batch_size=args.batch_size, device=args.device, cache=cache_arg(args))
        parts.append(f"{name} {preds.reorder(order, first.labels).accuracy(data.labels):.4f}")
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


def _finish(args: argparse.Namespace, lines: list[str], base: Any, result: tuple[str, Any], allow_dir: bool,
            others: dict[str, Any] | None = None) -> int:
    """Add the accuracies on ``--eval`` (base, ``others``, the new model), save the new model, print the summary."""
    name, bundle = result
    if args.eval:
        lines.append(_accuracies(args, {"base": base, **(others or {}), name: bundle}))
    lines.append(f"written to {_save(bundle, args.out, allow_dir)}")
    print("\n".join(lines))
    return EXIT_OK


def _check(args: argparse.Namespace, inputs: tuple[str, ...], allow_dir: bool) -> None:
    """Refuse, before any work, an ``--out`` that is an input or cannot be written."""
    as_dir = allow_dir and Path(args.out).suffix != ".pt"
    check_paths(args, () if as_dir else ("out",), (*inputs, "eval", "tokenizer"), ("out",) if as_dir else ())


def _cmd_asc(args: argparse.Namespace) -> int:
    from trustaudit.compress import asc
    from trustaudit.compress._asc import resolve_epochs

    _check(args, ("base", "data"), allow_dir=True)
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
    from trustaudit.compress._alad import TASK_LR, read_texts

    _check(args, ("base", "small", "data"), allow_dir=False)
    base = _load(args, args.base)
    small = _load(args, args.small)
    data = _train_data(args, base.labels)
    general = read_texts(args.align_data, args.align_rows, args.seed) if args.align_data else None
    print(_alad_plan(args, TASK_LR, general), flush=True)
    aligned, info = alad(
        base, small, data, window=args.window, setup=args.setup, epochs=args.epochs, task_epochs=args.task_epochs,
        hidden=args.hidden, max_rows=args.max_rows, batch_size=args.batch_size, lr=args.lr, task_lr=args.task_lr,
        seed=args.seed, device=args.device, align_data=general, general_epochs=args.general_epochs,
        validation=args.validation,
    )
    identity = f", raw states {info.cosine_identity:.4f}" if info.cosine_identity is not None else ""
    general_part = f" -> {info.cosine_general:.4f} on general text" if info.cosine_general is not None else ""
    lines = [
        f"AlAd ({info.setup}, window {info.window}, hidden {info.hidden}) on {info.rows:,} rows: token cosine to the base "
        f"{info.cosine_untrained:.4f}{general_part} -> {info.cosine_after:.4f} (best linear map {info.cosine_before:.4f}"
        f"{identity}); alignment MSE {info.mse_before:.4f} -> {info.mse_after:.4f} in {info.align_seconds:.0f} s",
        f"parameters: small {small.n_params:,} + {info.params_added:,} added (adapter {info.adapter_params:,}, "
        f"head {info.head_params:,}) = {aligned.n_params:,}; labels of the base: {', '.join(aligned.labels)}",
    ]
    if info.task_losses:
        cosine = f", token cosine afterwards {info.cosine_task:.4f}" if info.cosine_task is not None else ""
        lines.append(
            f"task training ({info.setup}: {info.trainable_params:,} parameters) {info.task_epochs:g} epoch(s) at lr "
            f"{info.task_lr:g}: loss {info.task_losses[0]:.3f} -> {info.task_losses[-1]:.3f}{cosine}, {info.task_seconds:.0f} s"
        )
    if info.val_rows:
        small_part = f"small model {info.val_accuracy_small:.4f}, " if info.val_accuracy_small is not None else ""
        epochs = ", ".join(f"{a:.4f}" for a in info.val_accuracies)
        kept = f"; after each task epoch {epochs}, epoch {info.best_epoch} kept" if info.val_accuracies else ""
        lines.append(
            f"held-out accuracy ({info.val_rows:,} rows): {small_part}base head reused untrained "
            f"{info.val_accuracy_reused_head:.4f}{kept} -> aligned {info.val_accuracy:.4f}"
        )
        if info.less_accurate_than_small:
            lines.append("warning: the aligned model is less accurate than the small model on the held-out rows; "
                         "align longer (--epochs, --align-data), train the head longer (--task-epochs) or try --setup joint")
    return _finish(args, lines, base, ("aligned", aligned), allow_dir=False, others={"small": small})


def _alad_plan(args: argparse.Namespace, task_lr: dict[str, float], general: Any) -> str:
    """What AlAd will do, with every default spelled out (printed before it runs)."""
    stages = []
    if general is not None:
        stages.append(f"align on {len(general):,} general texts of {args.align_data} for {args.general_epochs:g} epoch(s)")
    stages.append(f"align on the task's text for {args.epochs:g} epoch(s) at lr {args.lr:g}")
    if args.setup == "reuse-head":
        stages.append("reuse the base's head untrained (trustaudit's set-up, not the paper's)")
    else:
        trained = {"head": "the head", "adapter": "adapter + head", "joint": "adapter + small encoder + head"}[args.setup]
        lr = args.task_lr if args.task_lr is not None else task_lr[args.setup]
        stages.append(f"train {trained} for {args.task_epochs:g} epoch(s) at lr {lr:g}")
    return f"AlAd set-up {args.setup}, window {args.window}, hidden {args.hidden}: " + "; then ".join(stages)


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


def _cmd_search(args: argparse.Namespace) -> int:
    """Run the search; exit 0 when a trust-equivalent candidate was found, 1 when none was, 4 when the best were undecided."""
    import shlex
    import sys

    from trustaudit._audit.config import AuditConfig
    from trustaudit.compress._search import FOUND, NONE_FOUND, search
    from trustaudit.data import load_dataset
    from trustaudit.gate import load_gate_config

    check_paths(args, (), ("base", "data", "eval", "gate", "tokenizer"), ("out",))
    gate, source = load_gate_config(args.gate)
    config = AuditConfig(explain_n=args.explain_n, lime_samples=args.lime_samples, shap_max_evals=args.shap_max_evals,
                         n_resamples=args.n_resamples, bias=args.bias, extras=args.extras, seed=args.seed,
                         batch_size=args.batch_size, device=args.device, gate=gate, gate_source=source)
    base = _load(args, args.base)
    train = _train_data(args, base.labels)
    dev = load_dataset(args.eval, base.labels, require_labels=True,
                       **{**data_kwargs(args), "limit": args.eval_rows, "sample": None})
    asc_options = {"margin": args.margin, "task_kind": args.task_kind, "epochs": args.epochs, "lr": args.lr, "seed": args.seed}
    alad_options = {"setup": args.alad_setup, "epochs": args.alad_epochs, "task_epochs": args.alad_task_epochs,
                    "hidden": args.alad_hidden, "seed": args.seed}
    command = "trustaudit " + " ".join(shlex.quote(a) for a in (getattr(args, "argv", None) or []))
    result = search(
        base, train, dev, args.out, methods=args.methods, thresholds=args.thresholds, n_remove=args.n_remove, config=config,
        objective=args.objective, strategy=args.strategy, budget_minutes=args.budget_minutes, asc_options=asc_options,
        alad_options=alad_options, max_rows=args.max_rows, cache=cache_arg(args), progress=None, command=command,
    )
    print(_search_table(result))
    if not result.complete:
        print("trustaudit: warning: the budget stopped the search; the answer is the best found so far", file=sys.stderr)
    if result.answer == FOUND:
        return EXIT_OK
    return EXIT_GATE_FAILED if result.answer == NONE_FOUND else EXIT_UNDECIDED


def _search_table(result: Any) -> str:
    """The search's rows as text, the chosen one marked, and the answer."""
    lines = [f"{'':2}{'candidate':<22}{'size':>10}{'agreement':>11}{'ECE':>8}  verdict"]
    for row in result.candidates:
        agreement = f"{100 * row.agreement:.1f}%" if row.agreement is not None else "-"
        ece = f"{row.ece:.3f}" if row.ece is not None else "-"
        verdict = row.status or row.state
        if row.state == "rejected by the cheap pass":
            verdict += " (cheap pass)"
        lines.append(f"{'* ' if row.chosen else '  '}{row.name:<22}{_mb(row.size_bytes):>10}{agreement:>11}{ece:>8}  {verdict}")
    counts = result.document["counts"]
    lines.append(f"{counts['audited']} of {counts['planned']} candidates audited ({counts['rejected_by_cheap_pass']} rejected by the "
                 f"cheap pass, never explained); search.json and search.html in {result.out}")
    if result.chosen is not None:
        lines.append(f"chosen: {result.chosen.name}, written to {result.out / result.document['model']} with report.html and results.json")
    else:
        lines.append(f"no candidate was shown trust-equivalent (answer: {result.answer})")
    return "\n".join(lines)
