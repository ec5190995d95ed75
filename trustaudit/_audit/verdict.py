"""From a results document to the verdict: what it measured for each gate check, judged by :mod:`trustaudit.gate`.

Reads only the document, so stored results can be judged again under other thresholds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trustaudit._audit.document import GateCheck, VerdictSection
from trustaudit.explain import explainer_names
from trustaudit.gate import GateConfig, Measurement, evaluate, verdict_sentence


def interval_list(low: float | None, high: float | None) -> list[float] | None:
    if low is None or high is None:
        return None
    return [float(low), float(high)]


#: Calibration metrics whose increase and absolute difference the section also states under
#: their own keys (``ece_increase``...), as results files always have; the gate derives the
#: other metrics' comparisons from ``comparison`` (see :func:`_calibration_changes`).
STATED_CHANGES = ("ece", "mce", "brier")


def bias_measurement(doc: Mapping[str, Any]) -> Measurement:
    """The gate's measurement of the largest change in bias effect size, over tests and poolings.

    The value is ``max |d_small - d_base|``; the interval is ``[max of the lower ends, max of
    the upper ends]`` of the per-test 95% intervals of ``|d_small - d_base|``. Judged with the
    ``max`` rule this passes exactly when every test's interval is below the limit, fails
    exactly when some test's interval is wholly above it, and is inconclusive otherwise,
    unlike a bootstrap interval of the maximum, which is biased upwards. ``n`` is None:
    word sets, not rows, limit the precision.
    """
    section = doc.get("bias")
    if section is None:
        return Measurement(None, None, None, "not in this results file (written before the bias comparison)")
    if not section.get("available"):
        return Measurement(None, None, None, str(section.get("reason") or "the bias comparison was not run"))
    changes = [r["change"] for t in section["embedding"]["tests"] for r in t["results"]]
    defined = [c for c in changes if c.get("absolute_difference") is not None]
    if not defined:
        return Measurement(None, None, None, "no effect size is defined (a word set embeds to a constant)")
    value = max(float(c["absolute_difference"]) for c in defined)
    intervals = [c.get("absolute_difference_ci") for c in defined]
    interval = None
    if all(i is not None for i in intervals):
        interval = (max(float(i[0]) for i in intervals), max(float(i[1]) for i in intervals))
    return Measurement(value, interval, None, "")


def extras_measurements(doc: Mapping[str, Any]) -> dict[str, Measurement]:
    """The gate's measurements of the ``extras`` section: CKA (mean pooling) and the adversarial transfer gap."""
    from trustaudit._audit.config import EXTRAS_OFF

    extras = doc.get("extras")
    out: dict[str, Measurement] = {}
    for metric, part, n_key in (("extras.cka", "representation", "rows"), ("extras.transfer_gap", "adversarial", "attacked")):
        key = metric.rsplit(".", 1)[-1]
        section = (extras or {}).get(part) or {}
        if extras is None:
            config = doc.get("config") or {}
            reason = EXTRAS_OFF if config.get("extras") is False else "not in this results file (written before the extras comparisons)"
        elif not section.get("available"):
            reason = str(section.get("reason") or f"the {part} comparison was not run")
        else:
            undefined = "no row could be attacked on either model" if part == "adversarial" else "CKA is undefined on these rows"
            reason = "" if section.get(key) is not None else undefined
        value = section.get(key) if not reason else None
        out[metric] = Measurement(value, _tuple(section.get(f"{key}_interval")) if value is not None else None,
                                  section.get(n_key), reason)
    return out


def absolute_interval(interval: list[float] | None) -> list[float] | None:
    """The interval of ``|d|`` implied by an interval of ``d``.

    Judging ``|d| <= limit`` on it is judging whether the interval of ``d`` lies inside
    ``[-limit, limit]`` (pass), wholly outside it (fail) or across its edge (inconclusive):
    the equivalence test of two one-sided tests, read off the percentile interval.
    """
    if interval is None:
        return None
    low, high = interval
    if low >= 0:
        return [low, high]
    if high <= 0:
        return [-high, -low]
    return [0.0, max(-low, high)]


def _tuple(value: Any) -> tuple[float, float] | None:
    return (float(value[0]), float(value[1])) if value else None


def _calibration_changes(section: Mapping[str, Any], n: int, reason: str) -> dict[str, Measurement]:
    """The worsening and absolute difference of every registered calibration metric, by comparison key.

    The metrics of :data:`STATED_CHANGES` are read from their own keys (``ece_increase``),
    so a results file written before one of them was stated says so; the others follow from
    the metric's ``comparison`` entry: ``diff`` (``-diff`` for a higher-is-better metric's
    drop) and its interval, or ``|diff|`` and the interval of ``|d|`` implied by the
    interval of ``d``.
    """
    from trustaudit.metrics import comparisons_of, metrics_in

    out: dict[str, Measurement] = {}
    for spec in metrics_in("calibration"):
        worsening, difference = comparisons_of(spec.name)
        compared = (section.get("comparison") or {}).get(spec.key)
        if spec.key in STATED_CHANGES or compared is None:
            why = reason
            if spec.key not in STATED_CHANGES and section.get("available"):
                why = f"not in this results file ({spec.key} was not computed when it was written)"
            for key in (worsening.key, difference.key):
                value = section.get(key)
                out[key] = Measurement(value, _tuple(section.get(f"{key}_interval")), n, "" if value is not None else why)
            continue
        sign = -1.0 if spec.higher_is_better else 1.0
        diff = compared.get("diff")
        interval = interval_list(compared.get("ci_low"), compared.get("ci_high"))
        signed = None if interval is None else sorted(sign * v for v in interval)
        out[worsening.key] = Measurement(None if diff is None else sign * diff, _tuple(signed), n, "" if diff is not None else reason)
        out[difference.key] = Measurement(None if diff is None else abs(diff), _tuple(absolute_interval(interval)), n,
                                          "" if diff is not None else reason)
    return out


def gate_measurements(doc: Mapping[str, Any]) -> dict[str, Measurement]:
    """What a results document measured for every gate check: value, interval, rows, or why not.

    Reads only the document, so stored results can be judged again (``render --gate``).
    """
    p, c, a = doc["predictions"], doc.get("calibration") or {}, doc.get("attribution") or {}
    n_rows = int(p.get("n") or doc.get("data", {}).get("rows_used") or 0)
    labelled = c.get("available", False) or p.get("base", {}).get("accuracy") is not None
    no_labels = "the data has no gold labels"
    out: dict[str, Measurement] = {}

    def put(metric: str, section: Mapping[str, Any], key: str, n: int, reason: str, interval_key: str | None = None) -> None:
        value = section.get(key)
        out[metric] = Measurement(
            value if value is not None else None,
            _tuple(section.get(interval_key or f"{key}_interval")),
            n,
            "" if value is not None else reason,
        )

    put("predictions.accuracy_drop", p, "accuracy_drop", n_rows, no_labels)
    put("predictions.agreement", p, "agreement", n_rows, "no predictions")
    missing = no_labels if not labelled else "not in this results file (written by an earlier trustaudit)"
    put("predictions.negative_flip_rate", p, "negative_flip_rate", n_rows, missing)
    put("predictions.worst_class_recall_drop", p, "worst_class_recall_drop", n_rows, missing)
    for key, measured in _calibration_changes(c, n_rows, missing).items():
        out[f"calibration.{key}"] = measured
    explained = int(a.get("explained") or 0)
    run = set(a.get("explainers") or [])
    for name in explainer_names():
        section = a.get(name) or {}
        if not a.get("available"):
            reason = "no rows were explained (explain_n = 0)"
        elif name not in run:
            reason = f"the {name.upper()} explainer was not run"
        else:
            reason = ""
        k = a.get("k")
        jaccard = (section.get("metrics") or {}).get(f"topk_jaccard@{k}") or {}
        put(f"attribution.{name}.feature_agreement", section, "feature_agreement", explained, reason)
        out[f"attribution.{name}.topk_jaccard"] = Measurement(
            jaccard.get("mean"),
            _tuple([jaccard["ci_low"], jaccard["ci_high"]]) if jaccard.get("ci_low") is not None else None,
            explained,
            reason,
        )
        floor_reason = reason or ("no noise floor was measured" if section.get("floor") is None else "the noise floor is not positive")
        put(f"attribution.{name}.floor_ratio", section, "floor_ratio", explained, floor_reason)
    out["bias.max_abs_effect_change"] = bias_measurement(doc)
    out.update(extras_measurements(doc))
    for metric, measured in out.items():
        if measured.value is None and not measured.reason:
            out[metric] = Measurement(None, None, measured.n, "not in this results file")
    return out


def verdict_section(doc: Mapping[str, Any], gate: GateConfig, source: str) -> VerdictSection:
    """Judge a results document against ``gate``; pure, so ``render`` can re-judge stored results."""
    result = evaluate(gate_measurements(doc), gate)
    return VerdictSection(
        status=result.status,
        passed=result.passed,
        source=source,
        decision=gate.decision,
        level=0.95,
        checks=[GateCheck.from_dict(c.to_dict()) for c in result.checks],
        sentence=verdict_sentence(result),
    )
