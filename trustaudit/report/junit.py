"""JUnit XML of a verdict: one test case per gate check, for CI systems that read test reports."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from trustaudit.gate import PASS, GateResult

__all__ = ["junit_xml"]


def junit_xml(result: GateResult, *, name: str = "trustaudit") -> str:
    """A JUnit XML report with one test case per check.

    A failed check is a failure; an inconclusive or unmeasured check is also a failure of
    the gate (the audit did not show what it was asked to), marked with its status.

    Parameters
    ----------
    result : GateResult
        A verdict: :func:`~trustaudit.evaluate`'s result, or ``AuditResult.gate``.
    name : str, default "trustaudit"
        The name of the test suites (the inner one is ``<name>.gate``).

    Returns
    -------
    str
        The XML document, one ``<testcase>`` per check named by its gate key.

    Examples
    --------
    >>> from trustaudit import GateConfig, evaluate, junit_xml
    >>> config = GateConfig(min_prediction_agreement=None, max_ece_increase=None, max_brier_increase=None,
    ...                     min_lime_feature_agreement=None, min_shap_feature_agreement=None, decision="point")
    >>> print(junit_xml(evaluate({"predictions.accuracy_drop": 0.004}, config), name="ci"))
    <?xml version="1.0" encoding="UTF-8"?>
    <testsuites name="ci" tests="1" failures="0" skipped="0">
      <testsuite name="ci.gate" tests="1" failures="0" skipped="0" errors="0">
        <properties><property name="verdict" value="trust-equivalent"/><property name="decision" value="point"/></properties>
        <testcase classname="trustaudit.gate" name="max_accuracy_drop">
          <system-out>accuracy drop (base - small) is 0.4 points; required at most 2.0 points: pass...</system-out>
        </testcase>
      </testsuite>
    </testsuites>
    """
    bad = [c for c in result.checks if c.status != PASS]
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<testsuites name={quoteattr(name)} tests="{len(result.checks)}" failures="{len(bad)}" skipped="0">',
        f'  <testsuite name={quoteattr(name + ".gate")} tests="{len(result.checks)}" failures="{len(bad)}" skipped="0" errors="0">',
        f"    <properties><property name=\"verdict\" value={quoteattr(result.status)}/><property name=\"decision\" value={quoteattr(result.decision)}/></properties>",
    ]
    for check in result.checks:
        lines.append(f'    <testcase classname="trustaudit.gate" name={quoteattr(check.key)}>')
        if check.status != PASS:
            lines.append(f"      <failure type={quoteattr(check.status)} message={quoteattr(check.message)}>{escape(check.message)}</failure>")
        else:
            lines.append(f"      <system-out>{escape(check.message)}</system-out>")
        lines.append("    </testcase>")
    lines += ["  </testsuite>", "</testsuites>", ""]
    return "\n".join(lines)
