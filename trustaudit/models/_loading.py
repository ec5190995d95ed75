"""Loading models from Hugging Face directories and ``.pt`` files, told apart by content."""

from __future__ import annotations

import io
import json
import os
import pickle
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trustaudit._io import write_text_atomic
from trustaudit._deprecation import renamed_keywords
from trustaudit.exceptions import ModelLoadError, UnsafeModelError
from trustaudit.models._config import (
    PROVENANCE_FILE,
    config_dict,
    config_labels,
    dir_bytes,
    max_length_for,
    resolve_labels,
)
from trustaudit.models._bundle import (
    BUNDLE_FORMAT,
    BUNDLE_VERSION,
    TASKS,
    ModelBundle,
    kind_builder,
    load_tokenizer_files,
    register_kind,
    tokenizer_files,
    weights_fingerprint,
    write_bundle,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_MAGIC = b"\x80"
_PROBE_SENTENCE = "the cat is in the house"
_MIN_VOCABULARY = 32
_NO_TOKENIZER = "no usable tokenizer files (vocab.txt, tokenizer.json …)"


def check_tokenizer(tokenizer: Any, where: str, hint: str = "; pass `tokenizer`=DIR") -> Any:
    """Return ``tokenizer`` if it can tokenize text, else raise :class:`ModelLoadError`.

    transformers builds a tokenizer with only its special tokens from a directory that has
    no tokenizer files; every word then becomes ``[UNK]`` and every prediction is silently
    wrong. A usable tokenizer has a vocabulary of plausible size and turns a plain English
    probe sentence into mostly known tokens.
    """
    try:
        vocab = tokenizer.get_vocab()
        special = set(getattr(tokenizer, "all_special_tokens", ()) or ())
        ids = tokenizer(_PROBE_SENTENCE, add_special_tokens=False)["input_ids"]
    except Exception as exc:  # a tokenizer object of any make; none of its failures is ours
        raise ModelLoadError(f"{where}: {_NO_TOKENIZER}{hint} (the tokenizer fails: {type(exc).__name__}: {exc})") from exc
    words = sum(1 for token in vocab if token not in special)
    unknown = getattr(tokenizer, "unk_token_id", None)
    known = [i for i in ids if i != unknown]
    if words < _MIN_VOCABULARY or not ids or 2 * len(known) < len(ids):
        raise ModelLoadError(
            f"{where}: {_NO_TOKENIZER}{hint} (the tokenizer found knows {words} words besides its special tokens, "
            f"and {len(ids) - len(known)} of the {len(ids)} tokens of {_PROBE_SENTENCE!r} are unknown to it)"
        )
    return tokenizer


def load_tokenizer(path: str | os.PathLike[str]) -> Any:
    """A tokenizer from a directory of tokenizer files (``--tokenizer DIR``), checked as usable."""
    from transformers import AutoTokenizer

    path = Path(path)
    if not path.is_dir():
        raise ModelLoadError(f"`tokenizer`={path}: not a directory of tokenizer files")
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelLoadError(f"`tokenizer`={path}: {_NO_TOKENIZER} ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from exc
    return check_tokenizer(tokenizer, f"`tokenizer`={path}", hint="")


def given_tokenizer(tokenizer: Any) -> Any:
    """``tokenizer`` loaded when it is a path; an object passes through, ``None`` stays ``None``."""
    if isinstance(tokenizer, (str, os.PathLike)):
        return load_tokenizer(tokenizer)
    return tokenizer


def _weights_error(path: Path, weights: list[Path], exc: Exception) -> ModelLoadError:
    """The one-line error for weights that transformers could not load."""
    where = weights[0] if len(weights) == 1 else path
    text = " ".join(str(exc).split())
    code = re.search(r"GLOBAL ([\w.]+)", text)
    if isinstance(exc, pickle.UnpicklingError) and code:
        return UnsafeModelError(
            f"{where}: the weights are a pickle that calls {code.group(1)} when loaded, so they are refused "
            "(trustaudit never runs code from a weights file); convert them to model.safetensors where you trust the file"
        )
    if isinstance(exc, pickle.UnpicklingError):
        return ModelLoadError(f"{where}: not a weights file torch can read safely (a damaged or foreign pickle)")
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return ModelLoadError(f"{where}: the weights are damaged or truncated ({type(exc).__name__}: {first[:160]})")


def build_hf_model(config: Mapping[str, Any], state_dict: Mapping[str, torch.Tensor] | None = None) -> nn.Module:
    """A sequence-classification module from a config dict, with ``state_dict`` loaded strictly."""
    from transformers import CONFIG_MAPPING, AutoModelForSequenceClassification

    model_type = config.get("model_type")
    if model_type not in CONFIG_MAPPING:
        raise ModelLoadError(f"model type {model_type!r} is not known to the installed transformers")
    cfg = CONFIG_MAPPING[model_type].from_dict(dict(config))
    model = AutoModelForSequenceClassification.from_config(cfg)
    if state_dict is not None:
        floats = [t.dtype for t in state_dict.values() if isinstance(t, torch.Tensor) and t.is_floating_point()]
        if floats:
            model.to(floats[0])
        try:
            model.load_state_dict(dict(state_dict), strict=True)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0]
            raise ModelLoadError(f"weights do not fit the configured architecture: {first}") from exc
    return model.eval()


register_kind("hf", lambda payload: build_hf_model(json.loads(payload["config"]), payload["state_dict"]))


def _load_hf_dir(path: Path, label_names: Any, max_length: int | None, tokenizer: Any = None) -> ModelBundle:
    from safetensors import SafetensorError
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    if not (path / "config.json").is_file():
        raise ModelLoadError(f"{path}: a directory without config.json is not a Hugging Face model directory")
    weights = [p for p in path.iterdir() if p.suffix in (".safetensors", ".bin") and p.is_file()]
    if not weights:
        raise ModelLoadError(f"{path}: no weights (model.safetensors or pytorch_model.bin) in the directory")
    try:
        model, info = AutoModelForSequenceClassification.from_pretrained(
            str(path), local_files_only=True, output_loading_info=True
        )
    except (OSError, ValueError, KeyError) as exc:
        raise ModelLoadError(f"{path}: cannot load as a sequence-classification model: {exc}") from exc
    except (SafetensorError, pickle.UnpicklingError, RuntimeError, EOFError) as exc:
        raise _weights_error(path, weights, exc) from exc
    head_missing = [key for key in info.get("missing_keys", []) if "classifier" in key or "score" in key]
    if head_missing:
        raise ModelLoadError(
            f"{path}: the weights have no classification head ({head_missing[0]} is missing); "
            "fine-tune a classifier first (this directory looks like a bare encoder)"
        )
    if tokenizer is None:
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelLoadError(f"{path}: {_NO_TOKENIZER}; pass `tokenizer`=DIR") from exc
        check_tokenizer(tokenizer, str(path))
    model.eval()
    config = config_dict(model.config)
    provenance: dict[str, Any] = {}
    if (path / PROVENANCE_FILE).is_file():
        try:
            provenance = json.loads((path / PROVENANCE_FILE).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelLoadError(f"{path / PROVENANCE_FILE}: not readable JSON ({exc})") from exc
        if not isinstance(provenance, dict):
            raise ModelLoadError(f"{path / PROVENANCE_FILE}: expected a JSON object, got {type(provenance).__name__}")
    return ModelBundle.build(
        model, tokenizer, resolve_labels(config_labels(config), label_names, str(path)), config=config, kind="hf", path=str(path),
        provenance=provenance, max_length=max_length, bytes_on_disk=dir_bytes(path),
    )


def _bundle_from_payload(
    payload: Mapping[str, Any], path: str, size: int, label_names: Any, max_length: int | None, given_tokenizer: Any = None
) -> ModelBundle:
    if payload.get("format_version", 0) > BUNDLE_VERSION:
        raise ModelLoadError(
            f"{path}: bundle format version {payload.get('format_version')} is newer than this trustaudit reads "
            f"({BUNDLE_VERSION}); upgrade trustaudit"
        )
    try:
        config = json.loads(payload["config"])
        stored_labels = tuple(payload["labels"])
        kind = str(payload.get("kind", "hf"))
        provenance = json.loads(payload.get("provenance") or "{}")
        tokenizer = given_tokenizer if given_tokenizer is not None else load_tokenizer_files(payload["tokenizer_files"])
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"{path}: the bundle is incomplete or damaged ({exc!r})") from exc
    if given_tokenizer is None:
        check_tokenizer(tokenizer, path)
    builder = kind_builder(kind)
    try:
        model = builder.build(payload).eval()
        fingerprint = weights_fingerprint(payload["state_dict"]) if kind == "hf" else str(payload.get("fingerprint") or weights_fingerprint(model.state_dict()))
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ModelLoadError(f"{path}: the bundle's weights do not build its model ({type(exc).__name__}: {exc})") from exc
    task = payload.get("task")
    return ModelBundle.build(
        model, tokenizer, resolve_labels(stored_labels, label_names, path), config=config, kind=kind, path=path,
        task=task if task in TASKS else None, provenance=provenance, max_length=max_length, bytes_on_disk=size,
        fingerprint=fingerprint, n_params=payload.get("n_params") or None,
    )


def _load_pickled(path: Path, tokenizer: Any, label_names: Any, max_length: int | None) -> ModelBundle:
    warnings.warn(
        f"{path}: unpickling a whole module runs arbitrary code from the file (`allow_pickle`)",
        stacklevel=3,
    )
    obj = torch.load(str(path), map_location="cpu", weights_only=False)
    if isinstance(obj, Mapping) and "model" in obj:
        if tokenizer is None:
            tokenizer = obj.get("tokenizer")
            if tokenizer is not None:
                check_tokenizer(tokenizer, str(path))
        obj = obj["model"]
    if not isinstance(obj, nn.Module) or not hasattr(obj, "config"):
        raise ModelLoadError(f"{path}: the pickle holds {type(obj).__name__}, not a transformers classification model")
    if tokenizer is None:
        raise ModelLoadError(f"{path}: a pickled module carries no tokenizer; pass `tokenizer`=DIR")
    tokenizer = given_tokenizer(tokenizer)
    obj.eval()
    config = config_dict(obj.config)
    return ModelBundle.build(
        obj, tokenizer, resolve_labels(config_labels(config), label_names, str(path)), config=config, kind="pickled", path=str(path),
        provenance={"source": "pickled module"}, max_length=max_length, bytes_on_disk=path.stat().st_size,
    )


@renamed_keywords(labels="label_names")
def load_model(
    path: str | os.PathLike[str] | ModelBundle,
    label_names: str | Sequence[str] | None = None,
    *,
    allow_pickle: bool = False,
    tokenizer: Any = None,
    max_length: int | None = None,
) -> ModelBundle:
    """Load a classifier from a Hugging Face directory, an ONNX directory, a ``.pt`` bundle, a Hub id or (opt-in) a pickled module.

    The format is told apart by content, not by extension. Bundles are read with
    ``torch.load(weights_only=True)``; a file that would need unpickling code is refused
    with :class:`UnsafeModelError` unless ``allow_pickle=True``. ``label_names`` renames the
    output classes (needed when the config only has ``LABEL_0``...). ``tokenizer`` (a
    directory or a tokenizer object) replaces the model's own tokenizer, for every kind of
    model; a tokenizer that cannot tokenize text is refused with :class:`ModelLoadError`. A
    path that does not exist but reads as ``org/name[@revision]`` is looked up in the Hugging
    Face Hub cache (see :mod:`trustaudit.models._hub`); a directory with ``model.onnx`` runs
    in ONNX Runtime.

    Parameters
    ----------
    path : str, path-like or ModelBundle
        The model: a directory, a ``.pt`` bundle, a Hub id found in the local cache, or a
        bundle already loaded (returned as is unless another option is given).
    label_names : str or sequence of str, optional
        Names of the output classes in order (a comma-separated string or a sequence).
        Default: the model's config.
    allow_pickle : bool, default False
        Allow a file that needs unpickling code (only for files you trust).
    tokenizer : str, path-like or tokenizer, optional
        A tokenizer directory or object replacing the model's own. Default the model's.
    max_length : int, optional
        Longest input in tokens; longer inputs are truncated. Default: the model's limit.

    Returns
    -------
    ModelBundle
        The model, its tokenizer, label names, fingerprint and provenance.

    Raises
    ------
    ModelLoadError
        If ``path`` does not exist or cannot be loaded as a classifier, or the tokenizer
        cannot tokenize text.
    UnsafeModelError
        If the file needs unpickling code and ``allow_pickle`` is false.

    Examples
    --------
    >>> from trustaudit import load_model
    >>> model = load_model("models/small", label_names="contradiction,entailment,neutral")  # doctest: +SKIP
    >>> model.labels  # doctest: +SKIP
    ('contradiction', 'entailment', 'neutral')
    >>> load_model("no-such-model.pt")
    Traceback (most recent call last):
    ...
    trustaudit.exceptions.ModelLoadError: no-such-model.pt: no such file or directory
    """
    if isinstance(path, ModelBundle):
        if label_names is None and max_length is None and tokenizer is None:
            return path
        own = given_tokenizer(tokenizer) if tokenizer is not None else path.tokenizer
        return replace(
            path,
            tokenizer=own,
            labels=resolve_labels(path.labels, label_names, path.path),
            max_length=max_length_for(own, path.config, max_length),
        )
    given, path = str(path), Path(path)
    if not path.exists():
        return _load_by_name(given, label_names, max_length, tokenizer)
    if path.is_dir():
        from trustaudit.models._onnx import is_onnx_dir

        if is_onnx_dir(path):
            return _load_onnx(path, label_names, max_length, tokenizer)
        return _load_hf_dir(path, label_names, max_length, given_tokenizer(tokenizer))
    from trustaudit.models._onnx import looks_like_onnx_file

    if looks_like_onnx_file(path):
        return _load_onnx(path, label_names, max_length, tokenizer)
    with open(path, "rb") as handle:
        head = handle.read(4)
    if not (head.startswith(_ZIP_MAGIC) or head.startswith(_PICKLE_MAGIC)):
        raise ModelLoadError(
            f"{path}: not a model file trustaudit reads (expected a Hugging Face directory or a .pt bundle "
            "written by `trustaudit pack`)"
        )
    try:
        payload = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if allow_pickle:
            return _load_pickled(path, tokenizer, label_names, max_length)
        raise UnsafeModelError(
            f"{path}: this file is a pickled Python object, and loading it would run code from the file; "
            "convert it with `trustaudit pack`, or pass `allow_pickle` if you trust its author"
        ) from exc
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelLoadError(f"{path}: the file is damaged or not a torch file ({first})") from exc
    if isinstance(payload, Mapping) and payload.get("format") == BUNDLE_FORMAT:
        return _bundle_from_payload(payload, str(path), path.stat().st_size, label_names, max_length, given_tokenizer(tokenizer))
    if isinstance(payload, Mapping) and payload and all(isinstance(v, torch.Tensor) for v in payload.values()):
        raise ModelLoadError(
            f"{path}: a bare state dict has no config or tokenizer; save the model with save_pretrained and "
            "run `trustaudit pack` on the directory"
        )
    raise ModelLoadError(f"{path}: a torch file, but not a trustaudit bundle")


def _load_by_name(name: str, label_names: Any, max_length: int | None, tokenizer: Any = None) -> ModelBundle:
    """A path that does not exist: a Hugging Face Hub id (``org/name[@revision]``) from the Hub cache, else an error."""
    from trustaudit.models._hub import parse_hub_id, resolve_hub_id

    if parse_hub_id(name) is None:
        raise ModelLoadError(f"{Path(name)}: no such file or directory")
    hub = resolve_hub_id(name)
    bundle = load_model(hub.path, label_names, max_length=max_length, tokenizer=tokenizer)
    return replace(bundle, path=name, source=hub.describe())


def _load_onnx(path: Path, label_names: Any, max_length: int | None, tokenizer: Any) -> ModelBundle:
    """An ONNX Runtime model, its tokenizer checked as usable (or replaced by ``tokenizer``)."""
    from trustaudit.models._onnx import load_onnx

    bundle = load_onnx(path, label_names, max_length)
    own = given_tokenizer(tokenizer) if tokenizer is not None else check_tokenizer(bundle.tokenizer, str(path))
    if own is bundle.tokenizer:
        return bundle
    return replace(bundle, tokenizer=own, max_length=max_length_for(own, bundle.config, max_length))


def bundle_payload(bundle: ModelBundle) -> dict[str, Any]:
    """The dictionary a bundle file stores for a plain Hugging Face model."""
    if bundle.kind != "hf":
        raise ModelLoadError(f"a {bundle.kind!r} model is saved by the code that made it, not as a plain bundle")
    config = dict(bundle.config)
    config["id2label"] = {str(i): name for i, name in enumerate(bundle.labels)}
    config["label2id"] = {name: i for i, name in enumerate(bundle.labels)}
    state = {name: t.detach().cpu().clone() for name, t in bundle.model.state_dict().items()}
    return {
        "kind": "hf",
        "config": json.dumps(config, sort_keys=True),
        "state_dict": state,
        "tokenizer_files": tokenizer_files(bundle.tokenizer),
        "labels": list(bundle.labels),
        "task": bundle.task,
        "provenance": json.dumps(dict(bundle.provenance), sort_keys=True),
        "extra": {},
    }


def save_bundle(
    bundle: ModelBundle,
    path: str | os.PathLike[str],
    *,
    task: str | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``bundle`` as one ``.pt`` file that loads with ``weights_only=True``.

    ``task`` (``single``/``pair``) and ``provenance`` (how the model was made) are recorded.

    Parameters
    ----------
    bundle : ModelBundle
        A plain Hugging Face model (``kind == "hf"``).
    path : str or path-like
        The ``.pt`` file to write.
    task : {"single", "pair"}, optional
        Whether the model reads one text or a pair. Default: the bundle's.
    provenance : mapping, optional
        How the model was made (JSON-like). Default: the bundle's.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ModelLoadError
        If ``task`` is not ``single`` or ``pair``, or the bundle is not a plain model.

    Examples
    --------
    >>> from trustaudit import load_model, save_bundle
    >>> model = load_model("models/small")  # doctest: +SKIP
    >>> save_bundle(model, "small.pt", task="pair", provenance={"method": "distilled"})  # doctest: +SKIP
    PosixPath('small.pt')
    >>> load_model("small.pt").provenance["method"]  # doctest: +SKIP
    'distilled'
    """
    if task is not None and task not in TASKS:
        raise ModelLoadError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    if task is not None or provenance is not None:
        bundle = replace(
            bundle,
            task=task if task is not None else bundle.task,
            provenance=dict(provenance) if provenance is not None else bundle.provenance,
        )
    save = getattr(bundle.model, "bundle_payload", None)
    payload = save(bundle) if callable(save) else bundle_payload(bundle)
    write_bundle(path, payload)
    return Path(path)


def bundle_bytes(bundle: ModelBundle) -> bytes:
    """The bundle file of ``bundle`` as bytes, to hand a model to another process without a path.

    The same dictionary :func:`save_bundle` writes (the model's own ``bundle_payload`` for
    compressed kinds), so :func:`bundle_from_bytes` reads it with ``weights_only=True``.
    Raises :class:`ModelLoadError` for a model that has no bundle form (ONNX).
    """
    save = getattr(bundle.model, "bundle_payload", None)
    payload = save(bundle) if callable(save) else bundle_payload(bundle)
    buffer = io.BytesIO()
    torch.save({"format": BUNDLE_FORMAT, "format_version": BUNDLE_VERSION, **payload}, buffer)
    return buffer.getvalue()


@renamed_keywords(labels="label_names")
def bundle_from_bytes(
    data: bytes,
    *,
    path: str = "<bytes>",
    label_names: Sequence[str] | None = None,
    max_length: int | None = None,
    bytes_on_disk: int | None = None,
) -> ModelBundle:
    """Rebuild a model from :func:`bundle_bytes` (``weights_only=True``: no pickled code runs).

    ``path``, ``label_names``, ``max_length`` and ``bytes_on_disk`` restore what the original
    bundle said of itself, so the rebuilt one describes itself and keys the evaluation cache
    the same way.
    """
    try:
        payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as exc:
        raise ModelLoadError(f"{path}: not a trustaudit bundle ({type(exc).__name__}: {exc})") from exc
    if not isinstance(payload, Mapping) or payload.get("format") != BUNDLE_FORMAT:
        raise ModelLoadError(f"{path}: the bytes hold a torch file, but not a trustaudit bundle")
    size = len(data) if bytes_on_disk is None else bytes_on_disk
    return _bundle_from_payload(payload, path, size, list(label_names) if label_names is not None else None, max_length)


def save_hf_dir(bundle: ModelBundle, path: str | os.PathLike[str]) -> Path:
    """Save a plain Hugging Face model as a ``save_pretrained`` directory with its label names.

    Its provenance (how trustaudit made it) goes beside the weights in ``trustaudit_provenance.json``,
    which :func:`load_model` reads back; transformers ignores the file.
    """
    if bundle.kind != "hf":
        raise ModelLoadError(f"a {bundle.kind!r} model cannot be saved as a plain Hugging Face directory")
    path = Path(path)
    model = bundle.model
    model.config.id2label = dict(enumerate(bundle.labels))
    model.config.label2id = {name: i for i, name in enumerate(bundle.labels)}
    model.save_pretrained(str(path))
    bundle.tokenizer.save_pretrained(str(path))
    if bundle.provenance:
        write_text_atomic(path / PROVENANCE_FILE, json.dumps(dict(bundle.provenance), indent=1, sort_keys=True))
    return path


@renamed_keywords(labels="label_names")
def pack(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    label_names: str | Sequence[str] | None = None,
    task: str | None = None,
    tokenizer: Any = None,
) -> ModelBundle:
    """Pack a Hugging Face model directory into a single ``.pt`` bundle and return it loaded.

    ``tokenizer`` (a directory) is packed instead of the directory's own tokenizer files.
    """
    bundle = load_model(source, label_names=label_names, tokenizer=tokenizer)
    save_bundle(bundle, out, task=task)
    return load_model(out)


@renamed_keywords(labels="label_names")
def from_model(
    model: nn.Module,
    tokenizer: Any,
    label_names: Sequence[str] | None = None,
    *,
    task: str | None = None,
    provenance: Mapping[str, Any] | None = None,
    path: str = "<in memory>",
    max_length: int | None = None,
) -> ModelBundle:
    """Wrap an in-memory transformers classifier and its tokenizer as a :class:`ModelBundle`.

    Parameters
    ----------
    model : torch.nn.Module
        A transformers sequence-classification model; it is put in eval mode.
    tokenizer : tokenizer
        Its tokenizer.
    label_names : sequence of str, optional
        Names of the outputs in order. Default: the model config's ``id2label``.
    task : {"single", "pair"}, optional
        Whether the model reads one text or a pair. Default unknown.
    provenance : mapping, optional
        How the model was made. Default empty.
    path : str, default "<in memory>"
        The name shown for the model in results and reports.
    max_length : int, optional
        Longest input in tokens. Default: the tokenizer's and config's limit.

    Returns
    -------
    ModelBundle
        The bundle, fingerprinted by its weights.

    Raises
    ------
    ModelLoadError
        If the number of ``label_names`` is not the model's number of outputs.

    Examples
    --------
    >>> from transformers import AutoModelForSequenceClassification, AutoTokenizer  # doctest: +SKIP
    >>> from trustaudit.models import from_model
    >>> model = AutoModelForSequenceClassification.from_pretrained("./my-model", local_files_only=True)  # doctest: +SKIP
    >>> tokenizer = AutoTokenizer.from_pretrained("./my-model", local_files_only=True)  # doctest: +SKIP
    >>> bundle = from_model(model, tokenizer, ["negative", "positive"], task="single")  # doctest: +SKIP
    >>> bundle.labels  # doctest: +SKIP
    ('negative', 'positive')
    """
    config = config_dict(model.config)
    names = tuple(label_names) if label_names is not None else config_labels(config)
    if len(names) != int(config.get("num_labels", len(names))):
        raise ModelLoadError(f"{len(names)} label names for a model with {config.get('num_labels')} outputs")
    model.eval()
    return ModelBundle.build(
        model, tokenizer, names, config=config, kind="hf", path=path, task=task, provenance=provenance, max_length=max_length,
    )
