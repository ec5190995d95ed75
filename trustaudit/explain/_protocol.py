"""What an explainer is to the rest of trustaudit: the :class:`Explainer` protocol and its :class:`Plan`.

An explainer scores the word features of one input for one class within a *budget*
(model evaluations per explanation; LIME calls it ``num_samples``, SHAP ``max_evals``).
:func:`~trustaudit.explain.explain_pair` asks each selected explainer for the inputs it
will evaluate whatever the model's outputs (its :class:`Plan`), evaluates those of every
explainer of an example in a few batches, then lets each explain from the engine's memo.
An explainer that is deterministic for the given features and budget gives the same
attributions for every seed: its base repeat is its base explanation, and its self-agreement
exact by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from trustaudit.explain._attributions import Attributions, PredictFn, Target
from trustaudit.explain.features import FeatureSet, Pair


@dataclass(frozen=True, eq=False)
class Plan:
    """The model inputs one explanation evaluates whatever the model's outputs, drawn before it runs.

    ``inputs`` are prefetched in this order; ``state`` is what the explainer drew to list
    them (LIME's neighbourhood), handed back to :meth:`Explainer.explain` so it is not drawn twice.
    """

    inputs: tuple[Pair, ...]
    state: Any = None


@runtime_checkable
class Explainer(Protocol):
    """One attribution method behind the interface every stage of an audit uses.

    ``name`` keys the registry, the results and the gate checks (``min_<name>_...``);
    ``budget_name`` is what the method calls its budget and ``default_budget`` its default;
    ``draws`` says what a second seed redraws (the report: "a second draw of ...") and
    ``exact_because`` why a deterministic explanation's floor is exact.
    """

    name: str
    budget_name: str
    default_budget: int
    draws: str
    exact_because: str

    def check_budget(self, budget: int, name: str = "budget") -> int:
        """``budget`` as an int when this explainer can run with it, else an InvalidInputError naming ``name``."""
        ...

    def plan(self, features: FeatureSet, *, budget: int, seed: int) -> Plan:
        """The inputs an explanation with ``budget`` and ``seed`` will evaluate, known before any model runs."""
        ...

    def deterministic(self, features: FeatureSet, budget: int) -> bool:
        """True when the attributions of ``features`` with ``budget`` do not depend on the seed."""
        ...

    def explain(
        self, features: FeatureSet, predict: PredictFn, target: Target, *, budget: int, seed: int, plan: Plan | None = None
    ) -> Attributions:
        """The attributions of ``target`` for one model; ``plan`` (from :meth:`plan`, same arguments) avoids redrawing."""
        ...
