"""
### Phase 4: backfill the history of `activity_logs` into `events`

**What it does.** Copies every legacy activity row that has no event yet (the history before
the cutoff phase 2 recorded) into `events`, chunk by chunk, online:

1. **plan**: preflight (phase 1 objects, the cutoff), then key ranges in
   `activity_migration.backfill_chunks` (an existing plan is reused: a re-run resumes);
2. **copy_worker** (mapped, `max_parallel_chunks` workers in the `activity_db` pool): each
   worker claims chunks (`FOR UPDATE SKIP LOCKED`) until none remain; each chunk is one
   short transaction: one `INSERT … SELECT` with the mapping rules of `publish_activity`,
   bad rows to `activity_migration.quarantine` with their reason, the chunk marked done.
   Before every chunk the throttle reads load (active backends, lock waiters, replication
   lag, app write latency) and pauses, shrinks chunks, or aborts on a critical level; a
   controller holds the app's write p95 within `max_app_p95_ratio` × its idle value (measured
   by **plan**) by lengthening or shortening the sleep between chunks (recorded per chunk);
3. **check_zero_loss**: every row before the cutoff (and every row without an event) is in
   `events` exactly once or in the quarantine; the run fails with the counts otherwise;
4. **report**: quarantine by reason, chunk statistics, progress, the latency controller's
   decisions;
5. **build_indexes**: the full-text GIN index, dropped CONCURRENTLY by **plan** so the copy does
   not pay for it (`defer_search_index`, default on), is built CONCURRENTLY.

**What it changes.** Inserts rows into `events` (`source = 'backfill'`) and
`activity_migration.quarantine`; writes the chunk ledger and the settings `backfill_plan`.
With `defer_search_index` (default), `DROP INDEX CONCURRENTLY` / `CREATE INDEX CONCURRENTLY`
of `events_search_idx` (no lock that blocks reads or writes); otherwise no DDL.

**While it runs.** `activity-migration status` shows progress and ETA. Change thresholds live:
`activity-migration backfill-throttle --set max_active_backends=20`, `--pause`, `--resume`
(see docs/throttling.md). Killing it at any moment is safe: re-run, it resumes.

**Roll back.** `migration_rollback` (or `p4_backfill.rollback`) deletes the events with
source `backfill`, the quarantine rows and the plan; dual-written events are not touched.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param, dag, task

from migration_airflow.dag_defaults import APP_DB_POOL, DEFAULT_ARGS, tags
from migration_airflow.outcome_tasks import outcome_baseline_task
from migration_airflow.params import common_params, flag, integer_range, limited, number_range

PHASE = "p4_backfill"


def _threshold(default: float | None, title: str, description: str, maximum: float = 1e6) -> Param:
    return number_range(
        default,
        0,
        maximum,
        title,
        description + " Empty = this signal is not checked. Live override: the setting "
        "backfill_throttle (activity-migration backfill-throttle --set ...).",
        nullable=True,
    )


PARAMS = common_params(
    chunk_target_seconds=number_range(
        0.5,
        0.1,
        60,
        "Chunk target seconds",
        "Wanted duration of one chunk transaction. Chunk sizes grow when chunks "
        "are faster and shrink when slower (or throttled).",
    ),
    initial_chunk_rows=integer_range(
        20000,
        100,
        1000000,
        "Initial chunk rows",
        "Rows per planned chunk and the first chunk size of each worker.",
    ),
    max_parallel_chunks=integer_range(
        2,
        1,
        32,
        "Max parallel chunks",
        "Workers copying at the same time (mapped tasks, limited by the "
        "activity_db pool). About one per database core.",
    ),
    lease_seconds=number_range(
        60, 1, 86400, "Claim lease (s)", "A chunk whose worker died is taken over after this long."
    ),
    max_active_backends=_threshold(
        50, "Max active backends", "Pause while more application sessions than this are running a statement."
    ),
    max_lock_waiters=_threshold(
        5, "Max lock waiters", "Pause while more sessions than this wait for a lock."
    ),
    max_replication_lag_s=_threshold(
        10,
        "Max replication lag (s)",
        "Pause while a replica replays more than this far behind (only with replicas).",
    ),
    max_write_latency_ms=_threshold(
        100,
        "Max app write latency (ms)",
        "Pause while the app's mean INSERT/UPDATE/DELETE time exceeds this "
        "(needs pg_stat_statements; skipped without it).",
    ),
    critical_active_backends=_threshold(None, "Critical active backends", "Abort the workers above this."),
    critical_lock_waiters=_threshold(None, "Critical lock waiters", "Abort the workers above this."),
    critical_replication_lag_s=_threshold(
        None, "Critical replication lag (s)", "Abort the workers above this."
    ),
    critical_write_latency_ms=_threshold(
        None, "Critical app write latency (ms)", "Abort the workers above this."
    ),
    yield_ratio=number_range(
        0.5,
        0,
        10,
        "Yield ratio",
        "After each chunk a worker sleeps this many times the chunk's duration, leaving "
        "the cores and the WAL to the application (0 = copy flat out). Live override: "
        "the setting backfill_throttle.",
    ),
    max_app_p95_ratio=number_range(
        1.5,
        1.05,
        100,
        "Max app p95 ratio (latency objective)",
        "Hold the application's write p95 within this many times its idle value (measured "
        "just before the copy): before every chunk a controller lengthens the sleep between chunks as "
        "the p95 nears it, shortens it below, pauses above it; yield_ratio is its starting point. "
        "Empty = off (the fixed yield_ratio). Live override: the setting backfill_throttle.",
        nullable=True,
    ),
    pause_seconds=number_range(
        1.0,
        0,
        300,
        "Pause seconds",
        "How long a worker sleeps when a threshold is crossed before sampling again.",
    ),
    dry_run=flag(False, "Dry run", "Plan and report only: write nothing, not even the plan."),
    allow_without_cutoff=limited(
        "allow_without_cutoff",
        False,
        type="boolean",
        title="Allow without cutoff",
        description="Start although phase 2 recorded no cutoff. Only for tests and demos: "
        "without dual write, rows written meanwhile are not covered.",
    ),
    defer_search_index=flag(
        True,
        "Build the full-text index after the copy",
        "Drop events_search_idx (CONCURRENTLY) before the copy and build it CONCURRENTLY as "
        "the last task: the copy then skips its most expensive index. Full-text searches over events "
        "meanwhile return the same rows by a sequential scan; the feed's indexes stay.",
    ),
    replan=flag(
        False, "Re-plan", "Throw the existing chunk plan away and plan again (copying stays idempotent)."
    ),
)


def _inputs(context: dict[str, Any]):
    """DSN, config and Params of a task; params_of refuses allow_without_cutoff in production."""
    from activity_migration.backfill.options import BackfillParams
    from activity_migration.config import load_config
    from migration_airflow.runtime import dsn_from_context, params_of

    return dsn_from_context(context), load_config(), BackfillParams.from_mapping(params_of(context))


@dag(
    dag_id="migration_p4_backfill",
    description="Phase 4: copy the history before the cutoff into events, in chunks, throttled on load.",
    doc_md=__doc__,
    schedule=None,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=tags("phase-4"),
    params=PARAMS,
)
def migration_p4_backfill():
    @task(
        doc_md="Preflight (phase 1 objects, cutoff), then plan the chunks or reuse the plan; returns the "
        "worker "
        "indices to map over. Dry run: compute and log the plan, write nothing, map no worker."
    )
    def plan(**context: Any) -> list[int]:
        from activity_migration.phases import p4_backfill
        from migration_airflow.runtime import run_context

        dsn, cfg, params = _inputs(context)
        p = p4_backfill.plan(dsn, cfg, params, run_context(context))
        context["ti"].xcom_push(key="plan", value=p.summary())
        return [] if params.dry_run else list(range(params.max_parallel_chunks))

    @task(doc_md="One backfill worker: claims chunks from the chunk ledger until none remain (throttled).")
    def copy_worker(worker_index: int, **context: Any) -> dict[str, Any]:
        from activity_migration.backfill.copier import run_worker
        from migration_airflow.tasks import ledgered_step

        dsn, cfg, params = _inputs(context)
        with ledgered_step(context, PHASE, "copy", {"worker": worker_index}) as out:
            report = run_worker(dsn, cfg, f"w{worker_index}", params).as_dict()
            out.update(report)
        return report

    @task(
        doc_md="Every source row before the cutoff (and every row without an event) is in events exactly "
        "once or in the quarantine; fails with the counts otherwise."
    )
    def check_zero_loss(**context: Any) -> dict[str, Any]:
        from activity_migration.phases import p4_backfill
        from migration_airflow.runtime import run_context

        dsn, cfg, params = _inputs(context)
        return p4_backfill.check_zero_loss(dsn, cfg, run_context(context), params)

    # Beside the check, not after it: the statistics help most when a worker or the check
    # failed, and the run does not wait for a second task start. Skipped with the workers in
    # a dry run (nothing was copied).
    @task(
        doc_md="Log quarantine counts by reason and chunk statistics (pandas tables); runs even when a "
        "worker or the zero-loss check failed.",
        trigger_rule="none_skipped",
    )
    def report(**context: Any) -> dict[str, Any]:
        from activity_migration.phases import p4_backfill

        dsn, cfg, _ = _inputs(context)
        return p4_backfill.report(dsn, cfg)

    @task(
        doc_md="Last step: build the indexes deferred for the copy (the full-text GIN) CONCURRENTLY; an "
        "INVALID leftover of a failed build is rebuilt. Nothing to do when none was deferred."
    )
    def build_indexes(**context: Any) -> dict[str, Any]:
        from activity_migration.phases import p4_backfill
        from migration_airflow.runtime import run_context

        dsn, cfg, _ = _inputs(context)
        return p4_backfill.build_indexes(dsn, cfg, run_context(context))

    planned = plan()
    outcome_baseline_task(PHASE) >> planned
    workers = copy_worker.partial(pool=APP_DB_POOL).expand(worker_index=planned)
    checked = check_zero_loss()
    workers >> [checked, report()]
    checked >> build_indexes()


migration_p4_backfill()
