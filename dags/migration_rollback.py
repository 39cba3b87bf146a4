"""
### Rollback: return the database to the state before a chosen phase

**What it does.**

1. **plan**: from the Param `to_phase` (before phase 1 … before phase 6's drop), the phases to
   undo, newest first: only phases that are applied (catalog evidence and the ledger). Refuses
   what cannot be undone (phase 6 after its archive was deleted) with the reason. Recorded
   in the ledger (phase `rollback`, step `plan`).
2. **rollback_approval**: a person approves in Required Actions; the body lists what will be
   undone and the evidence (demo mode skips it, recorded).
3. one task per phase, newest first: **undo_p6_cleanup** (archive back to
   `public.activity_logs`, compat view dropped first, dual write restored, events written
   after cleanup copied back, legacy functions recreated) → **undo_p5_trigger_removal**
   (`rollback_all`) → **undo_p4_backfill** (backfilled events kept unless
   `delete_backfilled_events`) → **undo_p3_read_path** → **undo_p2_dual_write** →
   **undo_p1_infrastructure**. A phase not in the plan is a no-op. Each records itself in
   the ledger (phase of what is undone, step `rollback`).
4. **verify**: the plan recomputed: nothing left to undo.

**Online.** Every rollback DDL runs under `lock_timeout` with retries; the app keeps writing.

**Roll back the rollback.** Run the phase DAGs forward again.
See docs/rollback.md.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, task

from migration_airflow.approval import approval_gate
from migration_airflow.dag_defaults import APP_DB_POOL, DEFAULT_ARGS, tags
from migration_airflow.params import choice, common_params, flag

PHASES_NEWEST_FIRST = (
    "p6_cleanup",
    "p5_trigger_removal",
    "p4_backfill",
    "p3_read_path",
    "p2_dual_write",
    "p1_infrastructure",
)
TARGETS = ["before_p1", "before_p2", "before_p3", "before_p4", "before_p5", "before_p6"]
TARGET_TITLES = [
    "before phase 1 infrastructure (remove everything)",
    "before phase 2 dual write",
    "before phase 3 read path",
    "before phase 4 backfill",
    "before phase 5 trigger removal",
    "before phase 6 cleanup drop",
]


def _args(context: dict[str, Any]) -> tuple[str, Any, Any]:
    from activity_migration.config import load_config
    from migration_airflow.runtime import dsn_from_context, run_context

    return dsn_from_context(context), load_config(), run_context(context)


def _undo_task(phase: str):
    @task(
        task_id=f"undo_{phase}",
        pool=APP_DB_POOL,
        retries=2,
        doc_md=f"Roll back {phase} when the plan says it is applied (a no-op otherwise). Ledger: "
        f"{phase}/rollback.",
    )
    def undo(plan: dict[str, Any], **context: Any) -> dict[str, Any]:
        from activity_migration import rollback

        if phase not in plan["to_undo"]:
            return {"phase": phase, "skipped": "not applied / not in the plan"}
        dsn, cfg, ctx = _args(context)
        return rollback.run_phase_rollback(
            dsn, phase, cfg, ctx, delete_backfilled_events=bool(plan["delete_backfilled_events"])
        )

    return undo


@dag(
    dag_id="migration_rollback",
    description="Undo phases, newest first, back to a chosen state (every phase can be rolled back until the "
    "archive is deleted).",
    doc_md=__doc__,
    schedule=None,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=tags("rollback"),
    params=common_params(
        to_phase=choice(
            "before_p6",
            TARGETS,
            "Return to",
            "The state to return to: every applied phase from this one on is undone, newest first.",
            values_display=dict(zip(TARGETS, TARGET_TITLES)),
        ),
        delete_backfilled_events=flag(
            False,
            "Delete backfilled events",
            "Only when undoing phase 4: also delete the events the backfill "
            "wrote (default: keep them, they are correct data).",
        ),
    ),
)
def migration_rollback():
    @task(
        pool=APP_DB_POOL,
        doc_md="Which phases to undo (ledger + catalog), newest first; refuses the impossible.",
    )
    def plan(**context: Any) -> dict[str, Any]:
        from activity_migration import rollback

        dsn, cfg, ctx = _args(context)
        p = context["params"]
        return rollback.make_plan(
            dsn, p["to_phase"], cfg, ctx, delete_backfilled_events=bool(p["delete_backfilled_events"])
        ).as_dict()

    @task(pool=APP_DB_POOL, doc_md="Recompute the plan: nothing from the target on may be left applied.")
    def verify(**context: Any) -> dict[str, Any]:
        from activity_migration import rollback
        from activity_migration.db import connection
        from activity_migration.errors import MigrationError

        dsn, cfg, _ = _args(context)
        p = context["params"]
        with connection(dsn) as conn:
            again = rollback.plan(conn, p["to_phase"], cfg)
        left = [s for s in again.to_undo if s != "p4_backfill"]
        if left:
            raise MigrationError(f"after the rollback these phases still look applied: {left}")
        return {"to_phase": p["to_phase"], "left_applied": again.to_undo}

    the_plan = plan()
    gate = approval_gate(
        phase="rollback",
        step="rollback",
        subject="[{{ params.environment }}] Roll the activity migration back to {{ params.to_phase }}?",
        body="{{ ti.xcom_pull(task_ids='plan')['markdown'] }}",
    )
    the_plan >> gate.entry
    previous = None
    for phase in PHASES_NEWEST_FIRST:
        t = _undo_task(phase)(the_plan)
        if previous is None:
            gate.then(t)
        else:
            previous >> t
        previous = t
    previous >> verify()


migration_rollback()
