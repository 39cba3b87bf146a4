"""The outcome tasks (docs/outcome-report.md): a baseline at the start of every phase DAG and the
report at the end of phase 6. Each is one call into ``activity_migration.outcome``."""

from __future__ import annotations

import logging
from typing import Any

import psycopg

from activity_migration.errors import MigrationError

from .dag_defaults import APP_DB_POOL

log = logging.getLogger(__name__)


def outcome_baseline_task(phase: str):
    """First task of a phase DAG: write latency, I/O per write and the activity read queries, now
    (phase 1: before it changes anything), stored in ``activity_migration.outcome_samples``."""
    from airflow.sdk import task

    @task(
        task_id="outcome_baseline",
        pool=APP_DB_POOL,
        doc_md="Measure, before this phase changes anything: the application's write latency per logged "
        "table "
        "(pg_stat_statements where installed, else the rolled-back probe; the sample says which), "
        "WAL "
        "and shared blocks per write, and the activity read queries old vs new. Stored in "
        "activity_migration.outcome_samples for the outcome report. Changes nothing else.",
    )
    def outcome_baseline(**context: Any) -> dict[str, Any]:
        from activity_migration.outcome.baseline import capture

        from .runtime import task_inputs, warn_if_same_database

        warn_if_same_database(context)
        inputs = task_inputs(context)
        tier = inputs.params.get("tier") if phase == "p5_trigger_removal" else None
        try:
            out = capture(*inputs.core, phase=phase, point="start", tier=int(tier) if tier else None)
        except (psycopg.Error, MigrationError) as exc:
            # A measurement never stops a migration: the report shows this phase as not measured.
            log.error("outcome baseline not measured for %s: %s", phase, exc, exc_info=True)
            return {"not_measured": f"{type(exc).__name__}: {exc}"}
        return {"sample_id": out["sample_id"], "methods": {k: v["method"] for k, v in out["rows"].items()}}

    return outcome_baseline()


def outcome_report_task():
    """Last task of phase 6: a final sample, then the outcome report (HTML + JSON)."""
    from airflow.sdk import task

    @task(
        task_id="outcome_report",
        pool=APP_DB_POOL,
        doc_md="A final sample, then the outcome report: each promised gain beside the measured one, write "
        "latency per tier over the migration, read queries old vs new, counts, approvals, "
        "durations. Written to .local/outcome-report/<environment>/outcome-report.html and .json.",
    )
    def outcome_report(**context: Any) -> dict[str, Any]:
        from activity_migration.outcome.report import write_report

        from .runtime import dsn_for_conn_id, task_inputs

        inputs = task_inputs(context)
        staging = None
        if inputs.ctx.environment == "production":
            try:
                staging = dsn_for_conn_id("activity_db_staging")
            except Exception:  # noqa: BLE001 - optional: the page says staging is missing
                staging = None
        out = write_report(
            inputs.dsn, inputs.cfg, ctx=inputs.ctx, phase="p6_cleanup", point="final", staging_dsn=staging
        )
        return {
            "html": out["html"],
            "json": out["json"],
            "promises": [f"{p['promise']}: {p['verdict']}" for p in out["figures"]["promises"]],
        }

    return outcome_report()
