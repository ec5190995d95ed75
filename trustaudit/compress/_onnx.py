"""``compress onnx``: export a PyTorch classifier to ONNX, check it, and optionally quantize it with ONNX Runtime.

The export is ``torch.onnx.export`` with the TorchScript tracer (``dynamo=False``) and the
model's attention switched to the ``eager`` implementation for the trace. Measured here
(torch 2.13, onnxruntime 1.32, all-MiniLM-L6-v2): that graph is what ONNX Runtime's
transformer optimizer recognises (6 of 6 attention blocks fused, with the embedding
LayerNorm, SkipLayerNorm and BiasGelu); the ``torch.export`` (dynamo) exporter's graph got
no attention fused, took 6x longer to export and needs ``onnxscript``. ``optimum`` is not
used: its ONNX exporter requires transformers < 4.58. A trace freezes Python-level branches,
so every export is checked against the PyTorch model on padded batches of varied lengths,
singles and pairs, before anything is written.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import shutil
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from trustaudit.data import Dataset
from trustaudit.exceptions import ExportError, InvalidInputError
from trustaudit.models import ModelBundle, load_model
from trustaudit.models import PROVENANCE_FILE
from trustaudit.models import import_onnx, import_onnxruntime

__all__ = ["OnnxExportInfo", "check_inputs", "export_onnx", "max_prob_diff", "optimize_graph", "to_onnx", "unchecked_dynamic_int8"]

OPSET = 17
TOLERANCE = 1e-4
QUANTIZE_MODES = ("dynamic", "static")
_INPUT_ORDER = ("input_ids", "attention_mask", "token_type_ids")
#: Fused contrib ops (Attention, SkipLayerNormalization...) have no ONNX type inference; their outputs are float.
_EXTRA = {"DefaultTensorType": 1}


@dataclass(frozen=True)
class OnnxExportInfo:
    """What ``to_onnx`` did and measured.

    ``max_abs_dp`` is the largest change of any class probability between the fp32 graph and
    the PyTorch model on the check inputs (refused above ``tolerance``); the ``quantized_*``
    fields compare the quantized graph with the PyTorch model on the same inputs.
    """

    exporter: str
    opset: int
    fused: dict[str, int]
    check_inputs: int
    max_abs_dp: float
    tolerance: float
    quantize: str | None
    per_channel: bool
    calibration_rows: int
    quantized_max_abs_dp: float | None
    quantized_agreement: float | None
    fp32_bytes: int
    bytes: int
    seconds: float
    graph: str
    versions: dict[str, str] = field(default_factory=dict)


class _Forward(nn.Module):
    """The classifier as a function of positional token tensors, returning only the logits."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
        return self.model(input_ids=input_ids, attention_mask=attention_mask, **extra).logits


@contextlib.contextmanager
def _eager_attention(model: nn.Module) -> Any:
    """Trace with the eager attention (the pattern ONNX Runtime fuses); restore the model's own afterwards."""
    config = getattr(model, "config", None)
    previous = getattr(config, "_attn_implementation", None)
    switch = getattr(model, "set_attn_implementation", None)
    changed = False
    if callable(switch) and previous not in (None, "eager"):
        try:
            switch("eager")
            changed = True
        except (ValueError, ImportError):
            changed = False
    try:
        yield
    finally:
        if changed:
            switch(previous)


@contextlib.contextmanager
def _quiet_logging() -> Any:
    """Hold back log records below ERROR: onnxruntime's optimizer and quantizer log advice on stderr through ``logging``.

    Its "consider pre-processing" advice and its embedding-fusion notes are printed for every
    graph, which in a search is one pair of lines per candidate.
    """
    previous = logging.root.manager.disable
    logging.disable(max(previous, logging.WARNING))
    try:
        yield
    finally:
        logging.disable(previous)


def _vocabulary_words(tokenizer: Any) -> list[str]:
    special = set(getattr(tokenizer, "all_special_tokens", []))
    words = sorted(t for t in tokenizer.get_vocab() if t.isalpha() and t not in special and len(t) > 1)
    return words or sorted(t for t in tokenizer.get_vocab() if t not in special)


def check_inputs(tokenizer: Any, n: int = 48, seed: int = 0, data: Dataset | None = None, rows: int = 64) -> list[tuple[str, str | None]]:
    """Inputs on which an export is compared with its PyTorch model.

    ``n`` generated inputs of the tokenizer's own words (half single texts, half pairs, 1 to
    60 words, so batches are padded and lengths vary), then the first ``rows`` of ``data``.
    """
    rng = np.random.default_rng(seed)
    words = _vocabulary_words(tokenizer)
    pairs: list[tuple[str, str | None]] = []
    for i in range(n):
        text_a = " ".join(rng.choice(words, size=int(rng.integers(1, 61))))
        text_b = " ".join(rng.choice(words, size=int(rng.integers(1, 21)))) if i % 2 else None
        pairs.append((text_a, text_b))
    if data is not None:
        pairs.extend(data.pairs()[:rows])
    return pairs


def export_onnx(bundle: ModelBundle, path: str | os.PathLike[str], opset: int = OPSET) -> Path:
    """Write the fp32 graph of a PyTorch classifier (dynamic batch and sequence axes) to ``path``."""
    import_onnx()
    model = bundle.model.eval()
    tokenizer = bundle.tokenizer
    names = [n for n in _INPUT_ORDER if n in getattr(tokenizer, "model_input_names", _INPUT_ORDER)]
    if "attention_mask" not in names:
        names.insert(1, "attention_mask")
    sample = tokenizer(["a first example text", "a second one"], ["and its pair", "here"], padding=True, return_tensors="pt")
    args = tuple(sample[n] if n in sample else torch.ones_like(sample["input_ids"]) for n in names)
    path = Path(path)
    with _eager_attention(model), warnings.catch_warnings(), torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(
                _Forward(model).eval(), args, str(path), input_names=names, output_names=["logits"],
                dynamic_axes={n: {0: "batch", 1: "sequence"} for n in names} | {"logits": {0: "batch"}},
                opset_version=opset, do_constant_folding=True, dynamo=False,
            )
        except Exception as exc:  # the tracer raises many types for models it cannot follow
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ExportError(f"{bundle.path}: torch.onnx.export failed: {type(exc).__name__}: {first}") from exc
    return path


def optimize_graph(source: Path, target: Path, config: dict[str, Any]) -> dict[str, int]:
    """ONNX Runtime's transformer fusions (attention, LayerNorm, GELU) of a BERT-family graph; the fused-op counts.

    Written at optimisation level 0 (fusions only), so the graph stays portable; the session
    applies its own graph optimisations when it loads it.
    """
    import_onnxruntime()
    from onnxruntime.transformers.optimizer import optimize_model

    heads = int(config.get("num_attention_heads") or config.get("n_heads") or 0)
    hidden = int(config.get("hidden_size") or config.get("dim") or 0)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), _quiet_logging():
        warnings.simplefilter("ignore")
        optimized = optimize_model(str(source), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=0)
        optimized.save_model_to_file(str(target))
    return {k: int(v) for k, v in optimized.get_fused_operator_statistics().items() if v}


def max_prob_diff(reference: np.ndarray, other: np.ndarray) -> float:
    """Largest absolute difference of any class probability."""
    return float(np.abs(np.asarray(reference, np.float64) - np.asarray(other, np.float64)).max()) if len(reference) else 0.0


def _probs(bundle: ModelBundle, pairs: Sequence[tuple[str, str | None]], batch_size: int = 16) -> np.ndarray:
    from trustaudit._evaluation import Evaluator

    return Evaluator(bundle, device="cpu", batch_size=batch_size, cache=False, progress=False).probs(pairs)


class _CalibrationReader:
    """Feeds of single calibration rows (unpadded) for ``quantize_static``."""

    def __init__(self, bundle: ModelBundle, pairs: Sequence[tuple[str, str | None]], names: Sequence[str]) -> None:
        from trustaudit._evaluation import encode_pairs

        self._feeds = iter([
            {n: np.asarray([e.get(n, [1] * len(e["input_ids"]))], dtype=np.int64) for n in names}
            for e in encode_pairs(bundle.tokenizer, pairs, bundle.max_length)
        ])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)

    def rewind(self) -> None:
        """Not needed: MinMax calibration reads the rows once."""


def _quantize(fp32: Path, target: Path, mode: str, per_channel: bool, bundle: ModelBundle, rows: Sequence[tuple[str, str | None]]) -> None:
    import_onnxruntime()
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), _quiet_logging():
        warnings.simplefilter("ignore")
        try:
            if mode == "dynamic":
                quantize_dynamic(str(fp32), str(target), weight_type=QuantType.QInt8, per_channel=per_channel, extra_options=_EXTRA)
            else:
                import onnx

                names = [i.name for i in onnx.load(str(fp32), load_external_data=False).graph.input]
                quantize_static(
                    str(fp32), str(target), _CalibrationReader(bundle, rows, names), quant_format=QuantFormat.QDQ,
                    per_channel=per_channel, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, extra_options=_EXTRA,
                )
        except Exception as exc:  # onnxruntime.quantization raises assorted types
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ExportError(f"onnxruntime {mode} quantization failed: {type(exc).__name__}: {first}") from exc


def _write_companions(bundle: ModelBundle, folder: Path, provenance: dict[str, Any]) -> None:
    config = dict(bundle.config)
    config["id2label"] = {str(i): name for i, name in enumerate(bundle.labels)}
    config["label2id"] = {name: i for i, name in enumerate(bundle.labels)}
    (folder / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True), encoding="utf-8")
    bundle.tokenizer.save_pretrained(str(folder))
    (folder / PROVENANCE_FILE).write_text(json.dumps(provenance, indent=1, sort_keys=True), encoding="utf-8")


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {"torch": torch.__version__}
    for name in ("onnx", "onnxruntime"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def to_onnx(
    bundle: ModelBundle,
    out: str | os.PathLike[str],
    *,
    quantize: str | None = None,
    per_channel: bool = False,
    calibration: Dataset | None = None,
    calibration_rows: int = 128,
    optimize: bool = True,
    tolerance: float = TOLERANCE,
    seed: int = 0,
) -> tuple[ModelBundle, OnnxExportInfo]:
    """Export ``bundle`` to an ONNX model directory ``out`` (graph, ``config.json``, tokenizer, provenance).

    The fp32 graph (with ONNX Runtime's transformer fusions when ``optimize``) must give the
    PyTorch probabilities within ``tolerance`` on :func:`check_inputs` (plus the first rows of
    ``calibration``), else :class:`ExportError` and nothing is written. ``quantize`` then makes
    it int8 with ``onnxruntime.quantization``: ``dynamic`` (weights int8, activations scaled on
    the fly) or ``static`` (activation scales from ``calibration_rows`` rows of
    ``calibration``, QDQ format, on the unfused graph: the calibrator cannot calibrate the
    outputs of the fused contrib ops). ``out`` must not exist or be an empty directory; the result
    holds one graph, ``model.onnx`` or ``model_quantized.onnx``, and loads with ``load_model``.

    Parameters
    ----------
    bundle : ModelBundle
        A plain Hugging Face classifier (``kind == "hf"``).
    out : str or path-like
        The directory to write; it must not exist or be empty.
    quantize : {"dynamic", "static"}, optional
        Make the graph int8. Default: fp32.
    per_channel : bool, default False
        One int8 scale per output channel instead of per tensor.
    calibration : Dataset, optional
        Rows to check the export on and, for ``static``, to calibrate on (required then).
    calibration_rows : int, default 128
        How many rows of ``calibration`` to use.
    optimize : bool, default True
        Apply ONNX Runtime's transformer fusions to the fp32 graph.
    tolerance : float, default 1e-4
        Largest allowed difference of the fp32 graph's probabilities from PyTorch's.
    seed : int, default 0
        Seed of the choice of calibration rows.

    Returns
    -------
    model : ModelBundle
        The exported model, loaded from ``out``.
    info : OnnxExportInfo
        What was exported: graph, sizes, largest difference, seconds.

    Raises
    ------
    InvalidInputError
        If ``bundle`` is not a plain Hugging Face classifier, ``quantize`` is unknown, an
        option is out of range, or ``out`` is not empty.
    ExportError
        If the fp32 graph's outputs differ from PyTorch's by more than ``tolerance``.

    Examples
    --------
    >>> from trustaudit import load_model
    >>> from trustaudit.compress import to_onnx
    >>> base = load_model("models/base")  # doctest: +SKIP
    >>> exported, info = to_onnx(base, "models/base-onnx-int8", quantize="dynamic")  # doctest: +SKIP
    >>> exported.kind  # doctest: +SKIP
    'onnx'
    """
    started = time.perf_counter()
    if not isinstance(bundle, ModelBundle):
        raise InvalidInputError(f"bundle must be a ModelBundle (see load_model), got {type(bundle).__name__}")
    if bundle.kind != "hf":
        raise InvalidInputError(f"{bundle.path}: only a plain Hugging Face classifier can be exported to ONNX, got a {bundle.kind!r} model")
    if quantize is not None and quantize not in QUANTIZE_MODES:
        raise InvalidInputError(f"quantize must be one of {', '.join(QUANTIZE_MODES)} or None, got {quantize!r}")
    if quantize == "static" and calibration is None:
        raise InvalidInputError("static quantization needs calibration rows: pass `calibration_data`")
    if per_channel and quantize is None:
        raise InvalidInputError("`per_channel` applies to quantization: add `quantize` dynamic or static")
    if calibration_rows < 1:
        raise InvalidInputError(f"calibration_rows must be at least 1, got {calibration_rows}")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInputError(f"{out}: already exists and is not an empty directory; choose a new output directory")
    import_onnx()
    ort = import_onnxruntime()
    out.parent.mkdir(parents=True, exist_ok=True)
    work = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        pairs = check_inputs(bundle.tokenizer, seed=seed, data=calibration)
        reference = _probs(bundle, pairs)
        plain = export_onnx(bundle, work / "plain.onnx")
        provenance_base = {"method": "onnx-export", "base_fingerprint": bundle.fingerprint, "base_path": bundle.path}
        _write_companions(bundle, work, provenance_base)
        fused: dict[str, int] = {}
        graph = plain
        if optimize and quantize != "static":
            try:
                fused = optimize_graph(plain, work / "fused.onnx", dict(bundle.config))
                graph = work / "fused.onnx"
            except Exception:  # an architecture the optimizer does not know: keep the plain graph
                fused = {}
        fp32_dp = max_prob_diff(reference, _probs(load_model(graph, max_length=bundle.max_length), pairs))
        if graph != plain and fp32_dp > tolerance:
            graph, fused = plain, {}
            fp32_dp = max_prob_diff(reference, _probs(load_model(graph, max_length=bundle.max_length), pairs))
        if not fp32_dp <= tolerance:
            raise ExportError(
                f"{bundle.path}: the ONNX export does not reproduce the PyTorch probabilities "
                f"(max |dp| {fp32_dp:.2e} > {tolerance:g} on {len(pairs)} inputs); nothing written"
            )
        final = work / "model.onnx"
        q_dp = q_agree = None
        n_cal = 0
        if quantize is not None:
            rows = calibration.pairs()[:calibration_rows] if calibration is not None else []
            n_cal = len(rows) if quantize == "static" else 0
            final = work / "model_quantized.onnx"
            _quantize(graph, final, quantize, per_channel, bundle, rows)
            q_probs = _probs(load_model(final, max_length=bundle.max_length), pairs)
            q_dp = max_prob_diff(reference, q_probs)
            q_agree = float(np.mean(reference.argmax(1) == q_probs.argmax(1)))
        else:
            os.replace(graph, final)
        fp32_bytes = (graph if graph.exists() else final).stat().st_size
        for leftover in (plain, work / "fused.onnx"):
            leftover.unlink(missing_ok=True)
        info = OnnxExportInfo(
            exporter="torch.onnx.export (TorchScript tracer, eager attention)", opset=OPSET, fused=fused,
            check_inputs=len(pairs), max_abs_dp=fp32_dp, tolerance=tolerance, quantize=quantize,
            per_channel=per_channel, calibration_rows=n_cal, quantized_max_abs_dp=q_dp, quantized_agreement=q_agree,
            fp32_bytes=fp32_bytes, bytes=final.stat().st_size, seconds=time.perf_counter() - started,
            graph=final.name, versions={**_versions(), "onnxruntime": ort.__version__},
        )
        method = f"onnx-{quantize}-int8" if quantize else "onnx-export"
        _write_companions(bundle, work, {**provenance_base, **asdict(info), "method": method})
        if out.exists():
            out.rmdir()
        os.replace(work, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return load_model(out, max_length=bundle.max_length), info


def unchecked_dynamic_int8(bundle: ModelBundle, out: str | os.PathLike[str], optimize: bool = True) -> ModelBundle:
    """The dynamic int8 ONNX model directory of ``bundle``, written to ``out`` without the check against PyTorch.

    For sizing (and timing) a candidate from its untrained structure before it is built: the
    export, fusions (when ``optimize``) and ``quantize_dynamic`` call are those of
    ``to_onnx(bundle, out, quantize="dynamic")``, so the graph has the same tensors and, its
    weights being stored at fixed width, the same size; the probabilities are not compared
    with PyTorch's, so this is no substitute for :func:`to_onnx`.

    Parameters
    ----------
    bundle : ModelBundle
        A plain Hugging Face classifier.
    out : str or path-like
        A new or empty directory (a temporary one: the result carries no check).
    optimize : bool, default True
        Apply ONNX Runtime's transformer fusions before quantizing.

    Returns
    -------
    ModelBundle
        The quantized graph, loaded from ``out`` (its ``bytes_on_disk`` is the graph's size).

    Examples
    --------
    >>> import tempfile
    >>> from trustaudit import load_model
    >>> base = load_model("models/base")  # doctest: +SKIP
    >>> with tempfile.TemporaryDirectory() as tmp:  # doctest: +SKIP
    ...     unchecked_dynamic_int8(base, tmp).bytes_on_disk
    """
    import_onnx()
    import_onnxruntime()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plain = export_onnx(bundle, out / "plain.onnx")
    graph = plain
    if optimize:
        try:
            optimize_graph(plain, out / "fused.onnx", dict(bundle.config))
            graph = out / "fused.onnx"
        except Exception:  # as in to_onnx: an architecture the optimizer does not know keeps the plain graph
            graph = plain
    _quantize(graph, out / "model_quantized.onnx", "dynamic", False, bundle, [])
    for leftover in (plain, out / "fused.onnx"):
        leftover.unlink(missing_ok=True)
    _write_companions(bundle, out, {"method": "onnx-dynamic-int8", "checked": False, "base_fingerprint": bundle.fingerprint})
    return load_model(out, max_length=bundle.max_length)
