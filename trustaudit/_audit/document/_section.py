"""The base of every typed section: declared fields, keys a version does not know (``extra``), and the keys' order (``keys``)."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

from trustaudit._json import to_jsonable

S = TypeVar("S", bound="Section")

_OMIT = "omit_if_none"


def optional_key(default: Any = None) -> Any:
    """A field whose key a freshly built section leaves out while it is ``None``."""
    return dataclasses.field(default=default, metadata={_OMIT: True})


def _plain(value: Any) -> Any:
    """``value`` in plain JSON types: sections by their ``to_dict``, containers copied, leaves via ``to_jsonable``."""
    if isinstance(value, Section):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return to_jsonable(value)


def one(cls: type[S]) -> Callable[[Any], S | None]:
    """Reader of a nested section (``None`` stays ``None``)."""
    return lambda value: None if value is None else cls.from_dict(value)


def many(cls: type[S]) -> Callable[[Any], list[S] | None]:
    """Reader of a list of nested sections."""
    return lambda value: None if value is None else [cls.from_dict(item) for item in value]


def by_name(cls: type[S]) -> Callable[[Any], dict[str, S] | None]:
    """Reader of a mapping of name to nested section."""
    return lambda value: None if value is None else {str(key): cls.from_dict(item) for key, item in value.items()}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Section:
    """Base of every typed section: declared fields, keys this version does not know, and the keys' order."""

    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict, repr=False)
    keys: tuple[str, ...] | None = dataclasses.field(default=None, repr=False)

    #: Readers of nested fields (field name -> function of the JSON value); others are copied.
    _nested: ClassVar[Mapping[str, Callable[[Any], Any]]] = {}
    #: A mapping field whose entries are written as keys of this section itself (one per explainer).
    _spread: ClassVar[str | None] = None
    #: Keys an earlier version wrote, read as the field that now holds them (old key -> field name).
    _renamed: ClassVar[Mapping[str, str]] = {}

    @classmethod
    def _declared(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls) if f.name not in ("extra", "keys") and f.name != cls._spread)

    @classmethod
    def _spread_keys(cls, data: Mapping[str, Any]) -> Sequence[str]:
        """Keys of ``data`` that belong to the spread mapping (none unless a section says otherwise)."""
        return ()

    @classmethod
    def from_dict(cls: type[S], data: Mapping[str, Any]) -> S:
        """The section of a results document (plain JSON) as an object; every key is kept."""
        declared = set(cls._declared())
        spread = set(cls._spread_keys(data))
        values: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        spread_values: dict[str, Any] = {}
        renamed = {old: new for old, new in cls._renamed.items() if old in data and new not in data}
        data = {renamed.get(key, key): value for key, value in data.items()}
        for key, value in data.items():
            reader = cls._nested.get(key if key not in spread else str(cls._spread))
            read = reader(value) if reader is not None else copy.deepcopy(value)
            if key in spread:
                spread_values[key] = read
            elif key in declared:
                values[key] = read
            else:
                extra[key] = copy.deepcopy(value)
        if cls._spread is not None:
            values[cls._spread] = spread_values
        return cls(**values, extra=extra, keys=tuple(data))

    def _default_keys(self) -> tuple[str, ...]:
        fields = {f.name: f for f in dataclasses.fields(self)}
        keys = [
            name for name in self._declared()
            if not (fields[name].metadata.get(_OMIT) and getattr(self, name) is None)
        ]
        return (*keys, *(self.spread() if self._spread else {}), *self.extra)

    def values(self) -> dict[str, Any]:
        """The declared fields and their values, shallow (nested sections stay objects), for a view to extend."""
        return {name: getattr(self, name) for name in self._declared()}

    def spread(self) -> Mapping[str, Any]:
        """The entries written as keys of this section (empty unless the section has them)."""
        return getattr(self, self._spread) if self._spread else {}

    def to_dict(self) -> dict[str, Any]:
        """The section in plain JSON types, its keys in the order it was read (or declared)."""
        spread = self.spread()
        declared = set(self._declared())
        out: dict[str, Any] = {}
        for key in self.keys if self.keys is not None else self._default_keys():
            if key in spread:
                out[key] = _plain(spread[key])
            elif key in declared:
                out[key] = _plain(getattr(self, key))
            else:
                out[key] = copy.deepcopy(self.extra[key])
        return out
