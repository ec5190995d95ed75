"""Renamed keywords, attributes and document keys: the new name works, the old one still does with a warning."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from trustaudit._deprecation import read_renamed, renamed_attribute, renamed_keywords
from trustaudit._audit.document.bias import BiasEmbedding, BiasSection, ExtrasSection
from trustaudit.exceptions import InvalidInputError
from trustaudit.metrics import flip_rates, per_class_comparison, prediction_agreement
from trustaudit.metrics.bias import FlipRateComparison, flip_rate_comparison

BASE = [0, 1, 1, 0, 2, 2, 1, 0]
SMALL = [0, 1, 0, 0, 2, 1, 1, 1]
GOLD = [0, 1, 1, 0, 2, 1, 0, 0]


@renamed_keywords(old="new")
def _echo(*, new: int = 0) -> int:
    return new


class TestHelper:
    def test_new_keyword_is_silent(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert _echo(new=3) == 3

    def test_old_keyword_warns_naming_the_new_one_at_the_callers_line(self) -> None:
        with pytest.warns(DeprecationWarning, match=r"`old` is deprecated.*use `new`") as caught:
            assert _echo(old=4) == 4
        assert caught[0].filename == __file__

    def test_both_names_at_once_is_an_error(self) -> None:
        with pytest.raises(InvalidInputError, match=r"pass `new` or its deprecated name `old`, not both"):
            _echo(new=1, old=2)

    def test_renamed_attribute_reads_the_new_one(self) -> None:
        class Holder:
            new = 7
            old = renamed_attribute("old", "new")

        with pytest.warns(DeprecationWarning, match=r"`Holder.old` is deprecated.*use `Holder.new`"):
            assert Holder().old == 7

    def test_read_renamed_prefers_the_new_key(self) -> None:
        assert read_renamed({"new": 1, "old": 2}, "new", "old") == 1
        assert read_renamed({"old": 2}, "new", "old") == 2
        with pytest.raises(KeyError):
            read_renamed({}, "new", "old")


class TestIntervalLevel:
    """``ci_level`` is the level of an interval; ``confidence`` is kept for one release with a warning."""

    @pytest.mark.parametrize("func", [
        lambda **kw: flip_rates(BASE, SMALL, GOLD, n_resamples=50, **kw),
        lambda **kw: per_class_comparison(BASE, SMALL, GOLD, 3, n_resamples=50, **kw),
        lambda **kw: prediction_agreement(BASE, SMALL, GOLD, n_resamples=50, **kw),
    ])
    def test_old_keyword_gives_the_same_result_with_a_warning(self, func) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            new = func(ci_level=0.8)
        with pytest.warns(DeprecationWarning, match=r"`confidence` is deprecated.*use `ci_level`"):
            old = func(confidence=0.8)
        assert json.dumps(old.to_dict()) == json.dumps(new.to_dict())
        assert json.dumps(func().to_dict()) != json.dumps(new.to_dict())

    def test_result_field_and_its_old_name(self) -> None:
        result = flip_rate_comparison([True, False, True, False], [True, True, False, False], n_resamples=20, ci_level=0.9)
        assert result.ci_level == 0.9
        assert "ci_level" in result.to_dict() and "confidence" not in result.to_dict()
        with pytest.warns(DeprecationWarning, match=r"`FlipRateComparison.confidence` is deprecated"):
            assert result.confidence == 0.9

    def test_a_document_written_with_the_old_key_still_loads(self) -> None:
        new = flip_rate_comparison([True, False, True, False], [True, True, False, False], n_resamples=20, ci_level=0.9)
        stored = new.to_dict()
        stored["confidence"] = stored.pop("ci_level")
        assert FlipRateComparison.from_dict(stored).to_dict() == new.to_dict()

    def test_bias_section_reads_the_old_key_and_writes_the_new(self) -> None:
        old = BiasEmbedding.from_dict({"tests": [], "poolings": ["mean"], "confidence": 0.9, "seed": 3})
        assert old.ci_level == 0.9 and not old.extra
        assert old.to_dict() == {"tests": [], "poolings": ["mean"], "ci_level": 0.9, "seed": 3}
        new = BiasEmbedding.from_dict({"tests": [], "ci_level": 0.8})
        assert new.ci_level == 0.8 and new.to_dict() == {"tests": [], "ci_level": 0.8}


def test_flip_rates_interval_narrows_with_a_lower_level() -> None:
    wide = flip_rates(BASE, SMALL, GOLD, n_resamples=200, ci_level=0.95)
    narrow = flip_rates(BASE, SMALL, GOLD, n_resamples=200, ci_level=0.5)
    assert np.diff(narrow.negative_flip_rate_ci)[0] <= np.diff(wide.negative_flip_rate_ci)[0]


def test_older_bias_and_extras_sections_load_and_round_trip() -> None:
    """Results written before the rename carry ``confidence`` in these sections; they still load.

    Every typed part that holds an interval level (the embedding test, each effect-size change,
    the counterfactual comparison, each pooling's CKA, the transfer rates) reads the old key as
    ``ci_level`` and writes it under the new name, in the same place.
    """
    extras = {
        "representation": {"available": True, "cls": {"cka": 0.9, "ci_level": 0.95}, "mean": {"cka": 0.8, "confidence": 0.9}},
        "adversarial": {"available": True, "rates": {"gap": 0.1, "confidence": 0.8}},
    }
    read_extras = ExtrasSection.from_dict(extras)
    assert read_extras.representation.mean.ci_level == 0.9 and read_extras.adversarial.rates.ci_level == 0.8
    assert read_extras.to_dict() == {
        "representation": {"available": True, "cls": {"cka": 0.9, "ci_level": 0.95}, "mean": {"cka": 0.8, "ci_level": 0.9}},
        "adversarial": {"available": True, "rates": {"gap": 0.1, "ci_level": 0.8}},
    }
    bias = {
        "available": True,
        "embedding": {"tests": [{"results": [{"change": {"difference": 0.1, "confidence": 0.95}}]}], "poolings": ["mean"],
                      "max_abs_effect_change": 0.1, "confidence": 0.95},
        "counterfactual": {"comparison": {"difference": 0.0, "confidence": 0.95}},
    }
    read = BiasSection.from_dict(bias)
    assert read.embedding is not None and read.embedding.ci_level == 0.95
    written = read.to_dict()
    assert written["embedding"]["ci_level"] == 0.95 and "confidence" not in written["embedding"]
    assert written["embedding"]["tests"] == [{"results": [{"change": {"difference": 0.1, "ci_level": 0.95}}]}]
    assert written["counterfactual"] == {"comparison": {"difference": 0.0, "ci_level": 0.95}}
