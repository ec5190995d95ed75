"""Explaining a model pair: both models, the same features, the same class, one engine.

Every agreement is measured between two independent explanations, one draw on each side:
the base model is explained with seed ``s`` (its LIME samples, its SHAP word tree and
tie-breaking), the small model with ``s' = s + 1``, and the *base repeat* is the base model
explained again with ``s'``. The agreement of the base run with its repeat
(*self-agreement*) is the *noise floor* the cross-model figure is judged against; both then
hold the same sampling noise. The small model and the base repeat share the ``s'`` samples
and tree, which costs no extra evaluations. Exact SHAP values depend on neither seed nor
tree: there the base repeat *is* the base explanation, exact by construction.

For every example, the texts known in advance (each explainer's
:class:`~trustaudit.explain._protocol.Plan`: LIME's samples, exact SHAP coalitions, or the
levels of each Partition tree that fit the budget) are evaluated before any explainer
runs, which is then served from the engine's memo: the ``s'`` texts go to the small model
in one call and, as the same list, to the base model (the same batches, so a model paired
with an exact copy of itself scores exactly its noise floor), then the base model's ``s`` texts
in a second call. A Partition run whose budget ends inside a level of its tree chooses that
level's coalitions from its model's outputs: one more batch per run.

With an executor other than this process (``workers > 1``: local processes; a Ray
executor: actors, see :mod:`trustaudit.scale`) the examples are cut into contiguous
shards. Each worker rebuilds both models once from their bundle bytes, starts its memo
where the parent's stands (every unperturbed input and its probabilities) and explains its
rows with the same code; every random draw depends only on the example and the seed, so the
records, rebuilt in row order, are those of one process. With an evaluation cache, every
finished example is also written to the cache directory (see
:mod:`trustaudit.explain._store`), and ``resume=True`` takes those instead of explaining
them again.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import torch

from trustaudit._deprecation import renamed_attribute
from trustaudit._cache import EvalCache
from trustaudit._evaluation import EngineStats, resolve_cache
from trustaudit._progress import bar
from trustaudit.data import Dataset
from trustaudit.exceptions import InvalidInputError
from trustaudit.explain import lime, shap
from trustaudit.explain._attributions import TARGETS, Attributions, Target, check_seed
from trustaudit.explain._memo import ExplainEngine
from trustaudit.explain._protocol import Explainer, Plan
from trustaudit.explain._registry import BUDGET_FIELDS, EXPLAINERS, explainer_names, get_explainer
from trustaudit.explain._store import ExampleStore
from trustaudit.explain.features import SEGMENTS, FeatureSet, Pair
from trustaudit.models import ModelPair
from trustaudit.scale._executors import Executor, SerialExecutor, resolve_executor

FORMAT = "trustaudit.explanations"
#: 3: the base repeat's keys are ``base_repeat``/``repeat_exact`` (``noise``/``noise_exact`` before), also as a seed role.
FORMAT_VERSION = 3
PAIRING = "base at seed s vs small at seed s'; floor: base at s vs base at s'"
#: Seed roles of records before format 3.
_OLD_ROLES = {"noise": "base_repeat"}


@dataclass(frozen=True, eq=False)
class ExampleExplanation:
    """Everything explained about one example.

    ``base`` and ``small`` map explainer names to the two models' attributions (same
    features, same target); ``base_repeat`` to the base model explained again the way the
    small model was (its agreement with ``base`` is the self-agreement, the noise floor of
    agreement scores). ``seeds`` gives the seed of each run (``base``, ``small``,
    ``base_repeat``; LIME's sampling seed, SHAP's tie-breaking and tree seed): the small run
    and the base repeat share theirs. Explainers listed in ``repeat_exact`` are
    deterministic here (exact SHAP, every coalition evaluated): their base repeat *is* the
    base attributions, and self-agreement is exact by construction. ``base_probs``
    and ``small_probs`` are the models' probabilities on the unperturbed input, in the
    base model's label order.
    """

    index: int
    row: int
    features: FeatureSet
    target: Target
    base_probs: np.ndarray
    small_probs: np.ndarray
    base: Mapping[str, Attributions]
    small: Mapping[str, Attributions]
    base_repeat: Mapping[str, Attributions]
    repeat_exact: tuple[str, ...]
    seconds: float
    seeds: Mapping[str, int | None]

    noise = renamed_attribute("noise", "base_repeat")
    noise_exact = renamed_attribute("noise_exact", "repeat_exact")

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form; the texts and features are stored once, not in every attribution."""
        return {
            "index": self.index,
            "row": self.row,
            "input": self.features.to_dict(),
            "target": self.target.to_dict(),
            "probs": {"base": [float(p) for p in self.base_probs], "small": [float(p) for p in self.small_probs]},
            "base": {name: a.to_dict(include_features=False) for name, a in self.base.items()},
            "small": {name: a.to_dict(include_features=False) for name, a in self.small.items()},
            "base_repeat": {
                name: a.to_dict(include_features=False)
                for name, a in self.base_repeat.items() if name not in self.repeat_exact
            },
            "repeat_exact": list(self.repeat_exact),
            "seeds": dict(self.seeds),
            "seconds": float(self.seconds),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExampleExplanation:
        """Rebuild from :meth:`to_dict`.

        Records of format 1 lack ``seeds`` and take them from the runs' own; records of
        formats 1 and 2 (and stores written by them) call the base repeat ``noise``.
        """
        features = FeatureSet.from_dict(data["input"])

        def load(group: Mapping[str, Any]) -> dict[str, Attributions]:
            return {name: Attributions.from_dict(value, features) for name, value in group.items()}

        base = load(data["base"])
        repeat_exact = tuple(data.get("repeat_exact", data.get("noise_exact", ())))
        base_repeat = load(data.get("base_repeat", data.get("noise", {})))
        for name in repeat_exact:
            base_repeat[name] = base[name]
        small = load(data["small"])
        seeds = data.get("seeds") or {
            role: next((a.params.get("seed") for a in group.values()), None)
            for role, group in (("base", base), ("small", small), ("base_repeat", base_repeat))
        }
        seeds = {_OLD_ROLES.get(role, role): seed for role, seed in seeds.items()}
        return cls(
            index=int(data["index"]),
            row=int(data["row"]),
            features=features,
            target=Target.from_dict(data["target"]),
            base_probs=np.asarray(data["probs"]["base"], dtype=np.float64),
            small_probs=np.asarray(data["probs"]["small"], dtype=np.float64),
            base=base,
            small=small,
            base_repeat=base_repeat,
            repeat_exact=repeat_exact,
            seconds=float(data["seconds"]),
            seeds={role: None if seed is None else int(seed) for role, seed in seeds.items()},
        )


def _stats_to_dict(stats: EngineStats) -> dict[str, Any]:
    return {**asdict(stats), "padding_share": stats.padding_share}


def _stats_from_dict(data: Mapping[str, Any]) -> EngineStats:
    return EngineStats(**{f.name: data[f.name] for f in fields(EngineStats) if f.name in data})


@dataclass(frozen=True, eq=False)
class PairExplanations:
    """Attributions of a model pair over examples of a dataset, with how they were computed.

    ``config`` holds the settings (explainers, budgets, seeds, segment, target rule...);
    ``models`` each model's fingerprint and path; ``stats`` per model what the engine did
    (``requested`` by the explainers vs ``unique`` texts sent to the model, padding share,
    seconds in the model vs in the engine); ``seconds`` the wall time of the whole run;
    ``resumed`` how many examples were read back from a stored run instead of explained
    (not part of :meth:`to_dict`).
    """

    labels: tuple[str, ...]
    examples: tuple[ExampleExplanation, ...]
    config: Mapping[str, Any]
    models: Mapping[str, Mapping[str, Any]]
    stats: Mapping[str, EngineStats]
    seconds: float
    resumed: int = 0

    def __len__(self) -> int:
        return len(self.examples)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form that :meth:`from_dict` restores exactly (floats through ``repr``)."""
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "labels": list(self.labels),
            "config": dict(self.config),
            "models": {name: dict(model) for name, model in self.models.items()},
            "stats": {name: _stats_to_dict(s) for name, s in self.stats.items()},
            "seconds": float(self.seconds),
            "examples": [example.to_dict() for example in self.examples],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PairExplanations:
        """Rebuild from :meth:`to_dict`."""
        if data.get("format") != FORMAT:
            raise InvalidInputError(f"not a trustaudit explanations record (format {data.get('format')!r})")
        if int(data.get("format_version", 0)) > FORMAT_VERSION:
            raise InvalidInputError(
                f"explanations format version {data['format_version']} is newer than this trustaudit reads ({FORMAT_VERSION})"
            )
        return cls(
            labels=tuple(data["labels"]),
            examples=tuple(ExampleExplanation.from_dict(e) for e in data["examples"]),
            config=dict(data["config"]),
            models={name: dict(model) for name, model in data["models"].items()},
            stats={name: _stats_from_dict(s) for name, s in data["stats"].items()},
            seconds=float(data["seconds"]),
        )


def _check_explainers(explainers: Sequence[str] | str) -> tuple[str, ...]:
    """The selected explainers' names in registry order, else an input error listing the registered ones."""
    names = (explainers,) if isinstance(explainers, str) else tuple(explainers)
    registered = explainer_names()
    unknown = [n for n in names if n not in registered]
    if not names or unknown or len(set(names)) != len(names):
        raise InvalidInputError(
            f"explainers must be a non-empty selection of {', '.join(registered)} without repeats, got {explainers!r}"
        )
    return tuple(n for n in registered if n in names)


def _check_budgets(names: tuple[str, ...], budgets: Mapping[str, int], fixed: Mapping[str, int]) -> dict[str, int]:
    """The budget of each selected explainer: ``fixed`` (lime_samples, shap_max_evals), ``budgets``, else its default."""
    for name in budgets:
        if name in BUDGET_FIELDS:
            raise InvalidInputError(f"give the budget of {name} as {BUDGET_FIELDS[name]}, not in budgets")
        get_explainer(name)
    out: dict[str, int] = {}
    for name in names:
        explainer = get_explainer(name)
        if name in fixed:
            out[name] = fixed[name]
        else:
            out[name] = explainer.check_budget(budgets.get(name, explainer.default_budget), f"budgets[{name!r}]")
    return out


def _check_indices(indices: Sequence[int] | np.ndarray, n: int) -> list[int]:
    values = np.asarray(indices).reshape(-1) if not isinstance(indices, range) else np.asarray(list(indices))
    if values.size and not np.issubdtype(values.dtype, np.integer):
        raise InvalidInputError(f"indices must be integer positions in the dataset, got {indices!r}")
    bad = [int(i) for i in values if not 0 <= int(i) < n]
    if bad:
        raise InvalidInputError(f"indices out of range for a dataset of {n} examples: {bad[:5]}")
    return [int(i) for i in values]


def _targets(rule: str, base_probs: np.ndarray, data: Dataset, idx: list[int], labels: tuple[str, ...]) -> list[Target]:
    if rule == "base_predicted":
        return [Target(labels[int(k)], int(k), rule) for k in base_probs.argmax(axis=1)]
    lookup = {name.lower(): i for i, name in enumerate(labels)}
    targets = []
    for i in idx:
        name = data.label_names[int(data.labels[i])]  # type: ignore[index]
        if name.lower() not in lookup:
            raise InvalidInputError(f"gold label {name!r} of example {i} is not a label of the models ({', '.join(labels)})")
        targets.append(Target(labels[lookup[name.lower()]], lookup[name.lower()], rule))
    return targets


@dataclass(frozen=True)
class _Settings:
    explainers: tuple[Explainer, ...]
    budgets: Mapping[str, int]
    seed: int
    other_seed: int
    self_agreement: bool

    @property
    def seeds(self) -> dict[str, int | None]:
        """The seed of each run: base at ``s``, small and the base repeat at ``s'``."""
        return {"base": self.seed, "small": self.other_seed, "base_repeat": self.other_seed if self.self_agreement else None}


def _explain_example(engine: ExplainEngine, s: _Settings, features: FeatureSet, target: Target) -> tuple[dict, dict, dict, tuple]:
    """The base, small and base-repeat attributions of one example (see the module docstring).

    Every explainer's plans are drawn first, in selection order, for ``s`` and ``s'``; the
    ``s'`` inputs of all explainers go to the small model and then, as the same list, to
    the base model, then the base model's ``s`` inputs. Each explainer then explains the
    base at ``s``, the small model at ``s'`` and (unless deterministic, when the base repeat
    is its base explanation) the base at ``s'``.
    """
    seed, other = s.seed, s.other_seed
    plans: dict[str, dict[int, Plan]] = {}
    own: list[Pair] = []
    shared: list[Pair] = []
    for explainer in s.explainers:
        budget = s.budgets[explainer.name]
        plans[explainer.name] = {x: explainer.plan(features, budget=budget, seed=x) for x in (seed, other)}
        own += plans[explainer.name][seed].inputs
        shared += plans[explainer.name][other].inputs
    engine.prefetch("small", shared)
    if s.self_agreement:
        engine.prefetch("base", shared)
    engine.prefetch("base", own)

    base_fn, small_fn = engine.predictor("base"), engine.predictor("small")
    base: dict[str, Attributions] = {}
    small: dict[str, Attributions] = {}
    base_repeat: dict[str, Attributions] = {}
    repeat_exact: list[str] = []
    for explainer in s.explainers:
        name, budget, plan = explainer.name, s.budgets[explainer.name], plans[explainer.name]
        base[name] = explainer.explain(features, base_fn, target, budget=budget, seed=seed, plan=plan[seed])
        small[name] = explainer.explain(features, small_fn, target, budget=budget, seed=other, plan=plan[other])
        if s.self_agreement:
            if explainer.deterministic(features, budget):
                base_repeat[name] = base[name]
                repeat_exact.append(name)
            else:
                base_repeat[name] = explainer.explain(features, base_fn, target, budget=budget, seed=other, plan=plan[other])
    return base, small, base_repeat, tuple(repeat_exact)


@dataclass(frozen=True)
class _Row:
    """One example to explain: its position, row, texts, target and the models' probabilities on it."""

    index: int
    row: int
    pair: Pair
    target: Target
    base_probs: np.ndarray
    small_probs: np.ndarray


def _explain_rows(
    engine: ExplainEngine,
    s: _Settings,
    segment: str,
    rows: Sequence[_Row],
    keep: Sequence[Pair],
    done: Callable[[ExampleExplanation], None],
) -> list[ExampleExplanation]:
    """Explain ``rows`` one after the other, the memo cleared to ``keep`` (every unperturbed input) before each;
    ``done(example)`` as each is finished."""
    examples = []
    for r in rows:
        t0 = time.perf_counter()
        engine.clear(keep=keep)
        features = FeatureSet(r.pair[0], r.pair[1], segment)
        base, small, base_repeat, repeat_exact = _explain_example(engine, s, features, r.target)
        examples.append(
            ExampleExplanation(
                index=r.index,
                row=r.row,
                features=features,
                target=r.target,
                base_probs=r.base_probs,
                small_probs=r.small_probs,
                base=base,
                small=small,
                base_repeat=base_repeat,
                repeat_exact=repeat_exact,
                seconds=time.perf_counter() - t0,
                seeds=s.seeds,
            )
        )
        done(examples[-1])
    return examples


@dataclass(frozen=True)
class _Shard:
    """What a worker (a local process or a Ray actor) needs to explain its rows exactly as this process would.

    The models are not here: the executor hands each worker the pair, rebuilt once from its
    bundle bytes. The explainers travel as objects, so one registered only in the parent
    (defined in an importable module or the main script) runs in the workers too. The
    unperturbed inputs of every row with both models' probabilities seed the worker's memo
    as the parent's full pass seeds its own.
    """

    explainers: tuple[Explainer, ...]
    budgets: Mapping[str, int]
    seed: int
    other_seed: int
    self_agreement: bool
    segment: str
    device: str | None
    batch_size: int
    cache: bool | str | None
    inputs: tuple[Pair, ...]
    full: Mapping[str, np.ndarray]
    rows: tuple[_Row, ...]
    precision: str = "fp32"


def _run_shard(pair: ModelPair, shard: _Shard) -> dict[str, Any]:
    """In a worker: explain the shard's rows with ``pair``; the records and engine statistics."""
    settings = _Settings(shard.explainers, shard.budgets, shard.seed, shard.other_seed, shard.self_agreement)
    engine = ExplainEngine.for_pair(
        pair, device=shard.device, batch_size=shard.batch_size, cache=shard.cache, precision=shard.precision
    )
    for name in ("base", "small"):
        engine.remember(name, shard.inputs, shard.full[name])
    examples = _explain_rows(engine, settings, shard.segment, shard.rows, shard.inputs, lambda example: None)
    engine.clear()
    return {
        "examples": [e.to_dict() for e in examples],
        "stats": {name: _stats_to_dict(engine.stats(name)) for name in ("base", "small")},
    }


def _check_workers(workers: int) -> int:
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise InvalidInputError(f"workers must be an integer >= 1, got {workers!r}")
    return int(workers)


def _cache_arg(cache: bool | str | os.PathLike[str] | EvalCache | None) -> bool | str | None:
    """The cache setting in a form another process can open (an open cache by its directory)."""
    if isinstance(cache, EvalCache):
        return str(cache.directory)
    if isinstance(cache, os.PathLike):
        return os.fspath(cache)
    return cache


def _explain_with(
    executor: Executor,
    pair: ModelPair,
    s: _Settings,
    segment: str,
    rows: list[_Row],
    inputs: list[Pair],
    full: Mapping[str, np.ndarray],
    *,
    device: str | torch.device | None,
    batch_size: int,
    cache: bool | str | os.PathLike[str] | EvalCache | None,
    done: Callable[[ExampleExplanation], None],
    precision: str = "fp32",
) -> tuple[list[ExampleExplanation], list[dict[str, EngineStats]]]:
    """Explain ``rows`` in the executor's contiguous shards; the examples in row order and each shard's statistics."""
    sizes = executor.shards(len(rows))
    bounds = np.cumsum([0, *sizes])
    common = dict(
        explainers=s.explainers,
        budgets=dict(s.budgets),
        seed=s.seed,
        other_seed=s.other_seed,
        self_agreement=s.self_agreement,
        segment=segment,
        device=None if device is None else str(device),
        batch_size=batch_size,
        cache=_cache_arg(cache),
        inputs=tuple(inputs),
        full=dict(full),
        precision=precision,
    )
    shards = [_Shard(rows=tuple(rows[bounds[n]:bounds[n + 1]]), **common) for n in range(len(sizes))]

    parsed: dict[int, list[ExampleExplanation]] = {}

    def finished(n: int, result: dict[str, Any]) -> None:
        parsed[n] = [ExampleExplanation.from_dict(record) for record in result["examples"]]
        for example in parsed[n]:
            done(example)

    results = executor.map(_run_shard, pair, shards, done=finished)
    examples = [example for n in range(len(shards)) for example in parsed[n]]
    stats = [{name: _stats_from_dict(d) for name, d in result["stats"].items()} for result in results]
    return examples, stats


def _sum_stats(parts: Sequence[EngineStats]) -> EngineStats:
    """Statistics of several engines added field by field (one engine's as they are)."""
    if len(parts) == 1:
        return parts[0]
    return EngineStats(**{f.name: sum(getattr(p, f.name) for p in parts) for f in fields(EngineStats)})


def explain_pair(
    pair: ModelPair,
    data: Dataset,
    indices: Sequence[int] | np.ndarray,
    *,
    explainers: Sequence[str] = EXPLAINERS,
    lime_samples: int = lime.DEFAULT_SAMPLES,
    shap_max_evals: int = shap.DEFAULT_MAX_EVALS,
    budgets: Mapping[str, int] | None = None,
    seed: int = 0,
    segment: str = "both",
    target: str = "base_predicted",
    self_agreement: bool = True,
    device: str | torch.device | None = "auto",
    batch_size: int = 32,
    cache: bool | str | os.PathLike[str] | EvalCache | None = True,
    progress: bool | None = None,
    workers: int = 1,
    precision: str = "fp32",
    executor: Executor | None = None,
    resume: bool = False,
) -> PairExplanations:
    """Explain the examples at ``indices`` with both models of ``pair`` (LIME and SHAP by default).

    ``explainers`` are registered names (see :func:`~trustaudit.explain.explainer_names`);
    LIME's budget is ``lime_samples``, SHAP's ``shap_max_evals``, any other explainer's
    ``budgets[name]`` (else its default).

    Both models are explained for the same class — the base model's prediction, or the gold
    label with ``target="gold"`` — taken by label name, and over the same word features
    (``segment``: ``both`` texts of a pair, or only ``a`` or ``b``). The base model is
    explained with ``seed``, the small model with ``seed + 1`` (LIME samples, SHAP word
    tree and tie-breaking); with ``self_agreement`` the base model is explained again with
    ``seed + 1`` (the base repeat; its agreement with the base run is the noise floor),
    paired the same way (exact SHAP depends on neither, and its base repeat is exact). Every model input goes through one de-duplicating,
    cached, length-bucketed engine (see :mod:`trustaudit.explain._memo`).

    Parameters
    ----------
    pair : ModelPair
        The base and small models (see :func:`~trustaudit.load_pair`).
    data : Dataset
        The examples (see :func:`~trustaudit.load_dataset`).
    indices : sequence of int or ndarray
        Positions in ``data`` of the examples to explain.
    explainers : sequence of str, default ("lime", "shap")
        Registered explainer names.
    lime_samples : int, default 1000
        LIME's budget: perturbed samples per example.
    shap_max_evals : int, default 500
        SHAP's budget: model evaluations per example.
    budgets : mapping of str to int, optional
        Budgets of other explainers, by name. Default: their ``default_budget``.
    seed : int, default 0
        Seed of the base model's explanations (the small model's is ``seed + 1``).
    segment : {"both", "a", "b"}, default "both"
        Which texts of a pair are split into word features.
    target : {"base_predicted", "gold"}, default "base_predicted"
        The class explained: the base model's prediction, or the gold label.
    self_agreement : bool, default True
        Also explain the base model with ``seed + 1`` (the base repeat), for the noise floor of agreement.
    device : str, torch.device or None, default "auto"
        Where the models run: ``"auto"`` picks CUDA when available, else the CPU.
    batch_size : int, default 32
        Model inputs per forward pass.
    cache : bool, str, path-like or EvalCache, default True
        The on-disk cache of model outputs (``False``/``None`` for none).
    progress : bool, optional
        Show progress on stderr; default the process setting, else whether stderr is a
        terminal.
    workers : int, default 1
        Processes that explain the examples: above 1, contiguous shards of ``indices`` are
        explained in that many ``spawn``-ed processes, each with the models rebuilt from
        their bundle bytes and its share of the torch threads. The result is the same.
    precision : {"fp32", "bf16", "fp16"}, default "fp32"
        Format of the forward passes: fp32, or autocast to bfloat16 or float16 (faster on
        GPUs, at a small cost in fidelity; see :func:`trustaudit._evaluation.check_precision`).
    executor : Executor, optional
        Where the examples are explained (:mod:`trustaudit.scale`: this process, local
        processes, Ray actors); default from ``workers``. Give one or the other. The
        result is the same.
    resume : bool, default False
        Take the examples a previous run with the same models and settings finished (and
        wrote to the cache directory) instead of explaining them again; needs ``cache``.

    Returns
    -------
    PairExplanations
        One :class:`ExampleExplanation` per index (both models' attributions per
        explainer), the settings, and what the engine did.

    Raises
    ------
    InvalidInputError
        If ``pair`` or ``data`` has the wrong type, ``segment``/``target`` is unknown or
        does not fit the data, an explainer is not registered, a budget is invalid,
        ``workers`` is not an integer >= 1, both ``workers`` and ``executor`` are given, or
        ``resume`` is asked for without a cache.

    Examples
    --------
    >>> from trustaudit import explain_pair, load_dataset, load_pair
    >>> pair = load_pair("models/base", "models/small")  # doctest: +SKIP
    >>> data = load_dataset("dev.tsv", pair.labels)  # doctest: +SKIP
    >>> result = explain_pair(pair, data, [0, 1, 2], explainers=("lime",), lime_samples=500)  # doctest: +SKIP
    >>> len(result.examples)  # doctest: +SKIP
    3
    """
    start = time.perf_counter()
    if not isinstance(pair, ModelPair):
        raise InvalidInputError(f"pair must be a ModelPair (see load_pair), got {type(pair).__name__}")
    if not isinstance(data, Dataset):
        raise InvalidInputError(f"data must be a Dataset (see load_dataset), got {type(data).__name__}")
    names = _check_explainers(explainers)
    lime_samples = lime.check_num_samples(lime_samples, "lime_samples")
    shap_max_evals = shap.check_max_evals(shap_max_evals, "shap_max_evals")
    budget_of = _check_budgets(names, dict(budgets or {}), {lime.NAME: lime_samples, shap.NAME: shap_max_evals})
    seed = check_seed(seed)
    if segment not in SEGMENTS:
        raise InvalidInputError(f"segment must be one of {', '.join(SEGMENTS)}, got {segment!r}")
    if segment == "b" and not data.is_pair:
        raise InvalidInputError(f"segment='b' explains the second text of pairs, but {data.path} holds single texts")
    if target not in TARGETS:
        raise InvalidInputError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
    if target == "gold" and data.labels is None:
        raise InvalidInputError(f"target='gold' needs gold labels, but {data.path} has no label column")
    idx = _check_indices(indices, len(data))
    workers = _check_workers(workers)
    executor = resolve_executor(executor, workers)
    eval_cache = resolve_cache(cache)
    if resume and eval_cache is None:
        raise InvalidInputError("resume=True reads the finished examples from the cache directory; give a `cache`")
    settings = _Settings(tuple(get_explainer(n) for n in names), budget_of, seed, (seed + 1) % 2**32, bool(self_agreement))

    engine = ExplainEngine.for_pair(pair, device=device, batch_size=batch_size, cache=eval_cache, precision=precision)
    inputs: list[Pair] = [(data.text_a[i], data.text_b[i] if data.text_b is not None else None) for i in idx]
    for name in ("base", "small"):
        engine.prefetch(name, inputs)
    full = {name: engine.probs(name, inputs) for name in ("base", "small")}
    targets = _targets(target, full["base"], data, idx, pair.labels)

    rows = [
        _Row(i, int(data.rows[i]), inputs[j], targets[j], full["base"][j], full["small"][j]) for j, i in enumerate(idx)
    ]
    store = None
    if eval_cache is not None:
        store = ExampleStore(eval_cache.directory, {
            "models": [pair.base.cache_id, pair.small.cache_id], "explainers": list(names), "budgets": budget_of,
            "seed": seed, "other_seed": settings.other_seed, "self_agreement": bool(self_agreement), "segment": segment,
            "target": target, "batch_size": batch_size, "device": engine.device.type,
            **({"precision": precision} if precision != "fp32" else {}),
        })
    found: dict[int, ExampleExplanation] = {}
    if resume and store is not None:
        for r in rows:
            record = store.get(r.index, list(r.pair))
            if record is not None:
                found[r.index] = ExampleExplanation.from_dict(record)
    todo = [r for r in rows if r.index not in found]
    worker_stats: list[dict[str, EngineStats]] = []
    with bar(len(idx), "explain", progress, unit="example") as progress_bar:
        progress_bar.update(len(found))

        def finished(example: ExampleExplanation) -> None:
            if store is not None:
                store.put(example.index, [example.features.text_a, example.features.text_b], example.to_dict())
            progress_bar.update(1)

        local = isinstance(executor, SerialExecutor) or (executor.kind == "processes" and len(todo) < 2)
        if todo and not local:
            computed, worker_stats = _explain_with(
                executor, pair, settings, segment, todo, inputs, full, device=device, batch_size=batch_size,
                cache=eval_cache, done=finished, precision=precision,
            )
        else:
            computed = _explain_rows(engine, settings, segment, todo, inputs, finished)
    by_index = {**found, **{e.index: e for e in computed}}
    examples = [by_index[r.index] for r in rows]
    engine.clear()
    config = {
        "explainers": list(names),
        "lime_samples": lime_samples,
        "lime_kernel_width": lime.DEFAULT_KERNEL_WIDTH,
        "shap_max_evals": shap_max_evals,
        **({"budgets": others} if (others := {n: b for n, b in budget_of.items() if n not in BUDGET_FIELDS}) else {}),
        "seed": seed,
        "small_seed": settings.other_seed,
        "base_repeat_seed": settings.seeds["base_repeat"],
        "tree_seeds": settings.seeds if shap.NAME in names else None,
        "pairing": PAIRING,
        "segment": segment,
        "target": target,
        "self_agreement": bool(self_agreement),
        "batch_size": batch_size,
        "device": str(engine.device),
        **({"precision": precision} if precision != "fp32" else {}),
    }
    models = {
        name: {"fingerprint": bundle.fingerprint, "path": bundle.path, "labels": list(bundle.labels)}
        for name, bundle in (("base", pair.base), ("small", pair.small))
    }
    return PairExplanations(
        labels=pair.labels,
        examples=tuple(examples),
        config=config,
        models=models,
        stats={name: _sum_stats([engine.stats(name), *(w[name] for w in worker_stats)]) for name in ("base", "small")},
        seconds=time.perf_counter() - start,
        resumed=len(found),
    )
