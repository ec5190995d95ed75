"""Building the audit report: plots rendered to inline SVG."""
