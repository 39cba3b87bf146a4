"""
### Nightly consistency check: `activity_logs` and `events` agree

Scheduled every night at 03:00 while both systems live (after phase 1 created `events`,
until phase 6 drops `activity_logs`; otherwise the run skips with a log line saying why).

**What it does**: runs the Great Expectations suites `events_integrity`, `parity` and
`quarantine` (JSON under `expectations/`). By default the scope is **incremental**: source
rows created since the last successful check (minus 15 minutes of overlap), plus a rolling
sample of older rows (half as many as the new rows, at least 10,000: the first keys of a
key range chosen from the run date, a different range each night), plus whole-table counts,
so the cost grows with new rows, not table size. Trigger with
`full_check = true` for a full comparison (per entity type and per day counts, every row).

**What it changes**: only the migration's own schema: the parity helper views,
`parity_findings`, one row per suite in `validation_results`; on first run it builds two
indexes CONCURRENTLY (`activity_logs(created_at)`, `events(created_at)`). Data Docs are
written to `artifacts/data_docs/<environment>/` (readable offline).

**Alerts**: any failed expectation sends one mail (connection `smtp_default`, recipients
from the Variable `migration_alert_emails`) naming the suites, the failed expectations with
observed values and example legacy ids, and the Data Docs page; the run then fails. No mail
on success.

**Rollback**: nothing to roll back (read-only on application data). To remove the helper
objects: `DROP VIEW activity_migration.v_parity_* ...` (recreated on the next run).
"""
from __future__ import annotations

from datetime import datetime

from airflow.sdk import Param, dag, task

from migration_airflow.dag_defaults import DEFAULT_ARGS, tags
from migration_airflow.params import common_params


@dag(
    dag_id="migration_consistency_nightly",
    doc_md=__doc__,
    schedule="0 3 * * *",
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=tags("nightly", "validation"),
    params=common_params(
        full_check=Param(False, type="boolean", title="Full check",
                         description="Compare every row and the per entity type / per day counts instead of the "
                                     "incremental scope (new rows + one sampled key range + whole-table counts)."),
        sample_ranges=Param(30, type="integer", minimum=0, maximum=100000, title="Sample ranges",
                            description="Incremental scope: the key space is cut into at least this many ranges "
                                        "(more when a range would hold more rows than the sample budget: half "
                                        "the new rows, at least 10,000) and one, chosen from the run date, is "
                                        "re-checked each night; 0 = no sampling."),
    ),
)
def migration_consistency_nightly():
    @task.short_circuit(task_id="systems_live",
                        doc_md="Skip the run (with a log line) unless activity_logs, events and the state schema exist.")
    def systems_live(**context) -> bool:
        from activity_migration.config import load_config
        from activity_migration.validation.parity import systems_live as live
        from migration_airflow.tasks import app_db

        cfg = load_config()
        with app_db(context) as conn:
            state = live(conn, cfg)
        if all(state.values()):
            return True
        print(f"skipping the consistency check: both systems must live; found {state} "
              f"(source {cfg.source_table}, target {cfg.target}, state schema {cfg.state_schema})")
        return False

    @task(task_id="validate", retries=0,
          doc_md="Run the suites (incremental unless full_check), record the results, log the parity table.")
    def validate(**context) -> dict:
        from datetime import date

        from activity_migration.validation.runner import run_suites
        from activity_migration.validation.suites import ALL_SUITES
        from migration_airflow.runtime import dsn_from_context, run_context
        from migration_airflow.validation_tasks import log_outcome, outcome_to_xcom

        params = context["params"]
        logical = context.get("logical_date") or context.get("data_interval_end")
        outcome = run_suites(dsn_from_context(context), suites=list(ALL_SUITES),
                             scope="full" if params.get("full_check") else "incremental", ctx=run_context(context),
                             sample_ranges=int(params.get("sample_ranges", 30)),
                             run_date=logical.date() if logical else date.today())
        log_outcome(outcome)
        if not outcome.success:
            from migration_airflow.validation_tasks import alert_on_failure
            from activity_migration.errors import GateClosed

            recipients = alert_on_failure(outcome, context)
            raise GateClosed(f"consistency check failed: {len(outcome.failed_expectations)} failed expectation(s) "
                             f"in {outcome.failed_suites}; alert sent to {', '.join(recipients)}; "
                             f"Data Docs: {outcome.data_docs_path}")
        return outcome_to_xcom(outcome)

    systems_live() >> validate()


migration_consistency_nightly()
