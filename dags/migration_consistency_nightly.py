"""
### Nightly consistency check: `activity_logs` and `events` agree

Scheduled every night at 03:00 from phase 1 on (before it the run skips with a log line
saying why). After phase 6 it compares `events` with the archive of `activity_logs` while
the archive exists (every row: it no longer grows), then checks `events` integrity alone.

**What it does**: runs the Great Expectations suites `events_integrity`, `parity` and
`quarantine` (JSON under `expectations/`). By default the scope is **incremental**: source
rows created since the last successful check (minus 15 minutes of overlap), plus a rolling
sample of older rows (half as many as the new rows, at least 10,000: the first keys of a
key range chosen from the run date, a different range each night), plus whole-table counts,
so the cost grows with new rows, not table size. Up to 200,000 legacy rows every row is
checked; above, the result states the sampled fraction (the chance to find one changed row
tonight) and in how many nights every key comes round. Trigger with
`full_check = true` for a full comparison (per entity type and per day counts, every row).

**What it changes**: only the migration's own schema: the parity helper views,
`parity_findings`, one row per suite in `validation_results`; on first run it builds two
indexes CONCURRENTLY (`activity_logs(created_at)`, `events(created_at)`). Data Docs are
written to `artifacts/data_docs/<environment>/` (readable offline).

**Alerts**: any failed expectation sends one mail (connection `smtp_default`, recipients
from the Variable `migration_alert_emails`) naming the failed suites, the failed expectations
with observed values and example legacy ids, and the Data Docs page; the run then fails. A
crash of the check (any error) sends a mail naming the error too. A mail that cannot be sent
is logged as such and named in the task's error, beside the failure, never instead of it.
No mail on success.

**Event types and realtime** (task `watch`, beside `validate`): recounts the event-type
registry (one set-based statement, exact as of its snapshot), lists the event types seen
without registration and measures realtime load (replication slots, subscriptions, change
rate of `events`) against the plan's quota. One mail when a type is unregistered or realtime
is at the warning level or above; findings do not fail the run (docs/event-types-and-realtime.md).

**Rollback**: nothing to roll back (read-only on application data). To remove the helper
objects: `DROP VIEW activity_migration.v_parity_* ...` (recreated on the next run).
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag, task

from migration_airflow.dag_defaults import DEFAULT_ARGS, tags
from migration_airflow.params import common_params, flag, integer_range


@dag(
    dag_id="migration_consistency_nightly",
    description="Nightly: compare the legacy log (or its archive) with events; emails on failure.",
    doc_md=__doc__,
    schedule="0 3 * * *",
    # A check nobody unpaused never runs: this one starts unpaused (the phase DAGs stay paused).
    is_paused_upon_creation=False,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=tags("nightly", "validation"),
    params=common_params(
        full_check=flag(
            False,
            "Full check",
            "Compare every row and the per entity type / per day counts instead of the "
            "incremental scope (new rows + one sampled key range + whole-table counts).",
        ),
        sample_ranges=integer_range(
            30,
            0,
            100000,
            "Sample ranges",
            "Incremental scope: the key space is cut into at least this many ranges "
            "(more when a range would hold more rows than the sample budget: half "
            "the new rows, at least 10,000) and one, chosen from the run date, is "
            "re-checked each night; 0 = no sampling.",
        ),
    ),
)
def migration_consistency_nightly():
    @task.short_circuit(
        task_id="systems_live",
        doc_md="Skip the run (with a log line) until phase 1 built events and the state schema.",
    )
    def systems_live(**context) -> bool:
        from activity_migration.config import load_config
        from activity_migration.validation.parity import systems_live as live
        from migration_airflow.tasks import app_db

        cfg = load_config()
        with app_db(context) as conn:
            state = live(conn, cfg)
        if state["target"] and state["state"]:
            return True
        print(
            f"skipping the consistency check: phase 1 has not built {cfg.target} and the state schema "
            f"{cfg.state_schema} yet (found {state})"
        )
        return False

    @task(
        task_id="validate",
        retries=0,
        doc_md="Run the suites (incremental unless full_check; every row of a small table), record the "
        "results, "
        "log the parity table; mail on a failed expectation and on any crash. After phase 6: events "
        "against the archive while it exists, then events integrity alone.",
    )
    def validate(**context) -> dict:
        from migration_airflow.validation_tasks import run_nightly_check

        return run_nightly_check(context)

    @task(
        task_id="watch",
        retries=0,
        doc_md="Recount the event-type registry, list unregistered event types, measure realtime load "
        "(slots, subscriptions, change rate of events) against the plan's quota; one mail when there is a "
        "finding.",
    )
    def watch(**context) -> dict:
        from migration_airflow.watch_tasks import run_nightly_watch

        return run_nightly_watch(context)

    systems_live() >> [validate(), watch()]


migration_consistency_nightly()
