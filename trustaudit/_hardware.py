"""Names of the hardware settings (precision, automatic batch size), without importing torch.

The configuration and the command line read them from here; the evaluation engine
(:mod:`trustaudit._evaluation`) and the batch-size search (:mod:`trustaudit._batching`)
give them their meaning.
"""

from __future__ import annotations

from typing import Any

#: Floating-point formats of the forward pass: full precision, or autocast to bfloat16 / float16.
PRECISIONS = ("fp32", "bf16", "fp16")
#: The batch size that asks for the largest batch that fits (see :func:`trustaudit._batching.choose_batch_size`).
AUTO = "auto"


def is_batch_size(value: Any) -> bool:
    """Whether ``value`` is a batch size setting: an integer >= 1 (not a bool), or ``"auto"``."""
    if value == AUTO and isinstance(value, str):
        return True
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1
