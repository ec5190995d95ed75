"""From a results document to the verdict: what it measured for each gate check, judged by :mod:`trustaudit.gate`.

Reads only the document, so stored results can be judged again under other thresholds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trustaudit._audit.document import (
    AttributionSection,
    AuditDocument,
    CalibrationSection,
    ExplainerAgreement,
    GateCheck,
    PredictionsSection,
    VerdictSection,
    document_of,
)
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


def bias_measurement(doc: Mapping[str, Any] | AuditDocument) -> Measurement:
    """The gate's measurement of the largest change in bias effect size, over tests and poolings.

    The value is ``max |d_small - d_base|``; the interval is ``[max of the lower ends, max of
    the upper ends]`` of the per-test 95% intervals of ``|d_small - d_base|``. Judged with the
    ``max`` rule this passes exactly when every test's interval is below the limit, fails
    exactly when some test's interval is wholly above it, and is inconclusive otherwise,
    unlike a bootstrap interval of the maximum, which is biased upwards. ``n`` is None:
    word sets, not rows, limit the precision.
    """
    section = document_of(doc).bias
    if section is None:
        return Measurement(None, None, None, "not in this results file (written before the bias comparison)")
    if not section.available or section.embedding is None:
        return Measurement(None, None, None, str(section.reason or "the bias comparison was not run"))
    changes = [r.change for t in section.embedding.tests or [] for r in t.results or [] if r.change is not None]
    defined = [c for c in changes if c.absolute_difference is not None]
    if not defined:
        return Measurement(None, None, None, "no effect size is defined (a word set embeds to a constant)")
    value = max(float(c.absolute_difference) for c in defined)  # type: ignore[arg-type]
    intervals = [c.absolute_difference_ci for c in defined]
    interval = None
    if all(i is not None for i in intervals):
        interval = (max(float(i[0]) for i in intervals), max(float(i[1]) for i in intervals))  # type: ignore[index]
    return Measurement(value, interval, None, "")


def extras_measurements(doc: Mapping[str, Any] | AuditDocument) -> dict[str, Measurement]:
    """The gate's measurements of the ``extras`` section: CKA (mean pooling) and the adversarial transfer gap."""
    from trustaudit._audit.config import EXTRAS_OFF

    document = document_of(doc)
    extras = document.extras
    out: dict[str, Measurement] = {}
    for metric, part, n_key in (("extras.cka", "representation", "rows"), ("extras.transfer_gap", "adversarial", "attacked")):
        key = metric.rsplit(".", 1)[-1]
        section = getattr(extras, part) if extras is not None else None
        if extras is None:
            turned_off = document.config is not None and document.config.extras is False
            reason = EXTRAS_OFF if turned_off else "not in this results file (written before the extras comparisons)"
        elif section is None or not section.available:
            reason = str((section.reason if section is not None else None) or f"the {part} comparison was not run")
        else:
            undefined = "no row could be attacked on either model" if part == "adversarial" else "CKA is undefined on these rows"
            reason = "" if getattr(section, key) is not None else undefined
        value = getattr(section, key) if section is not None and not reason else None
        out[metric] = Measurement(value, _tuple(getattr(section, f"{key}_interval")) if value is not None else None,
                                  getattr(section, n_key) if section is not None else None, reason)
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


def _calibration_changes(section: CalibrationSection, n: int, reason: str) -> dict[str, Measurement]:
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
        compared = (section.comparison or {}).get(spec.key)
        if spec.key in STATED_CHANGES or compared is None:
            why = reason
            if spec.key not in STATED_CHANGES and section.available:
                why = f"not in this results file ({spec.key} was not computed when it was written)"
            for key in (worsening.key, difference.key):
                value = section.value(key)
                out[key] = Measurement(value, _tuple(section.value(f"{key}_interval")), n, "" if value is not None else why)
            continue
        sign = -1.0 if spec.higher_is_better else 1.0
        diff = compared.diff
        interval = interval_list(compared.ci_low, compared.ci_high)
        signed = None if interval is None else sorted(sign * v for v in interval)
        out[worsening.key] = Measurement(None if diff is None else sign * diff, _tuple(signed), n, "" if diff is not None else reason)
        out[difference.key] = Measurement(None if diff is None else abs(diff), _tuple(absolute_interval(interval)), n,
                                          "" if diff is not None else reason)
    return out


def gate_measurements(doc: Mapping[str, Any] | AuditDocument) -> dict[str, Measurement]:
    """What a results document measured for every gate check: value, interval, rows, or why not.

    Reads only the document (its typed sections), so stored results can be judged again
    (``render --gate``).
    """
    document = document_of(doc)
    p = document.predictions or PredictionsSection()
    c = document.calibration or CalibrationSection()
    a = document.attribution or AttributionSection()
    n_rows = int(p.n or (document.data.rows_used if document.data else None) or 0)
    labelled = c.available or (p.base is not None and p.base.accuracy is not None)
    no_labels = "the data has no gold labels"
    out: dict[str, Measurement] = {}

    def put(metric: str, value: Any, interval: Any, n: int, reason: str) -> None:
        out[metric] = Measurement(value, _tuple(interval), n, "" if value is not None else reason)

    put("predictions.accuracy_drop", p.accuracy_drop, p.accuracy_drop_interval, n_rows, no_labels)
    put("predictions.agreement", p.agreement, p.agreement_interval, n_rows, "no predictions")
    missing = no_labels if not labelled else "not in this results file (written by an earlier trustaudit)"
    put("predictions.negative_flip_rate", p.negative_flip_rate, p.negative_flip_rate_interval, n_rows, missing)
    put("predictions.worst_class_recall_drop", p.worst_class_recall_drop, p.worst_class_recall_drop_interval, n_rows, missing)
    for key, measured in _calibration_changes(c, n_rows, missing).items():
        out[f"calibration.{key}"] = measured
    explained = int(a.explained or 0)
    run = set(a.explainers or [])
    for name in explainer_names():
        section = a.explainer(name) or ExplainerAgreement()
        if not a.available:
            reason = "no rows were explained (explain_n = 0)"
        elif name not in run:
            reason = f"the {name.upper()} explainer was not run"
        else:
            reason = ""
        jaccard = (section.metrics or {}).get(f"topk_jaccard@{a.k}")
        put(f"attribution.{name}.feature_agreement", section.feature_agreement, section.feature_agreement_interval, explained, reason)
        out[f"attribution.{name}.topk_jaccard"] = Measurement(
            jaccard.mean if jaccard is not None else None,
            _tuple(jaccard.interval) if jaccard is not None else None,
            explained,
            reason,
        )
        floor_reason = reason or ("no noise floor was measured" if section.floor is None else "the noise floor is not positive")
        put(f"attribution.{name}.floor_ratio", section.floor_ratio, section.floor_ratio_interval, explained, floor_reason)
    out["bias.max_abs_effect_change"] = bias_measurement(document)
    out.update(extras_measurements(document))
    for metric, measured in out.items():
        if measured.value is None and not measured.reason:
            out[metric] = Measurement(None, None, measured.n, "not in this results file")
    return out


def verdict_section(doc: Mapping[str, Any] | AuditDocument, gate: GateConfig, source: str) -> VerdictSection:
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
