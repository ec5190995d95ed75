"""The result types every explainer returns: :class:`Target` and :class:`Attributions`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trustaudit.exceptions import InvalidInputError
from trustaudit.explain.features import FeatureSet, Pair

#: A model as the explainers see it: inputs to probabilities ``(n, k)``, rows summing to 1.
PredictFn = Callable[[Sequence[Pair]], np.ndarray]
TARGET_SOURCES = ("base_predicted", "gold", "given")
#: How an audit chooses the class it explains: the base model's prediction or the gold label.
TARGETS = ("base_predicted", "gold")


@dataclass(frozen=True)
class Target:
    """The class explained: its name, its column in the probabilities, and why it was chosen.

    ``source`` is ``base_predicted`` (the base model's prediction on the input), ``gold``
    (the dataset's label) or ``given`` (passed by the caller).
    """

    label: str
    index: int
    source: str = "given"

    def __post_init__(self) -> None:
        if self.source not in TARGET_SOURCES:
            raise InvalidInputError(f"target source must be one of {', '.join(TARGET_SOURCES)}, got {self.source!r}")
        if int(self.index) < 0:
            raise InvalidInputError(f"target index must be non-negative, got {self.index}")

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {"label": self.label, "index": int(self.index), "source": self.source}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Target:
        """Rebuild from :meth:`to_dict`."""
        return cls(str(data["label"]), int(data["index"]), str(data["source"]))


def as_target(target: Target | int) -> Target:
    """A :class:`Target` from a target or a bare column index (named by its number)."""
    if isinstance(target, Target):
        return target
    if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        return Target(str(int(target)), int(target), "given")
    raise InvalidInputError(f"target must be a Target or a class index, got {target!r}")


def check_probs(probs: np.ndarray, n: int, target: Target, who: str) -> np.ndarray:
    """``probs`` as a float64 ``(n, k)`` array holding the target's column, else an input error."""
    array = np.asarray(probs, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] != n:
        raise InvalidInputError(f"{who}: the model function returned shape {array.shape} for {n} inputs, expected ({n}, k)")
    if not 0 <= target.index < array.shape[1]:
        raise InvalidInputError(f"{who}: target index {target.index} is out of range for {array.shape[1]} classes")
    return array


def check_seed(seed: int, name: str = "seed") -> int:
    """A seed numpy's ``RandomState`` accepts (0 to 2**32 - 1), else an input error."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) < 2**32:
        raise InvalidInputError(f"{name} must be an integer from 0 to 2**32 - 1, got {seed!r}")
    return int(seed)


@dataclass(frozen=True, eq=False)
class Attributions:
    """Scores of every feature for one explained class, from one explainer run.

    ``scores[i]`` belongs to ``features.features[i]``; higher means the word pushes the
    explained class's probability up. ``params`` are the explainer's settings (budget,
    seed, kernel, algorithm...); ``evaluations`` the model inputs it asked for and
    ``unique_evaluations`` how many distinct texts they were. ``output`` is the explained
    class's probability on the unperturbed input; ``base_value`` (SHAP) its probability
    with every feature removed. ``diagnostics`` holds fit statistics (LIME's intercept,
    R² and local prediction).
    """

    explainer: str
    features: FeatureSet
    scores: np.ndarray
    target: Target
    params: Mapping[str, Any]
    evaluations: int
    unique_evaluations: int
    output: float
    base_value: float | None = None
    diagnostics: Mapping[str, float] = field(default_factory=dict)

    def ranking(self) -> np.ndarray:
        """Feature indices from the highest score to the lowest (ties: lower index first)."""
        return np.argsort(-self.scores, kind="stable")

    def to_dict(self, include_features: bool = True) -> dict[str, Any]:
        """Plain-JSON form; floats are Python floats, so ``json`` round-trips them exactly.

        ``include_features=False`` leaves the texts and features out, for containers that
        store them once per example.
        """
        data: dict[str, Any] = {
            "explainer": self.explainer,
            "target": self.target.to_dict(),
            "scores": [float(s) for s in self.scores],
            "params": _plain(self.params),
            "evaluations": {"requested": int(self.evaluations), "unique": int(self.unique_evaluations)},
            "output": float(self.output),
            "base_value": None if self.base_value is None else float(self.base_value),
            "diagnostics": {k: float(v) for k, v in self.diagnostics.items()},
        }
        if include_features:
            data["features"] = self.features.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], features: FeatureSet | None = None) -> Attributions:
        """Rebuild from :meth:`to_dict`; ``features`` is required when they were left out."""
        if features is None:
            if "features" not in data:
                raise InvalidInputError("these attributions were stored without their features; pass features=")
            features = FeatureSet.from_dict(data["features"])
        scores = np.asarray(data["scores"], dtype=np.float64).reshape(-1)
        if len(scores) != len(features):
            raise InvalidInputError(f"{len(scores)} stored scores for {len(features)} features")
        return cls(
            explainer=str(data["explainer"]),
            features=features,
            scores=scores,
            target=Target.from_dict(data["target"]),
            params=dict(data["params"]),
            evaluations=int(data["evaluations"]["requested"]),
            unique_evaluations=int(data["evaluations"]["unique"]),
            output=float(data["output"]),
            base_value=None if data.get("base_value") is None else float(data["base_value"]),
            diagnostics={k: float(v) for k, v in data.get("diagnostics", {}).items()},
        )


def _plain(value: Any) -> Any:
    """``value`` with numpy scalars and tuples turned into JSON types."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
