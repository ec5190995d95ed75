"""Command-line options shared by every ``trustaudit`` command (and ``compress``), and the exit codes.

Each ``add_*_options`` adds one argument group; ``data_kwargs``/``cache_arg`` translate the
parsed options into the keyword arguments of the Python API, so the CLI and the library
read a dataset and a cache the same way.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: Parameters whose option has another name (the flags predate the parameters' names).
_FLAG_OF = {"label_names": "labels", "small_label_names": "small_labels"}
_PARAMETER = re.compile(r"`([a-z][a-z0-9_]*)`(?:=(\S+))?")


def as_flags(message: str) -> str:
    """A library message with the Python parameters it names (```label_map```, ```tokenizer`=DIR``) as flags.

    The library names its parameters in backquotes, as a Python user calls them; the command
    line shows the same message with each as the option that sets it (``--label-map``,
    ``--tokenizer DIR``).
    """

    def flag(match: re.Match[str]) -> str:
        name, value = match.group(1), match.group(2)
        return "--" + _FLAG_OF.get(name, name).replace("_", "-") + (f" {value}" if value else "")

    return _PARAMETER.sub(flag, message)


EXIT_OK, EXIT_GATE_FAILED, EXIT_USAGE, EXIT_INTERNAL, EXIT_UNDECIDED, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def add_data_options(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """Options that say how to read a dataset file (shared by predict, compare, compress)."""
    group = parser.add_argument_group("data")
    group.add_argument("--data", required=required, metavar="FILE", help="CSV, TSV, JSONL or JSON (list of records)")
    group.add_argument("--text-col", metavar="COL", help="text column: a name or a 0-based index")
    group.add_argument("--pair-col", metavar="COL", help="second-text column for pair tasks: a name or a 0-based index")
    group.add_argument("--label-col", metavar="COL", help="label column: a name or a 0-based index")
    group.add_argument("--no-header", action="store_true", help="the file has no header row")
    group.add_argument("--delimiter", metavar="CHAR", help="field delimiter (default: from the extension or sniffed)")
    group.add_argument("--label-map", metavar="MAP", help="raw label value to name, e.g. 0=entailment,1=neutral,2=contradiction")
    group.add_argument("--limit", type=positive_int, metavar="N", help="use the first N usable rows")
    group.add_argument("--sample", type=positive_int, metavar="N", help="use N rows drawn at random (see --seed)")
    group.add_argument("--keep-empty", action="store_true", help="keep rows whose text is empty, blank or NaN (default: skip and count them)")


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """Options that say how to load models."""
    group = parser.add_argument_group("models")
    group.add_argument("--labels", metavar="NAMES", help="label names in the model's output order, e.g. entailment,neutral,contradiction")
    group.add_argument("--max-length", type=positive_int, metavar="N", help="truncate inputs to N tokens (default: the model's maximum)")
    group.add_argument(
        "--allow-pickle",
        action="store_true",
        help="load .pt files holding a pickled module; this RUNS ARBITRARY CODE from the file",
    )
    group.add_argument("--tokenizer", metavar="DIR", help="use the tokenizer in DIR instead of the model's own (any model kind; "
                       "needed for a pickled module or a directory without tokenizer files)")


def batch_size_arg(text: str) -> int | str:
    """``--batch-size``: a positive integer, or ``auto``."""
    return "auto" if text.strip().lower() == "auto" else positive_int(text)


def add_runtime_options(
    parser: argparse.ArgumentParser, *, batch_size: int | str = 32, precision: str | None = None, device: str = "auto"
) -> None:
    """Options for where and how models run.

    With ``precision`` (its default), the command also takes ``--precision`` and
    ``--batch-size auto``; without it (training commands), ``--batch-size`` is an integer.
    """
    group = parser.add_argument_group("runtime")
    group.add_argument("--device", default=device, help=f"auto, cpu or cuda[:N] (default: {device}; auto picks CUDA when available)")
    if precision is None:
        group.add_argument("--batch-size", type=positive_int, default=batch_size, metavar="N", help=f"inputs per forward pass (default: {batch_size})")
    else:
        from trustaudit._hardware import PRECISIONS

        group.add_argument("--batch-size", type=batch_size_arg, default=batch_size, metavar="N|auto",
                           help=f"inputs per forward pass, or auto: the largest that fits the device and still pays, "
                                f"found by doubling from 8 on the longest inputs (default: {batch_size})")
        group.add_argument("--precision", choices=PRECISIONS, default=precision,
                           help=f"format of the forward pass: fp32, or autocast to bf16/fp16; a reduced one also runs the "
                                f"data in fp32 and reports the largest probability difference (default: {precision})")
    group.add_argument("--cache-dir", metavar="DIR", help="evaluation cache (default: $TRUSTAUDIT_CACHE_DIR or ~/.cache/trustaudit)")
    group.add_argument("--no-cache", action="store_true", help="do not read or write the evaluation cache")
    group.add_argument("--seed", type=int, default=0, help="seed of every random choice (default: 0)")


def cache_arg(args: argparse.Namespace) -> Any:
    """The ``cache`` argument of the Python API from the CLI options."""
    if getattr(args, "no_cache", False):
        return False
    return args.cache_dir if getattr(args, "cache_dir", None) else True


def data_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments of :func:`trustaudit.load_dataset` from the CLI options."""
    return {
        "text_col": args.text_col,
        "pair_col": args.pair_col,
        "label_col": args.label_col,
        "no_header": args.no_header,
        "delimiter": args.delimiter,
        "label_map": args.label_map,
        "limit": args.limit,
        "sample": args.sample,
        "seed": getattr(args, "seed", 0),
        "keep_empty": args.keep_empty,
    }


_ROLES = {
    "out": "--out", "json": "--json", "junit": "--junit", "summary": "--summary", "gate": "--gate", "data": "--data",
    "eval": "--eval", "tokenizer": "--tokenizer", "bias_tests": "--bias-tests", "results": "the results file", "base": "the base model",
    "small": "the small model", "model": "the model", "model_dir": "the model",
}


def check_paths(
    args: argparse.Namespace,
    outputs: Sequence[str],
    inputs: Sequence[str],
    directories: Sequence[str] = (),
) -> None:
    """Refuse, before any work, outputs that are inputs (or the cache), repeat each other or cannot be written.

    ``outputs``, ``inputs`` and ``directories`` (outputs that are directories) name attributes of ``args``.
    """
    from trustaudit._paths import check_cache_dir, check_outputs, named

    def items(names: Sequence[str]) -> list[Any]:
        return named((_ROLES.get(name, f"--{name.replace('_', '-')}"), getattr(args, name, None)) for name in names)

    extra: list[tuple[str, Any]] = []
    if hasattr(args, "cache_dir") and not args.no_cache:
        from trustaudit._cache import default_cache_dir

        check_cache_dir(args.cache_dir)
        cache = Path(args.cache_dir or default_cache_dir())
        extra += [("the evaluation cache", cache), ("the evaluation cache", cache / "evals.sqlite")]
    if "gate" in inputs and not getattr(args, "gate", None) and args.command == "compare" and Path("pyproject.toml").is_file():
        extra.append(("the gate settings in", "pyproject.toml"))
    check_outputs(items(outputs), items(inputs) + named(extra), items(directories))
