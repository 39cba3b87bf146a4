"""Phase 1: the events infrastructure, built online beside the legacy logging.

Steps (each recorded in the ledger under phase ``p1_infrastructure``):

1. ``preflight``: Postgres ≥ 14, privileges, roles, ``auth.uid()``, the source table and
   its configured columns, nothing foreign or half-built in the way, lock_timeout settable.
2. ``create_state_schema``: the migration's own schema (ledger, settings, backups, …).
3. ``create_mapping_rules``: entity categories and validation rules, from the config.
4. ``create_events_table``: ``public.events`` with the legacy key typed like the source key.
5. ``create_functions``: ``publish_activity`` (events only) and its helpers.
6. ``create_policies``: RLS on events.
7. ``build_indexes``: ``CREATE INDEX CONCURRENTLY`` (invalid leftovers dropped and rebuilt).
8. ``create_analytics``: materialized views + ``refresh_event_analytics()``.
9. ``verify``.

Every step is idempotent: re-running the phase leaves the catalog unchanged. ``rollback``
removes what this phase created in application schemas and nothing else.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

import psycopg
from psycopg import sql

from .. import access_rules, ledger, privileges
from ..catalog import source_key_type
from ..config import MigrationConfig, load_config
from ..db import (
    connection,
    load_sql,
    run_ddl_with_retry,
    run_locked,
)
from ..event_types.registry import register_from_mapping
from ..ledger import RunContext
from ..sqltext import split_statements
from ._common import (
    ACTOR_VIEW,
    API_PUBLISH,
    DAILY_VIEW,
    HELPER_SIGNATURES,
    INTERNAL_PUBLISH,
    dual_write_enabled,
    events_ident,
    ledgered,
    publish_body_parts,
    publish_header,
    publish_identity,
    relation_kind,
)
from .p1_preflight import (  # noqa: F401
    _FIELD_TYPES,
    EVENT_COLUMNS,
    MIN_SERVER_VERSION,
    PHASE,
    REQUIRED_ROLES,
    _check_existing,
    check_customer_predicate,
    invalid_indexes,
    legacy_key_kind,
    preflight,
)
from .p1_rollback import rollback  # noqa: F401 - the phase's rollback (rollback.py calls it here)
from .p1_verify import INDEX_NAMES, verify

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------- steps
@ledgered(PHASE, "preflight")
def run_preflight(dsn: str, cfg: MigrationConfig, ctx: RunContext) -> dict[str, Any]:
    """``preflight`` recorded in the ledger (creates the state schema to have a ledger)."""
    return preflight(dsn, cfg, ctx)


@ledgered(PHASE, "create_state_schema")
def create_state_schema(dsn: str, cfg: MigrationConfig, ctx: RunContext) -> dict[str, Any]:
    with connection(dsn) as conn:
        ledger.ensure_state_schema(conn, cfg)
        with conn.transaction():
            privileges.lock_down_state_schema(conn, cfg)
    return {"schema": cfg.state_schema, "granted_to": "the owner only (row level security on every table)"}


@ledgered(PHASE, "create_mapping_rules")
def create_mapping_rules(dsn: str, cfg: MigrationConfig, ctx: RunContext) -> dict[str, Any]:
    """Create the mapping rule functions and (up)sert categories and rules from the config."""
    r = cfg.rules
    cats = sorted(cfg.categories.items())
    values = {
        "types": [k for k, _ in cats],
        "categories": [v for _, v in cats],
        "payload_max_bytes": r.payload_max_bytes,
        "occurred_at_min": r.occurred_at_min,
        "occurred_at_max_future": r.occurred_at_max_future,
        "event_type_pattern": r.event_type_pattern,
        "event_type_max_length": r.event_type_max_length,
    }

    def body(conn: psycopg.Connection) -> None:
        conn.execute(load_sql("p1_infrastructure/02_create_mapping_rules.sql", state=cfg.state_schema))
        upserts = load_sql("p1_infrastructure/09_upsert_mapping_rules.sql", state=cfg.state_schema)
        for stmt in split_statements(upserts.as_string(conn)):
            conn.execute(stmt, values)
        privileges.lock_down_state_schema(conn, cfg)

    run_locked(dsn, body, **cfg.safety.ddl_retry)
    return {"categories": len(cfg.categories)}


@ledgered(PHASE, "create_events_table")
def create_events_table(dsn: str, cfg: MigrationConfig, ctx: RunContext) -> dict[str, Any]:
    with connection(dsn) as conn:
        key_type = source_key_type(conn, cfg)
    stmt = load_sql(
        "p1_infrastructure/03_create_events_table.sql",
        events=events_ident(cfg),
        legacy_key_type=sql.SQL(key_type),
        legacy_key_unique=f"{cfg.target_table}_legacy_activity_log_id_key",
    )
    run_ddl_with_retry(dsn, [stmt], **cfg.safety.ddl_retry)
    return {"table": cfg.target, "legacy_key_type": key_type}


@ledgered(PHASE, "create_functions")
def create_functions(dsn: str, cfg: MigrationConfig, ctx: RunContext) -> dict[str, Any]:
    """The internal writer (left alone while dual write is on), the API and its helpers, and
    their grants, in one transaction (no moment in which a default privilege holds)."""
    with connection(dsn) as conn:
        dual = dual_write_enabled(conn, cfg)
        grants = privileges.grant_statements(
            conn,
            cfg,
            API_PUBLISH,
            privileges.PUBLISHER_FUNCTION,
            *[h for h in HELPER_SIGNATURES if h != "refresh_event_analytics"],
        )
    stmts: list[sql.Composable] = []
    if not dual:
        stmts.append(
            load_sql(
                "p1_infrastructure/04_create_publish_activity_internal.sql",
                state=cfg.state_schema,
                events=events_ident(cfg),
                publish_header=publish_header(sql.Identifier(cfg.state_schema, INTERNAL_PUBLISH)),
                **publish_body_parts(cfg.state_schema),
            )
        )
    stmts.append(
        load_sql(
            "p1_infrastructure/05_create_publish_api.sql",
            state=cfg.state_schema,
            fn_schema=cfg.target_schema,
            publish_header=publish_header(sql.Identifier(cfg.target_schema, API_PUBLISH)),
            customer_check=sql.SQL(cfg.security.customer_check_sql()),
        )
    )
    stmts += grants
    stmts.append(
        load_sql("privileges/01_lock_down_state_schema.sql", state_name=sql.Literal(cfg.state_schema))
    )
    with connection(dsn) as conn:
        check_customer_predicate(conn, cfg)
    run_ddl_with_retry(dsn, stmts, **cfg.safety.ddl_retry)
    out: dict[str, Any] = {
        "functions": [
            API_PUBLISH,
            privileges.PUBLISHER_FUNCTION,
            *[h for h in HELPER_SIGNATURES if h != "refresh_event_analytics"],
        ],
        "internal_writer": publish_identity(cfg),
        "customer_check": cfg.security.customer_check or "none: users may not name a customer",
    }
    if dual:
        out["skipped"] = "dual write is on: the internal writer keeps its phase-2 body"
    return out


@ledgered(PHASE, "create_policies")
def create_policies(dsn: str, cfg: MigrationConfig, ctx: RunContext) -> dict[str, Any]:
    """RLS on events: the legacy table's policies carried over (access_rules.py), and the grants.

    Every policy on events is ours: all are dropped and the plan's created in one transaction, so
    a re-run prints the same catalog and an edited config takes effect. After phase 6 (the legacy
    table is gone) the policies stay as they are.
    """
    events = events_ident(cfg)
    with connection(dsn) as conn:
        grants = privileges.grant_statements(conn, cfg, "events")
        if relation_kind(conn, cfg.source.schema, cfg.source.table) not in ("r", "p"):
            run_ddl_with_retry(dsn, grants, **cfg.safety.ddl_retry)
            return {"policies": "kept: the legacy table is archived (phase 6)"}
        access = access_rules.require_plan(conn, cfg)
        current = list(access_rules.existing_policies(conn, cfg))
    stmts: list[sql.Composed] = [sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(events)]
    stmts += [
        sql.SQL("DROP POLICY IF EXISTS {} ON {}").format(sql.Identifier(name), events) for name in current
    ]
    stmts += [p.statement(events) for p in access.policies]
    run_ddl_with_retry(dsn, stmts + grants, **cfg.safety.ddl_retry)
    return {"access_rules": access.as_dict(), "replaced": current}


@ledgered(PHASE, "build_indexes")
def build_indexes(
    dsn: str, cfg: MigrationConfig, ctx: RunContext, concurrent_lock_timeout_ms: int = 30000
) -> dict[str, Any]:
    """Build each index CONCURRENTLY; drop and rebuild an INVALID leftover of a failed build.

    CREATE INDEX CONCURRENTLY does not block writes, but it waits for older transactions
    through the lock manager, so it gets a longer lock_timeout than blocking DDL; a build
    that times out leaves an INVALID index, which the next attempt drops first.
    """
    rebuilt: list[str] = []
    with connection(dsn) as conn:
        stmts = split_statements(
            load_sql("p1_infrastructure/07_create_event_indexes.sql", events=events_ident(cfg)).as_string(
                conn
            )
        )

    def build(stmt: str) -> Callable[[psycopg.Connection], None]:
        def body(conn: psycopg.Connection) -> None:
            for name in invalid_indexes(conn, cfg):
                log.warning("dropping INVALID index %s (left by a failed concurrent build)", name)
                conn.execute(
                    sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(
                        sql.Identifier(cfg.target_schema, name)
                    )
                )
                rebuilt.append(name)
            conn.execute(stmt)

        return body

    for stmt in stmts:
        run_locked(
            dsn,
            build(stmt),
            lock_timeout_ms=concurrent_lock_timeout_ms,
            attempts=cfg.safety.ddl_attempts,
            autocommit=True,
            what="an index build",
        )
    return {"indexes": list(INDEX_NAMES), "rebuilt_invalid": rebuilt}


@ledgered(PHASE, "create_analytics")
def create_analytics(dsn: str, cfg: MigrationConfig, ctx: RunContext) -> dict[str, Any]:
    with connection(dsn) as conn:
        grants = privileges.grant_statements(conn, cfg, DAILY_VIEW, ACTOR_VIEW, "refresh_event_analytics")
    stmt = load_sql(
        "p1_infrastructure/08_create_event_analytics.sql",
        events=events_ident(cfg),
        fn_schema=cfg.target_schema,
        daily=sql.Identifier(cfg.target_schema, DAILY_VIEW),
        actors=sql.Identifier(cfg.target_schema, ACTOR_VIEW),
    )
    run_ddl_with_retry(dsn, [stmt, *grants], **cfg.safety.ddl_retry)
    return {"materialized_views": [DAILY_VIEW, ACTOR_VIEW], "refresh_function": "refresh_event_analytics()"}


privilege_audit = ledgered(PHASE, "privilege_audit")(privileges.audit_step)

STEPS = (
    run_preflight,
    create_state_schema,
    create_mapping_rules,
    create_events_table,
    create_functions,
    create_policies,
    build_indexes,
    create_analytics,
    register_from_mapping,
    verify,
    privilege_audit,
)


def apply(dsn: str, cfg: MigrationConfig | None = None, ctx: RunContext | None = None) -> dict[str, Any]:
    """Run every phase-1 step in order (what the DAG does task by task)."""
    cfg = cfg or load_config()
    ctx = ctx or RunContext()
    return {fn.step: fn(dsn, cfg, ctx) for fn in STEPS}
