"""Word features of a text or a text pair, shared by every explainer.

A feature is one word at one position: a word that occurs twice is two features (LIME's
``bow=True`` would merge them). Words are the pieces between separators, and the split is
the one LIME's ``IndexedString`` makes with ``split_expression=SEPARATOR`` (``re.split``
on the separator as a capturing group), so LIME configured with :data:`SEPARATOR` sees
exactly these features. Punctuation is part of the separators: it is never a feature and
never removed.

A perturbation *removes* the masked words and rebuilds the text from the kept words and
the original separators. Where words were removed, the separators that become adjacent
are joined with their whitespace runs collapsed to one space, the blank before a removed
word goes with it when punctuation followed the word ("a bird." -> "a.", not "a ."), and
whitespace left at the start or end of the text is dropped: no removal leaves double
spaces or stray blanks behind (they would change the tokens of whitespace-sensitive
tokenizers, and a word-piece tokenizer does not see them anyway). Each
model then tokenizes the perturbed text itself, which is what lets two models with
different tokenizers be explained over the same features.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trustaudit.exceptions import InvalidInputError

#: Separators between words: anything that is neither a word character nor an apostrophe
#: inside a word ("don't" and "o'clock" stay one word, quotes around a word do not).
SEPARATOR = r"(?:[^\w'’]|(?<!\w)['’]|['’](?!\w))+"
SEGMENTS = ("both", "a", "b")

_SPLITTER = re.compile(rf"({SEPARATOR})|$")
_WHITESPACE = re.compile(r"\s+")

Pair = tuple[str, "str | None"]


@dataclass(frozen=True)
class Feature:
    """One word at one position: ``text[start:end] == word`` in the text of ``segment`` (``a``/``b``)."""

    index: int
    word: str
    segment: str
    start: int
    end: int

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {"index": self.index, "word": self.word, "segment": self.segment, "start": self.start, "end": self.end}


def split_text(text: str) -> list[tuple[str, bool]]:
    """The pieces of ``text`` as ``(piece, is_word)``, joined back they give ``text``.

    Made as LIME's ``IndexedString`` makes them: ``re.split`` on ``(SEPARATOR)|$``,
    empty pieces dropped, a piece being a separator when the pattern matches at its start.
    """
    pieces = [piece for piece in _SPLITTER.split(text) if piece]
    return [(piece, _SPLITTER.match(piece) is None) for piece in pieces]


def _collapse(separator: str, at_start: bool, at_end: bool) -> str:
    separator = _WHITESPACE.sub(" ", separator)
    if at_start:
        separator = separator.lstrip()
    if at_end:
        separator = separator.rstrip()
    return separator


def _rebuild(words: Sequence[str], gaps: Sequence[str], keep: Sequence[bool]) -> str:
    """The text ``gaps[0] words[0] gaps[1] ... words[-1] gaps[-1]`` without the words not kept.

    See the module docstring for how the separators around removed words are joined.
    """
    out: list[str] = []
    pending, dropped = gaps[0], False
    for i, word in enumerate(words):
        if keep[i]:
            out.append(_collapse(pending, not out, False) if dropped else pending)
            out.append(word)
            pending, dropped = gaps[i + 1], False
        else:
            following = gaps[i + 1]
            if following and not following[0].isspace():
                pending = pending.rstrip()
            pending, dropped = pending + following, True
    out.append(_collapse(pending, not out, True) if dropped else pending)
    return "".join(out)


@dataclass(frozen=True)
class _Segment:
    name: str
    text: str
    words: tuple[str, ...]
    gaps: tuple[str, ...]
    first: int
    explained: bool


@dataclass(frozen=True, eq=False)
class FeatureSet:
    """The word features of one input: ``text_a`` (and ``text_b`` for pairs) split into words.

    ``segment`` says which texts are explained: ``both`` (every word of both texts, those of
    ``a`` first), ``a`` or ``b``. Words of a text that is not explained never change.
    """

    text_a: str
    text_b: str | None = None
    segment: str = "both"
    features: tuple[Feature, ...] = field(init=False)
    _segments: tuple[_Segment, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.text_a, str):
            raise InvalidInputError(f"text_a must be a string, got {type(self.text_a).__name__}")
        if self.text_b is not None and not isinstance(self.text_b, str):
            raise InvalidInputError(f"text_b must be a string or None, got {type(self.text_b).__name__}")
        if self.segment not in SEGMENTS:
            raise InvalidInputError(f"segment must be one of {', '.join(SEGMENTS)}, got {self.segment!r}")
        if self.segment == "b" and self.text_b is None:
            raise InvalidInputError("segment='b' explains the second text of a pair, but this input is a single text")
        features: list[Feature] = []
        segments: list[_Segment] = []
        for name, text in (("a", self.text_a), ("b", self.text_b)):
            if text is None:
                continue
            explained = self.segment in ("both", name)
            first = len(features)
            words: list[str] = []
            gaps = [""]
            offset = 0
            for piece, is_word in split_text(text):
                if is_word:
                    if explained:
                        features.append(Feature(len(features), piece, name, offset, offset + len(piece)))
                    words.append(piece)
                    gaps.append("")
                else:
                    gaps[-1] += piece
                offset += len(piece)
            segments.append(_Segment(name, text, tuple(words), tuple(gaps), first, explained))
        object.__setattr__(self, "features", tuple(features))
        object.__setattr__(self, "_segments", tuple(segments))

    def __len__(self) -> int:
        return len(self.features)

    @property
    def words(self) -> tuple[str, ...]:
        """The feature words, in feature order."""
        return tuple(f.word for f in self.features)

    @property
    def is_pair(self) -> bool:
        """True when the input is a text pair."""
        return self.text_b is not None

    def perturb(self, mask: Sequence[bool] | np.ndarray) -> Pair:
        """``(text_a, text_b | None)`` keeping the features where ``mask`` is true, removing the others."""
        keep = np.asarray(mask)
        if keep.shape != (len(self.features),):
            raise InvalidInputError(f"mask must have one entry per feature ({len(self.features)}), got shape {keep.shape}")
        flags = keep.astype(bool).tolist()
        texts: dict[str, str] = {}
        for seg in self._segments:
            part = flags[seg.first:seg.first + len(seg.words)]
            if not seg.explained or all(part):
                texts[seg.name] = seg.text
            else:
                texts[seg.name] = _rebuild(seg.words, seg.gaps, part)
        return texts["a"], texts.get("b")

    def substitute(self, replacements: Mapping[int, str]) -> Pair:
        """``(text_a, text_b | None)`` with feature ``i``'s word replaced by ``replacements[i]``.

        Everything else, separators included, is kept as it is. Each replacement must be one
        word under :data:`SEPARATOR`, so the new text splits into the same features.
        """
        for index, word in replacements.items():
            if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < len(self.features):
                raise InvalidInputError(f"feature index must be from 0 to {len(self.features) - 1}, got {index!r}")
            pieces = split_text(word) if isinstance(word, str) else []
            if len(pieces) != 1 or not pieces[0][1]:
                raise InvalidInputError(f"a replacement must be a single word, got {word!r}")
        texts = {seg.name: seg.text for seg in self._segments}
        for seg in self._segments:
            changes = sorted(
                ((self.features[i].start, self.features[i].end, w) for i, w in replacements.items()
                 if self.features[i].segment == seg.name),
                reverse=True,
            )
            text = seg.text
            for start, end, word in changes:
                text = text[:start] + word + text[end:]
            texts[seg.name] = text
        return texts["a"], texts.get("b")

    def perturb_many(self, masks: np.ndarray | Iterable[Sequence[bool]]) -> list[Pair]:
        """:meth:`perturb` for every row of ``masks``."""
        return [self.perturb(row) for row in np.asarray(masks, dtype=bool).reshape(-1, len(self.features))]

    @property
    def text(self) -> Pair:
        """The unperturbed input."""
        return self.text_a, self.text_b

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form: the texts, the segment and the features (for readers of the JSON)."""
        return {
            "text_a": self.text_a,
            "text_b": self.text_b,
            "segment": self.segment,
            "features": [f.to_dict() for f in self.features],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSet:
        """Rebuild from :meth:`to_dict`; the features are split again and must match those stored."""
        features = cls(data["text_a"], data.get("text_b"), data.get("segment", "both"))
        stored = data.get("features")
        if stored is not None and [f.to_dict() for f in features.features] != list(stored):
            raise InvalidInputError(
                "the stored features differ from the words this version of trustaudit finds in the text"
            )
        return features
