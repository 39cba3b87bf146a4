"""
### Phase 3: the read path the new EventFeed needs, and the read-source switch

**What it does.**

1. **preflight**: `events` exists (phase 1), the legacy table exists, roles present.
2. **apply**: builds, online and idempotently:
   - `events_feed_keyset_idx` on `events (occurred_at DESC, id DESC)`, `CREATE INDEX CONCURRENTLY`;
   - `public.event_feed(p_before_occurred_at, p_before_id, p_page_size, p_customer_id,
     p_entity_type, p_entity_id, p_category)`: keyset pagination, SECURITY INVOKER (RLS:
     an authenticated user sees only their own events), page size 1..200;
   - `public.activity_logs_compat`: the old `activity_logs` shape over `events`
     (`security_invoker`);
   - `public.activity_read_source()`: what the app's activity UI reads;
   - real time: `events` added to the `supabase_realtime` publication when it exists (the
     demo database gets the publication created).
2b. **realtime_quota** (sensor): with `events` in the publication, the replication slots'
   retained WAL, the realtime subscriptions and the change rate of `events` against the plan's
   quota (config `realtime:`). A critical level fails here, before the read-source switch,
   naming the slot or quota and the limit, and what to do (drop `events` from the
   publication, or raise the plan); "not measurable" (wal_level below logical, no `realtime`
   schema) passes saying why. See docs/event-types-and-realtime.md.
3. **read_parity** (the gate): for sample users (the top actors plus random ones), the first
   pages of the old query and of `event_feed`, each run as that user under RLS, show the same
   activities. Fails listing the differences; rows before the phase-2 cutoff that the
   backfill has not copied yet are reported, not counted as differences.
4. **switch_read_source**: `read_source` = `events` (only when the Param says so and parity
   passed).
5. **verify**.

**What it changes.** New functions, a view, an index (concurrently), publication membership,
one setting. No DDL on application tables; no application data.

**Roll back.** `migration_rollback` to `before_p3` (core
`activity_migration.phases.p3_read_path.rollback`): read source back to `activity_logs`, and
everything above removed. See docs/phase-3-read-path.md.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, task

from migration_airflow.dag_defaults import APP_DB_POOL, DEFAULT_ARGS, tags
from migration_airflow.outcome_tasks import outcome_baseline_task
from migration_airflow.params import common_params, flag, integer_range
from migration_airflow.tasks import privilege_audit_task
from migration_airflow.watch_tasks import RealtimeQuotaSensor

PHASE = "p3_read_path"


def _args(context: dict[str, Any]) -> tuple[str, Any, Any]:
    from migration_airflow.runtime import task_inputs

    return task_inputs(context).core


def _parity_settings(context: dict[str, Any]):
    from activity_migration.phases.p3_read_path import ParitySettings

    p = context["params"]
    return ParitySettings(
        top_users=int(p["parity_top_users"]),
        random_users=int(p["parity_random_users"]),
        pages=int(p["parity_pages"]),
        page_size=int(p["parity_page_size"]),
    )


@dag(
    dag_id="migration_p3_read_path",
    description="Phase 3: build the event feed, check it against the legacy log, switch the read source.",
    doc_md=__doc__,
    schedule=None,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=tags("phase-3"),
    params=common_params(
        parity_top_users=integer_range(
            20,
            0,
            1000,
            "Parity: top users",
            "How many of the actors with the most activity rows the parity check compares.",
        ),
        parity_random_users=integer_range(
            5, 0, 1000, "Parity: random users", "How many random users (auth.users) the parity check adds."
        ),
        parity_pages=integer_range(
            3, 1, 20, "Parity: pages", "First pages compared per user (keyset pages of the feed)."
        ),
        parity_page_size=integer_range(
            20, 1, 200, "Parity: page size", "Rows per page (the feed allows 1..200)."
        ),
        switch_read_source=flag(
            True,
            "Switch the read source to events",
            "After a passed parity check, set read_source = 'events' so the app "
            "shows EventFeed. Off: build and check only.",
        ),
    ),
)
def migration_p3_read_path():
    @task(pool=APP_DB_POOL, doc_md="events and the legacy table exist, roles present. Changes nothing.")
    def preflight(**context: Any) -> dict[str, Any]:
        from activity_migration.db import connection
        from activity_migration.phases import p3_read_path

        dsn, cfg, _ = _args(context)
        with connection(dsn) as conn:
            return p3_read_path.preflight(conn, cfg)

    @task(
        pool=APP_DB_POOL,
        doc_md="Feed index (CONCURRENTLY), event_feed, compat view, activity_read_source(), "
        "real-time publication. Idempotent.",
    )
    def apply(**context: Any) -> dict[str, Any]:
        from activity_migration.phases import p3_read_path

        return p3_read_path.apply(*_args(context))

    @task(
        pool=APP_DB_POOL,
        doc_md="The gate: first pages of the old query and of event_feed, as each sample user "
        "under RLS, show the same activities; fails listing the differences.",
    )
    def read_parity(**context: Any) -> dict[str, Any]:
        from activity_migration.phases import p3_read_path

        dsn, cfg, ctx = _args(context)
        return p3_read_path.require_read_parity(dsn, cfg, _parity_settings(context), ctx)

    @task(
        pool=APP_DB_POOL,
        doc_md="read_source = 'events' (the app switches to EventFeed), when the Param says so.",
    )
    def switch_read_source(parity: dict[str, Any], **context: Any) -> dict[str, Any]:
        from activity_migration.phases import p3_read_path

        if not context["params"]["switch_read_source"]:
            return {"switched": False, "reason": "Param switch_read_source is off"}
        dsn, cfg, ctx = _args(context)
        return p3_read_path.set_read_source(dsn, "events", cfg, ctx, parity_report=parity)

    @task(pool=APP_DB_POOL, doc_md="Every phase-3 object present; the feed refuses page size 201.")
    def verify(**context: Any) -> dict[str, Any]:
        from activity_migration.phases import p3_read_path

        dsn, cfg, _ = _args(context)
        return p3_read_path.verify(dsn, cfg)

    realtime_quota = RealtimeQuotaSensor(
        task_id="realtime_quota",
        pool=APP_DB_POOL,
        doc_md="After the publication is enabled: replication slots (retained WAL, lag), realtime "
        "subscriptions and the change rate of events against the plan's quota. Critical fails before the "
        "read-source switch; not measurable passes, saying why.",
    )
    parity = read_parity()
    outcome_baseline_task(PHASE) >> preflight() >> apply() >> realtime_quota >> parity
    switch_read_source(parity) >> verify() >> privilege_audit_task(PHASE)


migration_p3_read_path()
