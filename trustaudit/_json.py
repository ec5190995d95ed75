"""Conversion of results (numpy arrays and scalars, NaN) to plain JSON types, for every results document."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np


def to_jsonable(value: Any) -> Any:
    """Return ``value`` as plain Python (dict, list, float, int, str, bool, None).

    Arrays become (nested) lists, numpy scalars Python scalars, dataclasses dicts of
    their fields, and non-finite floats (NaN, +-inf) ``None`` since JSON has none of them;
    ``-0.0`` becomes ``0.0`` so that no result reads as a negative zero.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return [to_jsonable(item) for item in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, float) and value == 0.0:
        return 0.0
    return value


def frozen_array(values: Any, dtype: Any = np.float64) -> np.ndarray:
    """Return a read-only copy of ``values`` so a frozen dataclass stays immutable."""
    array = np.array(values, dtype=dtype)
    array.setflags(write=False)
    return array
