"""Where the shards of an audit run: in this process, in local processes, or on Ray actors.

Every executor runs the same thing, ``fn(pair, task)`` for each task, and gives the results
in task order; a worker (process or actor) rebuilds the model pair once from its bundle
bytes (:class:`~trustaudit.scale._payload.PairPayload`) and keeps it. Every random draw of
an audit depends on the example and the seed only, never on the worker or the order, so
the results do not depend on the executor.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any, ClassVar

from trustaudit.exceptions import InvalidInputError, MissingDependencyError
from trustaudit.models import ModelPair
from trustaudit.scale._payload import PairPayload, error_of, reraise

TaskFn = Callable[[ModelPair, Any], Any]

RAY_HINT = "install it with: pip install 'trustaudit[ray]'"


def _positive(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(f"`{name}` must be an integer >= 1, got {value!r}")
    return int(value)


def contiguous(n: int, parts: int) -> list[int]:
    """Sizes of ``parts`` contiguous shards of ``n`` items, as even as can be (no empty shard)."""
    parts = max(1, min(parts, n))
    base, extra = divmod(n, parts)
    return [base + (k < extra) for k in range(parts)] if n else []


def call_in_worker(fn: TaskFn, payload: PairPayload, task: Any, threads: int | None) -> tuple[str, Any]:
    """Run one task in a worker: ``("ok", result)``, or ``("error", (module, type, message))`` to re-raise in the parent."""
    try:
        if threads:
            import torch

            torch.set_num_threads(threads)
        return ("ok", fn(payload.load(), task))
    except Exception as exc:  # noqa: BLE001 - sent back whole, re-raised by the parent as its own type
        return ("error", error_of(exc))


class Executor(ABC):
    """Runs ``fn(pair, task)`` for every task and gives the results in task order.

    ``width`` is how many tasks run at once; :meth:`shards` how the rows to explain are cut;
    ``shards_predictions`` whether predictions over the data are sharded too. :meth:`describe`
    is what the results file records (``None`` for the default, one process). An executor
    is a context manager; :meth:`close` releases its workers.
    """

    kind: ClassVar[str]
    shards_predictions: ClassVar[bool] = False

    def __init__(self) -> None:
        self._payloads: dict[tuple[str, str], PairPayload] = {}

    @property
    @abstractmethod
    def width(self) -> int:
        """How many tasks run at the same time."""

    def shards(self, n: int) -> list[int]:
        """Sizes of the contiguous shards ``n`` rows to explain are cut into: one per worker."""
        return contiguous(n, self.width)

    def describe(self) -> dict[str, Any] | None:
        """What the results file records of this executor (``None``: the default, not recorded)."""
        return {"kind": self.kind}

    def payload(self, pair: ModelPair) -> PairPayload:
        """``pair`` as bytes, made once per pair."""
        key = (pair.base.cache_id, pair.small.cache_id)
        if key not in self._payloads:
            self._payloads = {key: PairPayload.from_pair(pair)}
        return self._payloads[key]

    @abstractmethod
    def map(
        self,
        fn: TaskFn,
        pair: ModelPair,
        tasks: Sequence[Any],
        *,
        done: Callable[[int, Any], None] | None = None,
    ) -> list[Any]:
        """``[fn(pair, task) for task in tasks]``, computed where this executor runs; ``done(i, result)`` as task ``i`` ends.

        A task's error is raised here as its own type with its message.
        """

    def close(self) -> None:
        """Release the workers (a later :meth:`map` starts them again)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SerialExecutor(Executor):
    """Everything in this process, one task after the other: the default."""

    kind = "serial"

    @property
    def width(self) -> int:
        return 1

    def describe(self) -> dict[str, Any] | None:
        return None

    def map(self, fn: TaskFn, pair: ModelPair, tasks: Sequence[Any], *,
            done: Callable[[int, Any], None] | None = None) -> list[Any]:
        out = []
        for k, task in enumerate(tasks):
            out.append(fn(pair, task))
            if done is not None:
                done(k, out[-1])
        return out


class ProcessExecutor(Executor):
    """``workers`` local ``spawn``-ed processes, each with ``torch threads // workers`` threads.

    The pair travels as bytes with each task (one task per worker), so processes start
    for each :meth:`map` and end with it: nothing stays behind.
    """

    kind = "processes"

    def __init__(self, workers: int = 2) -> None:
        super().__init__()
        self.workers = _positive(workers, "workers")

    @property
    def width(self) -> int:
        return self.workers

    def describe(self) -> dict[str, Any] | None:
        return {"kind": self.kind, "workers": self.workers}

    def map(self, fn: TaskFn, pair: ModelPair, tasks: Sequence[Any], *,
            done: Callable[[int, Any], None] | None = None) -> list[Any]:
        import torch

        if not tasks:
            return []
        payload = self.payload(pair)
        threads = max(1, torch.get_num_threads() // self.workers)
        results: dict[int, Any] = {}
        context = multiprocessing.get_context("spawn")
        try:
            with ProcessPoolExecutor(max_workers=min(self.workers, len(tasks)), mp_context=context) as pool:
                futures = {pool.submit(call_in_worker, fn, payload, task, threads): k for k, task in enumerate(tasks)}
                for future in as_completed(futures):
                    status, value = future.result()
                    if status == "error":
                        for other in futures:
                            other.cancel()
                        reraise(*value)
                    k = futures[future]
                    results[k] = value
                    if done is not None:
                        done(k, value)
        except BrokenProcessPool as exc:
            raise RuntimeError(f"a worker process ended abruptly (out of memory?): {exc}") from None
        return [results[k] for k in range(len(tasks))]


class _PairActor:
    """A Ray actor: rebuilds the pair once from the payload in Ray's object store, then runs tasks on it."""

    def __init__(self, payload: PairPayload, threads: int) -> None:
        import torch

        torch.set_num_threads(threads)
        self.threads = threads
        self.error: tuple[str, str, str] | None = None
        try:
            self.pair: ModelPair | None = payload.load()
        except Exception as exc:  # noqa: BLE001 - reported with the first task, as that task's error
            self.pair, self.error = None, error_of(exc)

    def run(self, fn: TaskFn, task: Any) -> tuple[str, Any]:
        if self.pair is None:
            return ("error", self.error)
        try:
            return ("ok", fn(self.pair, task))
        except Exception as exc:  # noqa: BLE001 - sent back whole, re-raised by the driver as its own type
            return ("error", error_of(exc))


def import_ray() -> Any:
    """The ``ray`` module, else a one-line install hint."""
    try:
        import ray
    except ImportError:
        raise MissingDependencyError(f"the Ray executor needs Ray: {RAY_HINT}") from None
    return ray


class RayExecutor(Executor):
    """Ray actors, each with both models loaded once from bytes put in Ray's object store.

    ``address`` is what :func:`ray.init` joins (``"auto"``: the cluster this machine belongs
    to; ``"ray://host:10001"``: a remote one); ``None`` starts a local Ray instance (stopped by
    :meth:`close`). A Ray already initialised in this process is used as it is. ``actors``
    actors of ``cpus_per_actor`` CPUs (torch threads) and ``gpus_per_actor`` GPUs each take
    tasks as they free up (``actors=None`` with ``gpus_per_actor`` > 0: as many actors as the
    cluster's GPUs hold, one per GPU with ``gpus_per_actor=1``; Ray gives each actor its own
    GPU, which it sees as ``cuda:0``): ``rows_per_task`` explained rows at a time, and predictions in
    whole batches of the single-process engine. An actor that dies (node lost, out of
    memory) is restarted up to ``max_restarts`` times and its task retried, so the results
    are unchanged. ``init_options`` go to :func:`ray.init`.
    """

    kind = "ray"
    shards_predictions = True

    def __init__(
        self,
        address: str | None = None,
        *,
        actors: int | None = 2,
        cpus_per_actor: int = 1,
        gpus_per_actor: float = 0,
        rows_per_task: int = 1,
        max_restarts: int = 3,
        init_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if address is not None and (not isinstance(address, str) or not address):
            raise InvalidInputError(f"`address` must be a Ray address, 'auto' or None (a local instance), got {address!r}")
        self.address = address
        self.cpus_per_actor = _positive(cpus_per_actor, "cpus_per_actor")
        if isinstance(gpus_per_actor, bool) or not isinstance(gpus_per_actor, (int, float)) or gpus_per_actor < 0:
            raise InvalidInputError(f"`gpus_per_actor` must be a number >= 0, got {gpus_per_actor!r}")
        self.gpus_per_actor = gpus_per_actor
        if actors is None and not gpus_per_actor:
            raise InvalidInputError("`actors`=None (one actor per GPU) needs `gpus_per_actor` > 0")
        #: ``None`` until Ray says how many GPUs the cluster has (``actors=None``).
        self.actors: int | None = None if actors is None else _positive(actors, "actors")
        self.rows_per_task = _positive(rows_per_task, "rows_per_task")
        if isinstance(max_restarts, bool) or not isinstance(max_restarts, int) or max_restarts < 0:
            raise InvalidInputError(f"`max_restarts` must be an integer >= 0, got {max_restarts!r}")
        self.max_restarts = max_restarts
        self.init_options = dict(init_options or {})
        self._started = False
        self._pool: list[Any] = []
        self._pool_key: tuple[str, str] | None = None
        #: The payload in the object store, held while the actors live: a restarted actor reads it again.
        self._payload_ref: Any = None

    @property
    def width(self) -> int:
        if self.actors is None:
            self._ray()
        return int(self.actors)  # type: ignore[arg-type]

    def shards(self, n: int) -> list[int]:
        return contiguous(n, math.ceil(n / self.rows_per_task)) if n else []

    def describe(self) -> dict[str, Any] | None:
        described: dict[str, Any] = {"kind": self.kind, "address": self.address or "local",
                                     "actors": "one per GPU" if self.actors is None else self.actors}
        if self.gpus_per_actor:
            described["gpus_per_actor"] = self.gpus_per_actor
        return described

    def _actors_per_gpu(self, ray: Any) -> int:
        """How many actors of ``gpus_per_actor`` GPUs the cluster's GPUs hold (``actors=None``)."""
        gpus = ray.cluster_resources().get("GPU", 0)
        fit = int(gpus // self.gpus_per_actor)
        if fit < 1:
            raise InvalidInputError(
                f"one actor per GPU was asked for (`gpus_per_actor`={self.gpus_per_actor:g}), but the Ray cluster has "
                f"{gpus:g} GPUs; give `actors` or run on a cluster with GPUs"
            )
        return fit

    def _ray(self) -> Any:
        ray = import_ray()
        fresh = not ray.is_initialized()
        if fresh:
            options = {"include_dashboard": False, "logging_level": "warning", **self.init_options}
            if self.address is None:
                options.setdefault("num_cpus", max(os.cpu_count() or 1, (self.actors or 1) * self.cpus_per_actor))
            ray.init(address=self.address, **options)
            self._started = True
        if self.actors is None:
            try:
                self.actors = self._actors_per_gpu(ray)
            except InvalidInputError:
                self.close()
                raise
        if fresh and self.address is None:
            have = ray.cluster_resources().get("CPU", 0)
            if have < self.actors * self.cpus_per_actor:
                self.close()
                raise InvalidInputError(
                    f"`actors`={self.actors} of `cpus_per_actor`={self.cpus_per_actor} need "
                    f"{self.actors * self.cpus_per_actor} CPUs, but the local Ray instance has {have:g}"
                )
        return ray

    def _actors(self, pair: ModelPair) -> list[Any]:
        """The actors holding ``pair``, started on first use (those of another pair are ended)."""
        ray = self._ray()
        payload = self.payload(pair)
        if self._pool_key != payload.key:
            self._end_actors()
            ref = ray.put(payload)
            remote = ray.remote(_PairActor).options(
                num_cpus=self.cpus_per_actor,
                num_gpus=self.gpus_per_actor,
                max_restarts=self.max_restarts,
                max_task_retries=self.max_restarts,
            )
            self._pool = [remote.remote(ref, self.cpus_per_actor) for _ in range(self.width)]
            self._pool_key, self._payload_ref = payload.key, ref
        return self._pool

    def map(self, fn: TaskFn, pair: ModelPair, tasks: Sequence[Any], *,
            done: Callable[[int, Any], None] | None = None) -> list[Any]:
        if not tasks:
            return []
        actors = self._actors(pair)
        ray = self._ray()
        results: dict[int, Any] = {}
        idle = list(range(len(actors)))
        pending: dict[Any, tuple[int, int]] = {}
        queue = list(range(len(tasks)))
        try:
            while queue or pending:
                while queue and idle:
                    k, a = queue.pop(0), idle.pop(0)
                    pending[actors[a].run.remote(fn, tasks[k])] = (k, a)
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    k, a = pending.pop(ref)
                    status, value = ray.get(ref)
                    if status == "error":
                        reraise(*value)
                    results[k] = value
                    idle.append(a)
                    if done is not None:
                        done(k, value)
        except ray.exceptions.RayActorError as exc:
            raise RuntimeError(f"a Ray actor died more often than it may be restarted ({self.max_restarts}): {exc}") from None
        finally:
            for ref in pending:
                try:
                    ray.cancel(ref)
                except Exception:  # noqa: BLE001 - a task that cannot be cancelled ends with its actor
                    pass
        return [results[k] for k in range(len(tasks))]

    def _end_actors(self) -> None:
        if self._pool:
            ray = import_ray()
            for actor in self._pool:
                ray.kill(actor)
        self._pool, self._pool_key = [], None

    def close(self) -> None:
        """End the actors; shut Ray down if this executor started it."""
        if self._pool or self._started:
            ray = import_ray()
            if ray.is_initialized():
                self._end_actors()
                if self._started:
                    ray.shutdown()
        self._pool, self._pool_key, self._payload_ref, self._started = [], None, None, False


def resolve_executor(executor: Executor | None, workers: int = 1) -> Executor:
    """``executor``, else local processes when ``workers`` > 1, else this process."""
    if executor is None:
        return ProcessExecutor(workers) if workers > 1 else SerialExecutor()
    if not isinstance(executor, Executor):
        raise InvalidInputError(
            f"`executor` must be a SerialExecutor, ProcessExecutor or RayExecutor (trustaudit.scale), got {type(executor).__name__}"
        )
    if workers > 1:
        raise InvalidInputError(f"give either `workers` ({workers}) or `executor`, not both")
    return executor
