"""Dataset readers: formats, column detection, labels, sampling and every bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import LABELS, write_rows
from trustaudit.data import load_dataset, write_dataset
from trustaudit.exceptions import DataError, InvalidInputError

ROWS = [
    ("a cat sleeps", "the cat sleeps", "entailment"),
    ("a dog runs", "the dog is hungry", "neutral"),
    ("a bird sings", "the bird is not red", "contradiction"),
]


def test_tsv_with_names(tmp_path: Path) -> None:
    data = load_dataset(write_rows(tmp_path / "d.tsv", ROWS), LABELS)
    assert data.is_pair and len(data) == 3
    assert data.text_a[1] == "a dog runs" and data.text_b[2] == "the bird is not red"
    assert data.labels.tolist() == [0, 1, 2]
    assert data.rows.tolist() == [0, 1, 2]
    assert data.columns == {"text": "premise", "pair": "hypothesis", "label": "label"}
    assert len(data.sha256) == 64


@pytest.mark.parametrize("a,b", [("sentence1", "sentence2"), ("question1", "question2"), ("text_a", "text_b"), ("Premise", "Hypothesis")])
def test_pair_column_names_are_detected(tmp_path: Path, a: str, b: str) -> None:
    data = load_dataset(write_rows(tmp_path / "d.csv", ROWS, header=(a, b, "gold_label")), LABELS)
    assert data.text_b == tuple(r[1] for r in ROWS)
    assert data.labels.tolist() == [0, 1, 2]


def test_single_text_and_integer_ids(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("sentence,label\ngood film,1\nbad film,0\n")
    data = load_dataset(path, ("negative", "positive"))
    assert not data.is_pair and data.text_b is None
    assert data.labels.tolist() == [1, 0]


def test_label_map_overrides_ids(tmp_path: Path) -> None:
    path = tmp_path / "m.tsv"
    path.write_text("premise\thypothesis\tlabel\np\th\t0\np\th\t2\n")
    data = load_dataset(path, ("contradiction", "neutral", "entailment"), label_map="0=entailment,1=neutral,2=contradiction")
    assert data.labels.tolist() == [2, 0]
    with pytest.raises(DataError, match="label-map"):
        load_dataset(path, LABELS, label_map="0=yes")
    with pytest.raises(DataError, match="0=entailment"):
        load_dataset(path, LABELS, label_map="0:entailment")


def test_jsonl_and_json(tmp_path: Path) -> None:
    records = [{"premise": a, "hypothesis": b, "label": c} for a, b, c in ROWS]
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    as_json = tmp_path / "d.json"
    as_json.write_text(json.dumps(records))
    for path in (jsonl, as_json):
        data = load_dataset(path, LABELS)
        assert data.labels.tolist() == [0, 1, 2] and data.text_b[0] == "the cat sleeps"


def test_format_sniffed_without_extension(tmp_path: Path) -> None:
    path = tmp_path / "data"
    path.write_text(json.dumps({"premise": "p", "hypothesis": "h", "label": "neutral"}) + "\n")
    assert load_dataset(path, LABELS).labels.tolist() == [1]
    path.write_text("premise\thypothesis\tlabel\np\th\tneutral\n")
    assert load_dataset(path, LABELS).text_b == ("h",)


def test_explicit_columns_without_header(tmp_path: Path) -> None:
    path = tmp_path / "raw.tsv"
    path.write_text("x\tp one\th one\tneutral\ny\tp two\th two\tentailment\n")
    data = load_dataset(path, LABELS, no_header=True, text_col="1", pair_col=2, label_col="3")
    assert data.text_a == ("p one", "p two") and data.labels.tolist() == [1, 0]
    with pytest.raises(DataError, match="--text-col"):
        load_dataset(path, LABELS, no_header=True)
    with pytest.raises(DataError, match="out of range"):
        load_dataset(path, LABELS, no_header=True, text_col=9)
    short = tmp_path / "short.tsv"
    short.write_text("x\tp one\th one\tneutral\ny\tp two\th two\n")
    with pytest.raises(DataError, match="row 1: 3 fields where the widest row has 4"):
        load_dataset(short, LABELS, no_header=True, text_col=1, pair_col=2, label_col=3)


def test_explicit_column_names_and_delimiter(tmp_path: Path) -> None:
    path = tmp_path / "d.txt"
    path.write_text("id;body;gold\n1;great;positive\n2;awful;negative\n")
    data = load_dataset(path, ("negative", "positive"), text_col="body", label_col="gold", delimiter=";")
    assert data.text_a == ("great", "awful") and data.labels.tolist() == [1, 0]
    with pytest.raises(DataError, match="no column 'text'"):
        load_dataset(path, ("negative", "positive"), text_col="text", delimiter=";")


def test_unknown_labels_are_skipped_and_counted(tmp_path: Path) -> None:
    path = write_rows(tmp_path / "snli.tsv", [*ROWS, ("p", "h", "-"), ("p2", "h2", "")])
    data = load_dataset(path, LABELS)
    assert len(data) == 3 and data.skipped == {"missing label": 2}
    assert data.rows.tolist() == [0, 1, 2]


def test_a_class_named_like_a_missing_marker_is_a_class(tmp_path: Path) -> None:
    names = ("none", "some")
    path = write_rows(tmp_path / "d.tsv", [("p", "h", "none"), ("p", "h", "some"), ("p", "h", "-")])
    data = load_dataset(path, names)
    assert data.labels.tolist() == [0, 1] and data.skipped == {"missing label": 1}


def test_label_the_model_does_not_know(tmp_path: Path) -> None:
    path = write_rows(tmp_path / "d.tsv", [*ROWS, ("p", "h", "maybe")])
    with pytest.raises(DataError) as info:
        load_dataset(path, LABELS)
    message = str(info.value)
    assert "row 3" in message and "'maybe'" in message and str(path) in message
    with pytest.raises(DataError, match="'7'"):
        load_dataset(write_rows(tmp_path / "ids.tsv", [("p", "h", "7")]), LABELS)


def test_no_label_column_keeps_rows_unlabelled(tmp_path: Path) -> None:
    path = tmp_path / "u.tsv"
    path.write_text("premise\thypothesis\np\th\n")
    data = load_dataset(path, LABELS)
    assert data.labels is None and len(data) == 1
    with pytest.raises(DataError, match="no label column"):
        load_dataset(path, LABELS, require_labels=True)


@pytest.mark.parametrize(
    "content,match",
    [
        ("", "empty"),
        ("   \n\n", "empty"),
        ("premise\thypothesis\tlabel\n", "no data rows"),
        ("premise\thypothesis\tlabel\np\th\tneutral\np only\n", "row 1: 1 fields"),
        ("colA\tcolB\nx\ty\n", "cannot tell which column"),
    ],
)
def test_bad_files_get_one_line(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "bad.tsv"
    path.write_text(content)
    with pytest.raises(DataError, match=match) as info:
        load_dataset(path, LABELS)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_undecodable_bytes_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin.tsv"
    path.write_bytes("premise\thypothesis\tlabel\np\th\tneutral\ncaf\xe9\th\tneutral\n".encode("latin-1"))
    with pytest.raises(DataError, match="line 3.*UTF-8"):
        load_dataset(path, LABELS)


def test_bad_json(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"premise": "p", "hypothesis": "h"}\n{oops\n')
    with pytest.raises(DataError, match="line 2"):
        load_dataset(path, LABELS)
    path = tmp_path / "bad.json"
    path.write_text('{"premise": "p"}')
    with pytest.raises(DataError, match="list of records"):
        load_dataset(path, LABELS)


def test_missing_file_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="no such file"):
        load_dataset(tmp_path / "absent.tsv", LABELS)


def test_quoted_fields_with_tabs_and_newlines(tmp_path: Path) -> None:
    rows = [("a \"quoted\"\ttab", "line one\nline two", "neutral")]
    data = load_dataset(write_rows(tmp_path / "q.tsv", rows), LABELS)
    assert data.text_a == ("a \"quoted\"\ttab",) and data.text_b == ("line one\nline two",)


def test_limit_and_sample(tmp_path: Path, task_rows) -> None:
    path = write_rows(tmp_path / "d.tsv", task_rows)
    first = load_dataset(path, LABELS, limit=10)
    assert first.rows.tolist() == list(range(10)) and first.skipped == {"over limit": 50}
    a = load_dataset(path, LABELS, sample=15, seed=4)
    b = load_dataset(path, LABELS, sample=15, seed=4)
    c = load_dataset(path, LABELS, sample=15, seed=5)
    assert a.rows.tolist() == b.rows.tolist() != c.rows.tolist()
    assert np.all(np.diff(a.rows) > 0) and len(a) == 15
    with pytest.raises(DataError, match="at least 1"):
        load_dataset(path, LABELS, limit=0)


def test_subset_and_roundtrip(tmp_path: Path, task_rows) -> None:
    data = load_dataset(write_rows(tmp_path / "d.tsv", task_rows), LABELS)
    part = data.subset([5, 1])
    assert part.rows.tolist() == [5, 1] and part.text_a == (data.text_a[5], data.text_a[1])
    again = load_dataset(write_dataset(tmp_path / "copy.tsv", data), LABELS)
    assert again.text_a == data.text_a and again.labels.tolist() == data.labels.tolist()
