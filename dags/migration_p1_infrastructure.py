"""
### Phase 1: events infrastructure, built online

**What it does.** Builds the target of the migration beside the legacy logging, without
touching it:

1. **preflight**: PostgreSQL ≥ 14; privileges (CREATE on the database and target schema,
   ownership of the legacy logging functions that phase 2 replaces); roles `anon`,
   `authenticated`, `service_role`; `auth.uid()`; the source table and every configured
   column with a compatible type; the key is uuid or integer; nothing foreign or half-built
   in the way (an `events` table or a `publish_activity` not created by this migration);
   `lock_timeout` settable. Each failure names the rule and the value.
2. **create_state_schema**: `activity_migration` (ledger, settings, backups, chunk ledger,
   quarantine, …).
3. **create_mapping_rules**: entity categories and validation rules from
   `include/config/migration.yaml` (upserted: config edits apply on re-run).
4. **create_events_table**: `public.events`, legacy key typed like the source key.
5. **create_functions**: `publish_activity(...)` (validates, sanitizes, writes `events`),
   `publish_auth_event`, `publish_batch_operation`, `publish_entity_change`.
6. **create_policies**: RLS on `events` (authenticated: own events; anon: nothing;
   service_role: all).
7. **build_indexes**: `CREATE INDEX CONCURRENTLY` (actor+time, customer+time, entity,
   BRIN on occurred_at for hot data, full-text GIN); INVALID leftovers rebuilt.
8. **create_analytics**: materialized views `event_daily_counts`, `event_actor_activity` and
   `refresh_event_analytics()` (REFRESH … CONCURRENTLY).
8b. **register_event_types**: the event-type registry `activity_migration.event_types`, filled
   with every type the legacy log produces (docs/event-types-and-realtime.md).
9. **verify**: objects present, a probe event (rolled back), a rejected bad event.

**What it changes.** Only new objects; no DDL on application tables. Every DDL runs under
`lock_timeout` with retries. Re-running changes nothing.

**Roll back.** `migration_rollback` with phase `p1_infrastructure` (core:
`activity_migration.phases.p1_infrastructure.rollback`): drops what this phase created in
application schemas (events rows are archived into `activity_migration.events_rollback_archive`
first), keeps the state schema. Refused while dual write (phase 2) is on.
See docs/phase-1-infrastructure.md.
"""

from __future__ import annotations

from airflow.sdk import chain, dag

from migration_airflow.dag_defaults import DEFAULT_ARGS, tags
from migration_airflow.outcome_tasks import outcome_baseline_task
from migration_airflow.params import common_params
from migration_airflow.tasks import phase_step_task, privilege_audit_task

PHASE = "p1_infrastructure"
TASKS = [  # (core step = task id, what it does), in order
    (
        "preflight",
        "Version, privileges, roles, auth.uid(), source table and columns, nothing "
        "foreign or half-built, lock_timeout settable. Changes nothing but the ledger.",
    ),
    ("create_state_schema", "The migration's own schema and state tables (idempotent)."),
    ("create_mapping_rules", "Mapping-rule functions; categories and rules upserted from the config."),
    ("create_events_table", "public.events (legacy key typed like the source key)."),
    (
        "create_functions",
        "The internal writer (left alone while dual write is on), publish_activity (the "
        "API: callers publish only as themselves) and its helpers, with their grants.",
    ),
    ("create_policies", "Row-level security on events and table grants."),
    ("build_indexes", "CREATE INDEX CONCURRENTLY for every events index; INVALID leftovers rebuilt."),
    ("create_analytics", "Analytics materialized views and refresh_event_analytics()."),
    (
        "register_event_types",
        "The event-type registry (state schema), filled with every type the legacy log produces "
        "(distinct entity type and action, as the backfill maps them).",
    ),
    ("verify", "Every object present and valid; publish_activity probe (rolled back)."),
]


@dag(
    dag_id="migration_p1_infrastructure",
    description="Phase 1: create the events table, publish_activity and the state schema; changes no "
    "application behaviour.",
    doc_md=__doc__,
    schedule=None,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=tags("phase-1"),
    params=common_params(),
)
def migration_p1_infrastructure():
    chain(
        outcome_baseline_task(PHASE),
        *[phase_step_task(PHASE, step, doc_md) for step, doc_md in TASKS],
        privilege_audit_task(PHASE),
    )


migration_p1_infrastructure()
