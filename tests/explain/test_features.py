"""Word features: positions not types, spans, segments, and perturbations that remove words."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trustaudit.exceptions import InvalidInputError
from trustaudit.explain.features import SEPARATOR, FeatureSet, split_text


def test_a_repeated_word_is_two_features_with_their_own_spans() -> None:
    text = "The cat saw the cat."
    features = FeatureSet(text)
    assert features.words == ("The", "cat", "saw", "the", "cat")
    cats = [f for f in features.features if f.word == "cat"]
    assert [c.index for c in cats] == [1, 4]
    assert [(c.start, c.end) for c in cats] == [(4, 7), (16, 19)]
    for feature in features.features:
        assert text[feature.start:feature.end] == feature.word
        assert feature.segment == "a"


def test_punctuation_separates_and_apostrophes_inside_words_do_not() -> None:
    features = FeatureSet("Don't stop, 'rock' n' roll!")
    assert features.words == ("Don't", "stop", "rock", "n", "roll")


def test_split_matches_lime_indexed_string_without_bow() -> None:
    from lime.lime_text import IndexedString

    for text in ("The cat saw the cat.", "  Don't  stop -- 'rock' n’ roll!! ", "", "...", "a_b 12 c3"):
        indexed = IndexedString(text, split_expression=SEPARATOR, bow=False)
        features = FeatureSet(text)
        assert list(features.words) == list(indexed.inverse_vocab)
        starts = [int(indexed.string_position(i)[0]) for i in range(indexed.num_words())]
        assert [f.start for f in features.features] == starts
        assert "".join(piece for piece, _ in split_text(text)) == text


def test_pair_features_carry_their_segment_and_spans_in_their_own_text() -> None:
    premise, hypothesis = "A dog runs in the park.", "The dog runs."
    both = FeatureSet(premise, hypothesis)
    assert [f.segment for f in both.features] == ["a"] * 6 + ["b"] * 3
    assert [f.index for f in both.features] == list(range(9))
    for feature in both.features:
        text = premise if feature.segment == "a" else hypothesis
        assert text[feature.start:feature.end] == feature.word
    only_b = FeatureSet(premise, hypothesis, "b")
    assert only_b.words == ("The", "dog", "runs") and [f.index for f in only_b.features] == [0, 1, 2]
    only_a = FeatureSet(premise, hypothesis, "a")
    assert only_a.words == ("A", "dog", "runs", "in", "the", "park")
    assert [f.segment for f in only_a.features] == ["a"] * 6


def test_perturbation_removes_words_and_keeps_separators_tidy() -> None:
    features = FeatureSet("The cat, the  dog and a bird.")
    assert features.perturb([1] * 7) == ("The cat, the  dog and a bird.", None)
    assert features.perturb([0, 1, 1, 1, 1, 1, 1])[0] == "cat, the  dog and a bird."
    assert features.perturb([1, 0, 1, 1, 1, 1, 1])[0] == "The, the  dog and a bird."
    assert features.perturb([1, 1, 1, 0, 1, 1, 1])[0] == "The cat, the and a bird."
    assert features.perturb([1, 1, 1, 1, 1, 1, 0])[0] == "The cat, the  dog and a."
    assert features.perturb([1, 1, 1, 1, 0, 0, 0])[0] == "The cat, the  dog."
    assert features.perturb(np.zeros(7, dtype=bool))[0] == ",."


def test_only_the_explained_segment_changes() -> None:
    premise, hypothesis = "A dog runs in the park", "The dog runs"
    only_b = FeatureSet(premise, hypothesis, "b")
    assert only_b.perturb([1, 0, 1]) == (premise, "The runs")
    only_a = FeatureSet(premise, hypothesis, "a")
    assert only_a.perturb([0, 1, 1, 1, 1, 1]) == ("dog runs in the park", hypothesis)
    both = FeatureSet(premise, hypothesis)
    assert both.perturb([1, 1, 1, 1, 1, 1, 0, 1, 1]) == (premise, "dog runs")
    assert both.perturb([0] * 9) == ("", "")


def test_bad_inputs_are_input_errors() -> None:
    with pytest.raises(InvalidInputError, match="segment"):
        FeatureSet("a text", None, "b")
    with pytest.raises(InvalidInputError, match="segment"):
        FeatureSet("a", "b", "c")
    with pytest.raises(InvalidInputError, match="one entry per feature"):
        FeatureSet("two words").perturb([1])


def test_round_trip_through_dict() -> None:
    features = FeatureSet("A dog, a cat.", "Two animals", "both")
    again = FeatureSet.from_dict(features.to_dict())
    assert again.features == features.features and again.text == features.text
    tampered = features.to_dict()
    tampered["features"][0]["word"] = "B"
    with pytest.raises(InvalidInputError):
        FeatureSet.from_dict(tampered)


_ALPHABET = st.sampled_from(list("ab c'’,.!-\t") + ["xy", "é", "  "])


@settings(max_examples=150, deadline=None)
@given(
    text_a=st.lists(_ALPHABET, max_size=14).map("".join),
    text_b=st.lists(_ALPHABET, max_size=10).map("".join),
    segment=st.sampled_from(["both", "a", "b"]),
    data=st.data(),
)
def test_perturbed_texts_hold_exactly_the_kept_words(text_a: str, text_b: str, segment: str, data) -> None:
    features = FeatureSet(text_a, text_b, segment)
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=len(features), max_size=len(features))), dtype=bool)
    new_a, new_b = features.perturb(mask)
    kept = {"a": [], "b": []}
    for feature, keep in zip(features.features, mask):
        if keep:
            kept[feature.segment].append(feature.word)
    for name, original, new in (("a", text_a, new_a), ("b", text_b, new_b)):
        if segment not in ("both", name):
            assert new == original
        else:
            assert list(FeatureSet(new).words) == kept[name]
            assert len(re.findall(r"\s{2,}", new)) <= len(re.findall(r"\s{2,}", original))


def test_substitute_replaces_words_in_place_keeping_separators_and_features() -> None:
    features = FeatureSet("The cat saw the cat.", "A dog, sleeping.", segment="both")
    assert features.substitute({1: "dog", 4: "bird", 6: "cat"}) == ("The dog saw the bird.", "A cat, sleeping.")
    assert features.substitute({}) == features.text
    only_b = FeatureSet("The cat saw.", "A dog, sleeping.", segment="b")
    assert only_b.substitute({0: "The"}) == ("The cat saw.", "The dog, sleeping.")
    changed = FeatureSet(*features.substitute({0: "Some"}))
    assert len(changed) == len(features) and changed.words[0] == "Some"
    with pytest.raises(InvalidInputError, match="single word"):
        features.substitute({0: "two words"})
    with pytest.raises(InvalidInputError, match="single word"):
        features.substitute({0: ","})
    with pytest.raises(InvalidInputError, match="from 0 to 7"):
        features.substitute({8: "x"})
