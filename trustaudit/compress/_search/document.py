"""The answer of a search: ``search.json``, ``search.html`` and the chosen model copied into the output folder."""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trustaudit._io import atomic_write, write_text_atomic
from trustaudit._version import __version__
from trustaudit.compress._search.candidates import _layers, _Plan
from trustaudit.compress._search.records import (
    AUDITED,
    FAILED,
    FOUND,
    NONE_FOUND,
    ONNX_METHODS,
    PLANNED,
    REJECTED_CHEAP,
    UNDECIDED,
    SearchCandidate,
    SearchResult,
)
from trustaudit.gate import (
    INCOMPLETE,
    NOT_TRUST_EQUIVALENT,
    TRUST_EQUIVALENT,
    VERDICT_INCONCLUSIVE,
)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _copy_atomic(source: Path, target: Path) -> None:
    with open(source, "rb") as src, atomic_write(target, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)


def _copy_tree_atomic(source: Path, target: Path) -> None:
    """Copy a model directory beside ``target``, then rename it into place (never half written)."""
    staging = target.parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        shutil.copytree(source, staging)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class _Document:
    """The answering half of :class:`~trustaudit.compress._search.run._Search` (a mixin: it uses its state)."""

    def _monotonicity(self) -> dict[str, Any]:
        """Pairs of audited candidates of one family where a more compressed one passed and a less compressed one failed."""
        contradictions, pairs = [], 0
        for members in self._families():
            judged = [p for p in members if p.row["state"] in (AUDITED, REJECTED_CHEAP)]
            for i, small in enumerate(judged):
                for larger in judged[i + 1:]:
                    if larger.cost <= small.cost:
                        continue
                    pairs += 1
                    if small.row["status"] == TRUST_EQUIVALENT and larger.row["status"] == NOT_TRUST_EQUIVALENT:
                        contradictions.append([small.row["name"], larger.row["name"]])
        return {
            "assumed": self.strategy == "binary",
            "pairs_compared": pairs,
            "contradictions": contradictions,
            "held": not contradictions,
            "note": "a pair contradicts the assumption when a more compressed candidate of a family is trust-equivalent "
                    "and a less compressed one of the same family is not",
        }

    def _answer(self) -> tuple[str, _Plan | None]:
        best = self._best()
        if best is not None:
            return FOUND, best
        undecided = [p for p in self.plans if p.row["state"] in (AUDITED, REJECTED_CHEAP)
                     and p.row["status"] in (VERDICT_INCONCLUSIVE, INCOMPLETE)]
        return (UNDECIDED if undecided else NONE_FOUND), None

    def document(self, final: bool) -> dict[str, Any]:
        answer, best = self._answer() if final else (None, None)
        rows = []
        for plan in sorted(self.plans, key=lambda p: (p.cost, p.row["name"])):
            row = {k: v for k, v in plan.row.items() if k != "in_search"}
            row["chosen"] = best is plan
            if plan.row["state"] == PLANNED and final:
                if not plan.row["in_search"]:
                    row["note"] = row.get("note") or f"not in --methods ({', '.join(self.methods)}): made only as a parent"
                elif self.stopped and not row.get("note"):
                    row["note"] = "not reached: the budget ran out"
                elif not row.get("note"):
                    row["note"] = "not needed: the search decided without it"
            rows.append(SearchCandidate.from_dict(row).to_dict())
        audited = [p for p in self.plans if p.row["state"] in (AUDITED, REJECTED_CHEAP)]
        rejected = [p for p in audited if p.row["state"] == REJECTED_CHEAP]
        explain_n = self.config.explain_n
        state = "running" if not final else ("stopped by the budget" if self.stopped else "done")
        return {
            "tool": {"name": "trustaudit", "version": __version__},
            "created": _now(),
            "command": self.command or "trustaudit.compress.search(...)",
            "state": state,
            "complete": final and not self.stopped,
            "answer": answer,
            "chosen": best.row["name"] if best is not None else None,
            "model": _chosen_model(best.row) if best is not None else None,
            "objective": self.objective,
            "strategy": self.strategy,
            "methods": list(self.methods),
            "budget_minutes": self.budget_minutes,
            "elapsed_seconds": round(self._elapsed(), 3),
            "base": {"path": self.base.path, "fingerprint": self.base.fingerprint, "size_bytes": self.base_size,
                     "params": self.base.n_params, "layers": _layers(self.base), "latency_ms": self.base_latency},
            "data": {"train": {"path": self.train.path, "sha256": self.train.sha256, "rows": len(self.train)},
                     "eval": {"path": self.eval_data.path, "sha256": self.eval_data.sha256, "rows": len(self.eval_data)}},
            "ladder": self.ladder,
            "asc_options": _plain(self.asc_options),
            "alad_options": _plain(self.alad_options),
            "gate": {**self.config.gate.to_dict(), "source": self.config.gate_source},
            "cheap_checks": [spec.key for spec in self.cheap.enabled],
            "audit_config": self.config.to_dict(),
            "candidates": rows,
            "counts": {
                "planned": len(self.plans),
                "built": sum(1 for p in self.plans if p.row.get("bundle")),
                "audited": len(audited),
                "rejected_by_cheap_pass": len(rejected),
                "failed_to_build": sum(1 for p in self.plans if p.row["state"] == FAILED),
                "fully_audited": len(audited) - len(rejected),
                "explained": sum(int(p.row.get("explained") or 0) for p in audited),
                "explanations_saved": len(rejected) * explain_n,
            },
            "monotonicity": self._monotonicity(),
        }

    def save(self, final: bool = False, page: bool = True) -> dict[str, Any]:
        """Rewrite ``search.json`` (and, with ``page``, ``search.html``) atomically."""
        from trustaudit.report.search import render_search_html

        doc = self.document(final)
        write_text_atomic(self.out / "search.json", json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False) + "\n")
        if page:
            write_text_atomic(self.out / "search.html", render_search_html(doc))
        return doc

    def finish(self) -> SearchResult:
        answer, best = self._answer()
        if best is not None:
            row = best.row
            source = self.out / row["bundle"]
            if source.is_dir():
                _copy_tree_atomic(source, self.out / _chosen_model(row))
            else:
                _copy_atomic(source, self.out / _chosen_model(row))
            _copy_atomic(self.out / row["results"], self.out / "results.json")
            _copy_atomic(self.out / row["report"], self.out / "report.html")
        doc = self.save(final=True)
        self._line(f"{doc['counts']['audited']} candidate(s) audited in {doc['elapsed_seconds'] / 60:.1f} min: "
                   + (f"chose {doc['chosen']}" if best is not None else f"answer {answer}"))
        candidates = tuple(SearchCandidate.from_dict(r) for r in doc["candidates"])
        chosen = next((c for c in candidates if c.chosen), None)
        return SearchResult(answer, chosen, candidates, bool(doc["complete"]), self.out, doc)


def _chosen_model(row: Mapping[str, Any]) -> str:
    """Where in the output folder the chosen candidate is copied: ``model/`` for an ONNX directory, else ``model.pt``."""
    return "model" if row["method"] in ONNX_METHODS else "model.pt"


def _plain(values: Mapping[str, Any]) -> dict[str, Any]:
    """Options as JSON values (anything else as its text)."""
    out = {}
    for key, value in values.items():
        if value is None or isinstance(value, (bool, int, str)) or (isinstance(value, float) and math.isfinite(value)):
            out[key] = value
        elif isinstance(value, (list, tuple)) and len(value) < 50:
            out[key] = [v if isinstance(v, (int, float, str, bool)) else str(v) for v in value]
        else:
            out[key] = f"<{type(value).__name__}>"
    return out

