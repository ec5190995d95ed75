"""Interpretability of a model pair: word features, the explainers (LIME, SHAP...) and their evaluation engine.

``features`` splits texts into word features shared by every explainer; each explainer
implements :class:`Explainer` and is registered by name (:func:`register_explainer`,
:func:`get_explainer`, :func:`explainer_names`); ``lime`` and ``shap`` are built in.
:func:`explain_pair` explains examples with both models of a pair through one
de-duplicating, batched, cached evaluation engine. The ``lime`` and ``shap`` libraries are
imported only when an explanation is computed, and torch only with the engine, so the
gate can read the registry cheaply.
"""

from __future__ import annotations


from trustaudit._lazy import lazy_names
from trustaudit.explain import lime, shap
from trustaudit.explain._attributions import TARGETS, Attributions, PredictFn, Target
from trustaudit.explain._protocol import Explainer, Plan
from trustaudit.explain._registry import BUDGET_FIELDS, EXPLAINERS, explainer_names, get_explainer, register_explainer, unregister_explainer
from trustaudit.explain.features import SEGMENTS, SEPARATOR, Feature, FeatureSet, split_text

_LAZY = {
    "ExampleExplanation": "trustaudit.explain._pair",
    "PairExplanations": "trustaudit.explain._pair",
    "explain_pair": "trustaudit.explain._pair",
    "PAIRING": "trustaudit.explain._pair",
    "ExplainEngine": "trustaudit.explain._memo",
}

__all__ = [
    "BUDGET_FIELDS",
    "PAIRING",
    "EXPLAINERS",
    "SEGMENTS",
    "SEPARATOR",
    "TARGETS",
    "Attributions",
    "ExampleExplanation",
    "ExplainEngine",
    "Explainer",
    "Feature",
    "FeatureSet",
    "PairExplanations",
    "Plan",
    "PredictFn",
    "Target",
    "explain_pair",
    "explainer_names",
    "get_explainer",
    "lime",
    "register_explainer",
    "shap",
    "split_text",
    "unregister_explainer",
]

__getattr__, __dir__ = lazy_names(__name__, _LAZY)
