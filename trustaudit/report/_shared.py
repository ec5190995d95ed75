"""What every output of an audit shares: number formatting, text made visible (control and bidi characters shown), the Jinja2 environment and the models' provenance in words."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from typing import Any

from trustaudit._resources import templates_dir

_HIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


_NEGATIVE_ZERO = re.compile(r"^-(?=[0.]*\d)(?!.*[1-9])")


def visible(text: str) -> str:
    """``text`` with control and bidirectional-override characters written as ``\\uXXXX`` escapes.

    A NUL or a U+202E RIGHT-TO-LEFT OVERRIDE in a data row would otherwise be invisible in the
    report, or reorder the text around it so that it reads as something else.
    """
    return _HIDDEN.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _mark_hidden(value: Any) -> Any:
    """Jinja ``finalize``: a string holding hidden characters becomes escaped markup showing each as a marked escape."""
    from markupsafe import Markup, escape

    if not isinstance(value, str) or isinstance(value, Markup) or not _HIDDEN.search(value):
        return value
    parts, last = [], 0
    for match in _HIDDEN.finditer(value):
        code = ord(match.group())
        parts.append(str(escape(value[last:match.start()])))
        parts.append(f'<span class="ctl" title="hidden character U+{code:04X}">\\u{code:04x}</span>')
        last = match.end()
    parts.append(str(escape(value[last:])))
    return Markup("".join(parts))


def no_negative_zero(text: str, signed: bool = False) -> str:
    """A formatted number without the minus of a value that rounds to zero: ``-0.000`` becomes ``0.000``
    (``+0.000`` for a ``signed`` format)."""
    return _NEGATIVE_ZERO.sub("+" if signed else "", str(text))


@functools.lru_cache(maxsize=1)
def environment() -> Any:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=FileSystemLoader(str(templates_dir())),
        autoescape=select_autoescape(enabled_extensions=("html", "j2"), default=True),
        undefined=StrictUndefined,
        trim_blocks=False,
        lstrip_blocks=False,
        finalize=_mark_hidden,
    )
    env.filters["nz"] = no_negative_zero
    return env


def read_template(name: str) -> str:
    return (templates_dir() / name).read_text(encoding="utf-8")


def size_text(n: int | None) -> str:
    if not n:
        return "in memory"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def provenance_text(provenance: Mapping[str, Any]) -> str:
    if not provenance:
        return "–"
    method = provenance.get("method")
    if method == "asc":
        removed = provenance.get("layers_removed")
        return f"ASC (application-specific compression): removed encoder layers {removed} of the base, then fine-tuned"
    if method == "alad":
        setup = provenance.get("setup") or provenance.get("mode") or "?"
        return f"AlAd alignment adapter (set-up {setup}, window {provenance.get('window', '?')}) over a compressed model"
    if method in ("quantize", "int8", "dynamic-int8"):
        return "dynamic int8 quantization of the Linear layers"
    if isinstance(method, str) and method.startswith("onnx-"):
        return _onnx_provenance_text(provenance)
    shown = {k: v for k, v in provenance.items() if isinstance(v, (str, int, float, bool)) and k != "similarity"}
    return ", ".join(f"{k}: {v}" for k, v in list(shown.items())[:8]) or "–"


def _onnx_provenance_text(provenance: Mapping[str, Any]) -> str:
    text = f"ONNX export (fp32 max |Δp| vs PyTorch {provenance.get('max_abs_dp', float('nan')):.1e})"
    if provenance.get("quantize"):
        channel = "per channel" if provenance.get("per_channel") else "per tensor"
        text += f", ONNX Runtime {provenance['quantize']} int8 quantization ({channel})"
    return text


def source_text(source: Mapping[str, Any] | None) -> str:
    """Where a model was downloaded from (its ``source``: Hub id, revision, commit), or "" for a local model."""
    source = source or {}
    if not source.get("hub_id"):
        return ""
    return f"{source['hub_id']} @ {source.get('revision', 'main')} (commit {str(source.get('commit', ''))[:12]})"


def fmt(value: Any, style: str = "num") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if style == "pct":
        return no_negative_zero(f"{100 * value:.1f}%")
    if style == "pts":
        return no_negative_zero(f"{100 * value:+.2f} pts", signed=True)
    return no_negative_zero(f"{value:.3f}")


def small_number(value: float) -> str:
    """A small non-negative difference: four decimals, or scientific notation below 1e-4."""
    return f"{value:.4f}" if value == 0 or value >= 1e-4 else f"{value:.1e}"


def precision_sentence(precision: Any) -> str:
    """What a reduced precision cost in fidelity, in one sentence (the typed ``precision`` section; ``""`` when absent).

    The same words in the report, the console summary and the Markdown summary: a reader of
    any of them sees how far the bf16/fp16 probabilities are from fp32's.
    """
    if precision is None:
        return ""
    largest = precision.max_abs_diff or {}
    names = list(largest)
    diffs = ", ".join(f"{small_number(largest[n])} ({n})" for n in names)
    sentence = f"forward passes in {precision.precision}: max |Δp| vs fp32 = {diffs} over {precision.rows} rows"
    changed = precision.changed_predictions
    if changed:
        sentence += "; predictions that differ from fp32: " + ", ".join(f"{changed[n]} ({n})" for n in names)
    return sentence

