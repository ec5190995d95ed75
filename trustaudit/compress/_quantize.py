"""Dynamic int8 quantization of a classifier's Linear layers (``torch.ao.quantization.quantize_dynamic``).

A bundle of kind ``"quantized"`` stores the float weights and re-quantizes them when it is
loaded: quantization is deterministic, so every load gives the same int8 model and the same
logits, and the file stays loadable with ``weights_only=True`` (packed int8 weights are not).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch import nn
from transformers.modeling_outputs import SequenceClassifierOutput

from trustaudit.compress._common import serialized_bytes
from trustaudit.exceptions import InvalidInputError
from trustaudit.models import ModelBundle, build_hf_model, register_kind
from trustaudit.models import tokenizer_files

__all__ = ["QuantizedClassifier", "quantize"]


class QuantizedClassifier(nn.Module):
    """A transformers classifier whose Linear layers run as dynamic int8; it stays on the CPU.

    int8 kernels exist only for the CPU, so ``to()`` leaves the module where it is and
    ``forward`` moves inputs to the CPU and the logits back to the inputs' device.

    Dynamic quantization scales each Linear layer's input by its largest value over the
    whole input tensor, so in a padded batch one row's logits would depend on the other
    rows and on the padding (on a fine-tuned MiniLM, 27 of 400 SNLI predictions changed
    between batches of 32 and of 8). ``forward`` therefore runs every row alone, without
    its padding: a text gets the same logits in any batch, as it would served on its own.
    """

    #: Part of the evaluation-cache key: outputs cached before rows ran alone are not reused.
    cache_salt = "rows-alone"

    def __init__(self, config: Mapping[str, Any], float_state: Mapping[str, torch.Tensor]) -> None:
        super().__init__()
        self.float_config = dict(config)
        self.float_state = {name: t.detach().cpu().clone() for name, t in float_state.items()}
        float_model = build_hf_model(self.float_config, self.float_state)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "torch.ao.quantization is deprecated", DeprecationWarning)
            warnings.filterwarnings("ignore", "torch.quantize_per_tensor", UserWarning)
            self.model = torch.ao.quantization.quantize_dynamic(
                float_model, {nn.Linear}, dtype=torch.qint8, inplace=True
            ).eval()

    @property
    def config(self) -> Any:
        """The wrapped model's transformers config."""
        return self.model.config

    def to(self, *args: Any, **kwargs: Any) -> QuantizedClassifier:
        """Stay on the CPU (dynamic int8 kernels run nowhere else)."""
        return self

    def _rows(self, inputs: Mapping[str, Any]) -> Iterator[tuple[torch.Tensor | slice, dict[str, Any]]]:
        """Each row's real tokens (its mask, or all) and its inputs without padding, on the CPU."""
        cpu = {k: v.cpu() if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}
        ids = cpu.get("input_ids")
        if not isinstance(ids, torch.Tensor) or ids.dim() != 2:
            raise InvalidInputError("a quantized model takes input_ids of shape (batch, length)")
        mask = cpu.get("attention_mask")
        for i in range(ids.shape[0]):
            keep = mask[i].bool() if isinstance(mask, torch.Tensor) else slice(None)
            yield keep, {
                k: v[i][keep].unsqueeze(0) if isinstance(v, torch.Tensor) and v.shape[:2] == ids.shape else v
                for k, v in cpu.items()
            }

    @staticmethod
    def _device(inputs: Mapping[str, Any]) -> torch.device | None:
        devices = [v.device for v in inputs.values() if isinstance(v, torch.Tensor)]
        return devices[0] if devices and devices[0].type != "cpu" else None

    def forward(self, **inputs: Any) -> SequenceClassifierOutput:
        """Logits for the tokenizer's tensors, each row run alone without its padding, on the inputs' device."""
        rows = [self.model(**row).logits for _, row in self._rows(inputs)]
        logits = torch.cat(rows) if rows else torch.empty(0, self.model.config.num_labels)
        device = self._device(inputs)
        return SequenceClassifierOutput(logits=logits if device is None else logits.to(device))

    def final_hidden_states(self, **inputs: Any) -> torch.Tensor:
        """The last layer's hidden states ``(batch, tokens, dim)``, each row run alone; zeros at padding.

        Read by the bias tests (:mod:`trustaudit.bias`), which pool over real tokens only.
        """
        rows = [(keep, self.model(**row, output_hidden_states=True).hidden_states[-1][0].float())
                for keep, row in self._rows(inputs)]
        shape = inputs["input_ids"].shape
        out = torch.zeros(shape[0], shape[1], rows[0][1].shape[-1] if rows else 0)
        for i, (keep, states) in enumerate(rows):
            out[i, keep] = states
        device = self._device(inputs)
        return out if device is None else out.to(device)

    def hidden_states(self, **inputs: Any) -> tuple[torch.Tensor, ...]:
        """Every hidden state ``(batch, tokens, width)``, each row run alone without its padding (zeros there)."""
        ids = inputs.get("input_ids")
        if not isinstance(ids, torch.Tensor) or ids.dim() != 2:
            raise InvalidInputError("a quantized model takes input_ids of shape (batch, length)")
        cpu = {k: v.cpu() if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}
        mask = cpu.get("attention_mask")
        per_row = []
        for i in range(ids.shape[0]):
            keep = mask[i].bool() if isinstance(mask, torch.Tensor) else torch.ones(ids.shape[1], dtype=torch.bool)
            row = {k: v[i][keep].unsqueeze(0) if isinstance(v, torch.Tensor) and v.shape[:2] == ids.shape else v
                   for k, v in cpu.items()}
            states = self.model(**row, output_hidden_states=True).hidden_states
            per_row.append((keep, states))
        out = []
        for k in range(len(per_row[0][1])):
            width = per_row[0][1][k].shape[-1]
            padded = torch.zeros(ids.shape[0], ids.shape[1], width)
            for i, (keep, states) in enumerate(per_row):
                padded[i, keep] = states[k][0]
            out.append(padded.to(ids.device))
        return tuple(out)

    def bundle_payload(self, bundle: ModelBundle) -> dict[str, Any]:
        """The bundle dictionary: float weights, config, tokenizer and provenance (tensors and strings)."""
        config = {
            **self.float_config,
            "id2label": {str(i): name for i, name in enumerate(bundle.labels)},
            "label2id": {name: i for i, name in enumerate(bundle.labels)},
        }
        return {
            "kind": "quantized",
            "config": json.dumps(config, sort_keys=True),
            "state_dict": self.float_state,
            "tokenizer_files": tokenizer_files(bundle.tokenizer),
            "labels": list(bundle.labels),
            "task": bundle.task,
            "provenance": json.dumps(dict(bundle.provenance), sort_keys=True),
            "fingerprint": bundle.fingerprint,
            "n_params": bundle.n_params,
            "extra": {"dtype": "qint8", "modules": "Linear"},
        }


def _build(payload: Mapping[str, Any]) -> nn.Module:
    return QuantizedClassifier(json.loads(payload["config"]), payload["state_dict"])


register_kind("quantized", _build)


def quantize(bundle: ModelBundle) -> ModelBundle:
    """Dynamic int8 quantization of every Linear layer of a plain Hugging Face classifier.

    Weights are int8 with one scale per tensor; activations are quantized on the fly, one
    input text at a time (see :class:`QuantizedClassifier`). The provenance records the
    float and int8 sizes (serialized state dicts) and the quantization engine, whose
    kernels decide the exact outputs.

    Parameters
    ----------
    bundle : ModelBundle
        A plain Hugging Face classifier (``kind == "hf"``).

    Returns
    -------
    ModelBundle
        The int8 model, of kind ``"quantized"``, with the sizes in its provenance.

    Raises
    ------
    InvalidInputError
        If ``bundle`` is not a :class:`ModelBundle` of a plain Hugging Face classifier.

    Examples
    --------
    >>> from trustaudit import load_model
    >>> from trustaudit.compress import quantize
    >>> int8 = quantize(load_model("models/base"))  # doctest: +SKIP
    >>> int8.kind  # doctest: +SKIP
    'quantized'
    >>> quantize("models/base")
    Traceback (most recent call last):
    ...
    trustaudit.exceptions.InvalidInputError: bundle must be a ModelBundle (see load_model), got str
    """
    if not isinstance(bundle, ModelBundle):
        raise InvalidInputError(f"bundle must be a ModelBundle (see load_model), got {type(bundle).__name__}")
    if bundle.kind != "hf":
        raise InvalidInputError(f"{bundle.path}: only a plain Hugging Face classifier can be quantized, got a {bundle.kind!r} model")
    float_state = bundle.model.state_dict()
    module = QuantizedClassifier(bundle.config, float_state)
    n_linear = sum(1 for m in bundle.model.modules() if isinstance(m, nn.Linear))
    float_bytes = serialized_bytes(float_state)
    int8_bytes = serialized_bytes(module.model.state_dict())
    engine = torch.backends.quantized.engine
    provenance = {
        "method": "dynamic-int8",
        "dtype": "qint8",
        "modules": "Linear",
        "linear_layers": n_linear,
        "engine": engine,
        "torch": torch.__version__,
        "float_bytes": float_bytes,
        "int8_bytes": int8_bytes,
        "base_fingerprint": bundle.fingerprint,
    }
    fingerprint = hashlib.sha256(f"dynamic-qint8|{bundle.fingerprint}".encode()).hexdigest()
    return ModelBundle.build(
        module, bundle.tokenizer, bundle.labels, config=bundle.config, kind="quantized", task=bundle.task, provenance=provenance,
        max_length=bundle.max_length, fingerprint=fingerprint, n_params=bundle.n_params,
    )
