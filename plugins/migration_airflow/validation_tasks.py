"""Airflow tasks around the validation core: the gate phases 5 and 6 put in front of
destructive steps, and the nightly check's run/alert pair.

``validation_gate(suites=["parity"], task_id=..., max_age_hours=None)`` builds one task that
runs the suites now (full scope) against the run's environment, records the result in
``<state>.validation_results``, mails the alert (``migration_airflow.alerts.send_alert``) when
an expectation fails and then fails the task (``GateClosed``), so nothing downstream runs.
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

from airflow.sdk import task

from .runtime import dsn_from_context, run_context

log = logging.getLogger(__name__)


def outcome_to_xcom(outcome: Any) -> dict[str, Any]:
    """A small JSON-able summary of a ValidationOutcome (XCom, approval bodies)."""
    return {
        "success": outcome.success,
        "scope": outcome.scope,
        "environment": outcome.environment,
        "failed_suites": outcome.failed_suites,
        "failed_expectations": len(outcome.failed_expectations),
        "data_docs_path": outcome.data_docs_path,
        "suites": {
            n: {
                "success": s.success,
                "result_id": s.result_id,
                "data_docs_page": s.data_docs_page,
                "failed": [f"{r.check}: {r.observed}" for r in s.failed],
            }
            for n, s in outcome.suites.items()
        },
        "statistics": {k: v for k, v in outcome.statistics.items()},
    }


def log_outcome(outcome: Any) -> None:
    """Task log: the verdict per suite, and the per entity type counts table (pandas)."""
    from activity_migration.validation.report import entity_type_table

    for line in outcome.summary_lines():
        log.info("%s", line)
    parity = outcome.suites.get("parity")
    if parity and parity.statistics.get("entity_type_counts"):
        log.info(
            "parity counts per entity type:\n%s", entity_type_table(parity.statistics["entity_type_counts"])
        )


def alert_on_failure(outcome: Any, context: dict[str, Any]) -> list[str]:
    """Mail the alert for a failed outcome; returns the recipients ([] when it passed)."""
    if outcome.success:
        return []
    from activity_migration.validation.email import render_alert

    from .alerts import send_alert

    dag_run = context.get("dag_run")
    subject, body = render_alert(outcome, dag_run_id=getattr(dag_run, "run_id", None))
    return send_alert(subject, body, context)


def mail_or_log(send: Any, what: str) -> str:
    """Send an alert; a mail that cannot go out is logged as such and reported, never raised in
    place of the failure it was about. Returns a phrase for the task's own error message."""
    try:
        recipients = send()
    except Exception as exc:  # noqa: BLE001 - any SMTP/config problem: say so beside the original failure
        log.error("the alert mail about %s could NOT be sent: %s: %s", what, type(exc).__name__, exc)
        return f"alert mail NOT sent ({type(exc).__name__}: {exc})"
    return f"alert sent to {', '.join(recipients)}" if recipients else "no alert needed"


def judge_outcome(outcome: Any, context: dict[str, Any], failure: str) -> dict[str, Any]:
    """Log the outcome; when an expectation failed, mail the alert and fail the task (``GateClosed``,
    its message opening with ``failure``); else the outcome's XCom summary."""
    from activity_migration.errors import GateClosed

    log_outcome(outcome)
    if not outcome.success:
        sent = mail_or_log(lambda: alert_on_failure(outcome, context), "the failed validation")
        raise GateClosed(
            f"{failure}: {len(outcome.failed_expectations)} failed expectation(s) in "
            f"{outcome.failed_suites}; {sent}; Data Docs: {outcome.data_docs_path}"
        )
    return outcome_to_xcom(outcome)


def run_nightly_check(context: dict[str, Any]) -> dict[str, Any]:
    """The nightly check: run the suites, mail on a failed expectation, and mail on any crash too.

    After phase 6 it compares events with the archive of the legacy table while the archive
    exists, then events integrity alone (runner.validation_source).
    """
    from datetime import date

    from activity_migration.validation.runner import run_suites
    from activity_migration.validation.suites import ALL_SUITES

    from .alerts import send_alert

    params = context["params"]
    logical = context.get("logical_date") or context.get("data_interval_end")
    try:
        outcome = run_suites(
            dsn_from_context(context),
            suites=list(ALL_SUITES),
            scope="full" if params.get("full_check") else "incremental",
            ctx=run_context(context),
            sample_ranges=int(params.get("sample_ranges", 30)),
            run_date=logical.date() if logical else date.today(),
        )
    except Exception as exc:
        import html
        import traceback

        dag_run = getattr(context.get("dag_run"), "run_id", None)
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        subject = f"activity-migration nightly check CRASHED: {type(exc).__name__}"
        body = (
            f"<p>The nightly consistency check could not run to the end (DAG run "
            f"{html.escape(str(dag_run))}); "
            f"nothing was validated.</p><pre>{html.escape(detail)}</pre>"
        )
        sent = mail_or_log(lambda: send_alert(subject, body, context), "the crash")
        log.error("nightly check crashed (%s): %s", sent, detail)
        raise
    return judge_outcome(outcome, context, "consistency check failed")


def validation_gate(
    suites: Sequence[str] = ("parity",), task_id: str | None = None, max_age_hours: float | None = None
):
    """Build the gate task (call inside a DAG context); returns its XComArg.

    :param suites: suites to run now, full scope (``parity``, ``events_integrity``, ``quarantine``)
    :param task_id: default ``validate_<suites>``
    :param max_age_hours: when set, a recorded passing full result of every suite at most this
        old is accepted without running again (evidence is reused); None = always run now
    """
    names = list(suites)
    tid = task_id or "validate_" + "_".join(names)

    @task(
        task_id=tid,
        retries=0,
        doc_md=f"Validation gate: run the {', '.join(names)} suite(s) now (full scope), record the result, "
        "mail "
        "the alert and fail when any expectation fails. Data Docs: artifacts/data_docs/<environment>/.",
    )
    def gate(**context: Any) -> dict[str, Any]:
        from activity_migration.db import connection
        from activity_migration.errors import GateClosed
        from activity_migration.validation.gate import require_recent_pass
        from activity_migration.validation.runner import run_suites

        ctx = run_context(context)
        dsn = dsn_from_context(context)
        if max_age_hours is not None:
            try:
                with connection(dsn) as conn:
                    evidence = [require_recent_pass(conn, s, max_age_hours, ctx.environment) for s in names]
                log.info("recent passing results reused (max age %s h): %s", max_age_hours, evidence)
                return {"success": True, "reused": evidence}
            except GateClosed as exc:
                log.info("no reusable result (%s); running the suites now", exc)
        return judge_outcome(
            run_suites(dsn, suites=names, scope="full", ctx=ctx), context, "validation failed"
        )

    return gate()
