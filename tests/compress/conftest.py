"""Fixtures of the compression tests."""

from __future__ import annotations

import pytest

from tests._helpers import generated_nli
from trustaudit.data import Dataset


@pytest.fixture(scope="session")
def nli_data() -> Dataset:
    return generated_nli(48, seed=5)
