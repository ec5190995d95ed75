"""Interpretability of a model pair: word features, LIME and SHAP, and their evaluation engine.

``features`` splits texts into word features shared by both explainers; ``lime`` and
``shap`` each expose ``explain(features, predict, target, ...) -> Attributions``;
:func:`explain_pair` explains examples with both models of a pair through one
de-duplicating, batched, cached evaluation engine. The ``lime`` and ``shap`` libraries are
imported only when an explanation is computed.
"""

from trustaudit.explain import lime, shap
from trustaudit.explain._attributions import Attributions, PredictFn, Target
from trustaudit.explain._engine import ExplainEngine
from trustaudit.explain._pair import EXPLAINERS, ExampleExplanation, PairExplanations, explain_pair
from trustaudit.explain.features import SEGMENTS, SEPARATOR, Feature, FeatureSet, split_text

__all__ = [
    "EXPLAINERS",
    "SEGMENTS",
    "SEPARATOR",
    "Attributions",
    "ExampleExplanation",
    "ExplainEngine",
    "Feature",
    "FeatureSet",
    "PairExplanations",
    "PredictFn",
    "Target",
    "explain_pair",
    "lime",
    "shap",
    "split_text",
]
