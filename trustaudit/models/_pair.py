"""A base model and its compressed candidate, with the label mapping between them."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from trustaudit._deprecation import renamed_keywords, warn_renamed
from trustaudit.exceptions import LabelMismatchError
from trustaudit.models._bundle import ModelBundle
from trustaudit.models._config import labels_are_generic
from trustaudit.models._loading import given_tokenizer, load_model


@dataclass(frozen=True, eq=False)
class ModelPair:
    """A base model and a compressed candidate, with the label mapping between them.

    ``permutation[i]`` is the small model's output index of the base model's label ``i``.
    """

    base: ModelBundle
    small: ModelBundle
    permutation: tuple[int, ...]

    @property
    def labels(self) -> tuple[str, ...]:
        """Label names in the base model's order (the order every result uses)."""
        return self.base.labels

    def to_base_labels(self, small_probs: np.ndarray) -> np.ndarray:
        """Reorder the small model's output columns into the base model's label order (the label mapping)."""
        return np.asarray(small_probs)[:, list(self.permutation)]

    def align(self, small_probs: np.ndarray) -> np.ndarray:
        """Deprecated name of :meth:`to_base_labels`."""
        warn_renamed("ModelPair.align", "ModelPair.to_base_labels")
        return self.to_base_labels(small_probs)


def label_permutation(base: Sequence[str], small: Sequence[str]) -> tuple[int, ...]:
    """Index in ``small`` of every name of ``base``, matched case-insensitively."""
    small_index = {name.lower(): i for i, name in enumerate(small)}
    if {n.lower() for n in base} != set(small_index) or len(base) != len(small):
        raise LabelMismatchError(
            f"the two models have different label sets: base [{', '.join(base)}], small [{', '.join(small)}]; "
            "pass `label_names` / `small_label_names` to name them"
        )
    return tuple(small_index[name.lower()] for name in base)


@renamed_keywords(labels="label_names", small_labels="small_label_names")
def load_pair(
    base: str | os.PathLike[str] | ModelBundle,
    small: str | os.PathLike[str] | ModelBundle,
    *,
    label_names: str | Sequence[str] | None = None,
    small_label_names: str | Sequence[str] | None = None,
    allow_pickle: bool = False,
    max_length: int | None = None,
    tokenizer: Any = None,
) -> ModelPair:
    """Load two models and map the small one's labels onto the base's by name.

    The two may have different tokenizers; label sets that differ are an error naming both.
    ``tokenizer`` (a directory or object), when given, replaces both models' own.

    Parameters
    ----------
    base : str, path-like or ModelBundle
        The large model (anything :func:`load_model` reads).
    small : str, path-like or ModelBundle
        The compressed model.
    label_names : str or sequence of str, optional
        The base model's label names in output order. Default its config's.
    small_label_names : str or sequence of str, optional
        The small model's label names in output order. Default its config's.
    allow_pickle : bool, default False
        Allow files that need unpickling code (only for files you trust).
    max_length : int, optional
        Longest input in tokens for both models. Default each model's limit.
    tokenizer : str, path-like or tokenizer, optional
        A tokenizer replacing both models' own. Default their own.

    Returns
    -------
    ModelPair
        Both models, the base's label names and the permutation that puts the small
        model's outputs in the base's order.

    Raises
    ------
    ModelLoadError
        If a model cannot be loaded.
    LabelMismatchError
        If the two label sets differ.

    Examples
    --------
    >>> from trustaudit import load_pair
    >>> pair = load_pair("models/base", "models/small", small_label_names="entailment,neutral,contradiction")  # doctest: +SKIP
    >>> pair.labels  # doctest: +SKIP
    ('contradiction', 'entailment', 'neutral')
    """
    tokenizer = given_tokenizer(tokenizer)
    base_bundle = load_model(base, label_names, allow_pickle=allow_pickle, max_length=max_length, tokenizer=tokenizer)
    small_bundle = load_model(small, small_label_names, allow_pickle=allow_pickle, max_length=max_length, tokenizer=tokenizer)
    if small_label_names is None and label_names is not None and labels_are_generic(small_bundle.labels):
        small_bundle = load_model(small_bundle, label_names)
    return ModelPair(base_bundle, small_bundle, label_permutation(base_bundle.labels, small_bundle.labels))
