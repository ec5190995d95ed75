"""Scaling an audit out: the executors that run its shards (this process, local processes, Ray actors).

Pass one to :func:`trustaudit.audit` (``executor=``) or :func:`trustaudit.explain_pair`;
the results are those of one process. Ray is an optional dependency
(``pip install 'trustaudit[ray]'``), imported when a :class:`RayExecutor` first runs.
"""

from __future__ import annotations

from trustaudit._lazy import lazy_names

_LAZY = {
    "Executor": "trustaudit.scale._executors",
    "SerialExecutor": "trustaudit.scale._executors",
    "ProcessExecutor": "trustaudit.scale._executors",
    "RayExecutor": "trustaudit.scale._executors",
    "resolve_executor": "trustaudit.scale._executors",
    "PairPayload": "trustaudit.scale._payload",
}

__all__ = ["Executor", "PairPayload", "ProcessExecutor", "RayExecutor", "SerialExecutor", "resolve_executor"]

__getattr__, __dir__ = lazy_names(__name__, _LAZY)
