"""The ``verdict`` section: the status, every gate check as judged, and the sentence."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from trustaudit._audit.document._section import Section, many, optional_key


@dataclasses.dataclass(frozen=True, kw_only=True)
class GateCheck(Section):
    """One gate check as judged: the measured value and interval against its limit, and why (``message``)."""

    key: str | None = None
    metric: str | None = None
    kind: str | None = None
    limit: float | None = None
    value: float | None = None
    interval: list[float] | None = None
    judged: float | None = None
    status: str | None = None
    passed: bool | None = None
    decision: str | None = None
    n: int | None = None
    rows: str | None = None
    rows_to_decide: int | None = None
    unit: str | None = None
    message: str | None = None

    def result(self) -> Any:
        """The check as a :class:`trustaudit.gate.CheckResult`."""
        from trustaudit.gate import CheckResult

        return CheckResult.from_dict(self.to_dict())


@dataclasses.dataclass(frozen=True, kw_only=True)
class VerdictSection(Section):
    """The ``verdict`` section: the four-valued status, every check, and the sentence that says it.

    ``rejudged`` says when and why stored results were judged again (absent otherwise).
    """

    status: str | None = None
    passed: bool | None = None
    source: str | None = None
    decision: str | None = None
    level: float | None = None
    checks: list[GateCheck] | None = None
    sentence: str | None = None
    rejudged: str | None = optional_key()

    _nested: ClassVar[Mapping[str, Callable[[Any], Any]]] = {"checks": many(GateCheck)}

    def gate(self) -> Any:
        """The checks as a :class:`trustaudit.gate.GateResult`."""
        from trustaudit.gate import GateResult

        return GateResult(tuple(check.result() for check in self.checks or []), str(self.decision or "interval"))
