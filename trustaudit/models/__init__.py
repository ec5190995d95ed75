"""Model loading, the ``.pt`` bundle format, saving, and the label mapping of a model pair."""

from trustaudit.models._bundle import ModelBundle, register_kind, tokenizer_digest, tokenizer_files, weights_fingerprint, write_bundle
from trustaudit.models._config import PROVENANCE_FILE, config_labels, labels_are_generic, parse_labels
from trustaudit.models._loading import build_hf_model, bundle_bytes, bundle_from_bytes, bundle_payload, from_model, load_model, pack, save_bundle, save_hf_dir
from trustaudit.models._onnx import ONNX_HINT, OnnxClassifier, import_onnx, import_onnxruntime
from trustaudit.models._pair import ModelPair, label_permutation, load_pair

__all__ = [
    "ONNX_HINT",
    "PROVENANCE_FILE",
    "OnnxClassifier",
    "import_onnx",
    "import_onnxruntime",
    "ModelBundle",
    "ModelPair",
    "build_hf_model",
    "bundle_bytes",
    "bundle_from_bytes",
    "bundle_payload",
    "config_labels",
    "from_model",
    "label_permutation",
    "labels_are_generic",
    "load_model",
    "load_pair",
    "pack",
    "parse_labels",
    "register_kind",
    "save_bundle",
    "save_hf_dir",
    "tokenizer_digest",
    "tokenizer_files",
    "weights_fingerprint",
    "write_bundle",
]
