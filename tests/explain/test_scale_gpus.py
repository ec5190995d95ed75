"""One Ray actor per GPU: placement and resolution, tested on a local Ray instance that declares
logical GPUs (Ray schedules ``num_gpus`` on them and sets each actor's CUDA_VISIBLE_DEVICES
as on a GPU node; the forward passes run on the CPU here)."""

from __future__ import annotations

import argparse
import os
import sys
import time

import pytest

from trustaudit.exceptions import InvalidInputError


def _visible_gpus(pair, task: float) -> tuple[str, int]:
    """What an actor sees: the GPUs Ray gave it (CUDA_VISIBLE_DEVICES) and its process, after a pause
    long enough that each of two tasks lands on its own actor."""
    time.sleep(task)
    return os.environ.get("CUDA_VISIBLE_DEVICES", ""), os.getpid()


def _args(**kwargs) -> argparse.Namespace:
    values = {"resume": False, "no_cache": False, "ray": "local", "workers": 1, "ray_actors": None, "device": "cpu"}
    values.update(kwargs)
    return argparse.Namespace(**values)


def test_one_actor_per_gpu_needs_gpus_per_actor() -> None:
    from trustaudit.scale import RayExecutor

    with pytest.raises(InvalidInputError, match="`actors`=None"):
        RayExecutor(actors=None)
    assert RayExecutor(actors=None, gpus_per_actor=1).describe() == {
        "kind": "ray", "address": "local", "actors": "one per GPU", "gpus_per_actor": 1,
    }


def test_the_cli_asks_for_gpu_actors_only_with_a_cuda_device(monkeypatch) -> None:
    pytest.importorskip("ray")
    import torch

    from trustaudit import cli

    on_cpu = cli._executor(_args(device="cpu"))
    assert (on_cpu.actors, on_cpu.gpus_per_actor) == (2, 0)
    assert cli._executor(_args(device="cpu", ray_actors=3)).actors == 3
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    on_gpus = cli._executor(_args(device="cuda"))
    assert (on_gpus.actors, on_gpus.gpus_per_actor) == (None, 1)
    assert cli._executor(_args(device="cuda", ray_actors=4)).actors == 4
    with pytest.raises(InvalidInputError, match="Ray gives each actor its own GPU"):
        cli._executor(_args(device="cuda:1"))


@pytest.mark.slow
def test_each_actor_gets_its_own_gpu_and_a_cluster_without_gpus_is_refused(model_pair) -> None:
    ray = pytest.importorskip("ray")
    from trustaudit.scale import RayExecutor

    if ray.is_initialized():
        pytest.skip("a Ray instance is already running in this process")
    env = {"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}}
    options = {"num_cpus": 2, "object_store_memory": 200 * 1024**2, "runtime_env": env}
    with RayExecutor(actors=None, gpus_per_actor=1, init_options={**options, "num_gpus": 2}) as executor:
        assert executor.width == 2
        seen = executor.map(_visible_gpus, model_pair, [3.0, 3.0])
    assert not ray.is_initialized(), "the executor started Ray, so it stops it"
    assert sorted(gpus for gpus, _ in seen) == ["0", "1"], seen
    assert len({pid for _, pid in seen}) == 2

    executor = RayExecutor(actors=None, gpus_per_actor=1, init_options={**options, "num_gpus": 0})
    with pytest.raises(InvalidInputError, match="has 0 GPUs"):
        executor.map(_visible_gpus, model_pair, [0.0])
    assert not ray.is_initialized()
