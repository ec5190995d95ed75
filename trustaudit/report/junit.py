"""JUnit XML of a verdict: one test case per gate check, for CI systems that read test reports."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from trustaudit.gate import PASS, GateResult

__all__ = ["junit_xml"]


def junit_xml(result: GateResult, name: str = "trustaudit") -> str:
    """A JUnit XML report with one test case per check.

    A failed check is a failure; an inconclusive or unmeasured check is also a failure of
    the gate (the audit did not show what it was asked to), marked with its status.
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
