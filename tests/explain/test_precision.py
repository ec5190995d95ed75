"""Explanations in a reduced precision: the same records in worker processes as in one process."""

from __future__ import annotations

import pytest
import torch

from trustaudit.explain import explain_pair


def _bf16_supported_on_cpu() -> bool:
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return torch.nn.functional.linear(torch.ones(2, 2), torch.ones(2, 2)).dtype == torch.bfloat16
    except RuntimeError:
        return False


needs_cpu_bf16 = pytest.mark.skipif(not _bf16_supported_on_cpu(), reason="this torch build has no bf16 autocast on the CPU")


@needs_cpu_bf16
def test_bf16_explanations_in_two_workers_equal_one_process(model_pair, nli_data) -> None:
    options = dict(lime_samples=40, shap_max_evals=40, cache=False, progress=False, precision="bf16", device="cpu")
    one = explain_pair(model_pair, nli_data, [0, 3, 5], **options)
    two = explain_pair(model_pair, nli_data, [0, 3, 5], workers=2, **options)
    assert one.config["precision"] == "bf16"
    assert [e.to_dict() | {"seconds": 0} for e in two.examples] == [e.to_dict() | {"seconds": 0} for e in one.examples]
    fp32 = explain_pair(model_pair, nli_data, [0, 3, 5], **{**options, "precision": "fp32"})
    assert "precision" not in fp32.config
