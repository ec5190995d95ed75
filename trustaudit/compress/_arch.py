"""What the compression methods need to know about each supported encoder family.

Layer pruning needs the encoder's layer list and the config field that counts it; AlAd
needs the encoder's width, whether it takes ``token_type_ids``, and where the
classification head's two linear layers live in the classifier's state dict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from trustaudit.exceptions import InvalidInputError
from trustaudit.models import ModelBundle


@dataclass(frozen=True)
class Architecture:
    """How one ``model_type`` of transformers lays out its encoder and classification head.

    ``layers`` is the path of the layer list under the base model (``model.base_model``);
    ``head_dense`` and ``head_out`` are state-dict prefixes, in the sequence classifier, of
    the head's hidden and output linear layers, applied to the first token's vector with
    ``head_activation`` between them.
    """

    model_type: str
    layers: str
    n_layers_key: str
    width_key: str
    token_types: bool
    head_dense: str
    head_out: str
    head_activation: str
    head_dropout_keys: tuple[str, ...]


_BERT_DROPOUT = ("classifier_dropout", "hidden_dropout_prob")
_ARCHITECTURES = {
    arch.model_type: arch
    for arch in (
        Architecture("bert", "encoder.layer", "num_hidden_layers", "hidden_size", True,
                     "bert.pooler.dense", "classifier", "tanh", _BERT_DROPOUT),
        Architecture("distilbert", "transformer.layer", "n_layers", "dim", False,
                     "pre_classifier", "classifier", "relu", ("seq_classif_dropout",)),
        Architecture("roberta", "encoder.layer", "num_hidden_layers", "hidden_size", True,
                     "classifier.dense", "classifier.out_proj", "tanh", _BERT_DROPOUT),
        Architecture("xlm-roberta", "encoder.layer", "num_hidden_layers", "hidden_size", True,
                     "classifier.dense", "classifier.out_proj", "tanh", _BERT_DROPOUT),
        Architecture("electra", "encoder.layer", "num_hidden_layers", "hidden_size", True,
                     "classifier.dense", "classifier.out_proj", "gelu", _BERT_DROPOUT),
    )
}
SUPPORTED = tuple(sorted(_ARCHITECTURES))


def architecture(bundle: ModelBundle, what: str = "model") -> Architecture:
    """The layout of a plain Hugging Face bundle; any other kind or family is an input error."""
    if bundle.kind != "hf":
        raise InvalidInputError(
            f"{what} {bundle.path}: compression needs a plain Hugging Face classifier, got a {bundle.kind!r} model"
        )
    model_type = bundle.config.get("model_type")
    arch = _ARCHITECTURES.get(str(model_type))
    if arch is None:
        raise InvalidInputError(
            f"{what} {bundle.path}: model type {model_type!r} is not supported for compression "
            f"(supported: {', '.join(SUPPORTED)})"
        )
    return arch


def layer_list(model: nn.Module, arch: Architecture) -> nn.ModuleList:
    """The encoder's list of transformer layers."""
    module: Any = model.base_model
    for part in arch.layers.split("."):
        module = getattr(module, part)
    return module


def layer_prefix(model: nn.Module, arch: Architecture) -> str:
    """State-dict prefix of the layer list in the classifier, e.g. ``bert.encoder.layer.``."""
    return f"{model.base_model_prefix}.{arch.layers}."


def width(config: dict[str, Any] | Any, arch: Architecture) -> int:
    """Hidden size of an encoder from its config (a dict or a config object)."""
    value = config.get(arch.width_key) if isinstance(config, dict) else getattr(config, arch.width_key)
    return int(value)


def head_dropout(config: dict[str, Any], arch: Architecture) -> float:
    """Dropout probability the classifier's own head uses."""
    for key in arch.head_dropout_keys:
        if config.get(key) is not None:
            return float(config[key])
    return 0.0


def encoder_inputs(tensors: dict[str, Any], arch: Architecture) -> dict[str, Any]:
    """The tokenizer outputs the encoder's forward accepts."""
    names = ("input_ids", "attention_mask", "token_type_ids") if arch.token_types else ("input_ids", "attention_mask")
    return {name: tensors[name] for name in names if name in tensors}
