"""Training AlAd: align the adapter on token states (general text, then the task's), then train the set-up's parts with a task head."""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from trustaudit._evaluation import collate, encode_pairs, resolve_device
from trustaudit._progress import bar
from trustaudit._training import fine_tune, linear_schedule
from trustaudit.compress._alad.model import PAPER_HIDDEN, SETUPS, AlignedModel, ClassificationHead, _labelled
from trustaudit.compress._arch import Architecture, architecture, encoder_inputs, head_dropout, width
from trustaudit.compress._common import TokenBatches, check_positive, in_label_order, masked_token_mean, take_rows
from trustaudit.data import Dataset
from trustaudit.exceptions import InvalidInputError
from trustaudit.models import ModelBundle

#: Default learning rate of the task training by set-up (trustaudit's choice; the head starts
#: from the large model's head, the adapter from its alignment, the encoder from its weights).
TASK_LR = {"head": 1e-3, "adapter": 1e-4, "joint": 5e-5}


#: Most labelled rows held out for choosing the task epoch.
MAX_VALIDATION_ROWS = 1000


_CACHE_BYTES = 1 << 30


@dataclass(frozen=True)
class AlAdInfo:
    """What AlAd measured and did.

    Cosines are mean token cosine similarities to the large model's last hidden states on
    the task's alignment rows (per example over real tokens, then over examples); MSEs are
    per token and dimension. ``cosine_before`` is the best *linear* map from small to large
    states (least squares with a bias, fitted on the same tokens): what alignment gets
    without the adapter's window and non-linearity. ``cosine_identity`` compares the raw
    states and exists only when the widths are equal. ``cosine_untrained`` and
    ``mse_before`` are the adapter's at initialisation; ``cosine_general`` after alignment
    on the general text (``None`` without any), ``cosine_after`` after alignment on the
    task's text, ``cosine_task`` after task training (set-ups ``adapter`` and ``joint``).

    ``rows`` are the task rows used for alignment and training, ``val_rows`` those held out
    (:data:`MAX_VALIDATION_ROWS` at most). On them: ``val_accuracy_small`` is the small
    model's own accuracy (``None`` when its labels are not the large model's),
    ``val_accuracy_reused_head`` the aligned model's with the large model's head before any
    task training, ``val_accuracies`` the aligned model's after each task epoch, and
    ``best_epoch`` the epoch whose weights were kept (1-based; ``None`` without held-out
    rows, when the last epoch is kept, or for ``reuse-head``). ``params_added`` is the
    aligned model's parameters minus the small classifier's; ``trainable_params`` those
    the task training changed.
    """

    window: int
    hidden: int
    setup: str
    rows: int
    general_rows: int
    general_epochs: float | None
    epochs: float
    task_epochs: float | None
    lr: float
    task_lr: float | None
    cosine_before: float
    cosine_identity: float | None
    cosine_untrained: float
    cosine_general: float | None
    cosine_after: float
    cosine_task: float | None
    mse_before: float
    mse_after: float
    general_losses: tuple[float, ...]
    align_losses: tuple[float, ...]
    task_losses: tuple[float, ...]
    val_rows: int
    val_accuracy_small: float | None
    val_accuracy_reused_head: float | None
    val_accuracies: tuple[float, ...]
    best_epoch: int | None
    adapter_params: int
    head_params: int
    params_added: int
    trainable_params: int
    align_seconds: float
    task_seconds: float

    @property
    def val_accuracy(self) -> float | None:
        """The returned model's accuracy on the held-out rows (``None`` without any)."""
        if self.val_rows == 0:
            return None
        if not self.val_accuracies:
            return self.val_accuracy_reused_head
        return self.val_accuracies[(self.best_epoch or len(self.val_accuracies)) - 1]

    @property
    def less_accurate_than_small(self) -> bool | None:
        """Whether the returned model is less accurate than the small model on the held-out rows."""
        if self.val_accuracy is None or self.val_accuracy_small is None:
            return None
        return self.val_accuracy < self.val_accuracy_small

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form, stored as the bundle's provenance."""
        out: dict[str, Any] = {"method": "alad"}
        for name, value in self.__dict__.items():
            if isinstance(value, float):
                value = round(value, 6)
            elif isinstance(value, tuple):
                value = [round(v, 6) for v in value]
            out[name] = value
        out["val_accuracy"] = self.val_accuracy
        out["less_accurate_than_small"] = self.less_accurate_than_small
        return out


def _check_tokenizers(base: ModelBundle, small: ModelBundle) -> None:
    vocab_b, vocab_s = base.tokenizer.get_vocab(), small.tokenizer.get_vocab()
    if vocab_b != vocab_s:
        only = sorted(set(vocab_b.items()) ^ set(vocab_s.items()))[:1]
        raise InvalidInputError(
            f"AlAd aligns the two models token by token, so they must share one tokenizer: the base has a "
            f"{len(vocab_b):,}-token vocabulary and the small model {len(vocab_s):,} (first difference: {only[0][0]!r})"
        )


@dataclass
class _StatePairs:
    """Student and teacher last hidden states per batch, computed once and kept up to a byte budget."""

    model: AlignedModel
    teacher: nn.Module
    teacher_arch: Architecture
    student: TokenBatches
    teacher_encodings: list[dict[str, list[int]]]
    teacher_pad: int
    device: torch.device
    budget: int = _CACHE_BYTES
    use_cache: bool = True

    def __post_init__(self) -> None:
        self.kept: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}
        self.kept_bytes = 0

    def get(self, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(student, teacher, mask)`` of batch ``k`` on the device."""
        if k in self.kept:
            return tuple(t.to(self.device) for t in self.kept[k])  # type: ignore[return-value]
        batch = self.student.batches[k]
        tensors = self.student.tensors(batch, self.device)
        teacher_tensors, _, _ = collate([self.teacher_encodings[i] for i in batch], self.teacher_pad, self.device)
        with torch.no_grad():
            student = self.model.small_states(**{n: tensors.get(n) for n in ("input_ids", "attention_mask", "token_type_ids")})
            target = self.teacher(**encoder_inputs(teacher_tensors, self.teacher_arch)).last_hidden_state
        entry = (student.float(), target.float(), tensors["attention_mask"])
        size = sum(t.numel() * t.element_size() for t in entry)
        if self.use_cache and self.kept_bytes + size <= self.budget:
            self.kept[k] = tuple(t.cpu() for t in entry)  # type: ignore[assignment]
            self.kept_bytes += size
        return entry

    def __len__(self) -> int:
        return len(self.student.batches)


def _masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.to(pred.dtype)
    per_token = ((pred - target) ** 2).mean(dim=-1)
    return (per_token * weights).sum() / weights.sum().clamp_min(1)


def _measure(states: _StatePairs, mapping: Any, n_rows: int) -> tuple[float, float]:
    """Mean token cosine (per example, then over examples) and mean token MSE of ``mapping(student, mask)``."""
    cosine_sum, squared, tokens = 0.0, 0.0, 0.0
    with torch.no_grad():
        for k in range(len(states)):
            student, target, mask = states.get(k)
            pred = mapping(student, mask)
            cosine = F.cosine_similarity(pred, target, dim=-1)
            cosine_sum += float(masked_token_mean(cosine, mask).double().sum())
            weights = mask.to(pred.dtype)
            squared += float((((pred - target) ** 2).mean(dim=-1) * weights).sum())
            tokens += float(weights.sum())
    return cosine_sum / n_rows, squared / max(tokens, 1.0)


def _least_squares(states: _StatePairs) -> Any:
    """The affine map from student to teacher states with the least squared error on the real tokens."""
    xtx = xty = None
    with torch.no_grad():
        for k in range(len(states)):
            student, target, mask = states.get(k)
            keep = mask.bool()
            x = torch.cat([student[keep], torch.ones(int(keep.sum()), 1, device=student.device)], dim=1).double()
            y = target[keep].double()
            xtx = x.T @ x if xtx is None else xtx + x.T @ x
            xty = x.T @ y if xty is None else xty + x.T @ y
    ridge = 1e-6 * torch.trace(xtx) / xtx.shape[0]
    weights = torch.linalg.solve(xtx + ridge * torch.eye(xtx.shape[0], dtype=xtx.dtype, device=xtx.device), xty).float()

    def mapping(student: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return student @ weights[:-1] + weights[-1]

    return mapping


def _align(model: AlignedModel, states: _StatePairs, epochs: float, lr: float, seed: int,
           progress: bool | None, desc: str = "AlAd alignment") -> list[float]:
    rng = random.Random(seed)
    params = list(model.adapter.parameters())
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    total = max(1, int(np.ceil(len(states) * epochs)))
    scheduler = linear_schedule(optimizer, total)
    losses: list[float] = []
    steps = 0
    model.adapter.train()
    with bar(total, desc, progress, unit="step") as progress_bar:
        while steps < total:
            order = list(range(len(states)))
            rng.shuffle(order)
            running, count = 0.0, 0
            for k in order[: total - steps]:
                student, target, mask = states.get(k)
                loss = _masked_mse(model.adapter(student, mask), target, mask)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
                scheduler.step()
                steps += 1
                running += float(loss.detach())
                count += 1
                progress_bar.update(1)
                progress_bar.set_postfix(mse=f"{running / count:.4f}", refresh=False)
            losses.append(running / max(1, count))
    model.adapter.eval()
    return losses


def _tokenize_both(base: ModelBundle, small: ModelBundle, data: Dataset, max_length: int,
                   batch_size: int) -> tuple[TokenBatches, list[dict[str, list[int]]]]:
    """The student's batches and the teacher's encodings of ``data``, refusing any row they tokenize differently."""
    student = TokenBatches.build(small.tokenizer, data, max_length, batch_size)
    teacher = encode_pairs(base.tokenizer, data.pairs(), max_length)
    for i, (s, t) in enumerate(zip(student.encodings, teacher)):
        if s["input_ids"] != t["input_ids"]:
            raise InvalidInputError(
                f"{data.path}: row {int(data.rows[i])} is split into different tokens by the two models' "
                "tokenizers; AlAd needs one shared tokenizer"
            )
    return student, teacher


def _new_aligned_model(base: ModelBundle, small: ModelBundle, window: int, hidden: int,
                       train_small: bool) -> tuple[AlignedModel, dict[str, Any]]:
    """Small encoder (weights copied, pooler dropped) + fresh adapter + the base's head, and its config."""
    arch_b, arch_s = architecture(base, "base"), architecture(small, "small")
    d_s, d_t = width(small.config, arch_s), width(base.config, arch_b)
    spec = {
        "small_model_type": arch_s.model_type,
        "base_model_type": arch_b.model_type,
        "token_types": arch_s.token_types,
        "train_small": train_small,
        "window": int(window),
        "hidden": int(hidden),
        "small_width": d_s,
        "base_width": d_t,
        "n_labels": base.n_labels,
        "head_activation": arch_b.head_activation,
        "head_dropout": head_dropout(dict(base.config), arch_b),
    }
    config = _labelled(small.config, base.labels)
    model = AlignedModel(config, spec)
    encoder_state = {k: v for k, v in small.model.base_model.state_dict().items() if not k.startswith("pooler.")}
    model.encoder.load_state_dict(encoder_state, strict=True)
    model.head.load_state_dict(ClassificationHead.from_classifier(base, arch_b).state_dict())
    return model, config


def read_texts(path: str, max_rows: int | None = None, seed: int = 0) -> Dataset:
    """General text for alignment: every non-empty line of a ``.txt`` file, or every text of a table.

    A CSV, TSV, JSON or JSONL file is read with :func:`~trustaudit.data.load_dataset` (the
    text column found as for any data file); its first and second texts each become one
    text, labels are ignored. ``max_rows`` keeps a seeded random sample of that many texts.
    """
    from pathlib import Path

    from trustaudit._io import sha256_file
    from trustaudit.data import load_dataset

    file = Path(path)
    if file.suffix.lower() == ".txt":
        if not file.is_file():
            raise InvalidInputError(f"{path}: no such file")
        texts = [line.strip() for line in file.read_text(encoding="utf-8").splitlines()]
        texts = [t for t in texts if t]
        digest = sha256_file(file)
    else:
        table = load_dataset(file)
        texts = list(table.text_a) + list(table.text_b or ())
        digest = table.sha256
    if not texts:
        raise InvalidInputError(f"{path}: no text to align on")
    if max_rows is not None and max_rows < len(texts):
        keep = sorted(random.Random(seed).sample(range(len(texts)), max_rows))
        texts = [texts[i] for i in keep]
    return _texts_dataset(texts, str(path), digest)


def _texts_dataset(texts: Sequence[str], path: str, digest: str = "") -> Dataset:
    return Dataset(text_a=tuple(texts), text_b=None, labels=None, label_names=(), path=path,
                   rows=np.arange(len(texts)), sha256=digest)


def _split(data: Dataset, validation: float, seed: int) -> tuple[Dataset, Dataset | None]:
    """``(training rows, held-out rows)``: a seeded random ``validation`` share of labelled rows held out."""
    if data.labels is None or validation == 0:
        return data, None
    n_val = min(MAX_VALIDATION_ROWS, int(round(validation * len(data))))
    if n_val < 1 or n_val >= len(data):
        return data, None
    order = np.random.default_rng(seed).permutation(len(data))
    return data.subset(np.sort(order[n_val:])), data.subset(np.sort(order[:n_val]))


def _model_accuracy(model: nn.Module, tokenizer: Any, data: Dataset, max_length: int, batch_size: int,
                    device: torch.device) -> float:
    """Accuracy of ``model`` (logits in ``data``'s label order) on ``data``, in eval mode."""
    batches = TokenBatches.build(tokenizer, data, max_length, batch_size)
    correct = 0
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for batch in batches.batches:
            logits = model(**batches.tensors(batch, device)).logits
            correct += int((logits.argmax(dim=-1).cpu().numpy() == data.labels[batch]).sum())
    model.train(was_training)
    return correct / len(data)


def _small_accuracy(base: ModelBundle, small: ModelBundle, data: Dataset, batch_size: int,
                    device: torch.device) -> float | None:
    """The small classifier's own accuracy on ``data`` (labels in the base's order); None if its labels differ."""
    names = [n.lower() for n in small.labels]
    if sorted(names) != sorted(n.lower() for n in base.labels):
        return None
    order = [names.index(n.lower()) for n in base.labels]
    model = small.model.to(device)
    batches = TokenBatches.build(small.tokenizer, data, small.max_length, batch_size)
    correct = 0
    with torch.inference_mode():
        for batch in batches.batches:
            logits = model(**batches.tensors(batch, device)).logits[:, order]
            correct += int((logits.argmax(dim=-1).cpu().numpy() == data.labels[batch]).sum())
    return correct / len(data)


def _check_number(name: str, value: Any, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not low <= value < high:
        raise InvalidInputError(f"{name} must be a number from {low:g} up to (not including) {high:g}, got {value!r}")


def alad(
    base: ModelBundle,
    small: ModelBundle,
    dataset: Dataset,
    *,
    window: int = 3,
    setup: str = "adapter",
    epochs: float = 10,
    task_epochs: float = 3,
    hidden: int = PAPER_HIDDEN,
    max_rows: int | None = None,
    batch_size: int = 32,
    lr: float = 1e-4,
    task_lr: float | None = None,
    seed: int = 0,
    device: str = "auto",
    progress: bool | None = None,
    align_data: Dataset | Sequence[str] | None = None,
    general_epochs: float = 1,
    validation: float = 0.1,
) -> tuple[ModelBundle, AlAdInfo]:
    """Align ``small``'s token states to ``base``'s with a window adapter, then train a task head.

    Alignment (masked MSE to ``base``'s last hidden states, AdamW at ``lr``): first
    ``general_epochs`` on ``align_data`` when given (general text: a :class:`Dataset` or a
    list of texts, see :func:`read_texts`), then ``epochs`` on the text of ``dataset``
    (labels unused). Then ``setup`` (one of :data:`SETUPS`) trains for ``task_epochs`` at
    ``task_lr`` (default :data:`TASK_LR` of the set-up) on the labelled rows: ``head`` the
    head only, ``adapter`` adapter and head, ``joint`` adapter, small encoder and head;
    ``reuse-head`` trains nothing more and puts ``base``'s head on the aligned states.

    ``validation`` (a share, at most :data:`MAX_VALIDATION_ROWS` rows, seeded) of labelled
    rows is held out of alignment and training; the task epoch that scores best on it is the
    one kept, and the small model's own accuracy there is recorded for comparison
    (``validation=0``: no rows held out, the last epoch kept). The result, of kind
    ``"alad"``, predicts in ``base``'s label space and saves with ``save_bundle``.

    Parameters
    ----------
    base : ModelBundle
        The large model, whose token states are the target.
    small : ModelBundle
        The small model to align.
    dataset : Dataset
        Task data in ``base``'s label space (labels needed except for ``reuse-head``).
    window : int, default 3
        Odd number of neighbouring token states the adapter reads.
    setup : {"head", "adapter", "joint", "reuse-head"}, default "adapter"
        What is trained after alignment.
    epochs : float, default 10
        Alignment epochs on the text of ``dataset`` (> 0).
    task_epochs : float, default 3
        Task-training epochs (> 0).
    hidden : int, default 1280
        Hidden width of the adapter.
    max_rows : int, optional
        Use at most this many rows of ``dataset``. Default all.
    batch_size : int, default 32
        Rows per step.
    lr : float, default 1e-4
        Alignment learning rate.
    task_lr : float, optional
        Task-training learning rate. Default: :data:`TASK_LR` of ``setup``.
    seed : int, default 0
        Seed of shuffling, initialisation and the validation split.
    device : str, default "auto"
        Where to train: ``"auto"`` picks CUDA when available, else the CPU.
    progress : bool, optional
        Show progress on stderr. Default: the process setting, else whether stderr is a
        terminal.
    align_data : Dataset or sequence of str, optional
        General text aligned on first. Default none.
    general_epochs : float, default 1
        Alignment epochs on ``align_data``.
    validation : float, default 0.1
        Share of labelled rows held out to pick the best task epoch, in ``[0, 1)``.

    Returns
    -------
    model : ModelBundle
        The aligned model, of kind ``"alad"``.
    info : AlAdInfo
        The alignment and training record (cosines, MSE, accuracies, seconds).

    Raises
    ------
    InvalidInputError
        If a model is not a supported encoder, ``window``/``setup``/an epoch count/
        ``validation`` is invalid, ``align_data`` is empty, or the data lacks the labels
        ``setup`` needs.

    Examples
    --------
    >>> from trustaudit import load_dataset, load_model
    >>> from trustaudit.compress import alad
    >>> base, small = load_model("models/base"), load_model("models/small")  # doctest: +SKIP
    >>> train = load_dataset("train.tsv", base.labels)  # doctest: +SKIP
    >>> aligned, info = alad(base, small, train, setup="adapter", epochs=3, device="cpu")  # doctest: +SKIP
    >>> aligned.kind  # doctest: +SKIP
    'alad'
    """
    arch_b = architecture(base, "base")
    arch_s = architecture(small, "small")
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1 or window % 2 == 0:
        raise InvalidInputError(f"window must be an odd positive number of tokens (1, 3, 5...), got {window!r}")
    if setup not in SETUPS:
        raise InvalidInputError(f"setup must be one of {', '.join(SETUPS)}, got {setup!r}")
    check_positive("epochs", epochs)
    check_positive("lr", lr)
    check_positive("hidden", hidden, integer=True)
    check_positive("batch_size", batch_size, integer=True)
    _check_number("validation", validation, 0, 1)
    trains_head = setup != "reuse-head"
    if trains_head:
        check_positive("task_epochs", task_epochs)
        task_lr = TASK_LR[setup] if task_lr is None else task_lr
        check_positive("task_lr", task_lr)
    if align_data is not None:
        check_positive("general_epochs", general_epochs)
        if not isinstance(align_data, Dataset):
            texts = list(align_data)
            if not texts or not all(isinstance(t, str) for t in texts):
                raise InvalidInputError("align_data must be a Dataset or a non-empty list of texts")
            align_data = _texts_dataset(texts, "<texts>")
    _check_tokenizers(base, small)
    data = take_rows(dataset, max_rows)
    if trains_head:
        if data.labels is None:
            raise InvalidInputError(
                f"{data.path}: set-up {setup!r} trains a task head and needs labelled data (no label column); "
                "`setup`=reuse-head aligns on unlabelled text alone"
            )
        data = in_label_order(data, base.labels)
    elif data.labels is not None:
        try:
            data = in_label_order(data, base.labels)
        except InvalidInputError:
            data = replace(data, labels=None)
    data, held_out = _split(data, validation, seed)
    max_length = min(base.max_length, small.max_length)
    student_batches, teacher_encodings = _tokenize_both(base, small, data, max_length, batch_size)

    start = time.perf_counter()
    dev = resolve_device(device)
    torch.manual_seed(seed)
    model, config = _new_aligned_model(base, small, window, hidden, setup == "joint")
    spec = model.spec
    model.to(dev).eval()
    teacher = base.model.base_model.to(dev).eval()
    teacher_pad = base.tokenizer.pad_token_id if base.tokenizer.pad_token_id is not None else 0
    states = _StatePairs(model, teacher, arch_b, student_batches, teacher_encodings, teacher_pad, dev)

    linear = _least_squares(states)
    cosine_before, _ = _measure(states, linear, len(data))
    same_width = spec["small_width"] == spec["base_width"]
    cosine_identity = _measure(states, lambda s, m: s, len(data))[0] if same_width else None
    cosine_untrained, mse_before = _measure(states, model.adapter, len(data))
    general_losses: list[float] = []
    cosine_general = None
    if align_data is not None:
        general_batches, general_teacher = _tokenize_both(base, small, align_data, max_length, batch_size)
        general = _StatePairs(model, teacher, arch_b, general_batches, general_teacher, teacher_pad, dev)
        general_losses = _align(model, general, general_epochs, lr, seed, progress, "AlAd alignment (general text)")
        del general
        cosine_general = _measure(states, model.adapter, len(data))[0]
    losses = _align(model, states, epochs, lr, seed, progress, "AlAd alignment (task text)")
    cosine_after, mse_after = _measure(states, model.adapter, len(data))
    align_seconds = time.perf_counter() - start

    val_small = val_reused = None
    if held_out is not None:
        val_small = _small_accuracy(base, small, held_out, batch_size, dev)
        val_reused = _model_accuracy(model, small.tokenizer, held_out, max_length, batch_size, dev)
    task_losses: tuple[float, ...] = ()
    val_accuracies: list[float] = []
    task_seconds, cosine_task, best_epoch, trainable = 0.0, None, None, 0
    if trains_head:
        modules = {"head": [model.head], "adapter": [model.adapter, model.head],
                   "joint": [model.adapter, model.encoder, model.head]}[setup]
        model.requires_grad_(False)
        for module in modules:
            module.requires_grad_(True)
        params = [p for module in modules for p in module.parameters()]
        trainable = sum(p.numel() for p in params)
        best: dict[str, Any] = {}

        def score(epoch: int) -> None:
            accuracy = _model_accuracy(model, small.tokenizer, held_out, max_length, batch_size, dev)
            val_accuracies.append(accuracy)
            if not best or accuracy > best["accuracy"]:
                best.update(accuracy=accuracy, epoch=epoch,
                            state={k: v.detach().clone() for k, v in model.state_dict().items()})

        stats = fine_tune(
            model, small.tokenizer, data, epochs=task_epochs, lr=task_lr, batch_size=batch_size,
            max_length=max_length, seed=seed, parameters=params, device=device, progress=progress,
            desc=f"AlAd task training ({setup})", on_epoch=score if held_out is not None else None,
        )
        task_losses, task_seconds = tuple(stats.losses), stats.seconds
        if best and best["epoch"] != len(val_accuracies):
            model.load_state_dict(best["state"])
        best_epoch = best.get("epoch")
        if setup != "head":
            fresh = states if setup == "adapter" else _StatePairs(
                model, teacher, arch_b, student_batches, teacher_encodings, teacher_pad, dev, use_cache=False)
            cosine_task = _measure(fresh, model.adapter, len(data))[0]
    model.eval()
    model.requires_grad_(True)

    n_params = sum(p.numel() for p in model.parameters())
    info = AlAdInfo(
        window=int(window),
        hidden=spec["hidden"],
        setup=setup,
        rows=len(data),
        general_rows=0 if align_data is None else len(align_data),
        general_epochs=None if align_data is None else float(general_epochs),
        epochs=float(epochs),
        task_epochs=float(task_epochs) if trains_head else None,
        lr=float(lr),
        task_lr=float(task_lr) if trains_head else None,
        cosine_before=cosine_before,
        cosine_identity=cosine_identity,
        cosine_untrained=cosine_untrained,
        cosine_general=cosine_general,
        cosine_after=cosine_after,
        cosine_task=cosine_task,
        mse_before=mse_before,
        mse_after=mse_after,
        general_losses=tuple(general_losses),
        align_losses=tuple(losses),
        task_losses=task_losses,
        val_rows=0 if held_out is None else len(held_out),
        val_accuracy_small=val_small,
        val_accuracy_reused_head=val_reused,
        val_accuracies=tuple(val_accuracies),
        best_epoch=best_epoch,
        adapter_params=sum(p.numel() for p in model.adapter.parameters()),
        head_params=sum(p.numel() for p in model.head.parameters()),
        params_added=n_params - small.n_params,
        trainable_params=trainable,
        align_seconds=align_seconds,
        task_seconds=task_seconds,
    )
    provenance = {
        **info.to_dict(),
        "seed": seed,
        "validation": validation,
        "base_fingerprint": base.fingerprint,
        "small_fingerprint": small.fingerprint,
        "base_layers": base.config.get(arch_b.n_layers_key),
        "small_layers": small.config.get(arch_s.n_layers_key),
        "data": {"path": data.path, "sha256": data.sha256},
        "align_data": None if align_data is None else {"path": align_data.path, "sha256": align_data.sha256},
    }
    bundle = ModelBundle.build(
        model, small.tokenizer, base.labels, config=config, kind="alad", task=base.task or ("pair" if data.is_pair else "single"),
        provenance=provenance, max_length=small.max_length, n_params=n_params,
    )
    return bundle, info
