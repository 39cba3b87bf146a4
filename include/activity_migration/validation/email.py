"""Render the validation alert mail (subject + HTML body); sending is the adapter's job.

GX's own EmailAction mail only says "failed" (docs/platform-notes.md). Ours names the environment,
the suite(s) and the number of failed expectations in the subject; the body lists every
failed expectation with its observed value, up to 5 example legacy ids, and the Data Docs
page of the run (a local path: the docs are built offline-readable).
"""

from __future__ import annotations

import html
import json
from typing import Any

from .outcomes import ValidationOutcome

MAX_EXAMPLES = 5


def render_subject(outcome: ValidationOutcome) -> str:
    n = len(outcome.failed_expectations)
    suites = ", ".join(outcome.failed_suites) or ", ".join(outcome.suites)
    status = f"{n} failed expectation{'s' if n != 1 else ''}" if n else "all expectations passed"
    return (
        f"[{outcome.environment}] activity-migration validation: {suites}: {status} ({outcome.scope} scope)"
    )


def _fmt(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str, sort_keys=True)
    return str(value)


def render_html(outcome: ValidationOutcome, *, dag_run_id: str | None = None) -> str:
    e = html.escape
    parts = [
        '<html><body style="font-family: sans-serif; font-size: 14px">',
        # the heading names what failed (the others follow, each with its verdict)
        f"<h2>Validation {'passed' if outcome.success else 'FAILED'}: "
        f"{e(', '.join(outcome.failed_suites if not outcome.success else outcome.suites))}</h2>",
        '<table cellpadding="4" style="border-collapse: collapse">',
        f"<tr><td><b>Environment</b></td><td>{e(outcome.environment)}</td></tr>",
        f"<tr><td><b>Scope</b></td><td>{e(outcome.scope)} "
        f"({e(str(outcome.statistics.get('scope_reason', '')))})</td></tr>",
        f"<tr><td><b>Checked up to</b></td><td>{e(str(outcome.checked_upto))}</td></tr>",
    ]
    if dag_run_id:
        parts.append(f"<tr><td><b>DAG run</b></td><td>{e(dag_run_id)}</td></tr>")
    parts.append("</table>")
    for name, suite in outcome.suites.items():
        st = suite.statistics
        parts.append(
            f"<h3>Suite {e(name)}: {'passed' if suite.success else 'FAILED'} "
            f"({st.get('successful_expectations', '?')}/{st.get('evaluated_expectations', '?')} expectations "
            "passed)</h3>"
        )
        if suite.data_docs_page:
            parts.append(
                f'<p>Data Docs page of this run: <a href="file://{e(suite.data_docs_page)}">'
                f"{e(suite.data_docs_page)}</a></p>"
            )
        if "source_rows_checked" in st:
            parts.append(
                f"<p>Rows checked: source {e(str(st.get('source_rows_checked')))}, "
                f"events {e(str(st.get('event_rows_checked')))}</p>"
            )
        if not suite.failed:
            continue
        parts.append(
            '<table border="1" cellpadding="4" style="border-collapse: collapse">'
            "<tr><th>Failed expectation</th><th>Check</th><th>Observed</th><th>Example legacy ids</th>"
            "<th>Detail</th></tr>"
        )
        for r in suite.failed:
            examples = ", ".join(r.examples[:MAX_EXAMPLES]) or "-"
            parts.append(
                f"<tr><td>{e(r.label)}<br><small>{e(r.type)}</small></td><td>{e(r.check)}</td>"
                f"<td>{e(_fmt(r.observed))}</td><td>{e(examples)}</td><td>{e(r.detail or '')}</td></tr>"
            )
        parts.append("</table>")
    if outcome.data_docs_path:
        parts.append(
            f"<p>Data Docs index: <a "
            f'href="file://{e(outcome.data_docs_path)}">{e(outcome.data_docs_path)}</a> '
            "(open the local file in a browser; it needs no network)</p>"
        )
    parts.append("</body></html>")
    return "\n".join(parts)


def render_alert(outcome: ValidationOutcome, *, dag_run_id: str | None = None) -> tuple[str, str]:
    """(subject, html) of the alert mail for ``outcome``."""
    return render_subject(outcome), render_html(outcome, dag_run_id=dag_run_id)
