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

from .. import access_rules, catalog, ledger, privileges
from ..catalog import row_security_enabled
from ..config import MigrationConfig, load_config
from ..db import (
    connection,
    fetch_all,
    load_sql,
    run_ddl_with_retry,
    run_locked,
    scalar,
)
from ..errors import MigrationError, PreflightError
from ..ledger import RunContext
from ..sqltext import split_statements
from ..validation.parity import drop_validation_objects
from ._common import (
    ACTOR_VIEW,
    API_PUBLISH,
    DAILY_VIEW,
    HELPER_SIGNATURES,
    INTERNAL_PUBLISH,
    PUBLISH_ARGS,
    api_publish_identity,
    dual_write_enabled,
    events_ident,
    function_def,
    ledgered,
    publish_identity,
    publish_parameters,
    relation_kind,
    table_exists,
)
from .p1_preflight import (  # noqa: F401
    _FIELD_TYPES,
    EVENT_COLUMNS,
    KEY_TYPES,
    MIN_SERVER_VERSION,
    PHASE,
    REQUIRED_ROLES,
    _check_existing,
    check_customer_predicate,
    invalid_indexes,
    legacy_key_kind,
    legacy_key_type,
    preflight,
)

log = logging.getLogger(__name__)

INDEX_NAMES = (
    "events_actor_occurred_idx",
    "events_customer_occurred_idx",
    "events_entity_idx",
    "events_occurred_brin",
    "events_search_idx",
)


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

    run_locked(dsn, body, lock_timeout_ms=cfg.safety.lock_timeout_ms, attempts=cfg.safety.ddl_attempts)
    return {"categories": len(cfg.categories)}


@ledgered(PHASE, "create_events_table")
def create_events_table(dsn: str, cfg: MigrationConfig, ctx: RunContext) -> dict[str, Any]:
    with connection(dsn) as conn:
        key_type = legacy_key_type(conn, cfg)
    stmt = load_sql(
        "p1_infrastructure/03_create_events_table.sql",
        events=events_ident(cfg),
        legacy_key_type=sql.SQL(key_type),
        legacy_key_unique=f"{cfg.target_table}_legacy_activity_log_id_key",
    )
    run_ddl_with_retry(
        dsn, [stmt], lock_timeout_ms=cfg.safety.lock_timeout_ms, attempts=cfg.safety.ddl_attempts
    )
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
                parameters=publish_parameters(),
            )
        )
    stmts.append(
        load_sql(
            "p1_infrastructure/05_create_publish_api.sql",
            state=cfg.state_schema,
            fn_schema=cfg.target_schema,
            parameters=publish_parameters(),
            customer_check=sql.SQL(cfg.security.customer_check_sql()),
        )
    )
    stmts += grants
    stmts.append(
        load_sql("privileges/01_lock_down_state_schema.sql", state_name=sql.Literal(cfg.state_schema))
    )
    with connection(dsn) as conn:
        check_customer_predicate(conn, cfg)
    run_ddl_with_retry(
        dsn, stmts, lock_timeout_ms=cfg.safety.lock_timeout_ms, attempts=cfg.safety.ddl_attempts
    )
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
            run_ddl_with_retry(
                dsn, grants, lock_timeout_ms=cfg.safety.lock_timeout_ms, attempts=cfg.safety.ddl_attempts
            )
            return {"policies": "kept: the legacy table is archived (phase 6)"}
        access = access_rules.require_plan(conn, cfg)
        current = list(access_rules.existing_policies(conn, cfg))
    stmts: list[sql.Composable] = [sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(events)]
    stmts += [
        sql.SQL("DROP POLICY IF EXISTS {} ON {}").format(sql.Identifier(name), events) for name in current
    ]
    stmts += [p.statement(events) for p in access.policies]
    run_ddl_with_retry(
        dsn, stmts + grants, lock_timeout_ms=cfg.safety.lock_timeout_ms, attempts=cfg.safety.ddl_attempts
    )
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
    run_ddl_with_retry(
        dsn, [stmt, *grants], lock_timeout_ms=cfg.safety.lock_timeout_ms, attempts=cfg.safety.ddl_attempts
    )
    return {"materialized_views": [DAILY_VIEW, ACTOR_VIEW], "refresh_function": "refresh_event_analytics()"}


def check(dsn: str, cfg: MigrationConfig | None = None) -> dict[str, Any]:
    """What phase 1 should have built, and what is missing (no ledger record)."""
    cfg = cfg or load_config()
    problems: list[str] = []
    with connection(dsn) as conn:
        if not table_exists(conn, cfg.target_schema, cfg.target_table):
            return {"ok": False, "problems": [f"{cfg.target} missing"]}
        for ident in (publish_identity(cfg), api_publish_identity(cfg)):
            if function_def(conn, ident) is None:
                problems.append(f"{ident} missing")
        for name, args in HELPER_SIGNATURES.items():
            if function_def(conn, f"{cfg.target_schema}.{name}({args})") is None:
                problems.append(f"{cfg.target_schema}.{name}({args}) missing")
        if not row_security_enabled(conn, cfg.target_schema, cfg.target_table):
            problems.append("row level security is not enabled on events")
        pols = set(access_rules.existing_policies(conn, cfg))
        if relation_kind(conn, cfg.source.schema, cfg.source.table) in ("r", "p"):
            wanted = {p.name for p in access_rules.plan(conn, cfg).policies}
            problems += [
                f"policy {p} missing (carried over from {cfg.source_table})" for p in sorted(wanted - pols)
            ]
        indexes = "SELECT indexname FROM pg_indexes WHERE schemaname = %s AND tablename = %s"
        idx = {r["indexname"] for r in fetch_all(conn, indexes, (cfg.target_schema, cfg.target_table))}
        problems += [f"index {i} missing" for i in INDEX_NAMES if i not in idx]
        problems += [f"index {i} is INVALID" for i in invalid_indexes(conn, cfg)]
        for v in (DAILY_VIEW, ACTOR_VIEW):
            if not scalar(
                conn,
                "SELECT 1 FROM pg_matviews WHERE schemaname = %s AND matviewname = %s",
                (cfg.target_schema, v),
            ):
                problems.append(f"materialized view {v} missing")
        for role, ident in (
            ("anon", api_publish_identity(cfg)),
            ("anon", publish_identity(cfg)),
            ("authenticated", publish_identity(cfg)),
            ("service_role", publish_identity(cfg)),
        ):
            if scalar(
                conn, "SELECT has_function_privilege(%s, to_regprocedure(%s), 'EXECUTE')", (role, ident)
            ):
                problems.append(f"{role} may execute {ident}")
    return {"ok": not problems, "problems": problems}


@ledgered(PHASE, "verify")
def verify(dsn: str, cfg: MigrationConfig, ctx: RunContext) -> dict[str, Any]:
    """Check the built objects, then probe publish_activity and the refresh in a rolled-back transaction."""
    result = check(dsn, cfg)
    if not result["ok"]:
        raise MigrationError(f"phase 1 verification failed: {result['problems']}")
    entity = sorted(cfg.categories)[0]
    with connection(dsn) as conn:
        fn = sql.Identifier(cfg.target_schema, "publish_activity")
        event_id = scalar(
            conn,
            load_sql("p1_infrastructure/16_select_publish_probe.sql", publish=fn),
            (f"{entity}.verify_probe", entity, '{"probe": true}'),
        )
        found = scalar(
            conn,
            sql.SQL("SELECT count(*) FROM {} WHERE id = %s AND category = %s").format(events_ident(cfg)),
            (event_id, cfg.categories[entity]),
        )
        conn.rollback()
        if found != 1:
            raise MigrationError(
                "phase 1 verification failed: publish_activity did not write the probe event"
            )
        try:
            conn.execute(
                sql.SQL(
                    "SELECT {}(p_event_type => 'Bad Type', p_entity_type => %s, p_actor_id => NULL)"
                ).format(fn),
                (entity,),
            )
            raise MigrationError(
                "phase 1 verification failed: publish_activity accepted an invalid event type"
            )
        except psycopg.errors.InvalidParameterValue:
            conn.rollback()
        conn.execute(
            sql.SQL("SELECT {}()").format(sql.Identifier(cfg.target_schema, "refresh_event_analytics"))
        )
        conn.commit()
        impersonation = _probe_impersonation(conn, cfg, entity)
    return {
        "checked": "objects, publish_activity probe (rolled back), rejection, analytics refresh, "
        "a signed-in user publishing for another user (refused)",
        "impersonation_probe": impersonation,
    }


def _probe_impersonation(conn: psycopg.Connection, cfg: MigrationConfig, entity: str) -> str:
    """As ``authenticated`` signed in as one user, publish for another: the API must refuse it."""
    import json
    import uuid

    caller, victim = uuid.uuid4(), uuid.uuid4()
    try:
        conn.execute("SET LOCAL ROLE authenticated")
    except psycopg.errors.InsufficientPrivilege:
        conn.rollback()
        return "not run: the migration's role may not SET ROLE authenticated"
    conn.execute("SELECT set_config('request.jwt.claims', %s, true)", (json.dumps({"sub": str(caller)}),))
    try:
        conn.execute(
            sql.SQL("SELECT {}(p_event_type => %s, p_entity_type => %s, p_actor_id => %s)").format(
                sql.Identifier(cfg.target_schema, API_PUBLISH)
            ),
            (f"{entity}.verify_probe", entity, victim),
        )
    except psycopg.errors.InsufficientPrivilege:
        return "refused (SQLSTATE 42501)"
    finally:
        conn.rollback()
    raise MigrationError("phase 1 verification failed: a signed-in user published an event as another user")


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
    verify,
    privilege_audit,
)


def apply(dsn: str, cfg: MigrationConfig | None = None, ctx: RunContext | None = None) -> dict[str, Any]:
    """Run every phase-1 step in order (what the DAG does task by task)."""
    cfg = cfg or load_config()
    ctx = ctx or RunContext()
    return {fn.step: fn(dsn, cfg, ctx) for fn in STEPS}


# ---------------------------------------------------------------------------- rollback
def rollback(
    dsn: str, cfg: MigrationConfig | None = None, ctx: RunContext | None = None, *, drop_state: bool = False
) -> dict[str, Any]:
    """Remove everything phase 1 created in application schemas; keep the state schema.

    Refuses while dual write is on (roll phase 2 back first). Events already written are
    copied to ``{state}.events_rollback_archive`` (created even when there are none) before the
    table is dropped, in one transaction that first locks the table (nothing is lost, also not
    what a writer commits while the rollback waits for its lock). ``drop_state=True`` also drops the state schema, ledger included.
    """
    cfg = cfg or load_config()
    ctx = ctx or RunContext()
    with connection(dsn) as conn:
        _refuse_while_dual_write(conn, cfg)
        ledger.ensure_state_schema(conn, cfg)
        lid = ledger.record(
            conn, PHASE, "rollback", "started", ctx, {"drop_state": drop_state}, finished=False, cfg=cfg
        )
        events_exist = table_exists(conn, cfg.target_schema, cfg.target_table)
    drops = _rollback_drops(cfg)
    try:
        # validation runs made views on events and an index on the source: they go first
        validation_objects = drop_validation_objects(dsn, cfg)
        archived = run_locked(
            dsn,
            lambda conn: _archive_and_drop(conn, cfg, events_exist, drops),
            lock_timeout_ms=cfg.safety.lock_timeout_ms,
            attempts=cfg.safety.ddl_attempts,
        )
    except BaseException as exc:
        with connection(dsn) as conn:
            ledger.finish(conn, lid, "failed", {"error": str(exc)[:2000]}, cfg=cfg)
        raise
    details = {
        "archived_events": archived,
        "archive": f"{cfg.state_schema}.events_rollback_archive" if events_exist else None,
        "drop_state": drop_state,
        "validation_objects_dropped": validation_objects,
    }
    with connection(dsn) as conn:
        ledger.finish(conn, lid, "succeeded", details, cfg=cfg)
        if drop_state:
            drop = sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(cfg.state_schema))
            run_ddl_with_retry(
                dsn, [drop], lock_timeout_ms=cfg.safety.lock_timeout_ms, attempts=cfg.safety.ddl_attempts
            )
    return details


def _refuse_while_dual_write(conn: psycopg.Connection, cfg: MigrationConfig) -> None:
    """PreflightError while phase 2 is on or a logging function still calls publish_activity."""
    if dual_write_enabled(conn, cfg):
        raise PreflightError(
            "phase 2 (dual write) is active: roll back p2_dual_write first; dropping "
            "publish_activity now would break every logging trigger"
        )
    callers = [
        t.function_identity
        for t in catalog.logging_triggers(conn, cfg)
        if "publish_activity" in (function_def(conn, t.function_identity) or "")
    ]
    if callers:
        raise PreflightError(
            f"logging functions still call publish_activity ({sorted(set(callers))[:5]}): "
            f"roll back p2_dual_write first"
        )


def _rollback_drops(cfg: MigrationConfig) -> list[sql.Composable]:
    """The DROPs of everything phase 1 created in application schemas, dependents first, events last."""
    state = sql.Identifier(cfg.state_schema)
    fs = sql.Identifier(cfg.target_schema)
    drops = [
        sql.SQL("DROP FUNCTION IF EXISTS {}.refresh_event_analytics()").format(fs),
        sql.SQL("DROP MATERIALIZED VIEW IF EXISTS {}").format(sql.Identifier(cfg.target_schema, ACTOR_VIEW)),
        sql.SQL("DROP MATERIALIZED VIEW IF EXISTS {}").format(sql.Identifier(cfg.target_schema, DAILY_VIEW)),
    ]
    for name, args in HELPER_SIGNATURES.items():
        if name != "refresh_event_analytics":
            drops.append(
                sql.SQL("DROP FUNCTION IF EXISTS {}.{}(" + args + ")").format(fs, sql.Identifier(name))
            )
    drops += [
        sql.SQL("DROP FUNCTION IF EXISTS {}.{}(" + PUBLISH_ARGS + ")").format(
            fs, sql.Identifier(API_PUBLISH)
        ),
        sql.SQL("DROP FUNCTION IF EXISTS {}.{}(text)").format(
            fs, sql.Identifier(privileges.PUBLISHER_FUNCTION)
        ),
        sql.SQL("DROP FUNCTION IF EXISTS {}.{}(" + PUBLISH_ARGS + ")").format(
            state, sql.Identifier(INTERNAL_PUBLISH)
        ),
        sql.SQL("DROP FUNCTION IF EXISTS {}.customer_allowed(uuid, uuid)").format(state),
        sql.SQL("DROP FUNCTION IF EXISTS {}.is_service_caller(name)").format(state),
        sql.SQL("DROP TABLE IF EXISTS {}").format(events_ident(cfg)),
    ]
    return drops


def _archive_and_drop(
    conn: psycopg.Connection, cfg: MigrationConfig, events_exist: bool, drops: list[sql.Composable]
) -> int:
    """Copy events into the rollback archive (under ACCESS EXCLUSIVE), then run ``drops``; returns the rows copied."""
    # The lock comes first: a writer that committed while the copy ran, and before the DROP
    # got its lock, would otherwise be in neither the archive nor events. ACCESS EXCLUSIVE
    # waits for every writer in flight; the copy then sees all they committed.
    state = sql.Identifier(cfg.state_schema)
    ev = events_ident(cfg)
    archived = 0
    if events_exist:
        conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(ev))
        conn.execute(
            load_sql("p1_infrastructure/17_create_events_rollback_archive.sql", state=state, events=ev)
        )
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("INSERT INTO {}.events_rollback_archive SELECT e.*, now() FROM {} e").format(
                    state, ev
                )
            )
            archived = cur.rowcount
        privileges.lock_down_state_schema(conn, cfg)
    for stmt in drops:
        conn.execute(stmt)
    return archived
