"""
### Phase 6: cleanup. Archive the legacy activity log, stop writing it, drop the old functions

**Gates** (each a task that refuses with a message naming what is missing):

1. **tiers_gate**: every configured trigger tier is `verified` in `tier_state`, and the
   catalog shows no logging trigger left;
2. **validation_gate**: the validation suites `parity` and `events_integrity` each passed
   (full scope) within `validation_max_age_hours`;
3. **quarantine_gate**: no quarantined row is open (each resolved or acknowledged:
   `activity-migration quarantine --ack --by NAME --all`);
4. **cleanup_rehearsal_gate**: production only, a recent staging rehearsal of this phase;
5. **cleanup_approval**: a person approves in Required Actions; the body shows the facts above.

**Steps** (ledger phase `p6_cleanup`):

- **backup**: `publish_activity` (dual-write form) and every legacy trigger function into
  `activity_migration.ddl_backups`;
- **archive**: in ONE transaction under `lock_timeout`: `publish_activity` writes `events`
  only, `public.activity_logs` is moved to `activity_migration.activity_logs_archive_<YYYYMMDD>`
  (metadata only, instant, reversible), and (Param `keep_compat_view`) a view named
  `public.activity_logs` in the old shape over `events` replaces it;
- **checksum**: row count and checksum of the archive in `activity_migration.archives`;
- **drop_legacy_functions**, **verify**.

**Deleting the archive** is a separate, separately approved action of this DAG: trigger it
with `delete_archive` on. It refuses before the archive's retention (`retention_days`) has
passed unless `force`. After it, rollback to before phase 6 is impossible (recorded).

**Roll back.** `migration_rollback` to `before_p6` (core
`activity_migration.phases.p6_cleanup.rollback`): the archive becomes `public.activity_logs`
again (the compat view dropped first), dual write restored, events written meanwhile copied
back, legacy functions recreated. See docs/phase-6-cleanup.md.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, task

from migration_airflow.approval import approval_gate
from migration_airflow.dag_defaults import APP_DB_POOL, DEFAULT_ARGS, tags
from migration_airflow.outcome_tasks import outcome_baseline_task, outcome_report_task
from migration_airflow.params import common_params, flag, limited
from migration_airflow.rehearsal import rehearsal_evidence, rehearsal_gate
from migration_airflow.tasks import privilege_audit_task

PHASE = "p6_cleanup"


def _args(context: dict[str, Any]) -> tuple[str, Any, Any]:
    from migration_airflow.runtime import task_inputs

    return task_inputs(context).core


def _params(context: dict[str, Any]) -> dict[str, Any]:
    """The run's Params with the production limits applied (retention_days >= 7,
    validation_max_age_hours <= 48, rehearsal_max_age_days <= 14: activity_migration.run_rules)."""
    from migration_airflow.runtime import params_of

    return params_of(context)


def _gate(
    context: dict[str, Any], step: str, fn_name: str, *, clamped: tuple[str, ...] = (), **kwargs: Any
) -> dict[str, Any]:
    """Run one gate function of the core, ledgered as ``<step>`` (failed = refused); the production
    clamps of the Params in ``clamped`` go into the row's details (``param_clamps``)."""
    import json

    from activity_migration import ledger
    from activity_migration.db import connection
    from activity_migration.errors import GateClosed
    from activity_migration.phases import p6_cleanup
    from migration_airflow.runtime import param_clamps

    dsn, cfg, ctx = _args(context)
    found = param_clamps(context, *clamped) if clamped else []
    clamps = {"param_clamps": found} if found else {}
    with connection(dsn) as conn:
        try:
            facts = getattr(p6_cleanup, fn_name)(conn, cfg, **kwargs)
        except GateClosed as exc:
            conn.rollback()
            ledger.record(conn, PHASE, step, "failed", ctx, {"refused": str(exc), **clamps}, cfg=cfg)
            raise
        ledger.record(
            conn, PHASE, step, "succeeded", ctx, {**json.loads(ledger.dumps(facts)), **clamps}, cfg=cfg
        )
    return facts


@dag(
    dag_id="migration_p6_cleanup",
    description="Phase 6: archive the legacy log and remove what is left of it, after validations and "
    "approval.",
    doc_md=__doc__,
    schedule=None,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=tags("phase-6"),
    params=common_params(
        validation_max_age_hours=limited(
            "validation_max_age_hours",
            24,
            type="number",
            exclusiveMinimum=0,
            maximum=720,
            title="Validation max age (hours)",
            description="The suites parity and events_integrity must have passed "
            "(full scope) within this many hours.",
        ),
        keep_compat_view=flag(
            True,
            "Keep a compatibility view under the old name",
            "Create a view public.activity_logs in the old shape over events, so "
            "readers of the old name keep working.",
        ),
        retention_days=limited(
            "retention_days",
            30,
            type="integer",
            minimum=0,
            maximum=3650,
            title="Archive retention (days)",
            description="The archive may be deleted (separately approved) after this many days.",
        ),
        rehearsal_max_age_days=limited(
            "rehearsal_max_age_days",
            7,
            type="number",
            exclusiveMinimum=0,
            maximum=90,
            title="Rehearsal max age (days)",
            description="The staging rehearsal (required before a production "
            "cleanup) must be newer than this many days.",
        ),
        delete_archive=flag(
            False,
            "Delete the archive (instead of cleaning up)",
            "Run only the archive deletion: a separate approval, refused before the "
            "retention has passed unless force. Afterwards phase 6 cannot be rolled back.",
        ),
        force=flag(
            False,
            "Force archive deletion before its retention",
            "Only with delete_archive: delete even though the retention has not passed.",
        ),
    ),
)
def migration_p6_cleanup():
    @task.branch(doc_md="Cleanup (default) or, with delete_archive, the archive deletion.")
    def choose_action(**context: Any) -> str:
        return "delete_archive_check" if context["params"]["delete_archive"] else "tiers_gate"

    @task(
        pool=APP_DB_POOL,
        doc_md="Every tier verified in tier_state and no logging trigger left in the catalog.",
    )
    def tiers_gate(**context: Any) -> dict[str, Any]:
        return _gate(context, "tiers_gate", "gate_tiers_done")

    @task(
        pool=APP_DB_POOL, doc_md="Suites parity and events_integrity passed within validation_max_age_hours."
    )
    def validation_gate(**context: Any) -> dict[str, Any]:
        p = _params(context)
        return _gate(
            context,
            "validation_gate",
            "gate_validation",
            clamped=("validation_max_age_hours",),
            max_age_hours=float(p["validation_max_age_hours"]),
            environment=p["environment"],
        )

    @task(pool=APP_DB_POOL, doc_md="No quarantined row neither resolved nor acknowledged.")
    def quarantine_gate(**context: Any) -> dict[str, Any]:
        return _gate(context, "quarantine_gate", "gate_quarantine")

    @task(pool=APP_DB_POOL, doc_md="The facts for the approval (Markdown), after every gate passed.")
    def evidence(**context: Any) -> dict[str, Any]:
        from activity_migration.phases import p6_cleanup

        dsn, cfg, _ = _args(context)
        p = _params(context)
        return p6_cleanup.gather_facts(
            dsn,
            cfg,
            max_age_hours=float(p["validation_max_age_hours"]),
            environment=p["environment"],
            keep_compat_view=bool(p["keep_compat_view"]),
            retention_days=int(p["retention_days"]),
        )

    @task(
        pool=APP_DB_POOL,
        doc_md="publish_activity and the legacy trigger functions into ddl_backups (p6_cleanup).",
    )
    def backup(**context: Any) -> dict[str, Any]:
        from activity_migration.phases import p6_cleanup

        return p6_cleanup.backup(*_args(context))

    @task(
        pool=APP_DB_POOL,
        doc_md="One transaction under lock_timeout: publish_activity events-only, the table into "
        "the archive, the compatibility view under the old name.",
    )
    def archive(**context: Any) -> dict[str, Any]:
        from activity_migration.phases import p6_cleanup
        from migration_airflow.params import record_param_clamps

        p = _params(context)
        out = p6_cleanup.archive(
            *_args(context),
            keep_compat_view=bool(p["keep_compat_view"]),
            retention_days=int(p["retention_days"]),
        )
        record_param_clamps(context, PHASE, "archive", "retention_days")
        return out

    @task(
        pool=APP_DB_POOL,
        doc_md="Row count and checksum of the archive, recorded in activity_migration.archives.",
    )
    def checksum(**context: Any) -> dict[str, Any]:
        from activity_migration.phases import p6_cleanup

        return p6_cleanup.checksum(*_args(context))

    @task(pool=APP_DB_POOL, doc_md="Drop the backed-up legacy trigger functions (no trigger uses them).")
    def drop_legacy_functions(**context: Any) -> dict[str, Any]:
        from activity_migration.phases import p6_cleanup

        return p6_cleanup.drop_legacy_functions(*_args(context))

    @task(
        pool=APP_DB_POOL,
        doc_md="Archive present, old name is the view (or absent), publish_activity events-only.",
    )
    def verify(**context: Any) -> dict[str, Any]:
        from activity_migration.phases import p6_cleanup

        dsn, cfg, _ = _args(context)
        return p6_cleanup.verify(dsn, cfg)

    @task(
        pool=APP_DB_POOL, doc_md="Which archive would be deleted; refuses before its retention unless force."
    )
    def delete_archive_check(**context: Any) -> dict[str, Any]:
        from activity_migration.db import connection
        from activity_migration.phases import p6_cleanup

        dsn, cfg, _ = _args(context)
        with connection(dsn) as conn:
            return p6_cleanup.check_archive_deletion(conn, cfg, force=bool(context["params"]["force"]))

    @task(
        pool=APP_DB_POOL,
        doc_md="DROP the archive table for good; rollback to before phase 6 becomes impossible.",
    )
    def delete_archive(**context: Any) -> dict[str, Any]:
        from activity_migration.phases import p6_cleanup

        dsn, cfg, ctx = _args(context)
        return p6_cleanup.delete_archive(dsn, cfg, ctx, force=bool(context["params"]["force"]))

    route = choose_action()
    outcome_baseline_task(PHASE) >> route
    tiers = tiers_gate()
    facts = evidence()
    (
        route
        >> tiers
        >> validation_gate()
        >> quarantine_gate()
        >> rehearsal_gate(phase=PHASE, step="cleanup")
        >> facts
    )
    cleanup_gate = approval_gate(
        phase=PHASE,
        step="cleanup",
        subject="[{{ params.environment }}] Phase 6 cleanup: archive activity_logs and drop the old "
        "functions?",
        body="{{ ti.xcom_pull(task_ids='evidence')['markdown'] }}",
    )
    facts >> cleanup_gate.entry
    (
        cleanup_gate.then(backup())
        >> archive()
        >> checksum()
        >> drop_legacy_functions()
        >> verify()
        >> privilege_audit_task(PHASE)
        >> outcome_report_task()
    )

    check = delete_archive_check()
    route >> check
    delete_gate = approval_gate(
        phase=PHASE,
        step="delete_archive",
        subject="[{{ params.environment }}] Delete the activity_logs archive for good?",
        body="{{ ti.xcom_pull(task_ids='delete_archive_check')['markdown'] }}\n\n"
        + rehearsal_evidence("delete_archive"),
    )
    check >> rehearsal_gate(phase=PHASE, step="delete_archive") >> delete_gate.entry
    delete_gate.then(delete_archive())


migration_p6_cleanup()
