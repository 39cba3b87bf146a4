"""
### Phase 2: dual write

**What it does.** From the switch on, every activity is written to both systems, linked:

1. **preflight**: phase 1 complete; the legacy key has a default; every legacy logging
   function (discovered from the catalog: trigger functions that write `activity_logs`) can
   be rewritten mechanically. A function that writes `activity_logs` in another form
   (`INSERT … SELECT`, `RETURNING`, dynamic SQL, UPDATE/DELETE) stops the phase here, before
   anything changes, naming the function and the statement.
2. **backup**: `pg_get_functiondef` of every function to rewrite and of phase 1's
   `publish_activity` into `activity_migration.ddl_backups` (never overwritten by a
   rewritten body).
3. **switch_evidence** → **rehearsal gate** (production only: the same phase at the same
   project version succeeded in staging recently, see docs/staging-rehearsal.md) →
   **approval** (Required Actions; demo mode skips it and records so).
4. **switch**, one transaction under `lock_timeout` with retries: `LOCK activity_logs IN
   SHARE MODE` (in-flight writers finish first, new ones wait for these few ms),
   `publish_activity` in dual-write form (legacy row + linked event), every rewritten
   function, the settings `cutoff` and `dual_write`.
5. **verify**: the catalog holds the rewritten bodies; a rolled-back probe per table shows
   each legacy row written through a trigger has exactly one linked event.

**Cutoff.** Rows committed before the switch have no event: the backfill (phase 4) copies
them. Every row written after has exactly one event (`events.legacy_activity_log_id` is
unique), or a quarantine row with the reason when the event rules reject it.

**Roll back.** `migration_rollback` with phase `p2_dual_write` (core:
`activity_migration.phases.p2_dual_write.rollback`): restores every backed-up definition byte
for byte, publish_activity to its phase-1 body, dual write off; events written meanwhile stay.
See docs/phase-2-dual-write.md.
"""

from __future__ import annotations

from airflow.sdk import dag

from migration_airflow.approval import approval_gate
from migration_airflow.dag_defaults import DEFAULT_ARGS, tags
from migration_airflow.outcome_tasks import outcome_baseline_task
from migration_airflow.params import common_params
from migration_airflow.rehearsal import rehearsal_evidence, rehearsal_gate
from migration_airflow.tasks import phase_step_task, privilege_audit_task

PHASE = "p2_dual_write"


@dag(
    dag_id="migration_p2_dual_write",
    description="Phase 2: make the logging functions write events too (dual write) and record the backfill "
    "cutoff.",
    doc_md=__doc__,
    schedule=None,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=tags("phase-2"),
    params=common_params(),
)
def migration_p2_dual_write():
    preflight = phase_step_task(
        PHASE,
        "preflight",
        "Phase 1 complete, key default, every logging function rewritable. Changes nothing but the ledger.",
    )
    backup = phase_step_task(
        PHASE, "backup", "Back up the original function definitions (as the catalog prints them)."
    )
    evidence = phase_step_task(
        PHASE,
        "switch_evidence",
        "Markdown evidence for the approver: functions/triggers per table, backup ids, current write rate.",
        only="markdown",
    )
    switch = phase_step_task(
        PHASE, "switch", "One transaction: dual-write publish_activity, rewritten functions, cutoff."
    )
    verify = phase_step_task(
        PHASE, "verify", "Catalog holds the rewritten bodies; rolled-back probes link exactly once."
    )
    gate = approval_gate(
        phase=PHASE,
        step="switch",
        subject="Switch {{ params.environment }} to dual write (phase 2)?",
        body="{{ ti.xcom_pull(task_ids='switch_evidence') }}\n\n" + rehearsal_evidence("switch"),
    )
    rehearsal = rehearsal_gate(phase=PHASE, step="switch")
    outcome_baseline_task(PHASE) >> preflight >> backup >> evidence >> rehearsal >> gate.entry
    gate.then(switch) >> verify >> privilege_audit_task(PHASE)


migration_p2_dual_write()
