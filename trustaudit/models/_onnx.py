"""ONNX Runtime models: a directory with ``model.onnx`` (or ``model_quantized.onnx``...), ``config.json``
and tokenizer files, the layout ``optimum`` and ``trustaudit compress onnx`` write.

The forward pass runs in an ``onnxruntime.InferenceSession`` behind an ``nn.Module`` whose
``forward`` takes the tokenizer's tensors and returns an object with ``.logits``, so the
evaluation engine, LIME and SHAP use it like any other model. Parameters and size are read
from the graph and its files; the fingerprint is the sha256 of those files.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from transformers.modeling_outputs import SequenceClassifierOutput

from trustaudit.exceptions import MissingDependencyError, ModelLoadError
from trustaudit.models._bundle import ModelBundle

ONNX_HINT = "pip install 'trustaudit[onnx]'"
_WEIGHT_SUFFIXES = (".safetensors", ".bin")
_TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "spiece.model", "sentencepiece.bpe.model", "vocab.json")
_WEIGHT_TYPES = {1, 2, 3, 10, 11, 16}  # float, uint8, int8, float16, double, bfloat16
_QUANT_PARAMS = ("_scale", "_zero_point")


def import_onnxruntime() -> Any:
    """``onnxruntime``, or a one-line install hint when it is missing."""
    try:
        import onnxruntime
    except ImportError:
        raise MissingDependencyError(f"ONNX models need onnxruntime and onnx: {ONNX_HINT}") from None
    return onnxruntime


def import_onnx() -> Any:
    """``onnx``, or a one-line install hint when it is missing."""
    try:
        import onnx
    except ImportError:
        raise MissingDependencyError(f"ONNX models need onnxruntime and onnx: {ONNX_HINT}") from None
    return onnx


def looks_like_onnx_file(path: Path) -> bool:
    """A ``.onnx`` file, or a protobuf whose first field is ONNX's ``ir_version`` (byte 0x08)."""
    if path.suffix.lower() == ".onnx":
        return True
    with open(path, "rb") as handle:
        return handle.read(1) == b"\x08"


def is_onnx_dir(path: Path) -> bool:
    """A directory with ONNX graphs (at its top or in ``onnx/``) and no PyTorch weights."""
    if any(p.suffix in _WEIGHT_SUFFIXES and p.is_file() for p in path.iterdir()):
        return False
    return bool(_graphs(path) or (path / "onnx").is_dir() and _graphs(path / "onnx"))


def _graphs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.onnx") if p.is_file())


def find_graph(path: Path) -> Path:
    """The graph file of a model path: the file itself, ``model.onnx``, or the folder's only ``.onnx``."""
    if path.is_file():
        return path
    folder = path if _graphs(path) else path / "onnx"
    graphs = _graphs(folder)
    if not graphs:
        raise ModelLoadError(f"{path}: no .onnx graph in the directory")
    if len(graphs) == 1:
        return graphs[0]
    if (folder / "model.onnx").is_file():
        return folder / "model.onnx"
    names = ", ".join(g.name for g in graphs)
    raise ModelLoadError(f"{path}: several ONNX graphs ({names}); pass the one to audit, e.g. {graphs[0]}")


def _companion_folder(graph: Path) -> Path:
    """The folder with ``config.json``: the graph's own, or its parent for the ``onnx/`` sub-folder layout."""
    for folder in (graph.parent, graph.parent.parent):
        if (folder / "config.json").is_file():
            return folder
    raise ModelLoadError(f"{graph}: no config.json beside the ONNX graph (or in its parent folder); it holds the label names")


def _external_files(model: Any, folder: Path) -> list[Path]:
    """Files that hold the graph's external initializer data."""
    files = set()
    for tensor in model.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                files.add(folder / entry.value)
    return sorted(files)


def graph_fingerprint(files: Sequence[Path]) -> str:
    """sha256 over the graph file and its external data files, in that order."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\x00")
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def graph_parameters(model: Any) -> int:
    """Elements of the graph's weight initializers (float or 8-bit), quantization scales and zero points left out."""
    total = 0
    for tensor in model.graph.initializer:
        if tensor.data_type in _WEIGHT_TYPES and not tensor.name.endswith(_QUANT_PARAMS):
            total += int(np.prod(tensor.dims)) if len(tensor.dims) else 1
    return total


def uses_dynamic_quantization(model: Any) -> bool:
    """True when the graph quantizes activations on the fly (``DynamicQuantizeLinear``)."""
    return any(node.op_type == "DynamicQuantizeLinear" for node in model.graph.node)


class OnnxClassifier(nn.Module):
    """A classifier graph run by ONNX Runtime, behind the ``model(**tensors).logits`` interface.

    Inputs the graph does not take are dropped; ``token_type_ids`` and ``attention_mask`` are
    made (zeros, ones) when the graph takes them and the tokenizer gave none. The session uses
    ``torch.get_num_threads()`` threads as set when it is made, and ONNX Runtime's full graph
    optimisations. ``to("cuda")`` switches to the CUDA provider when ONNX Runtime has it;
    otherwise the graph runs on the CPU and the logits go back to the inputs' device.

    A graph with dynamic quantization scales each activation tensor by its largest value over
    the whole batch, so (as for torch's dynamic int8, see ``QuantizedClassifier``) every row
    is run alone without its padding: a text gets the same logits in any batch.
    """

    def __init__(self, graph: str | Path, rows_alone: bool = False, threads: int | None = None) -> None:
        super().__init__()
        ort = import_onnxruntime()
        self.graph = Path(graph)
        self.rows_alone = rows_alone
        self.cache_salt = "rows-alone" if rows_alone else None
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(self.graph), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for bad graphs
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelLoadError(f"{self.graph}: ONNX Runtime cannot load the graph: {first}") from exc
        self.input_names = [i.name for i in self.session.get_inputs()]
        if "input_ids" not in self.input_names:
            raise ModelLoadError(f"{self.graph}: the graph takes {', '.join(self.input_names)}, not input_ids")
        outputs = [o.name for o in self.session.get_outputs()]
        self.output_name = "logits" if "logits" in outputs else outputs[0]
        self.providers = list(self.session.get_providers())
        self.runtime = f"onnxruntime {ort.__version__} ({self.providers[0]})"

    def to(self, *args: Any, **kwargs: Any) -> OnnxClassifier:
        """Use ONNX Runtime's CUDA provider for a CUDA device when it has one; stay on the CPU otherwise."""
        device = kwargs.get("device", args[0] if args else None)
        if device is not None and torch.device(device).type == "cuda":
            ort = import_onnxruntime()
            if "CUDAExecutionProvider" in ort.get_available_providers():
                self.session.set_providers(["CUDAExecutionProvider", "CPUExecutionProvider"])
                self.providers = list(self.session.get_providers())
                self.runtime = f"onnxruntime {ort.__version__} ({self.providers[0]})"
        return self

    def _feed(self, inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        arrays = {
            k: (v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)).astype(np.int64)
            for k, v in inputs.items()
            if v is not None
        }
        if "input_ids" not in arrays or arrays["input_ids"].ndim != 2:
            raise ModelLoadError(f"{self.graph}: an ONNX model takes input_ids of shape (batch, length)")
        ids = arrays["input_ids"]
        feed = {}
        for name in self.input_names:
            if name in arrays:
                feed[name] = arrays[name]
            elif name == "attention_mask":
                feed[name] = np.ones_like(ids)
            elif name == "token_type_ids":
                feed[name] = np.zeros_like(ids)
            else:
                raise ModelLoadError(f"{self.graph}: the graph needs an input {name!r} the tokenizer does not give")
        return feed

    def forward(self, **inputs: Any) -> SequenceClassifierOutput:
        """Logits ``(batch, labels)`` for the tokenizer's tensors, on the inputs' device."""
        devices = [v.device for v in inputs.values() if isinstance(v, torch.Tensor)]
        feed = self._feed(inputs)
        if self.rows_alone:
            mask = feed.get("attention_mask", np.ones_like(feed["input_ids"])).astype(bool)
            rows = [
                self.session.run([self.output_name], {k: v[i][mask[i]][None, :] for k, v in feed.items()})[0]
                for i in range(feed["input_ids"].shape[0])
            ]
            logits = np.concatenate(rows) if rows else np.zeros((0, 0), dtype=np.float32)
        else:
            logits = self.session.run([self.output_name], feed)[0]
        out = torch.from_numpy(np.ascontiguousarray(logits, dtype=np.float32))
        if devices and devices[0].type != "cpu":
            out = out.to(devices[0])
        return SequenceClassifierOutput(logits=out)

    def bundle_payload(self, bundle: ModelBundle) -> dict[str, Any]:
        """ONNX models are not packed: the directory (graph, config, tokenizer) is their format."""
        raise ModelLoadError(
            f"{bundle.path}: an ONNX model stays a directory (graph, config.json, tokenizer files); "
            "`pack` and .pt bundles are for PyTorch models"
        )


def load_onnx(path: Path, label_names: Any, max_length: int | None) -> ModelBundle:
    """Load an ONNX classifier directory (or graph file) as a bundle of kind ``"onnx"``."""
    from transformers import AutoTokenizer

    from trustaudit.models._config import PROVENANCE_FILE, config_labels, resolve_labels

    onnx = import_onnx()
    import_onnxruntime()
    graph = find_graph(path)
    folder = _companion_folder(graph)
    try:
        proto = onnx.load(str(graph), load_external_data=False)
    except Exception as exc:  # protobuf's DecodeError and onnx's own errors
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"{graph}: not a readable ONNX graph ({first})") from exc
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"{folder / 'config.json'}: not readable JSON ({exc})") from exc
    if not isinstance(config, dict):
        raise ModelLoadError(f"{folder / 'config.json'}: expected a JSON object")
    if not any((folder / name).is_file() for name in _TOKENIZER_FILES):
        raise ModelLoadError(f"{folder}: no tokenizer files beside config.json (tokenizer.json or vocab.txt...)")
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelLoadError(f"{folder}: no usable tokenizer files: {exc}") from exc
    module = OnnxClassifier(graph, rows_alone=uses_dynamic_quantization(proto))
    found = config_labels(config)
    out_shape = module.session.get_outputs()[0].shape
    if out_shape and isinstance(out_shape[-1], int) and out_shape[-1] != len(found):
        raise ModelLoadError(f"{graph}: the graph has {out_shape[-1]} outputs but config.json names {len(found)} labels")
    provenance: dict[str, Any] = {}
    if (folder / PROVENANCE_FILE).is_file():
        try:
            provenance = json.loads((folder / PROVENANCE_FILE).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelLoadError(f"{folder / PROVENANCE_FILE}: not readable JSON ({exc})") from exc
    files = [graph, *_external_files(proto, graph.parent)]
    return ModelBundle.build(
        module.eval(), tokenizer, resolve_labels(found, label_names, str(path)), config=config, kind="onnx", path=str(path),
        provenance=provenance, max_length=max_length, bytes_on_disk=sum(f.stat().st_size for f in files if f.is_file()),
        fingerprint=graph_fingerprint(files), n_params=graph_parameters(proto),
    )
