"""Does compression change social bias? Association tests on both models and counterfactual flips.

* :func:`compare_bias`: SEAT effect sizes (May et al. 2019; WEAT of Caliskan et al. 2017
  on template sentences) of the base and the small model, per test and pooling, with
  permutation p-values, the change ``d_small - d_base`` with a paired bootstrap interval over
  the words, and the largest change (:class:`BiasComparison`).
* :func:`standard_tests` (WEAT 3-8, shipped as ``trustaudit/bias/data/weat.json``) and
  :func:`load_bias_tests` (a user's own tests as JSON).
* :func:`encode_words` / :func:`encode_sentences`: a classifier's pooled final hidden states.
* :func:`counterfactual_flips`: how often each model's prediction changes when gendered
  words and names are swapped (:func:`swap_words`), compared with a paired test.

The statistics themselves are pure functions on arrays in :mod:`trustaudit.metrics.bias`.
"""

from trustaudit.bias._compare import BiasComparison, BiasTestResult, LargestChange, PoolingResult, compare_bias, resolve_tests
from trustaudit.bias._counterfactual import (
    GENDER_PAIRS,
    CounterfactualExample,
    CounterfactualFlips,
    Swap,
    SwappedText,
    WordSwapper,
    counterfactual_flips,
    default_swap_pairs,
    swap_words,
)
from trustaudit.bias._encode import POOLINGS, encode_sentences, encode_words
from trustaudit.bias._testsets import (
    DEFAULT_TEMPLATES,
    KINDS,
    BiasTest,
    BiasTestSuite,
    WordSet,
    load_bias_tests,
    parse_bias_tests,
    standard_tests,
)

__all__ = [
    "resolve_tests",
    "DEFAULT_TEMPLATES",
    "GENDER_PAIRS",
    "KINDS",
    "POOLINGS",
    "BiasComparison",
    "BiasTest",
    "BiasTestResult",
    "BiasTestSuite",
    "CounterfactualExample",
    "CounterfactualFlips",
    "LargestChange",
    "PoolingResult",
    "Swap",
    "SwappedText",
    "WordSet",
    "WordSwapper",
    "compare_bias",
    "counterfactual_flips",
    "default_swap_pairs",
    "encode_sentences",
    "encode_words",
    "load_bias_tests",
    "parse_bias_tests",
    "standard_tests",
    "swap_words",
]
