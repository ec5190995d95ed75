"""The ``trustaudit`` command line: ``main(argv=None) -> int``.

Exit codes: 0 success (or trust-equivalent), 1 not trust-equivalent (a check failed), 2 a
usage or input error (one line on stderr; the traceback only with ``--debug``), 3 an
internal error (a bug: the traceback is printed), 4 inconclusive or incomplete (no check
failed, but not every check was shown to pass; ``--allow-inconclusive`` turns it into 0),
130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from trustaudit._options import (
    EXIT_GATE_FAILED,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_UNDECIDED,
    EXIT_USAGE,
    add_data_options,
    add_model_options,
    add_runtime_options,
    as_flags,
    cache_arg,
    check_paths,
    data_kwargs,
    non_negative_int,
    positive_int,
)
from trustaudit._version import __version__
from trustaudit.exceptions import TrustAuditError



def _cmd_pack(args: argparse.Namespace) -> int:
    from trustaudit.models import pack

    check_paths(args, ("out",), ("model_dir", "tokenizer"))
    bundle = pack(args.model_dir, args.out, label_names=args.labels, task=args.task, tokenizer=args.tokenizer)
    print(
        f"packed {args.model_dir} -> {args.out}: {bundle.n_params:,} parameters, "
        f"{bundle.bytes_on_disk / 1e6:.1f} MB, labels {', '.join(bundle.labels)}, fingerprint {bundle.fingerprint[:12]}"
    )
    return EXIT_OK


def _cmd_predict(args: argparse.Namespace) -> int:
    from trustaudit.data import load_dataset
    from trustaudit.models import load_model
    from trustaudit._predict import predict, write_predictions

    check_paths(args, ("out",), ("model", "data", "tokenizer"))
    bundle = load_model(args.model, args.labels, allow_pickle=args.allow_pickle, tokenizer=args.tokenizer, max_length=args.max_length)
    if args.runtime == "onnx":
        from trustaudit._runtime import with_onnx_runtime

        bundle = with_onnx_runtime(bundle)
    dataset = load_dataset(args.data, bundle.labels, **data_kwargs(args))
    preds = predict(bundle, dataset, batch_size=args.batch_size, device=args.device, cache=cache_arg(args), precision=args.precision)
    if args.out:
        write_predictions(args.out, preds, dataset)
    else:
        for record in preds.records(dataset):
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    parts = [f"{len(dataset):,} rows"]
    if dataset.n_skipped:
        reasons = ", ".join(f"{n:,} {why}" for why, n in dataset.skipped.items())
        parts[0] += f" ({reasons} skipped)"
    accuracy = preds.accuracy(dataset.labels)
    if accuracy is not None:
        parts.append(f"accuracy {accuracy:.4f}")
    rate = len(dataset) / preds.seconds if preds.seconds > 0 else float("inf")
    parts.append(f"{preds.seconds:.1f} s ({rate:,.0f} rows/s, {preds.stats.cache_hits:,} from cache)")
    parts.append(f"{preds.n_truncated:,} truncated at {bundle.max_length} tokens")
    if args.out:
        parts.append(f"written to {args.out}")
    print(" | ".join(parts), file=sys.stdout if args.out else sys.stderr)
    return EXIT_OK


def _explainers(text: str) -> tuple[str, ...]:
    """A comma-separated selection of registered explainers, without repeats."""
    from trustaudit.explain import explainer_names

    names = tuple(part.strip() for part in text.split(","))
    registered = explainer_names()
    if not all(names) or not set(names) <= set(registered) or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"expected distinct explainers among {', '.join(registered)} like lime,shap, got {text!r}")
    return names


def _budget(text: str) -> tuple[str, int]:
    """``NAME=N``: the budget of an explainer that has no option of its own."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=N, got {text!r}")
    return name.strip(), positive_int(value)


def _top_k(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers like 5 or 5,10, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers like 5 or 5,10, got {text!r}")
    return values


def _joined(values: Sequence[object]) -> str:
    return ",".join(str(v) for v in values)


def _bias_pooling(text: str) -> tuple[str, ...]:
    from trustaudit._audit import BIAS_POOLINGS

    values = tuple(part.strip() for part in text.split(","))
    if not values or not set(values) <= set(BIAS_POOLINGS) or len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"expected mean, cls or mean,cls, got {text!r}")
    return values


def _write_outputs(result: Any, args: argparse.Namespace) -> None:
    """Render every output first, then write them: a rendering error leaves no file half-made."""
    from trustaudit.report import junit_xml
    from trustaudit.report import render_html, summary_markdown
    from trustaudit._io import write_text_atomic

    texts: dict[str, str] = {}
    if args.json:
        texts[args.json] = result.to_json()
    if args.out:
        texts[args.out] = render_html(result)
    if args.junit:
        texts[args.junit] = junit_xml(result.gate)
    if args.summary:
        texts[args.summary] = summary_markdown(result, report=args.out)
    for path, text in texts.items():
        write_text_atomic(path, text)


def _warn_if_same_model(args: argparse.Namespace, pair: Any) -> None:
    """One line on stderr when the two models are one file or carry the same weights."""
    if os.path.realpath(args.base) == os.path.realpath(args.small):
        why = "the same file"
    elif pair.base.fingerprint == pair.small.fingerprint:
        why = f"the same weights (fingerprint {pair.base.fingerprint[:12]})"
    else:
        return
    print(f"trustaudit: warning: {args.base} and {args.small} are {why}: this audit compares a model with itself",
          file=sys.stderr)


def _gate_config(args: argparse.Namespace) -> tuple[Any, str]:
    from trustaudit.gate import load_gate_config

    return load_gate_config(args.gate)


def verdict_exit_code(status: str, allow_inconclusive: bool = False) -> int:
    """The exit code of a verdict: 0 trust-equivalent, 1 not, 4 inconclusive or incomplete.

    With ``allow_inconclusive`` an undecided verdict exits 0, with a warning on stderr.
    """
    if status == "trust-equivalent":
        return EXIT_OK
    if status == "not trust-equivalent":
        return EXIT_GATE_FAILED
    if allow_inconclusive:
        print(f"trustaudit: warning: the verdict is {status}, not trust-equivalent; exiting 0 because of --allow-inconclusive",
              file=sys.stderr)
        return EXIT_OK
    return EXIT_UNDECIDED


def audit_config(args: argparse.Namespace, gate: Any = None, gate_source: str = "defaults") -> Any:
    """The :class:`~trustaudit.AuditConfig` of parsed ``compare`` options (``gate``: a GateConfig, None for the defaults)."""
    from trustaudit._audit.config import AuditConfig
    from trustaudit.gate import GateConfig

    return AuditConfig(
        explain_n=args.explain_n,
        lime_samples=args.lime_samples,
        shap_max_evals=args.shap_max_evals,
        top_k=args.top_k,
        seed=args.seed,
        n_bins=args.n_bins,
        ece_strategy=args.ece_strategy,
        n_resamples=args.n_resamples,
        segment=args.explain_segment,
        target=args.explain_target,
        explainers=args.explainers,
        budgets=dict(args.budget),
        batch_size=args.batch_size,
        device=args.device,
        precision=args.precision,
        gate=gate if gate is not None else GateConfig(),
        gate_source=gate_source,
        bias=args.bias,
        bias_tests=args.bias_tests,
        bias_pooling=args.bias_pooling,
        bias_permutations=args.bias_permutations,
        workers=args.workers,
        extras=args.extras,
        attack_n=args.attack_n,
    )


def _cmd_compare(args: argparse.Namespace) -> int:
    import shlex

    from trustaudit._audit import audit
    from trustaudit.models import load_pair
    from trustaudit.report import summary_text

    check_paths(args, ("out", "json", "junit", "summary"), ("base", "small", "data", "gate", "tokenizer", "bias_tests"))
    if args.mlflow is not None:
        from trustaudit._mlflow import require_mlflow

        require_mlflow()
    config = audit_config(args, *_gate_config(args))
    executor = _executor(args)
    pair = load_pair(args.base, args.small, label_names=args.labels, small_label_names=args.small_labels,
                     allow_pickle=args.allow_pickle, max_length=args.max_length, tokenizer=args.tokenizer)
    _warn_if_same_model(args, pair)
    if args.runtime != "torch":
        from trustaudit._runtime import apply_runtime

        pair = apply_runtime(pair, args.runtime)
    command = "trustaudit " + " ".join(shlex.quote(a) for a in (args.argv or []))
    try:
        result = audit(pair, None, args.data, config, cache=cache_arg(args), command=command, data_options=data_kwargs(args),
                       executor=executor, resume=args.resume)
    finally:
        if executor is not None:
            executor.close()
    _write_outputs(result, args)
    print(summary_text(result, report=args.out, json_path=args.json))
    if args.mlflow is not None:
        _log_mlflow(result, args)
    return verdict_exit_code(result.status, args.allow_inconclusive)


def _executor(args: argparse.Namespace) -> Any:
    """The Ray executor of ``--ray`` (None without it), after checking the options that go with it."""
    from trustaudit.exceptions import InvalidInputError

    if args.resume and args.no_cache:
        raise InvalidInputError("--resume reads the finished rows from the cache directory; drop --no-cache")
    if args.ray is None:
        return None
    if args.workers > 1:
        raise InvalidInputError("give either --workers or --ray, not both")
    from trustaudit._evaluation import resolve_device
    from trustaudit.scale._executors import RayExecutor, import_ray

    import_ray()
    address = None if args.ray == "local" else args.ray
    if resolve_device(args.device).type != "cuda":
        return RayExecutor(address, actors=args.ray_actors or 2)
    if args.device.strip().lower() not in ("cuda", "auto"):
        raise InvalidInputError(f"--device {args.device} with --ray: Ray gives each actor its own GPU; give --device cuda")
    return RayExecutor(address, actors=args.ray_actors, gpus_per_actor=1)


def _log_mlflow(result: Any, args: argparse.Namespace) -> None:
    from trustaudit._mlflow import log_audit

    run = log_audit(result, args.mlflow or None, report=args.out, json_path=args.json, summary=args.summary)
    print(f"logged to MLflow run {run.run_id} (experiment {run.experiment_id}) at {run.tracking_uri}", file=sys.stderr)


def _cmd_render(args: argparse.Namespace) -> int:
    from trustaudit._audit import AuditResult, rejudge
    from trustaudit.report import summary_text

    check_paths(args, ("out", "junit", "summary"), ("results", "gate"))
    result = AuditResult.read_json(args.results)
    if args.gate:
        result = rejudge(result, *_gate_config(args))
    args.json = None
    _write_outputs(result, args)
    print(summary_text(result, report=args.out))
    return verdict_exit_code(result.status, args.allow_inconclusive)


def _cmd_demo(args: argparse.Namespace) -> int:
    from trustaudit.demo import run_demo

    check_paths(args, (), (), ("out",))
    return run_demo(out=Path(args.out), seed=args.seed, device=args.device)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr, exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    from trustaudit._runtime import add_runtime_option
    from trustaudit.explain import SEGMENTS, TARGETS, explainer_names

    parser = _Parser(
        prog="trustaudit",
        description="Audit a large/compressed text-classifier pair: can the small one be trusted as the large one was?",
    )
    parser.add_argument("--version", action="version", version=f"trustaudit {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    parser.add_argument("--progress", dest="progress", action="store_true", default=None, help="always show progress bars")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="never show progress bars")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("pack", help="pack a Hugging Face model directory into one safe .pt bundle")
    p.add_argument("model_dir", metavar="HF_DIR")
    p.add_argument("-o", "--out", required=True, metavar="FILE")
    p.add_argument("--labels", metavar="NAMES", help="label names in the model's output order")
    p.add_argument("--task", choices=("single", "pair"), help="record the task type in the bundle")
    p.add_argument("--tokenizer", metavar="DIR", help="pack the tokenizer in DIR instead of the model directory's own")
    p.set_defaults(func=_cmd_pack)

    p = sub.add_parser("predict", help="class probabilities of one model over a dataset, as JSONL")
    p.add_argument("model", metavar="MODEL", help="a .pt bundle or a Hugging Face model directory")
    add_data_options(p)
    add_model_options(p)
    add_runtime_options(p, precision="fp32")
    p.add_argument("--out", metavar="FILE", help="write JSONL here (default: stdout)")
    add_runtime_option(p)
    p.set_defaults(func=_cmd_predict)

    from trustaudit._audit.config import ECE_STRATEGIES, AuditConfig

    d = AuditConfig()
    p = sub.add_parser("compare", help="audit a base/small model pair: report, JSON results, CI gate")
    p.add_argument("base", metavar="BASE", help="the large model: a .pt bundle or a Hugging Face directory")
    p.add_argument("small", metavar="SMALL", help="the compressed candidate")
    add_data_options(p)
    add_model_options(p)
    p.add_argument("--small-labels", metavar="NAMES", help="label names of the small model, if they differ from --labels")
    group = p.add_argument_group("audit")
    group.add_argument("--explain-n", type=non_negative_int, default=d.explain_n, metavar="N", help=f"rows to explain, stratified by gold label (default: {d.explain_n}; 0 turns explanations off)")
    group.add_argument("--lime-samples", type=positive_int, default=d.lime_samples, metavar="N", help=f"LIME samples per explanation (default: {d.lime_samples})")
    group.add_argument("--shap-max-evals", type=positive_int, default=d.shap_max_evals, metavar="N", help=f"SHAP Partition budget per explanation (default: {d.shap_max_evals})")
    group.add_argument("--top-k", type=_top_k, default=d.top_k, metavar="K[,K...]", help=f"k of the top-k agreement metrics; the first is the headline (default: {_joined(d.top_k)})")
    group.add_argument("--explain-segment", choices=SEGMENTS, default=d.segment, help=f"which texts of a pair give features (default: {d.segment})")
    group.add_argument("--explain-target", choices=TARGETS, default=d.target, help=f"the class explained (default: {d.target}, the base model's prediction)")
    group.add_argument("--explainers", type=_explainers, default=d.explainers, metavar="NAME[,NAME...]",
                       help=f"explainers to run, among {', '.join(explainer_names())} (default: {_joined(d.explainers)})")
    group.add_argument("--budget", type=_budget, action="append", default=[], metavar="NAME=N",
                       help="evaluations per explanation of an explainer without an option of its own (repeatable)")
    group.add_argument("--workers", type=positive_int, default=d.workers, metavar="N",
                       help=f"local processes that explain the rows, each with its share of the threads; same results (default: {d.workers})")
    group.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                       help="run predictions and explanations on Ray actors: bare, a local Ray instance; 'auto' joins this "
                            "machine's cluster; or a ray:// address (needs: pip install 'trustaudit[ray]'); same results")
    group.add_argument("--ray-actors", type=positive_int, default=None, metavar="N",
                       help="Ray actors, each with both models loaded once and one CPU (default: 2; with --device cuda, "
                            "one per GPU of the cluster, each actor on its own GPU)")
    group.add_argument("--resume", action="store_true",
                       help="take the explained rows an interrupted run with the same models and settings finished "
                            "(kept in the cache directory) instead of explaining them again")
    group.add_argument("--n-bins", type=positive_int, default=d.n_bins, metavar="N", help=f"calibration bins (default: {d.n_bins})")
    group.add_argument("--ece-strategy", choices=ECE_STRATEGIES, default=d.ece_strategy,
                       help=f"bins of the ECE the gate judges: uniform (equal-width) or quantile (equal-mass; both are reported; default: {d.ece_strategy})")
    group.add_argument("--n-resamples", type=non_negative_int, default=d.n_resamples, metavar="N", help=f"bootstrap resamples for intervals (default: {d.n_resamples})")
    bias = p.add_argument_group("bias")
    bias.add_argument("--no-bias", dest="bias", action="store_false", help="skip the bias comparison (association tests and counterfactual flips)")
    bias.add_argument("--bias-tests", metavar="FILE", help="association tests as JSON (default: the shipped WEAT 3-8)")
    bias.add_argument("--bias-pooling", type=_bias_pooling, default=d.bias_pooling, metavar="P[,P]",
                      help=f"sentence embeddings from the final hidden states: mean, cls or mean,cls (default: {_joined(d.bias_pooling)})")
    bias.add_argument("--bias-permutations", type=positive_int, default=d.bias_permutations, metavar="N",
                      help=f"permutations of each association test's p-value (default: {d.bias_permutations}; exact when fewer partitions exist)")
    extras = p.add_argument_group("representations and adversarial transfer")
    extras.add_argument("--no-extras", dest="extras", action="store_false", default=d.extras,
                        help="skip the representation (CKA) and adversarial-transfer comparisons")
    extras.add_argument("--attack-n", type=non_negative_int, default=d.attack_n, metavar="N",
                        help=f"explained rows attacked by word substitution on each model (default: {d.attack_n}; 0 turns the attack off)")
    add_runtime_options(p, batch_size=d.batch_size, precision=d.precision, device=d.device)
    add_runtime_option(p)
    out = p.add_argument_group("outputs")
    out.add_argument("--out", default="trustaudit-report.html", metavar="FILE", help="HTML report (default: trustaudit-report.html)")
    out.add_argument("--json", metavar="FILE", help="machine-readable results")
    out.add_argument("--gate", metavar="FILE", help="gate thresholds (TOML); default: [tool.trustaudit.gate] in ./pyproject.toml, else built-in")
    out.add_argument("--junit", metavar="FILE", help="JUnit XML, one test case per gate check")
    out.add_argument("--summary", metavar="FILE", help="Markdown summary for a pull-request comment")
    out.add_argument("--allow-inconclusive", action="store_true", help="exit 0 instead of 4 when the verdict is inconclusive or incomplete (with a warning)")
    out.add_argument("--mlflow", nargs="?", const="", metavar="URI", help="log the audit to an MLflow run (default URI: "
                     "$MLFLOW_TRACKING_URI, else ./mlruns); needs pip install 'trustaudit[mlflow]'")
    p.set_defaults(func=_cmd_compare)

    p = sub.add_parser("render", help="re-render a report from results JSON, without recomputing")
    p.add_argument("results", metavar="RESULTS_JSON")
    p.add_argument("-o", "--out", required=True, metavar="FILE", help="HTML report to write")
    p.add_argument("--gate", metavar="FILE", help="judge the stored results against these thresholds instead")
    p.add_argument("--junit", metavar="FILE")
    p.add_argument("--summary", metavar="FILE")
    p.add_argument("--allow-inconclusive", action="store_true", help="exit 0 instead of 4 when the verdict is inconclusive or incomplete")
    p.set_defaults(func=_cmd_render)

    p = sub.add_parser("demo", help="train a small model pair on a built-in task and audit it (no files, no network)")
    p.add_argument("--out", default="trustaudit-demo", metavar="DIR", help="where to write models, data and reports (default: ./trustaudit-demo)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.set_defaults(func=_cmd_demo)

    from trustaudit.compress._cli import register as register_compress

    register_compress(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code (never raises for user errors)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    from trustaudit._progress import quiet_libraries, set_progress

    set_progress(args.progress)
    args.argv = list(argv) if argv is not None else sys.argv[1:]
    with quiet_libraries(not args.debug), warnings.catch_warnings():
        if not args.debug:
            warnings.filterwarnings("ignore", category=FutureWarning)
            warnings.showwarning = _show_warning
        return _run(args)


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int, file: Any = None, line: str | None = None) -> None:
    """A warning as one line on stderr, without the source location (that is for --debug)."""
    text = str(message).strip().splitlines()[0] if str(message).strip() else category.__name__
    print(f"trustaudit: warning: {as_flags(text)}", file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    """Call the subcommand and turn every exception into an exit code."""
    try:
        return int(args.func(args))
    except TrustAuditError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"trustaudit: error: {as_flags(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return EXIT_OK
    except OSError as exc:
        if args.debug:
            traceback.print_exc()
        where = f": {exc.filename}" if exc.filename else ""
        print(f"trustaudit: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("trustaudit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception:
        traceback.print_exc()
        print("trustaudit: internal error (a bug in trustaudit, not in your input); the traceback is above", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
