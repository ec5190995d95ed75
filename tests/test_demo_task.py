"""The built-in demo task: balanced, reproducible, inside its own vocabulary."""

from __future__ import annotations

from collections import Counter

from tests._helpers import make_tokenizer
from trustaudit.demo._task import LABELS, VOCABULARY, generate_task


def test_balanced_and_reproducible() -> None:
    rows = generate_task(300, seed=7)
    assert Counter(label for _, _, label in rows) == {label: 100 for label in LABELS}
    assert rows == generate_task(300, seed=7)
    assert rows != generate_task(300, seed=8)


def test_every_word_is_one_known_token() -> None:
    tokenizer = make_tokenizer(VOCABULARY)
    unk = tokenizer.unk_token_id
    for premise, hypothesis, _ in generate_task(300, seed=1):
        for text in (premise, hypothesis):
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            assert unk not in ids and len(ids) == len(text.split())


def test_entailment_restates_and_contradiction_changes_a_fact() -> None:
    for premise, hypothesis, label in generate_task(300, seed=2):
        new_words = set(hypothesis.split()) - set(premise.split()) - {"is", "there", "a", "the"}
        if label == "entailment":
            assert not new_words, (premise, hypothesis)
        elif label == "contradiction":
            assert new_words and new_words <= set(VOCABULARY), (premise, hypothesis)


def test_models_of_other_settings_are_not_reused(trained_pair, tmp_path) -> None:
    from trustaudit.demo import _reusable

    base, _, _ = trained_pair
    assert _reusable(base, method="test", role="base")
    assert not _reusable(base, method="test", role="small")
    assert not _reusable(base, method="demo", role="base", seed=0)
    assert not _reusable(tmp_path / "absent.pt", method="test")
    damaged = tmp_path / "damaged.pt"
    damaged.write_bytes(b"not a model")
    assert not _reusable(damaged, method="test")
