"""Tiny encoders whose vocabulary holds the WEAT words and the SEAT template words (nothing downloaded)."""

from __future__ import annotations

import re

import pytest

from tests._helpers import LABELS
from trustaudit.bias import DEFAULT_TEMPLATES, BiasTestSuite, standard_tests


def template_words() -> set[str]:
    """Every word and punctuation mark of the default templates, with both articles."""
    text = " ".join(t for group in DEFAULT_TEMPLATES.values() for t in group)
    return {w.lower() for w in re.findall(r"[^\W\d_]+|[.']", text.replace("{word}", "")) if w not in ("a", "A")} | {"a", "an"}


def bias_vocabulary() -> set[str]:
    words = {w.lower() for test in standard_tests().tests for s in test.sets for w in s.words}
    return words | template_words()


@pytest.fixture(scope="session")
def bias_tokenizer():
    from tests._helpers import make_tokenizer

    return make_tokenizer(bias_vocabulary())


@pytest.fixture(scope="session")
def bias_models(bias_tokenizer):
    """A base (2 layers, 32 wide) and a small (1 layer, 16 wide) random BERT over the bias vocabulary."""
    from tests._helpers import make_bert
    from trustaudit.models import from_model

    base = make_bert(bias_tokenizer, LABELS, layers=2, hidden=32, heads=2, dropout=0.0, seed=1)
    small = make_bert(bias_tokenizer, LABELS, layers=1, hidden=16, heads=1, dropout=0.0, seed=2)
    return (from_model(base, bias_tokenizer, LABELS, task="single"),
            from_model(small, bias_tokenizer, LABELS, task="single"))


@pytest.fixture(scope="session")
def gender_suite() -> BiasTestSuite:
    """WEAT 6 and 7: four sets of eight words each, small enough for quick tests."""
    return standard_tests(["WEAT6", "WEAT7"])
