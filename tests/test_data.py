"""Dataset readers: formats, column detection, labels, sampling and every bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests._helpers import LABELS, write_rows
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



def test_label_names_are_names_and_labels_are_ids(tmp_path: Path) -> None:
    """``label_names`` (the parameter) names the classes; ``Dataset.labels`` holds ids into them."""
    path = write_rows(tmp_path / "d.tsv", ROWS)
    reordered = ("contradiction", "entailment", "neutral")
    data = load_dataset(path, label_names=reordered)
    assert data.label_names == reordered
    assert [data.label_names[i] for i in data.labels] == [row[2] for row in ROWS]
    with pytest.warns(DeprecationWarning, match=r"`labels` is deprecated.*use `label_names`"):
        old = load_dataset(path, labels=reordered)
    assert old.label_names == reordered and old.labels.tolist() == data.labels.tolist()
    with pytest.raises(InvalidInputError, match=r"pass `label_names` or its deprecated name `labels`, not both"):
        load_dataset(path, label_names=reordered, labels=reordered)

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
    with pytest.raises(DataError, match="`label_map` names yes"):
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
    with pytest.raises(DataError, match="pass `text_col`"):
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


def test_duplicate_column_names_are_an_error_naming_the_column(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("text,label,Text\na,neutral,b\n")
    with pytest.raises(DataError, match=r"names the column 'Text' twice \(columns 0 and 2"):
        load_dataset(path, LABELS)


def test_text_that_is_a_json_object_or_list_names_the_row(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "fine", "label": "neutral"}\n{"text": "ok", "label": "neutral"}\n{"text": [1, 2], "label": "neutral"}\n')
    with pytest.raises(DataError, match=r"row 2: the text column 'text' holds a list, not text"):
        load_dataset(path, LABELS)


def test_empty_blank_nan_and_null_texts_are_skipped_unless_kept(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    records = [
        {"premise": "a cat", "hypothesis": "the cat", "label": "neutral"},
        {"premise": "", "hypothesis": "x", "label": "neutral"},
        {"premise": "a dog", "hypothesis": "  \t", "label": "neutral"},
        {"premise": None, "hypothesis": "x", "label": "neutral"},
        {"premise": float("nan"), "hypothesis": "x", "label": "neutral"},
        {"premise": "NaN", "hypothesis": "x", "label": "entailment"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    data = load_dataset(path, LABELS)
    assert data.rows.tolist() == [0] and data.skipped == {"empty text": 5}
    kept = load_dataset(path, LABELS, keep_empty=True)
    assert len(kept) == 6 and kept.skipped == {} and kept.text_a[3] == "" and kept.text_b[2] == "  \t"


def test_sample_larger_than_the_data_warns_and_keeps_every_row(tmp_path: Path, task_rows) -> None:
    path = write_rows(tmp_path / "d.tsv", task_rows)
    with pytest.warns(UserWarning, match="`sample`=61 is more than the 60 usable rows; using all of them"):
        data = load_dataset(path, LABELS, sample=61)
    assert len(data) == 60 and data.skipped == {}


def test_a_directory_is_named_as_one(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="is a directory, not a data file"):
        load_dataset(tmp_path, LABELS)


_NAMES = ["premise", "hypothesis", "text", "Text", "label", "gold_label", "x", ""]
_CELLS = ["entailment", "neutral", "contradiction", "-", "", " ", "NaN", "0", "2", "7", "a cat", "é\u202e", "\x00", '"q"', "a,b", "a\tb",
          "line\nbreak", "{}", "[1]", "\\"]


def _fuzz_content():
    """Bytes of every kind a data file may hold: noise, delimited tables, JSON lines and JSON lists."""
    from hypothesis import strategies as st

    cell = st.sampled_from(_CELLS) | st.text(max_size=6)
    json_value = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | cell,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(_NAMES), inner, max_size=4),
        max_leaves=8,
    )
    usual_record = st.fixed_dictionaries({"text": cell, "label": st.sampled_from(["entailment", "neutral", "-", "2", ""])})
    record = usual_record | st.dictionaries(st.sampled_from(_NAMES), json_value, max_size=5)

    @st.composite
    def table(draw) -> bytes:
        delimiter = draw(st.sampled_from([",", "\t", ";"]))
        usual = st.sampled_from([["text", "label"], ["premise", "hypothesis", "label"], ["sentence", "x", "gold_label"], ["text"]])
        header = draw(usual | st.lists(st.sampled_from(_NAMES), min_size=1, max_size=4))
        width = len(header)
        label = st.sampled_from(["entailment", "neutral", "contradiction", "-", "1"])
        rows = draw(st.lists(st.lists(cell, min_size=width - 1, max_size=width - 1).flatmap(
            lambda cells: st.one_of(label.map(lambda value: [*cells, value]), st.just(cells))), min_size=1, max_size=6))
        quote = draw(st.booleans())

        def field(value: str) -> str:
            return '"' + value.replace('"', '""') + '"' if quote else value

        newline = draw(st.sampled_from(["\n", "\r\n"]))
        lines = [delimiter.join(header)] + [delimiter.join(field(v) for v in row) for row in rows]
        return newline.join(lines).encode("utf-8")

    json_lines = st.lists(st.one_of(record, json_value), max_size=5).map(lambda values: "\n".join(json.dumps(v) for v in values).encode())
    json_list = st.lists(st.one_of(record, json_value), max_size=5).map(lambda values: json.dumps(values).encode())
    return st.one_of(st.binary(max_size=200), table(), json_lines, json_list)


def test_load_dataset_never_fails_with_anything_but_an_input_error() -> None:
    """Fuzz: any bytes, in any of the formats, either load or raise InvalidInputError."""
    import tempfile

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    @settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
    @given(
        content=_fuzz_content(),
        suffix=st.sampled_from([".csv", ".tsv", ".jsonl", ".json", ".txt", ""]),
        labels=st.sampled_from([LABELS, None]),
        options=st.fixed_dictionaries({
            "no_header": st.sampled_from([False, False, False, True]),
            "keep_empty": st.booleans(),
            "text_col": st.sampled_from([None, None, None, "0", "text", 1]),
            "label_col": st.sampled_from([None, None, None, "label", 2]),
            "sample": st.sampled_from([None, None, 1, 3]),
        }),
    )
    def check(content: bytes, suffix: str, labels, options: dict) -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"data{suffix}"
            path.write_bytes(content)
            try:
                data = load_dataset(path, labels, **options)
            except InvalidInputError as exc:
                assert "\n" not in str(exc)
                return
            assert len(data) >= 1 and len(data.rows) == len(data)
            assert all(isinstance(t, str) for t in data.text_a)

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        check()
