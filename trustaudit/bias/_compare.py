"""Does compression change social bias? The association tests on both models, compared.

For every test (WEAT 3-8 by default) and every pooling (mean and [CLS]), each model's
SEAT effect size d and one-sided permutation p-value (:func:`trustaudit.metrics.bias.weat_test`),
and the change ``d_small - d_base`` with paired bootstrap intervals over the word sets
(:func:`trustaudit.metrics.bias.effect_size_draws`).

The headline is the largest absolute change ``max over tests and poolings of |d_small - d_base|``
(:attr:`BiasComparison.max_abs_effect_change`), with a percentile interval from the same
resamples: per resample, the maximum over tests and poolings of ``|d*_small - d*_base|``.
Words are resampled independently per test (tests that share words, such as WEAT 4 and 5,
are resampled as if they did not) and identically across poolings and models. The
interval of a maximum is biased upwards when several changes are close, so the gate key
``max_bias_effect_change`` does not judge it: it reads the per-test intervals of ``|Δd|``
(pass when every test's interval is below the limit, fail when one lies wholly above it;
see :func:`trustaudit._audit.verdict.bias_measurement`). The JSON keeps this interval as a summary.
"""

from __future__ import annotations

import math
import os
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from trustaudit.bias._encode import POOLINGS, check_pooling, encode_words
from trustaudit.bias._testsets import BiasTest, BiasTestSuite, load_bias_tests, standard_tests
from trustaudit.exceptions import InvalidInputError
from trustaudit._bootstrap import percentile_interval
from trustaudit._deprecation import read_renamed, renamed_attribute, renamed_keywords
from trustaudit._json import to_jsonable
from trustaudit._validation import check_int, check_open_unit
from trustaudit.metrics.bias import EXACT_LIMIT, EffectSizeChange, WeatResult, change_from_draws, effect_size_draws, weat_test
from trustaudit.models import ModelBundle

__all__ = ["BiasComparison", "BiasTestResult", "LargestChange", "PoolingResult", "compare_bias", "resolve_tests"]


def _interval(value: Any) -> tuple[float, float] | None:
    return None if value is None else (float(value[0]), float(value[1]))


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


@dataclass(frozen=True)
class PoolingResult:
    """One test under one pooling: both models' results and the paired change."""

    pooling: str
    base: WeatResult
    small: WeatResult
    change: EffectSizeChange

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe plain-Python form."""
        return {"pooling": self.pooling, "base": self.base.to_dict(), "small": self.small.to_dict(),
                "change": self.change.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PoolingResult:
        """Rebuild from :meth:`to_dict`."""
        return cls(str(data["pooling"]), WeatResult.from_dict(data["base"]), WeatResult.from_dict(data["small"]),
                   EffectSizeChange.from_dict(data["change"]))


@dataclass(frozen=True)
class BiasTestResult:
    """One association test (its words included) and its results per pooling."""

    test: BiasTest
    results: tuple[PoolingResult, ...]

    def result(self, pooling: str) -> PoolingResult:
        """The result under ``pooling`` (``mean`` or ``cls``)."""
        for item in self.results:
            if item.pooling == pooling:
                return item
        raise InvalidInputError(f"test {self.test.name!r} has no result for pooling {pooling!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe plain-Python form."""
        return {"test": self.test.to_dict(), "results": [r.to_dict() for r in self.results]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BiasTestResult:
        """Rebuild from :meth:`to_dict`."""
        return cls(BiasTest.from_dict(data["test"]), tuple(PoolingResult.from_dict(r) for r in data["results"]))


@dataclass(frozen=True)
class LargestChange:
    """The test and pooling with the largest ``|d_small - d_base|``, and its effect sizes."""

    test: str
    pooling: str
    base: float
    small: float
    difference: float
    absolute_difference: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe plain-Python form."""
        return to_jsonable(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LargestChange:
        """Rebuild from :meth:`to_dict`."""
        return cls(str(data["test"]), str(data["pooling"]),
                   *(_float(data[k]) for k in ("base", "small", "difference", "absolute_difference")))


@dataclass(frozen=True)
class BiasComparison:
    """Association tests on the base and the small model, and how the small model's bias differs.

    ``max_abs_effect_change`` is the largest ``|d_small - d_base|`` over tests and poolings
    (NaN, ``None`` in JSON, when no effect size is defined) and ``max_abs_effect_change_ci``
    its percentile bootstrap interval over the ``n_defined`` resamples where every effect
    size is defined (a summary: the gate reads the per-test intervals instead).
    ``seconds`` holds wall times: ``encode_base``, ``encode_small`` and ``statistics``.
    """

    tests: tuple[BiasTestResult, ...]
    poolings: tuple[str, ...]
    largest_change: LargestChange | None
    max_abs_effect_change: float
    max_abs_effect_change_ci: tuple[float, float] | None
    n_defined: int
    n_permutations: int
    exact_limit: int
    n_resamples: int
    seed: int
    ci_level: float

    confidence = renamed_attribute("confidence", "ci_level")
    templates: Mapping[str, tuple[str, ...]]
    source: str
    citation: str
    base_model: str
    small_model: str
    n_sentences: int
    seconds: Mapping[str, float]

    def test(self, name: str) -> BiasTestResult:
        """The result of the test called ``name``."""
        for item in self.tests:
            if item.test.name == name:
                return item
        raise InvalidInputError(f"no bias test {name!r}; tests: {', '.join(t.test.name for t in self.tests)}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe plain-Python form; :meth:`from_dict` rebuilds it exactly."""
        return {
            "tests": [t.to_dict() for t in self.tests],
            "poolings": list(self.poolings),
            "largest_change": self.largest_change.to_dict() if self.largest_change else None,
            "max_abs_effect_change": to_jsonable(self.max_abs_effect_change),
            "max_abs_effect_change_ci": to_jsonable(self.max_abs_effect_change_ci),
            "n_defined": self.n_defined,
            "n_permutations": self.n_permutations,
            "exact_limit": self.exact_limit,
            "n_resamples": self.n_resamples,
            "seed": self.seed,
            "ci_level": self.ci_level,
            "templates": {kind: list(t) for kind, t in self.templates.items()},
            "source": self.source,
            "citation": self.citation,
            "base_model": self.base_model,
            "small_model": self.small_model,
            "n_sentences": self.n_sentences,
            "seconds": dict(self.seconds),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BiasComparison:
        """Rebuild from :meth:`to_dict`."""
        largest = data.get("largest_change")
        return cls(
            tests=tuple(BiasTestResult.from_dict(t) for t in data["tests"]),
            poolings=tuple(data["poolings"]),
            largest_change=LargestChange.from_dict(largest) if largest else None,
            max_abs_effect_change=_float(data["max_abs_effect_change"]),
            max_abs_effect_change_ci=_interval(data["max_abs_effect_change_ci"]),
            n_defined=int(data["n_defined"]),
            n_permutations=int(data["n_permutations"]),
            exact_limit=int(data["exact_limit"]),
            n_resamples=int(data["n_resamples"]),
            seed=int(data["seed"]),
            ci_level=float(read_renamed(data, "ci_level", "confidence")),
            templates={kind: tuple(t) for kind, t in data["templates"].items()},
            source=str(data["source"]),
            citation=str(data["citation"]),
            base_model=str(data["base_model"]),
            small_model=str(data["small_model"]),
            n_sentences=int(data["n_sentences"]),
            seconds={k: float(v) for k, v in data["seconds"].items()},
        )


def resolve_tests(tests: None | str | os.PathLike[str] | BiasTestSuite | Sequence[BiasTest]) -> BiasTestSuite:
    """``None``: the shipped WEAT 3-8; a path: a user's JSON file; a suite or a list of tests as given."""
    if tests is None:
        return standard_tests()
    if isinstance(tests, BiasTestSuite):
        return tests
    if isinstance(tests, (str, os.PathLike)):
        return load_bias_tests(tests)
    items = tuple(tests)
    if not items or not all(isinstance(t, BiasTest) for t in items):
        raise InvalidInputError("tests must be None, a JSON file path, a BiasTestSuite or a non-empty list of BiasTest")
    names = [t.name for t in items]
    if len(set(names)) != len(names):
        raise InvalidInputError(f"test names must be unique, got {', '.join(names)}")
    return BiasTestSuite(items, source="<in memory>")


def derived_seed(seed: int, name: str) -> int:
    """The seed of one test's permutations and resamples: from the audit seed and the test's name.

    Depending on the name, not the position, keeps a test's numbers when others are added.
    """
    return int(np.random.SeedSequence([seed, zlib.crc32(name.encode("utf-8"))]).generate_state(1)[0])


@renamed_keywords(confidence="ci_level")
def compare_bias(
    base: ModelBundle,
    small: ModelBundle,
    tests: None | str | os.PathLike[str] | BiasTestSuite | Sequence[BiasTest] = None,
    *,
    pooling: str | Sequence[str] = POOLINGS,
    n_permutations: int = 10_000,
    exact_limit: int = EXACT_LIMIT,
    n_resamples: int = 1000,
    seed: int = 0,
    ci_level: float = 0.95,
    batch_size: int = 64,
    device: str | torch.device | None = "cpu",
) -> BiasComparison:
    """Run the association tests on both models and compare their effect sizes.

    Every distinct (word, kind) of the tests is encoded once per model (:func:`encode_words`,
    SEAT templates of the suite), then per test and pooling: each model's
    :func:`~trustaudit.metrics.bias.weat_test` (the same permutations for both models), and
    the paired bootstrap of ``d_small - d_base`` over the words (``n_resamples`` resamples,
    the same words for both models and both poolings; ``0`` gives no intervals). Seeds are
    derived from ``seed`` and each test's name. The models may differ in width and
    tokenizer. A model that cannot return hidden states (e.g. an ONNX export) is an
    :class:`~trustaudit.exceptions.InvalidInputError`.

    Parameters
    ----------
    base : ModelBundle
        The large model.
    small : ModelBundle
        The compressed model.
    tests : str, path-like, BiasTestSuite or sequence of BiasTest, optional
        The association tests: a JSON file, a suite or a list of tests. Default: the
        shipped WEAT 3-8.
    pooling : str or sequence of str, default ("mean", "cls")
        How a word's token states become one vector: ``mean`` and/or ``cls``.
    n_permutations : int, default 10000
        Permutations of each test's p-value (>= 1).
    exact_limit : int, default 100000
        Enumerate every partition when there are at most this many (>= 1).
    n_resamples : int, default 1000
        Bootstrap resamples of the difference of effect sizes (``0``: no intervals).
    seed : int, default 0
        Seed of the permutations and the bootstrap (>= 0).
    ci_level : float, default 0.95
        Level of the bootstrap intervals, in (0, 1).
    batch_size : int, default 64
        Texts per forward pass.
    device : str, torch.device or None, default "cpu"
        Where the models run.

    Returns
    -------
    BiasComparison
        Per test and pooling, both models' effect sizes and p-values, and the difference
        with its interval.

    Raises
    ------
    InvalidInputError
        If an option is out of range, the tests are invalid, or a model cannot return
        hidden states.

    Examples
    --------
    >>> from trustaudit import load_model
    >>> from trustaudit.bias import compare_bias
    >>> base, small = load_model("models/base"), load_model("models/small")  # doctest: +SKIP
    >>> comparison = compare_bias(base, small, pooling="mean", n_resamples=200)  # doctest: +SKIP
    >>> len(comparison.tests) > 0  # doctest: +SKIP
    True
    """
    poolings = check_pooling(pooling)
    n_permutations = check_int(n_permutations, "n_permutations", 1)
    exact_limit = check_int(exact_limit, "exact_limit", 1)
    n_resamples = check_int(n_resamples, "n_resamples", 0)
    seed = check_int(seed, "seed", 0)
    ci_level = check_open_unit(ci_level, "ci_level")
    suite = resolve_tests(tests)
    vocabulary: dict[tuple[str, str], int] = {}
    for test in suite.tests:
        for word_set in test.sets:
            for word in word_set.words:
                vocabulary.setdefault((word, word_set.kind), len(vocabulary))
    words = list(vocabulary)
    seconds: dict[str, float] = {}
    embeddings = {}
    for role, bundle in (("base", base), ("small", small)):
        start = time.perf_counter()
        embeddings[role] = encode_words(bundle, words, templates=suite.templates, pooling=poolings,
                                        batch_size=batch_size, device=device)
        seconds[f"encode_{role}"] = time.perf_counter() - start
    start = time.perf_counter()
    results = []
    columns: list[tuple[str, str, EffectSizeChange, np.ndarray]] = []
    for test in suite.tests:
        rows = [np.array([vocabulary[(w, s.kind)] for w in s.words]) for s in test.sets]
        local_seed = derived_seed(seed, test.name)
        per_pooling = []
        for name in poolings:
            base_sets = [embeddings["base"][name][r] for r in rows]
            small_sets = [embeddings["small"][name][r] for r in rows]
            options = {"n_permutations": n_permutations, "exact_limit": exact_limit, "seed": local_seed}
            base_result = weat_test(*base_sets, **options)
            small_result = weat_test(*small_sets, **options)
            if n_resamples:
                draws = effect_size_draws(base_sets, small_sets, n_resamples=n_resamples, seed=local_seed)
            else:
                draws = (np.empty(0), np.empty(0))
            change = change_from_draws(base_result.effect_size, small_result.effect_size, draws,
                                       n_resamples=n_resamples, seed=local_seed, ci_level=ci_level)
            per_pooling.append(PoolingResult(name, base_result, small_result, change))
            columns.append((test.name, name, change, np.abs(draws[1] - draws[0])))
        results.append(BiasTestResult(test, tuple(per_pooling)))
    largest, value, interval, n_defined = _largest(columns, ci_level)
    seconds["statistics"] = time.perf_counter() - start
    return BiasComparison(
        tests=tuple(results),
        poolings=poolings,
        largest_change=largest,
        max_abs_effect_change=value,
        max_abs_effect_change_ci=interval,
        n_defined=n_defined,
        n_permutations=n_permutations,
        exact_limit=exact_limit,
        n_resamples=n_resamples,
        seed=seed,
        ci_level=ci_level,
        templates={kind: tuple(t) for kind, t in suite.templates.items()},
        source=suite.source,
        citation=suite.citation,
        base_model=base.fingerprint,
        small_model=small.fingerprint,
        n_sentences=sum(len(suite.templates[kind]) for _, kind in words),
        seconds=seconds,
    )


def _largest(
    columns: list[tuple[str, str, EffectSizeChange, np.ndarray]], ci_level: float
) -> tuple[LargestChange | None, float, tuple[float, float] | None, int]:
    """Headline: the (test, pooling) with the largest |change|, and the interval of the maximum."""
    defined = [c for c in columns if math.isfinite(c[2].absolute_difference)]
    if not defined:
        return None, math.nan, None, 0
    name, pooling, change, _ = max(defined, key=lambda c: c[2].absolute_difference)
    largest = LargestChange(name, pooling, change.base, change.small, change.difference, change.absolute_difference)
    draws = np.column_stack([c[3] for c in defined])
    if draws.shape[0] == 0:
        return largest, change.absolute_difference, None, 0
    keep = np.all(np.isfinite(draws), axis=1)
    maxima = draws[keep].max(axis=1) if keep.any() else np.empty(0)
    interval = percentile_interval(maxima, ci_level) if maxima.size else None
    return largest, change.absolute_difference, interval, int(keep.sum())
