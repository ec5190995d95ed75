"""ASC, application-specific compression: find the encoder layers that barely change their
input on the task's data, delete them, and fine-tune what is left.

Hidden state ``0`` is the embeddings' output and state ``i`` (1 <= i <= L) is the output of
encoder layer ``i - 1`` (layers are numbered from 0, as in ``model.bert.encoder.layer``; the
paper numbers them from 1, so its layer ``i`` is our ``i - 1`` and produces state ``i``).
A state very similar to an earlier state marks the layer that produced it as redundant.

Defaults follow the ASC paper and its authors' code: a state is redundant when its similarity
to a kept earlier state is at least ``threshold - margin`` with ``margin = 0.01`` (the code
subtracts 0.01 from the threshold it is given), and the pruned model is re-fine-tuned with
Adam at a constant learning rate of 1e-5, batch 32, for 5 epochs on NLI data and 10 on
paraphrase identification. ``margin=0, optimizer="adamw", lr=5e-5, epochs=2`` is the rule
and recipe trustaudit used before.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from trustaudit._evaluation import resolve_device
from trustaudit._progress import bar
from trustaudit._training import OPTIMIZERS, fine_tune
from trustaudit.compress._arch import architecture, layer_list, layer_prefix
from trustaudit.compress._common import (
    TokenBatches,
    check_positive,
    in_label_order,
    masked_token_mean,
    serialized_bytes,
    take_rows,
)
from trustaudit.data import Dataset
from trustaudit.exceptions import InvalidInputError
from trustaudit.models import ModelBundle, build_hf_model, from_model

__all__ = [
    "PAPER_EPOCHS",
    "PAPER_LR",
    "TASK_KINDS",
    "ASCInfo",
    "asc",
    "layer_similarity",
    "prune_layers",
    "redundant_layers",
    "resolve_epochs",
    "task_kind_from_labels",
]

#: The ASC paper's re-fine-tuning epochs by kind of task.
PAPER_EPOCHS: dict[str, int] = {"nli": 5, "paraphrase": 10}
#: The ASC paper's re-fine-tuning learning rate (Adam, constant, batch 32).
PAPER_LR = 1e-5
TASK_KINDS = tuple(PAPER_EPOCHS)
#: The paper's margin: its code removes a state at ``similarity >= threshold - 0.01``.
PAPER_MARGIN = 0.01

#: Label-name sets (lower case) that identify a kind of task; anything else is not guessed.
_KIND_LABELS: dict[str, tuple[frozenset[str], ...]] = {
    "nli": (
        frozenset({"entailment", "neutral", "contradiction"}),
        frozenset({"entailment", "not_entailment"}),
    ),
    "paraphrase": (
        frozenset({"equivalent", "not_equivalent"}),
        frozenset({"duplicate", "not_duplicate"}),
        frozenset({"paraphrase", "not_paraphrase"}),
    ),
}


def task_kind_from_labels(label_names: Sequence[str]) -> str | None:
    """``nli`` or ``paraphrase`` when the label names are exactly one of the known sets, else ``None``.

    NLI: {entailment, neutral, contradiction} (SNLI, MNLI) or {entailment, not_entailment}
    (RTE, QNLI); paraphrase: {equivalent, not_equivalent} (MRPC), {duplicate, not_duplicate}
    (QQP) or {paraphrase, not_paraphrase}. Matched case-insensitively; no partial matches.
    """
    names = frozenset(str(n).lower() for n in label_names)
    for kind, sets in _KIND_LABELS.items():
        if names in sets:
            return kind
    return None


@dataclass(frozen=True, eq=False)
class ASCInfo:
    """What ASC measured and did.

    ``similarity[i, j]`` is the mean token cosine similarity of hidden states ``i`` and ``j``
    (state 0: embeddings, state ``i``: output of layer ``i - 1``). ``layers_removed`` are
    0-based encoder layer indices of the base model (:attr:`layers_removed_paper` numbers
    them from 1, as the paper does). ``threshold`` and ``margin`` are ``None`` when
    ``n_remove`` chose the layers; a state was removed at similarity ``>= threshold - margin``.
    ``task_kind`` is ``nli``, ``paraphrase`` or ``None`` and ``task_kind_source`` says how
    it was known (``given``, ``labels`` or ``None``); ``epochs_source`` is ``given`` or
    ``paper`` (the paper's epochs for the task kind). Sizes are the serialized float state
    dicts.
    """

    similarity: np.ndarray
    layers_removed: tuple[int, ...]
    layers_before: int
    layers_after: int
    threshold: float | None
    margin: float | None
    n_remove: int | None
    task_kind: str | None
    task_kind_source: str | None
    epochs_source: str
    optimizer: str
    lr: float
    batch_size: int
    params_before: int
    params_after: int
    bytes_before: int
    bytes_after: int
    rows: int
    epochs: float
    distill: bool
    train_steps: int
    train_losses: tuple[float, ...]
    similarity_seconds: float
    train_seconds: float

    @property
    def layers_removed_paper(self) -> tuple[int, ...]:
        """The removed layers numbered from 1, as the ASC paper numbers them."""
        return tuple(i + 1 for i in self.layers_removed)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (the similarity matrix as a nested list), stored as the bundle's provenance."""
        return {
            "method": "asc",
            "threshold": self.threshold,
            "margin": self.margin,
            "n_remove": self.n_remove,
            "layers_removed": list(self.layers_removed),
            "layers_removed_1based": list(self.layers_removed_paper),
            "task_kind": self.task_kind,
            "task_kind_source": self.task_kind_source,
            "epochs_source": self.epochs_source,
            "optimizer": self.optimizer,
            "lr": self.lr,
            "batch_size": self.batch_size,
            "layers_before": self.layers_before,
            "layers_after": self.layers_after,
            "similarity": [[round(float(x), 6) for x in row] for row in self.similarity],
            "params_before": self.params_before,
            "params_after": self.params_after,
            "bytes_before": self.bytes_before,
            "bytes_after": self.bytes_after,
            "rows": self.rows,
            "epochs": self.epochs,
            "distill": self.distill,
            "train_steps": self.train_steps,
            "train_losses": [round(x, 6) for x in self.train_losses],
            "similarity_seconds": round(self.similarity_seconds, 3),
            "train_seconds": round(self.train_seconds, 3),
        }


def layer_similarity(
    bundle: ModelBundle,
    dataset: Dataset,
    *,
    batch_size: int = 32,
    max_rows: int | None = None,
    device: str = "auto",
    progress: bool | None = None,
) -> np.ndarray:
    """The ``(L+1, L+1)`` matrix of mean token cosine similarity between hidden states.

    For every example, the cosine of the two states' vectors is averaged over its real
    tokens (attention mask 1, special tokens included); the matrix is the mean over
    examples. Runs the data through the model once, under ``inference_mode``.
    """
    arch = architecture(bundle)
    data = take_rows(dataset, max_rows)
    n_layers = len(layer_list(bundle.model, arch))
    dev = resolve_device(device)
    model = bundle.model.to(dev).eval()
    batches = TokenBatches.build(bundle.tokenizer, data, bundle.max_length, batch_size)
    total = torch.zeros(n_layers + 1, n_layers + 1, dtype=torch.float64)
    with torch.inference_mode(), bar(len(data), "layer similarity", progress, unit="text") as progress_bar:
        for batch in batches.batches:
            tensors = batches.tensors(batch, dev)
            states = model(**tensors, output_hidden_states=True).hidden_states
            if states is None or len(states) != n_layers + 1:
                raise InvalidInputError(f"{bundle.path}: the model did not return its {n_layers + 1} hidden states")
            unit = F.normalize(torch.stack(states).float(), dim=-1)
            cosine = torch.einsum("ibtd,jbtd->btij", unit, unit)
            total += masked_token_mean(cosine, tensors["attention_mask"]).double().sum(dim=0).cpu()
            progress_bar.update(len(batch))
    return (total / len(data)).numpy()


def redundant_layers(
    similarity: np.ndarray | Sequence[Sequence[float]],
    threshold: float = 0.9,
    n_remove: int | None = None,
    margin: float = PAPER_MARGIN,
) -> tuple[int, ...]:
    """The 0-based encoder layers to delete, chosen from a state similarity matrix.

    Threshold rule: walk the states in order, keeping state 0; state ``j`` whose similarity
    to any kept earlier state is ``>= threshold - margin`` marks layer ``j - 1`` redundant,
    otherwise ``j`` is kept. ``margin=0.01`` is the ASC authors' code (it subtracts 0.01
    from the threshold); ``margin=0`` compares with ``threshold`` itself.
    ``n_remove=K`` replaces the threshold (and margin): K times, delete the layer whose
    output is most similar to its nearest kept predecessor state (the state it would read
    once the layers between are gone); ties go to the later layer.
    """
    sim = np.asarray(similarity, dtype=np.float64)
    if sim.ndim != 2 or sim.shape[0] != sim.shape[1] or sim.shape[0] < 2:
        raise InvalidInputError(f"similarity must be a square (L+1)x(L+1) matrix with L >= 1, got shape {sim.shape}")
    if not np.all(np.isfinite(sim)):
        raise InvalidInputError("similarity holds NaN or infinite values")
    n_layers = sim.shape[0] - 1
    if n_remove is not None:
        if isinstance(n_remove, bool) or not isinstance(n_remove, (int, np.integer)) or not 1 <= n_remove < n_layers:
            raise InvalidInputError(
                f"n_remove must be an integer from 1 to {n_layers - 1} (the model has {n_layers} layers "
                f"and at least one must stay), got {n_remove!r}"
            )
        kept = list(range(n_layers + 1))
        removed = []
        for _ in range(int(n_remove)):
            scores = [sim[kept[k - 1], kept[k]] for k in range(1, len(kept))]
            best = len(scores) - int(np.argmax(scores[::-1]))
            removed.append(kept.pop(best) - 1)
        return tuple(sorted(removed))
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.number)) or not -1 <= threshold <= 1:
        raise InvalidInputError(f"threshold must be a cosine similarity between -1 and 1, got {threshold!r}")
    _check_margin(margin)
    cut = float(threshold) - float(margin)
    kept, removed = [0], []
    for j in range(1, n_layers + 1):
        if max(sim[i, j] for i in kept) >= cut:
            removed.append(j - 1)
        else:
            kept.append(j)
    if len(removed) == n_layers:
        raise InvalidInputError(
            f"threshold {threshold} would remove all {n_layers} layers; raise the threshold or pass n_remove"
        )
    return tuple(removed)


def highest_similarity(similarity: np.ndarray) -> float:
    """The highest similarity between two different states (``similarity[i, j]``, ``i < j``): what a
    threshold must not exceed for a layer to be removed, quoted when none is."""
    n = similarity.shape[0]
    return float(max(similarity[i, j] for j in range(1, n) for i in range(j)))


def _check_margin(margin: float) -> None:
    if isinstance(margin, bool) or not isinstance(margin, (int, float, np.number)) or not 0 <= margin < 1:
        raise InvalidInputError(f"margin must be a number from 0 up to (not including) 1, got {margin!r}")


def prune_layers(bundle: ModelBundle, layers: Iterable[int]) -> ModelBundle:
    """A smaller plain Hugging Face model without the given 0-based encoder ``layers``.

    The config's layer count shrinks, the remaining layers are renumbered in order and keep
    their weights; everything else (embeddings, head) is carried over unchanged.
    """
    arch = architecture(bundle)
    model = bundle.model
    n_layers = len(layer_list(model, arch))
    drop = _checked_layers(layers, n_layers)
    keep = [i for i in range(n_layers) if i not in drop]
    prefix = layer_prefix(model, arch)
    renumber = {str(old): str(new) for new, old in enumerate(keep)}
    state = {}
    for name, tensor in model.state_dict().items():
        if name.startswith(prefix):
            index, rest = name[len(prefix):].split(".", 1)
            if index not in renumber:
                continue
            name = f"{prefix}{renumber[index]}.{rest}"
        state[name] = tensor.detach().clone()
    config = dict(bundle.config)
    config[arch.n_layers_key] = len(keep)
    config["id2label"] = {str(i): name for i, name in enumerate(bundle.labels)}
    config["label2id"] = {name: i for i, name in enumerate(bundle.labels)}
    pruned = build_hf_model(config, state).to(next(model.parameters()).device)
    provenance = {
        "method": "layer-drop",
        "layers_removed": sorted(drop),
        "layers_before": n_layers,
        "layers_after": len(keep),
        "base_fingerprint": bundle.fingerprint,
    }
    return from_model(pruned, bundle.tokenizer, bundle.labels, task=bundle.task, provenance=provenance,
                      max_length=bundle.max_length)


def _checked_layers(layers: Iterable[int], n_layers: int) -> set[int]:
    try:
        values = list(layers)
    except TypeError:
        raise InvalidInputError(f"layers must be a list of 0-based layer indices, got {layers!r}") from None
    bad = [v for v in values if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= v < n_layers]
    if bad:
        raise InvalidInputError(f"layers must be 0-based indices from 0 to {n_layers - 1}, got {bad[0]!r}")
    if len(set(values)) != len(values):
        raise InvalidInputError(f"layers names a layer twice: {values}")
    if not values:
        raise InvalidInputError("layers must name at least one layer to remove")
    if len(values) >= n_layers:
        raise InvalidInputError(f"cannot remove all {n_layers} layers of the model; keep at least one")
    return {int(v) for v in values}


def asc(
    bundle: ModelBundle,
    dataset: Dataset,
    *,
    threshold: float = 0.9,
    n_remove: int | None = None,
    epochs: float | None = None,
    distill: bool = False,
    max_rows: int | None = None,
    batch_size: int = 32,
    lr: float = PAPER_LR,
    seed: int = 0,
    device: str = "auto",
    progress: bool | None = None,
    margin: float = PAPER_MARGIN,
    optimizer: str = "adam",
    task_kind: str | None = None,
) -> tuple[ModelBundle, ASCInfo]:
    """Prune the layers of ``bundle`` that are redundant on ``dataset``, then fine-tune on it.

    Layers come from :func:`redundant_layers` (the threshold rule with ``margin``, or the
    ``n_remove`` most redundant); the pruned model is fine-tuned for ``epochs`` on the
    labelled data (``epochs=0``: not at all) with ``optimizer`` at ``lr`` and ``batch_size``,
    with the base model's probabilities as an extra distillation loss when ``distill``.

    ``epochs=None`` takes the paper's epochs for the kind of task (5 for ``nli``, 10 for
    ``paraphrase``): ``task_kind`` when given, else :func:`task_kind_from_labels` on the
    model's label names; label names of no known kind are an input error (pass
    ``task_kind`` or ``epochs``), never a guess. Returns a plain, smaller Hugging Face model
    whose provenance holds :meth:`ASCInfo.to_dict`, and the :class:`ASCInfo`.

    Parameters
    ----------
    bundle : ModelBundle
        The base model: a plain Hugging Face encoder classifier.
    dataset : Dataset
        Labelled training data in the model's label space.
    threshold : float, default 0.9
        Cosine similarity of consecutive layers' states above which a layer is redundant.
    n_remove : int, optional
        Remove this many most redundant layers instead of the threshold rule.
    epochs : float, optional
        Fine-tuning epochs (``0``: none). Default: the paper's for the kind of task.
    distill : bool, default False
        Add the base model's probabilities as a distillation loss.
    max_rows : int, optional
        Use at most this many rows of ``dataset``. Default all.
    batch_size : int, default 32
        Rows per training step.
    lr : float, default 1e-5
        Learning rate.
    seed : int, default 0
        Seed of shuffling and initialisation.
    device : str, default "auto"
        Where to train: ``"auto"`` picks CUDA when available, else the CPU.
    progress : bool, optional
        Show progress on stderr. Default: the process setting, else whether stderr is a
        terminal.
    margin : float, default 0.01
        A layer is removed when its similarity is at least ``threshold - margin``.
    optimizer : {"adam", "adamw"}, default "adam"
        The fine-tuning optimizer.
    task_kind : str, optional
        The kind of task (``nli``, ``paraphrase``...) that sets the default ``epochs``.
        Default: told from the label names.

    Returns
    -------
    model : ModelBundle
        The pruned, fine-tuned model.
    info : ASCInfo
        The layers removed, the similarities and the training record.

    Raises
    ------
    InvalidInputError
        If the model is not a supported encoder, the data has no labels or other label
        names, an option is out of range, or the kind of task is unknown with
        ``epochs=None``.

    Examples
    --------
    >>> from trustaudit import load_dataset, load_model
    >>> from trustaudit.compress import asc
    >>> base = load_model("models/base")  # doctest: +SKIP
    >>> train = load_dataset("train.tsv", base.labels)  # doctest: +SKIP
    >>> pruned, info = asc(base, train, threshold=0.9, epochs=2, device="cpu")  # doctest: +SKIP
    >>> info.layers_removed  # doctest: +SKIP
    (7, 9, 10)
    """
    architecture(bundle, "base")
    if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, (int, float)) or epochs < 0):
        raise InvalidInputError(f"epochs must be a number >= 0, got {epochs!r}")
    check_positive("lr", lr)
    check_positive("batch_size", batch_size, integer=True)
    _check_margin(margin)
    if optimizer not in OPTIMIZERS:
        raise InvalidInputError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
    epochs, kind, kind_source, epochs_source = resolve_epochs(bundle.labels, epochs, task_kind)
    data = take_rows(dataset, max_rows)
    if epochs > 0:
        data = in_label_order(data, bundle.labels)
    start = time.perf_counter()
    similarity = layer_similarity(bundle, data, batch_size=batch_size, device=device, progress=progress)
    similarity_seconds = time.perf_counter() - start
    removed = redundant_layers(similarity, threshold, n_remove, margin)
    if not removed:
        raise InvalidInputError(
            f"no layer reaches the similarity threshold {threshold} - margin {margin} (the highest similarity "
            f"between two states is {highest_similarity(similarity):.4f}); lower the threshold or pass n_remove"
        )
    pruned = prune_layers(bundle, removed)
    train_steps, losses, train_seconds = 0, (), 0.0
    if epochs > 0:
        teacher = None
        if distill:
            from trustaudit._predict import predict

            teacher = predict(bundle, data, batch_size=batch_size, device=device, cache=False, progress=progress).probs
        stats = fine_tune(
            pruned.model, pruned.tokenizer, data, epochs=epochs, lr=lr, batch_size=batch_size,
            max_length=bundle.max_length, seed=seed, teacher_probs=teacher, device=device, progress=progress,
            desc="ASC fine-tune", optimizer=optimizer,
        )
        train_steps, losses, train_seconds = stats.steps, tuple(stats.losses), stats.seconds
    by_threshold = n_remove is None
    info = ASCInfo(
        similarity=similarity,
        layers_removed=removed,
        layers_before=similarity.shape[0] - 1,
        layers_after=similarity.shape[0] - 1 - len(removed),
        threshold=float(threshold) if by_threshold else None,
        margin=float(margin) if by_threshold else None,
        n_remove=None if by_threshold else int(n_remove),
        task_kind=kind,
        task_kind_source=kind_source,
        epochs_source=epochs_source,
        optimizer=optimizer,
        lr=float(lr),
        batch_size=int(batch_size),
        params_before=bundle.n_params,
        params_after=pruned.n_params,
        bytes_before=serialized_bytes(bundle.model.state_dict()),
        bytes_after=serialized_bytes(pruned.model.state_dict()),
        rows=len(data),
        epochs=float(epochs),
        distill=bool(distill and epochs > 0),
        train_steps=train_steps,
        train_losses=losses,
        similarity_seconds=similarity_seconds,
        train_seconds=train_seconds,
    )
    provenance = {
        **info.to_dict(),
        "seed": seed,
        "base_fingerprint": bundle.fingerprint,
        "data": {"path": data.path, "sha256": data.sha256},
    }
    result = from_model(pruned.model, pruned.tokenizer, bundle.labels, task=bundle.task or _task(data),
                        provenance=provenance, max_length=bundle.max_length)
    return result, info


def resolve_epochs(
    label_names: Sequence[str], epochs: float | None, task_kind: str | None
) -> tuple[float, str | None, str | None, str]:
    """``(epochs, task kind, how the kind is known, where the epochs come from)`` for :func:`asc`.

    The kind is ``task_kind`` when given (source ``given``), else read from the label names
    by :func:`task_kind_from_labels` (source ``labels``, or ``None`` when they name no known
    kind). ``epochs=None`` becomes the paper's epochs for that kind (source ``paper``); with
    no kind known that is an input error.
    """
    if task_kind is not None:
        if task_kind not in TASK_KINDS:
            raise InvalidInputError(f"task_kind must be one of {', '.join(TASK_KINDS)}, got {task_kind!r}")
        kind, kind_source = task_kind, "given"
    else:
        kind = task_kind_from_labels(label_names)
        kind_source = "labels" if kind is not None else None
    if epochs is not None:
        return float(epochs), kind, kind_source, "given"
    if kind is None:
        raise InvalidInputError(
            f"the paper's fine-tuning epochs depend on the kind of task, and the labels [{', '.join(label_names)}] "
            f"name none trustaudit knows; pass task_kind ({' or '.join(TASK_KINDS)}) or epochs "
            "(`task_kind` or `epochs`)"
        )
    return float(PAPER_EPOCHS[kind]), kind, kind_source, "paper"


def _task(data: Dataset) -> str:
    return "pair" if data.is_pair else "single"
