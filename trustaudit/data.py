"""Dataset readers: CSV, TSV, JSONL and JSON, with column detection and label mapping.

Every bad input gets one line naming the file and the row. Rows are numbered from 0 over
the data records of the file (the header is not a row), and every result keeps the row
numbers so a prediction can be traced back to its line.
"""

from __future__ import annotations

import csv
import io
import json
import os
import math
import random
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trustaudit._io import sha256_file
from trustaudit.exceptions import DataError
from trustaudit._deprecation import renamed_keywords

TEXT_COLUMNS = ("text", "sentence", "review", "content")
PAIR_COLUMNS = (
    ("premise", "hypothesis"),
    ("sentence1", "sentence2"),
    ("question1", "question2"),
    ("text_a", "text_b"),
    ("question", "sentence"),
    ("sentence_a", "sentence_b"),
)
LABEL_COLUMNS = ("label", "gold_label", "labels", "class")
MISSING_LABELS = frozenset({"", "-", "-1", "none", "null", "nan"})
EMPTY_TEXT = "empty text"

csv.field_size_limit(min(2**31 - 1, 1 << 28))


@dataclass(frozen=True, eq=False)
class Dataset:
    """Texts (``text_a``, optional ``text_b``) with gold label ids in ``label_names`` order.

    ``labels`` is ``None`` when the file has no label column. ``rows`` holds each example's
    row number in the file; ``skipped`` counts rows left out, by reason.
    """

    text_a: tuple[str, ...]
    text_b: tuple[str, ...] | None
    labels: np.ndarray | None
    label_names: tuple[str, ...]
    path: str
    rows: np.ndarray
    sha256: str = ""
    skipped: Mapping[str, int] = field(default_factory=dict)
    columns: Mapping[str, str | None] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.text_a)

    @property
    def is_pair(self) -> bool:
        """True for text-pair tasks (NLI, paraphrase)."""
        return self.text_b is not None

    @property
    def n_skipped(self) -> int:
        """Rows of the file left out, for any reason."""
        return int(sum(self.skipped.values()))

    def pairs(self) -> list[tuple[str, str | None]]:
        """The examples as ``(text_a, text_b or None)`` tuples."""
        if self.text_b is None:
            return [(a, None) for a in self.text_a]
        return list(zip(self.text_a, self.text_b))

    def subset(self, indices: Sequence[int] | np.ndarray) -> Dataset:
        """The examples at ``indices`` (positions in this dataset, not file rows)."""
        idx = [int(i) for i in indices]
        return Dataset(
            text_a=tuple(self.text_a[i] for i in idx),
            text_b=None if self.text_b is None else tuple(self.text_b[i] for i in idx),
            labels=None if self.labels is None else self.labels[idx],
            label_names=self.label_names,
            path=self.path,
            rows=self.rows[idx],
            sha256=self.sha256,
            skipped=dict(self.skipped),
            columns=dict(self.columns),
        )

    def describe(self) -> dict[str, Any]:
        """Plain-JSON description for reports."""
        return {
            "path": self.path,
            "sha256": self.sha256,
            "rows_used": len(self),
            "rows_skipped": self.n_skipped,
            "skipped": dict(self.skipped),
            "task": "pair" if self.is_pair else "single",
            "columns": dict(self.columns),
            "label_names": list(self.label_names),
            "has_labels": self.labels is not None,
        }


def parse_label_map(spec: str | Mapping[Any, str] | None) -> dict[str, str] | None:
    """Parse ``"0=entailment,1=neutral"`` (or a mapping) into ``{raw value: label name}``."""
    if spec is None:
        return None
    if isinstance(spec, Mapping):
        return {str(k).strip(): str(v).strip() for k, v in spec.items()}
    mapping = {}
    for part in spec.split(","):
        if "=" not in part:
            raise DataError(f"`label_map` entries look like 0=entailment; got {part.strip()!r} in {spec!r}")
        key, value = part.split("=", 1)
        if not key.strip() or not value.strip():
            raise DataError(f"`label_map` entries look like 0=entailment; got {part.strip()!r} in {spec!r}")
        mapping[key.strip()] = value.strip()
    return mapping


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(
            f"{path}: line {line}: bytes that are not UTF-8 ({data[exc.start:exc.start + 4]!r}); "
            "re-encode the file as UTF-8"
        ) from None


def _detect_format(path: Path, text: str, delimiter: str | None) -> str:
    if delimiter is not None:
        return "delimited"
    suffix = path.suffix.lower()
    if suffix == ".jsonl" or suffix == ".ndjson":
        return "jsonl"
    if suffix == ".json":
        return "json"
    if suffix in (".tsv", ".csv", ".txt"):
        return "delimited"
    stripped = text.lstrip()
    if stripped.startswith("["):
        return "json"
    if stripped.startswith("{"):
        return "jsonl"
    return "delimited"


def _sniff_delimiter(path: Path, text: str) -> str:
    suffix = path.suffix.lower()
    if suffix == ".tsv":
        return "\t"
    if suffix == ".csv":
        return ","
    first = text.split("\n", 1)[0]
    return "\t" if first.count("\t") >= max(1, first.count(",")) else ","


def _read_records(path: Path, no_header: bool, delimiter: str | None) -> tuple[list[str], list[list[Any]]]:
    """Header names (or ``"0"``, ``"1"``... without header) and the rows as lists of fields."""
    text = _read_text(path)
    if not text.strip():
        raise DataError(f"{path}: the file is empty")
    fmt = _detect_format(path, text, delimiter)
    if fmt in ("json", "jsonl"):
        return _json_records(path, text, fmt)
    delim = delimiter if delimiter is not None else _sniff_delimiter(path, text)
    if delim in ("\\t", "tab"):
        delim = "\t"
    if len(delim) != 1:
        raise DataError(f"`delimiter` must be one character, got {delimiter!r}")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    rows = [row for row in reader if row and any(cell.strip() for cell in row)]
    if not rows:
        raise DataError(f"{path}: the file is empty")
    if no_header:
        width = max(len(row) for row in rows)
        header = [str(i) for i in range(width)]
        body = rows
    else:
        header = [name.strip() for name in rows[0]]
        body = rows[1:]
        if not body:
            raise DataError(f"{path}: the file has a header but no data rows")
    _check_unique(header, path)
    expected = "the widest row has" if no_header else "the header has"
    for i, row in enumerate(body):
        if len(row) < len(header):
            raise DataError(
                f"{path}: row {i}: {len(row)} fields where {expected} {len(header)} "
                f"(delimiter {delim!r}); check the quoting or pass `delimiter`"
            )
    return header, body


def _check_unique(header: list[str], path: Path) -> None:
    """Refuse a header that names a column twice (compared case-insensitively, as columns are looked up)."""
    seen: dict[str, int] = {}
    for i, name in enumerate(header):
        if not name:
            continue
        if name.lower() in seen:
            first = seen[name.lower()]
            raise DataError(
                f"{path}: the header names the column {name!r} twice (columns {first} and {i}, 0-based); "
                "rename one so that every column has its own name"
            )
        seen[name.lower()] = i


def _is_empty(value: Any) -> bool:
    """True for a text that holds nothing to classify: null, NaN, or only whitespace (or the word NaN)."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and (not value.strip() or value.strip().lower() == "nan")


def _text(value: Any, column: str, row: int, path: Path) -> str:
    """A text cell as a string; a JSON object or list is an error naming the row."""
    if isinstance(value, (Mapping, list)):
        kind = "an object" if isinstance(value, Mapping) else "a list"
        raise DataError(f"{path}: row {row}: the text column {column!r} holds {kind}, not text")
    return str(value)


def _json_records(path: Path, text: str, fmt: str) -> tuple[list[str], list[list[Any]]]:
    records: list[Any]
    if fmt == "json":
        try:
            records = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: line {exc.lineno}: not valid JSON ({exc.msg})") from None
        if isinstance(records, Mapping):
            for key in ("data", "rows", "examples", "records"):
                if isinstance(records.get(key), list):
                    records = records[key]
                    break
        if not isinstance(records, list):
            raise DataError(f"{path}: a JSON file must hold a list of records")
    else:
        records = []
        for line_no, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}: line {line_no}: not valid JSON ({exc.msg})") from None
    if not records:
        raise DataError(f"{path}: the file is empty")
    header: list[str] = []
    for i, rec in enumerate(records):
        if not isinstance(rec, Mapping):
            raise DataError(f"{path}: row {i}: expected a JSON object, got {type(rec).__name__}")
        for key in rec:
            if key not in header:
                header.append(str(key))
    _check_unique(header, path)
    body = [[rec.get(name) for name in header] for rec in records]
    return header, body


def _column(header: list[str], spec: str | int | None, what: str, path: Path) -> int | None:
    if spec is None:
        return None
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit() and spec not in header):
        index = int(spec)
        if not 0 <= index < len(header):
            raise DataError(f"{path}: {what} index {index} is out of range (the file has {len(header)} columns)")
        return index
    lowered = [name.lower() for name in header]
    if spec.lower() not in lowered:
        raise DataError(f"{path}: no column {spec!r} for {what}; the columns are: {', '.join(header)}")
    return lowered.index(spec.lower())


def _detect_columns(header: list[str], path: Path) -> tuple[int, int | None]:
    lowered = [name.lower() for name in header]
    for a, b in PAIR_COLUMNS:
        if a in lowered and b in lowered:
            return lowered.index(a), lowered.index(b)
    for name in TEXT_COLUMNS:
        if name in lowered:
            return lowered.index(name), None
    raise DataError(
        f"{path}: cannot tell which column holds the text (columns: {', '.join(header)}); "
        "pass `text_col` (and `pair_col` for text pairs)"
    )


def _cell(row: list[Any], index: int) -> Any:
    return row[index] if index < len(row) else None


def _label_index(
    raw: Any,
    names: tuple[str, ...] | None,
    lookup: dict[str, int],
    label_map: dict[str, str] | None,
) -> int | None:
    """Label id of a raw cell, ``None`` for a missing label; raises KeyError when unknown."""
    if raw is None or isinstance(raw, bool):
        return None
    value = str(int(raw)) if isinstance(raw, float) and float(raw).is_integer() else str(raw).strip()
    if label_map is not None and value in label_map:
        value = label_map[value]
    if value.lower() in lookup:
        return lookup[value.lower()]
    if value.lower() in MISSING_LABELS:
        return None
    if label_map is None and names is not None and value.lstrip("-").isdigit():
        index = int(value)
        if 0 <= index < len(names):
            return index
    raise KeyError(value)


@renamed_keywords(labels="label_names")
def load_dataset(
    path: str | os.PathLike[str],
    label_names: Sequence[str] | None = None,
    *,
    text_col: str | int | None = None,
    pair_col: str | int | None = None,
    label_col: str | int | None = None,
    no_header: bool = False,
    delimiter: str | None = None,
    label_map: str | Mapping[Any, str] | None = None,
    limit: int | None = None,
    sample: int | None = None,
    seed: int = 0,
    require_labels: bool = False,
    keep_empty: bool = False,
) -> Dataset:
    """Read a CSV, TSV, JSONL or JSON (list of records) file into a :class:`Dataset`.

    ``label_names`` are the model's label names in its output order: label cells may be those
    names (case-insensitive) or integer ids in that order, unless ``label_map`` says how
    raw values map to names. Rows with a missing label (``-``, empty, ``-1``) are skipped
    and counted, and so are rows whose text (or either text of a pair) is empty, blank or
    NaN, unless ``keep_empty``. ``limit`` keeps the first N usable rows; ``sample`` draws N
    at random (seeded), keeping file order; a ``sample`` larger than the usable rows warns
    and keeps them all.

    Parameters
    ----------
    path : str or path-like
        The data file; its format is told from its content (``delimiter`` forces CSV/TSV).
    label_names : sequence of str, optional
        The model's label names in output order. Default: the sorted distinct values of
        the label column. (Named ``labels`` before; that keyword still works, with a
        ``DeprecationWarning``.)
    text_col : str or int, optional
        The text column (name, or 0-based index without a header). Default: the first of
        ``text``, ``sentence``, ``review``, ``content``, or a known pair of columns
        (``premise``/``hypothesis``, ``sentence1``/``sentence2``...).
    pair_col : str or int, optional
        The second text of a sentence pair. Default: detected with ``text_col``.
    label_col : str or int, optional
        The label column. Default: the first of ``label``, ``gold_label``, ``labels``,
        ``class``; none found means an unlabelled dataset.
    no_header : bool, default False
        The file's first row is data; then ``text_col`` is required.
    delimiter : str, optional
        The one-character delimiter of a CSV/TSV file. Default: sniffed.
    label_map : str or mapping, optional
        How raw label values map to names: ``"0=entailment,1=neutral"`` or a mapping.
    limit : int, optional
        Keep the first ``limit`` usable rows (>= 1). Default all.
    sample : int, optional
        Keep ``sample`` usable rows drawn at random, in file order (>= 1). Default all.
    seed : int, default 0
        Seed of ``sample``.
    require_labels : bool, default False
        Raise if the file has no label column.
    keep_empty : bool, default False
        Keep rows whose text is empty, blank or NaN.

    Returns
    -------
    Dataset
        The texts, the labels as integer ids into ``label_names`` (``None`` when
        unlabelled), the file rows kept and the counts of rows skipped.

    Raises
    ------
    DataError
        If ``path`` is missing or unreadable, a column cannot be found, a label is not
        one of ``label_names``, ``limit``/``sample`` is below 1, or no row is usable.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from trustaudit import load_dataset
    >>> path = Path(tempfile.mkdtemp()) / "dev.csv"
    >>> _ = path.write_text("text,label\\nA fine film.,positive\\nDull and long.,negative\\nWorth it.,-\\n")
    >>> data = load_dataset(path, ["negative", "positive"])
    >>> data.text_a, data.labels.tolist(), dict(data.skipped)
    (('A fine film.', 'Dull and long.'), [1, 0], {'missing label': 1})
    >>> load_dataset(path, ["negative", "positive"], limit=1).text_a
    ('A fine film.',)
    """
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not a data file")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if limit is not None and limit < 1:
        raise DataError(f"`limit` must be at least 1, got {limit}")
    if sample is not None and sample < 1:
        raise DataError(f"`sample` must be at least 1, got {sample}")
    header, body = _read_records(path, no_header, delimiter)
    text_index = _column(header, text_col, "`text_col`", path)
    pair_index = _column(header, pair_col, "`pair_col`", path)
    if text_index is None:
        if no_header:
            raise DataError(f"{path}: without a header, pass `text_col` (a 0-based index) and `pair_col` for pairs")
        text_index, detected_pair = _detect_columns(header, path)
        if pair_index is None:
            pair_index = detected_pair
    label_index = _column(header, label_col, "`label_col`", path)
    if label_index is None and not no_header:
        lowered = [name.lower() for name in header]
        label_index = next((lowered.index(n) for n in LABEL_COLUMNS if n in lowered), None)
    if label_index is None and require_labels:
        raise DataError(f"{path}: no label column (looked for {', '.join(LABEL_COLUMNS)}); pass `label_col`")
    mapping = parse_label_map(label_map)

    names = tuple(label_names) if label_names is not None else None
    if names is None and label_index is not None:
        seen = sorted({
            str(_cell(row, label_index)).strip() for row in body
            if _cell(row, label_index) is not None and str(_cell(row, label_index)).strip().lower() not in MISSING_LABELS
        })
        names = tuple(sorted({mapping.get(v, v) for v in seen})) if mapping else tuple(seen)
    if mapping is not None and names is not None:
        unknown = sorted({v for v in mapping.values() if v.lower() not in {n.lower() for n in names}})
        if unknown:
            raise DataError(f"`label_map` names {', '.join(unknown)}, which the model does not know ({', '.join(names)})")
    lookup = {name.lower(): i for i, name in enumerate(names or ())}

    text_a: list[str] = []
    text_b: list[str] = []
    gold: list[int] = []
    rows: list[int] = []
    skipped: Counter[str] = Counter()
    for i, row in enumerate(body):
        a = _cell(row, text_index)
        b = _cell(row, pair_index) if pair_index is not None else None
        texts = [(a, header[text_index])] + ([(b, header[pair_index])] if pair_index is not None else [])
        for value, column in texts:
            _text(value, column, i, path)
        if any(_is_empty(value) for value, _ in texts) and not keep_empty:
            skipped[EMPTY_TEXT] += 1
            continue
        if label_index is not None:
            try:
                label = _label_index(_cell(row, label_index), names, lookup, mapping)
            except KeyError as exc:
                raise DataError(
                    f"{path}: row {i}: label {exc.args[0]!r} is not one the model knows "
                    f"({', '.join(names or ())}); pass `label_map` if the file uses other names or ids"
                ) from None
            if label is None:
                skipped["missing label"] += 1
                continue
            gold.append(label)
        text_a.append("" if a is None else str(a))
        if pair_index is not None:
            text_b.append("" if b is None else str(b))
        rows.append(i)
    if not text_a:
        raise DataError(f"{path}: no usable rows ({sum(skipped.values())} skipped: {dict(skipped)})")

    keep = np.arange(len(text_a))
    if sample is not None and sample > len(keep):
        warnings.warn(f"{path}: `sample`={sample} is more than the {len(keep):,} usable rows; using all of them", stacklevel=2)
    if sample is not None and sample < len(keep):
        rng = random.Random(seed)
        keep = np.array(sorted(rng.sample(range(len(text_a)), sample)))
        skipped["not sampled"] += len(text_a) - sample
    if limit is not None and limit < len(keep):
        skipped["over limit"] += len(keep) - limit
        keep = keep[:limit]
    columns = {
        "text": header[text_index],
        "pair": header[pair_index] if pair_index is not None else None,
        "label": header[label_index] if label_index is not None else None,
    }
    return Dataset(
        text_a=tuple(text_a[i] for i in keep),
        text_b=tuple(text_b[i] for i in keep) if pair_index is not None else None,
        labels=np.asarray([gold[i] for i in keep], dtype=np.int64) if label_index is not None else None,
        label_names=names or (),
        path=str(path),
        rows=np.asarray([rows[i] for i in keep], dtype=np.int64),
        sha256=sha256_file(path),
        skipped=dict(skipped),
        columns=columns,
    )


def write_dataset(path: str | os.PathLike[str], dataset: Dataset) -> Path:
    """Write a dataset as a TSV with a header (``premise hypothesis label`` or ``text label``)."""
    from trustaudit._io import atomic_write

    path = Path(path)
    with atomic_write(path, "w") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        head = ["premise", "hypothesis"] if dataset.is_pair else ["text"]
        writer.writerow(head + (["label"] if dataset.labels is not None else []))
        for i in range(len(dataset)):
            row = [dataset.text_a[i]] + ([dataset.text_b[i]] if dataset.text_b is not None else [])
            if dataset.labels is not None:
                row.append(dataset.label_names[int(dataset.labels[i])])
            writer.writerow(row)
    return path
