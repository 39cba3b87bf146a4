"""
### Phase 5: remove the legacy logging triggers, one tier per run

**What it does.** Drops the legacy activity-logging triggers of ONE tier (Param `tier`,
1 = low risk … 5 = users/projects/investors, from `include/config/migration.yaml`), after
checks and an approval, then watches the tier with sensors:

1. **discover**: every trigger whose function writes `activity_logs` or calls
   `publish_activity` (from the catalog, never a list) is assigned to its tier; a logging
   trigger on a table no tier claims, or a claimed table without logging triggers, stops
   the run naming it. `updated_at` triggers are never touched.
2. **gate_previous_tier**: tier N−1 must be `verified`. A tier already verified: nothing
   to do, the run ends green (everything after is skipped).
3. **parity_gate** (latest parity validation) → **rehearsal_gate** (production only: a
   recent staging rehearsal of this tier that ended **verified**, `tier_<n>_done`).
4. **baseline**: write cost of the tier's tables with the triggers (pg_stat_statements when
   loaded, else table counters + a rolled-back probe of single-row insert/delete pairs),
   and the entity types the triggers log.
5. **backup**: `pg_get_triggerdef`, `pg_get_functiondef`, `tgenabled`, owner, privileges
   into `activity_migration.ddl_backups` (idempotent).
6. **handover** → **readiness_sensor**: the application is told to publish for the tier's
   tables (`public.activity_publisher(table)` answers `application`) while the triggers still
   log; each write still gives one event (the pair is confirmed, not written twice). The
   sensor passes when, over one window, the application published at least `min_event_ratio`
   of the writes the triggers logged on every table of the tier (committed writes only);
   a table that stays below fails the run before anything is dropped.
7. **approval** (Required Actions) with the triggers, baseline, handover and parity in its
   body; demo mode skips it and records the skip.
8. **drop**: every logging trigger of the tier in ONE transaction under `lock_timeout`,
   retried; trigger functions no other trigger uses are dropped too. Tier → `dropped`.
9. **write_cost_sensor** (no regression beyond `max_regression_pct`) →
   **event_flow_sensor** (events published for the tier's entity types / writes to its
   tables ≥ `min_event_ratio`; no writes = no evidence = keep waiting). When activity goes
   missing the tier's triggers are **restored from the backup at once**, the tier is
   `restored` and its drop recorded as failed → **record_done**: tier `verified` with the
   measured improvement. A sensor failure mails the figures.

**Why one run per tier.** Each tier gets its own approval, its own sensor window and its
own green or red run; a rejected or failed tier leaves a clean history, and no run is held
open for the hours five tiers with sensors would take.

**Roll back.** `migration_rollback` (phase `p5_trigger_removal`), or
`activity-migration tiers --restore N|all`: recreates the tier's functions and triggers
exactly as backed up (one transaction per tier, lock_timeout), tier → `restored`.
See docs/phase-5-trigger-removal.md.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, task

from activity_migration.config import load_config
from migration_airflow.approval import approval_gate
from migration_airflow.dag_defaults import APP_DB_POOL, DEFAULT_ARGS, tags
from migration_airflow.outcome_tasks import outcome_baseline_task
from migration_airflow.params import choice, common_params, integer_range, limited, number_range
from migration_airflow.rehearsal import rehearsal_gate
from migration_airflow.sensors import TierEventFlowSensor, TierReadinessSensor, TierWriteCostSensor
from migration_airflow.tasks import privilege_audit_task
from migration_airflow.validation_tasks import validation_gate

PHASE = "p5_trigger_removal"
TIERS = [t.tier for t in load_config().tiers]  # the config file only: no connection at parse time


def _tier_step(context: dict[str, Any], name: str, **kwargs: Any) -> Any:
    """Call the tier step ``name`` of the core (phases.p5_trigger_removal, else p5_handover) as
    ``fn(dsn, cfg, ctx, tier, **kwargs)`` for this run."""
    from activity_migration.phases import p5_handover, p5_trigger_removal
    from migration_airflow.runtime import task_inputs

    i = task_inputs(context)
    fn = getattr(p5_trigger_removal, name, None) or getattr(p5_handover, name)
    return fn(*i.core, int(i.params["tier"]), **kwargs)


def _tier_task(task_id: str, step: str, doc_md: str) -> Any:
    """The task ``task_id``: the tier step ``step`` of this run (``_tier_step``), in the app-DB pool."""

    def run(**context: Any) -> Any:
        return _tier_step(context, step)

    return task(task_id=task_id, pool=APP_DB_POOL, doc_md=doc_md)(run)


def _verified_tier_step(context: dict[str, Any]) -> str:
    """The ledger step the staging rehearsal of this run's tier must have reached: verified, not
    merely dropped."""
    from migration_airflow.runtime import params_of

    return f"tier_{int(params_of(context)['tier'])}_done"


@dag(
    dag_id="migration_p5_trigger_removal",
    description="Phase 5: remove one tier of legacy logging triggers, after a handover check and approval.",
    doc_md=__doc__,
    schedule=None,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=tags("phase-5"),
    params=common_params(
        tier=choice(
            TIERS[0],
            TIERS,
            "Tier",
            "Which tier of legacy triggers this run removes (1 = low risk ... 5 = users, "
            "projects, investors). Tier N starts only after tier N-1 is verified.",
            type="integer",
        ),
        sensor_window_seconds=integer_range(
            120,
            5,
            3600,
            "Sensor window (s)",
            "Length of one measuring window: the baseline and each sensor "
            "compare writes, write cost and events over this many seconds.",
        ),
        max_regression_pct=number_range(
            10,
            0,
            1000,
            "Allowed write-cost regression %",
            "The write-cost sensor passes when the tier's write cost after the "
            "drop is at most this many percent above the baseline.",
        ),
        min_event_ratio=limited(
            "min_event_ratio",
            0.95,
            type="number",
            minimum=0,
            maximum=1,
            title="Minimum events per write",
            description="The event-flow sensor fails when events published for the tier's "
            "entity types divided by writes to its tables is below this.",
        ),
        sensor_timeout_minutes=integer_range(
            30,
            1,
            1440,
            "Sensor timeout (min)",
            "A sensor that has not passed after this long fails the run and sends the alert.",
        ),
        probe_writes=integer_range(
            100,
            1,
            10000,
            "Probe writes per table",
            "Single-row insert+delete pairs per table in the rolled-back probe that "
            "times writes when pg_stat_statements is not available.",
        ),
        rehearsal_max_age_days=limited(
            "rehearsal_max_age_days",
            7,
            type="number",
            minimum=0,
            title="Rehearsal max age (days)",
            description="The staging rehearsal of this tier (required before a "
            "production drop) must be newer than this many days.",
        ),
    ),
)
def migration_p5_trigger_removal():
    discover = _tier_task(
        "discover",
        "validate",
        "Discover the logging triggers and their tiers; stop on an unclaimed trigger "
        "or a claimed table without one. Changes nothing.",
    )

    @task.short_circuit(
        pool=APP_DB_POOL,
        ignore_downstream_trigger_rules=True,
        doc_md="Tier N-1 verified? Tier N already verified: skip the rest (a green no-op).",
    )
    def gate_previous_tier(**context: Any) -> bool:
        return bool(_tier_step(context, "gate_previous_tier")["proceed"])

    parity = validation_gate(suites=["parity"], task_id="parity_gate")

    rehearsal = rehearsal_gate(
        phase=PHASE,
        step=_verified_tier_step,
        task_id="tier_drop_rehearsal_gate",
        doc_md="Production only: a recent staging rehearsal of this tier at this project version that ended "
        "verified (tier_<n>_done: dropped and both sensors passed), not merely dropped.",
    )

    @task(
        pool=APP_DB_POOL,
        doc_md="Write cost of the tier's tables with the triggers in place (one sensor window "
        "+ a rolled-back probe), and the entity types the triggers log.",
    )
    def baseline(**context: Any) -> dict[str, Any]:
        p = context["params"]
        out = _tier_step(
            context,
            "baseline",
            window_s=float(p["sensor_window_seconds"]),
            probe_writes=int(p["probe_writes"]),
        )
        return {
            k: out.get(k)
            for k in ("tier", "probe_ms", "statement_mean_ms", "writes_per_s", "entity_types", "reused")
        }

    backup = _tier_task(
        "backup",
        "backup",
        "Back up trigger and function DDL (as the catalog prints it), tgenabled, "
        "owner and privileges. Idempotent.",
    )
    handover = _tier_task(
        "handover",
        "handover",
        "Tell the application to publish for the tier's tables "
        "(public.activity_publisher(table) = 'application'); the triggers keep logging "
        "and each write still gives one event.",
    )

    readiness = TierReadinessSensor(
        task_id="readiness_sensor",
        pool=APP_DB_POOL,
        doc_md="Before the drop: over a window, the application published for at least min_event_ratio of "
        "the writes the triggers logged, on every table of the tier (committed writes only). Fails when a "
        "table stays below for two windows (the tables go back to the triggers); waits while the "
        "evidence is thin (fewer than 20 writes, or a table without writes).",
    )

    approval_evidence = _tier_task(
        "approval_evidence",
        "approval_evidence",
        "Markdown for the approver: the triggers, the baseline, the parity result.",
    )
    drop = _tier_task(
        "drop",
        "apply",
        "DROP the tier's logging triggers in one transaction under lock_timeout "
        "(retried); unused trigger functions too. Tier -> dropped.",
    )

    write_cost = TierWriteCostSensor(
        task_id="write_cost_sensor",
        pool=APP_DB_POOL,
        doc_md="Write cost over a window after the drop vs the baseline; waits while it regressed beyond "
        "max_regression_pct, fails at sensor_timeout_minutes.",
    )
    event_flow = TierEventFlowSensor(
        task_id="event_flow_sensor",
        pool=APP_DB_POOL,
        doc_md="Events published for the tier's entity types per write to its tables >= min_event_ratio. "
        "Fails at once when activity goes missing; waits while there are no writes.",
    )

    @task(pool=APP_DB_POOL, doc_md="Tier -> verified, with the measured improvement.")
    def record_done(**context: Any) -> dict[str, Any]:
        from migration_airflow.params import record_param_clamps

        out = _tier_step(context, "verify")
        # the event-flow sensor judged with min_event_ratio (params_of: production minimum 0.9)
        record_param_clamps(context, PHASE, f"tier_{out['tier']}_done", "min_event_ratio")
        return out

    @task(trigger_rule="one_failed", doc_md="A sensor failed: mail the figures (migration_alert_emails).")
    def alert_sensor_failure(**context: Any) -> list[str]:
        from activity_migration.phases import p5_trigger_removal
        from migration_airflow.alerts import send_alert
        from migration_airflow.runtime import task_inputs

        i = task_inputs(context)
        subject, body = p5_trigger_removal.failure_report(
            i.dsn, i.cfg, int(i.params["tier"]), i.ctx.dag_run_id
        )
        return send_alert(subject, body, context)

    gate = approval_gate(
        phase=PHASE,
        step="tier_drop",
        ledger_step="tier_{tier}_drop",
        subject="Drop trigger tier {{ params.tier }} in {{ params.environment }} (phase 5)?",
        body="{{ ti.xcom_pull(task_ids='approval_evidence') }}",
    )
    evidence = approval_evidence()
    dropped = drop()
    (
        outcome_baseline_task(PHASE)
        >> discover()
        >> gate_previous_tier()
        >> parity
        >> rehearsal
        >> baseline()
        >> backup()
        >> handover()
        >> readiness
        >> evidence
        >> gate.entry
    )
    gate.then(dropped)
    dropped >> write_cost >> event_flow >> record_done() >> privilege_audit_task(PHASE)
    [readiness, write_cost, event_flow] >> alert_sensor_failure()


migration_p5_trigger_removal()
