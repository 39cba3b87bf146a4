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
import time
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from .. import catalog, ledger
from ..catalog import source_columns
from ..config import MigrationConfig, load_config
from ..db import (connect, connection, fetch_all, fetch_one, load_sql, run_ddl_with_retry, run_locked,
                  run_sql_file, scalar)
from ..errors import MigrationError, PreflightError
from ..ledger import RunContext
from .. import privileges
from ..validation.parity import drop_validation_objects
from ._common import (ACTOR_VIEW, API_PUBLISH, DAILY_VIEW, HELPER_SIGNATURES, INTERNAL_PUBLISH, PUBLISH_ARGS,
                      api_publish_identity, dual_write_enabled, events_ident, function_def, ledgered,
                      publish_identity, publish_parameters, table_exists)
from .p2_rewrite import split_statements

log = logging.getLogger(__name__)

PHASE = "p1_infrastructure"
MIN_SERVER_VERSION = 140000
REQUIRED_ROLES = ("anon", "authenticated", "service_role")
KEY_TYPES = {"uuid", "smallint", "integer", "bigint"}
INDEX_NAMES = ("events_actor_occurred_idx", "events_customer_occurred_idx", "events_entity_idx",
               "events_occurred_brin", "events_search_idx")
EVENT_COLUMNS = {
    "id": "uuid", "event_type": "text", "category": "text", "actor_id": "uuid", "customer_id": "uuid",
    "entity_type": "text", "entity_id": "text", "description": "text", "payload": "jsonb", "source": "text",
    "ip_address": "inet", "user_agent": "text", "occurred_at": "timestamp with time zone",
    "created_at": "timestamp with time zone",
}
# event field -> acceptable type categories / names of its source column
_FIELD_TYPES = {
    "actor_id": {"uuid"}, "customer_id": {"uuid"},
    "action": {"S"}, "entity_type": {"S"}, "description": {"S"}, "user_agent": {"S"},
    "entity_id": {"S", "uuid", "N"},
    "metadata": {"jsonb", "json"},
    "ip_address": {"inet", "S"},
    "occurred_at": {"timestamp with time zone", "timestamp without time zone"},
}


# ---------------------------------------------------------------------------- preflight
def legacy_key_type(conn: psycopg.Connection, cfg: MigrationConfig) -> str:
    cols = source_columns(conn, cfg)
    key = cols.get(cfg.source.key)
    if key is None:
        raise PreflightError(f"source key column {cfg.source_table}.{cfg.source.key} does not exist")
    if key["type"] not in KEY_TYPES:
        raise PreflightError(f"source key {cfg.source_table}.{cfg.source.key} has type {key['type']}; "
                             f"the migration supports {sorted(KEY_TYPES)}")
    return key["type"]


def preflight(dsn: str, cfg: MigrationConfig | None = None, ctx: RunContext | None = None) -> dict[str, Any]:
    """Check that phase 1 may start; raise PreflightError naming the first broken rule.

    Changes nothing. Returns the facts it found (version, key type, invalid indexes to rebuild, …).
    """
    cfg = cfg or load_config()
    facts: dict[str, Any] = {}
    with connection(dsn) as conn:
        version = int(scalar(conn, "SHOW server_version_num"))
        facts["server_version_num"] = version
        if version < MIN_SERVER_VERSION:
            raise PreflightError(f"PostgreSQL 14 or newer is required, the server is {scalar(conn, 'SHOW server_version')}")
        me = fetch_one(conn, "SELECT current_user AS name, rolsuper FROM pg_roles WHERE rolname = current_user")
        facts["user"], facts["superuser"] = me["name"], me["rolsuper"]
        if not me["rolsuper"]:
            if not scalar(conn, "SELECT has_database_privilege(current_database(), 'CREATE')"):
                raise PreflightError(f"role {me['name']} lacks CREATE on the database (needed for schema {cfg.state_schema})")
            if not scalar(conn, "SELECT has_schema_privilege(%s, 'CREATE')", (cfg.target_schema,)):
                raise PreflightError(f"role {me['name']} lacks CREATE on schema {cfg.target_schema} (needed for {cfg.target})")
        missing_roles = [r for r in REQUIRED_ROLES
                         if not scalar(conn, "SELECT 1 FROM pg_roles WHERE rolname = %s", (r,))]
        if missing_roles:
            raise PreflightError(f"roles {missing_roles} do not exist; the RLS policies and grants need the "
                                 f"Supabase roles {list(REQUIRED_ROLES)}")
        if not scalar(conn, "SELECT to_regprocedure('auth.uid()') IS NOT NULL"):
            raise PreflightError("function auth.uid() does not exist: publish_activity defaults the actor to "
                                 "auth.uid() and the RLS policy compares with it (a Supabase database has it)")
        # source table and columns
        if not table_exists(conn, cfg.source.schema, cfg.source.table):
            where = f"database {conn.info.dbname} on {conn.info.host}:{conn.info.port}"
            raise PreflightError(f"source table {cfg.source_table} does not exist in {where} (config "
                                 f"source.schema/table; is the run's environment the database you meant? staging "
                                 f"uses the connection activity_db_staging, production activity_db)")
        cols = source_columns(conn, cfg)
        facts["legacy_key_type"] = legacy_key_type(conn, cfg)
        for event_field, col in cfg.source.columns.items():
            info = cols.get(col)
            if info is None:
                raise PreflightError(f"config maps {event_field} to {cfg.source_table}.{col}, which does not exist")
            allowed = _FIELD_TYPES.get(event_field, set())
            if allowed and info["type"] not in allowed and info["category"] not in allowed:
                raise PreflightError(f"{cfg.source_table}.{col} (mapped to {event_field}) has type {info['type']}; "
                                     f"expected one of {sorted(allowed)} (S = text types, N = numbers)")
        # ownership of the legacy trigger functions (phase 2 replaces them)
        if not me["rolsuper"]:
            not_owned = [r["f"] for r in fetch_all(conn, """
                SELECT p.oid::regprocedure::text AS f FROM pg_proc p
                WHERE p.oid = ANY(%s) AND NOT pg_has_role(current_user, p.proowner, 'USAGE')""",
                (sorted(catalog.logging_function_oids(conn, cfg)),))]
            if not_owned:
                raise PreflightError(f"role {me['name']} neither owns nor is a member of the owner of the logging "
                                     f"functions {not_owned}; phase 2 must replace them (superuser or owner needed)")
        # foreign or half-built objects of ours; the write API's customer rule
        facts.update(_check_existing(conn, cfg, facts["legacy_key_type"]))
        check_customer_predicate(conn, cfg)
        # lock_timeout settable
        try:
            conn.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(f"{cfg.safety.lock_timeout_ms}ms")))
            facts["lock_timeout"] = scalar(conn, "SHOW lock_timeout")
        except psycopg.Error as exc:
            raise PreflightError(f"cannot set lock_timeout ({exc}); every DDL step relies on it") from None
        conn.rollback()
    return facts


def check_customer_predicate(conn: psycopg.Connection, cfg: MigrationConfig) -> None:
    """The config's security.customer_check parses and names what exists (prepared, not run)."""
    try:
        conn.execute(sql.SQL("PREPARE am_customer_check(uuid, uuid) AS SELECT coalesce(({}), false)").format(
            sql.SQL(cfg.security.customer_check_sql())))
        conn.execute("DEALLOCATE am_customer_check")
    except psycopg.Error as exc:
        conn.rollback()
        raise PreflightError(f"config security.customer_check is not a valid SQL boolean expression over :customer_id "
                             f"and :actor_id ({cfg.security.customer_check!r}): {str(exc).splitlines()[0]}") from None


def _check_existing(conn: psycopg.Connection, cfg: MigrationConfig, key_type: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    created_by_us = ledger.last_step(conn, PHASE, "create_events_table", status="succeeded", cfg=cfg) is not None
    if table_exists(conn, cfg.target_schema, cfg.target_table):
        cols = {r["name"]: r["type"] for r in fetch_all(conn, """
            SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute
            WHERE attrelid = to_regclass(format('%%I.%%I', %s::text, %s::text)) AND attnum > 0 AND NOT attisdropped""",
            (cfg.target_schema, cfg.target_table))}
        wrong = {c: cols.get(c) for c, t in EVENT_COLUMNS.items() if cols.get(c) != t}
        if cols.get("legacy_activity_log_id") != key_type:
            wrong["legacy_activity_log_id"] = cols.get("legacy_activity_log_id")
        if wrong:
            raise PreflightError(f"{cfg.target} exists with a different shape (column: found type) {wrong}; "
                                 f"rename or drop it, or set target.table in the config")
        if not created_by_us:
            raise PreflightError(f"{cfg.target} exists but the ledger has no record of phase 1 creating it: "
                                 f"it was built by something else (or the state schema was dropped). Check it, then "
                                 f"drop it or record it before running phase 1")
        out["resuming"] = True
        invalid = [r["name"] for r in fetch_all(conn, """
            SELECT c.relname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid = to_regclass(format('%%I.%%I', %s::text, %s::text)) AND NOT i.indisvalid""",
            (cfg.target_schema, cfg.target_table))]
        out["invalid_indexes"] = invalid
    overloads = [r["f"] for r in fetch_all(conn, """
        SELECT p.oid::regprocedure::text AS f FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = %s AND p.proname = 'publish_activity' AND p.oid IS DISTINCT FROM to_regprocedure(%s)""",
        (cfg.target_schema, api_publish_identity(cfg)))]
    ours = function_def(conn, api_publish_identity(cfg))
    if overloads:
        raise PreflightError(f"other publish_activity functions exist ({overloads}); named-argument calls would be "
                             f"ambiguous. Drop or rename them first")
    if ours is not None and not created_by_us:
        raise PreflightError(f"{api_publish_identity(cfg)} exists but phase 1 has no ledger record of creating "
                             f"{cfg.target}: half-built by something else")
    return out


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
    state = sql.Identifier(cfg.state_schema)
    r = cfg.rules
    stmts = [
        load_sql("p1_infrastructure/02_create_mapping_rules.sql", state=cfg.state_schema),
    ]
    with connection(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(f"{cfg.safety.lock_timeout_ms}ms")))
        with conn.transaction():
            for s in stmts:
                conn.execute(s)
            cats = sorted(cfg.categories.items())
            conn.execute(sql.SQL("DELETE FROM {}.entity_categories WHERE NOT (entity_type = ANY(%s))").format(state),
                         ([k for k, _ in cats],))
            with conn.cursor() as cur:
                cur.executemany(sql.SQL(
                    "INSERT INTO {}.entity_categories (entity_type, category) VALUES (%s, %s) "
                    "ON CONFLICT (entity_type) DO UPDATE SET category = EXCLUDED.category "
                    "WHERE entity_categories.category IS DISTINCT FROM EXCLUDED.category").format(state), cats)
            conn.execute(sql.SQL(
                "INSERT INTO {}.mapping_rules (id, payload_max_bytes, occurred_at_min, occurred_at_max_future, "
                "event_type_pattern) VALUES (true, %s, %s::timestamptz, %s::interval, %s) "
                "ON CONFLICT (id) DO UPDATE SET payload_max_bytes = EXCLUDED.payload_max_bytes, "
                "occurred_at_min = EXCLUDED.occurred_at_min, occurred_at_max_future = EXCLUDED.occurred_at_max_future, "
                "event_type_pattern = EXCLUDED.event_type_pattern").format(state),
                (r.payload_max_bytes, r.occurred_at_min, r.occurred_at_max_future, r.event_type_pattern))
            privileges.lock_down_state_schema(conn, cfg)
    return {"categories": len(cfg.categories)}


@ledgered(PHASE, "create_events_table")
def create_events_table(dsn: str, cfg: MigrationConfig, ctx: RunContext) -> dict[str, Any]:
    with connection(dsn) as conn:
        key_type = legacy_key_type(conn, cfg)
    stmt = load_sql("p1_infrastructure/03_create_events_table.sql", events=events_ident(cfg),
                    legacy_key_type=sql.SQL(key_type),
                    legacy_key_unique=f"{cfg.target_table}_legacy_activity_log_id_key")
    run_ddl_with_retry(dsn, [stmt], lock_timeout_ms=cfg.safety.lock_timeout_ms, attempts=cfg.safety.ddl_attempts)
    return {"table": cfg.target, "legacy_key_type": key_type}


@ledgered(PHASE, "create_functions")
def create_functions(dsn: str, cfg: MigrationConfig, ctx: RunContext) -> dict[str, Any]:
    """The internal writer (left alone while dual write is on), the API and its helpers, and
    their grants, in one transaction (no moment in which a default privilege holds)."""
    with connection(dsn) as conn:
        dual = dual_write_enabled(conn, cfg)
        grants = privileges.grant_statements(conn, cfg, API_PUBLISH, privileges.PUBLISHER_FUNCTION,
                                             *[h for h in HELPER_SIGNATURES if h != "refresh_event_analytics"])
    stmts: list[sql.Composable] = []
    if not dual:
        stmts.append(load_sql("p1_infrastructure/04_create_publish_activity_internal.sql", state=cfg.state_schema,
                              events=events_ident(cfg), parameters=publish_parameters()))
    stmts.append(load_sql("p1_infrastructure/05_create_publish_api.sql", state=cfg.state_schema,
                          fn_schema=cfg.target_schema, parameters=publish_parameters(),
                          customer_check=sql.SQL(cfg.security.customer_check_sql())))
    stmts += grants
    stmts.append(load_sql("privileges/01_lock_down_state_schema.sql", state_name=sql.Literal(cfg.state_schema)))
    with connection(dsn) as conn:
        check_customer_predicate(conn, cfg)
    run_ddl_with_retry(dsn, stmts, lock_timeout_ms=cfg.safety.lock_timeout_ms, attempts=cfg.safety.ddl_attempts)
    out: dict[str, Any] = {"functions": [API_PUBLISH, privileges.PUBLISHER_FUNCTION,
                                         *[h for h in HELPER_SIGNATURES if h != "refresh_event_analytics"]],
                           "internal_writer": publish_identity(cfg),
                           "customer_check": cfg.security.customer_check or "none: users may not name a customer"}
    if dual:
        out["skipped"] = "dual write is on: the internal writer keeps its phase-2 body"
    return out


@ledgered(PHASE, "create_policies")
def create_policies(dsn: str, cfg: MigrationConfig, ctx: RunContext) -> dict[str, Any]:
    with connection(dsn) as conn:
        grants = privileges.grant_statements(conn, cfg, "events")
    stmt = load_sql("p1_infrastructure/06_create_event_policies.sql", events=events_ident(cfg),
                    schema_lit=sql.Literal(cfg.target_schema), table_lit=sql.Literal(cfg.target_table))
    run_ddl_with_retry(dsn, [stmt, *grants], lock_timeout_ms=cfg.safety.lock_timeout_ms,
                       attempts=cfg.safety.ddl_attempts)
    return {"policies": ["events_select_own", "events_service_role_all"]}


def _invalid_indexes(conn: psycopg.Connection, cfg: MigrationConfig) -> list[str]:
    return [r["name"] for r in fetch_all(conn, """
        SELECT c.relname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE i.indrelid = to_regclass(format('%%I.%%I', %s::text, %s::text)) AND NOT i.indisvalid""",
        (cfg.target_schema, cfg.target_table))]


@ledgered(PHASE, "build_indexes")
def build_indexes(dsn: str, cfg: MigrationConfig, ctx: RunContext, concurrent_lock_timeout_ms: int = 30000
                  ) -> dict[str, Any]:
    """Build each index CONCURRENTLY; drop and rebuild an INVALID leftover of a failed build.

    CREATE INDEX CONCURRENTLY does not block writes, but it waits for older transactions
    through the lock manager, so it gets a longer lock_timeout than blocking DDL; a build
    that times out leaves an INVALID index, which the next attempt drops first.
    """
    conn = connect(dsn, autocommit=True)
    rebuilt: list[str] = []
    try:
        stmts = split_statements(load_sql("p1_infrastructure/07_create_event_indexes.sql",
                                          events=events_ident(cfg)).as_string(conn))
        for stmt in stmts:
            for attempt in range(1, cfg.safety.ddl_attempts + 1):
                for name in _invalid_indexes(conn, cfg):
                    log.warning("dropping INVALID index %s (left by a failed concurrent build)", name)
                    conn.execute(sql.SQL("SET lock_timeout = {}").format(
                        sql.Literal(f"{concurrent_lock_timeout_ms}ms")))
                    conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(
                        sql.Identifier(cfg.target_schema, name)))
                    rebuilt.append(name)
                try:
                    conn.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(f"{concurrent_lock_timeout_ms}ms")))
                    conn.execute(stmt)
                    break
                except (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected) as exc:
                    if attempt == cfg.safety.ddl_attempts:
                        raise MigrationError(f"index build could not finish after {attempt} attempts: {exc}") from None
                    time.sleep(0.5 * attempt)
    finally:
        conn.close()
    return {"indexes": list(INDEX_NAMES), "rebuilt_invalid": rebuilt}


@ledgered(PHASE, "create_analytics")
def create_analytics(dsn: str, cfg: MigrationConfig, ctx: RunContext) -> dict[str, Any]:
    with connection(dsn) as conn:
        grants = privileges.grant_statements(conn, cfg, DAILY_VIEW, ACTOR_VIEW, "refresh_event_analytics")
    stmt = load_sql("p1_infrastructure/08_create_event_analytics.sql", events=events_ident(cfg),
                    fn_schema=cfg.target_schema, daily=sql.Identifier(cfg.target_schema, DAILY_VIEW),
                    actors=sql.Identifier(cfg.target_schema, ACTOR_VIEW))
    run_ddl_with_retry(dsn, [stmt, *grants], lock_timeout_ms=cfg.safety.lock_timeout_ms,
                       attempts=cfg.safety.ddl_attempts)
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
        if not scalar(conn, "SELECT relrowsecurity FROM pg_class WHERE oid = to_regclass(format('%%I.%%I', %s::text, %s::text))",
                      (cfg.target_schema, cfg.target_table)):
            problems.append("row level security is not enabled on events")
        pols = {r["policyname"] for r in fetch_all(conn, "SELECT policyname FROM pg_policies WHERE schemaname = %s "
                                                         "AND tablename = %s", (cfg.target_schema, cfg.target_table))}
        problems += [f"policy {p} missing" for p in ("events_select_own", "events_service_role_all") if p not in pols]
        idx = {r["indexname"] for r in fetch_all(conn, "SELECT indexname FROM pg_indexes WHERE schemaname = %s "
                                                       "AND tablename = %s", (cfg.target_schema, cfg.target_table))}
        problems += [f"index {i} missing" for i in INDEX_NAMES if i not in idx]
        problems += [f"index {i} is INVALID" for i in _invalid_indexes(conn, cfg)]
        for v in (DAILY_VIEW, ACTOR_VIEW):
            if not scalar(conn, "SELECT 1 FROM pg_matviews WHERE schemaname = %s AND matviewname = %s",
                          (cfg.target_schema, v)):
                problems.append(f"materialized view {v} missing")
        for role, ident in (("anon", api_publish_identity(cfg)), ("anon", publish_identity(cfg)),
                            ("authenticated", publish_identity(cfg)), ("service_role", publish_identity(cfg))):
            if scalar(conn, "SELECT has_function_privilege(%s, to_regprocedure(%s), 'EXECUTE')", (role, ident)):
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
        event_id = scalar(conn, sql.SQL("SELECT {}(p_event_type => %s, p_entity_type => %s, p_actor_id => NULL, "
                                        "p_payload => %s::jsonb)").format(fn),
                          (f"{entity}.verify_probe", entity, '{"probe": true}'))
        found = scalar(conn, sql.SQL("SELECT count(*) FROM {} WHERE id = %s AND category = %s").format(events_ident(cfg)),
                       (event_id, cfg.categories[entity]))
        conn.rollback()
        if found != 1:
            raise MigrationError("phase 1 verification failed: publish_activity did not write the probe event")
        try:
            conn.execute(sql.SQL("SELECT {}(p_event_type => 'Bad Type', p_entity_type => %s, p_actor_id => NULL)")
                         .format(fn), (entity,))
            raise MigrationError("phase 1 verification failed: publish_activity accepted an invalid event type")
        except psycopg.errors.InvalidParameterValue:
            conn.rollback()
        conn.execute(sql.SQL("SELECT {}()").format(sql.Identifier(cfg.target_schema, "refresh_event_analytics")))
        conn.commit()
        impersonation = _probe_impersonation(conn, cfg, entity)
    return {"checked": "objects, publish_activity probe (rolled back), rejection, analytics refresh, "
                       "a signed-in user publishing for another user (refused)", "impersonation_probe": impersonation}


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
        conn.execute(sql.SQL("SELECT {}(p_event_type => %s, p_entity_type => %s, p_actor_id => %s)").format(
            sql.Identifier(cfg.target_schema, API_PUBLISH)), (f"{entity}.verify_probe", entity, victim))
    except psycopg.errors.InsufficientPrivilege:
        return "refused (SQLSTATE 42501)"
    finally:
        conn.rollback()
    raise MigrationError("phase 1 verification failed: a signed-in user published an event as another user")


privilege_audit = ledgered(PHASE, "privilege_audit")(privileges.audit_step)

STEPS = (run_preflight, create_state_schema, create_mapping_rules, create_events_table, create_functions,
         create_policies, build_indexes, create_analytics, verify, privilege_audit)


def apply(dsn: str, cfg: MigrationConfig | None = None, ctx: RunContext | None = None) -> dict[str, Any]:
    """Run every phase-1 step in order (what the DAG does task by task)."""
    cfg = cfg or load_config()
    ctx = ctx or RunContext()
    return {fn.step: fn(dsn, cfg, ctx) for fn in STEPS}


# ---------------------------------------------------------------------------- rollback
def rollback(dsn: str, cfg: MigrationConfig | None = None, ctx: RunContext | None = None, *,
             drop_state: bool = False) -> dict[str, Any]:
    """Remove everything phase 1 created in application schemas; keep the state schema.

    Refuses while dual write is on (roll phase 2 back first). Events already written are
    copied to ``{state}.events_rollback_archive`` (created even when there are none) before the
    table is dropped, in one transaction that first locks the table (nothing is lost, also not
    what a writer commits while the rollback waits for its lock). ``drop_state=True`` also drops the state schema, ledger included.
    """
    cfg = cfg or load_config()
    ctx = ctx or RunContext()
    with connection(dsn) as conn:
        if dual_write_enabled(conn, cfg):
            raise PreflightError("phase 2 (dual write) is active: roll back p2_dual_write first; dropping "
                                 "publish_activity now would break every logging trigger")
        callers = [t.function_identity for t in catalog.logging_triggers(conn, cfg)
                   if "publish_activity" in (function_def(conn, t.function_identity) or "")]
        if callers:
            raise PreflightError(f"logging functions still call publish_activity ({sorted(set(callers))[:5]}): "
                                 f"roll back p2_dual_write first")
        ledger.ensure_state_schema(conn, cfg)
        lid = ledger.record(conn, PHASE, "rollback", "started", ctx, {"drop_state": drop_state}, finished=False, cfg=cfg)
        events_exist = table_exists(conn, cfg.target_schema, cfg.target_table)
    state = sql.Identifier(cfg.state_schema)
    ev = events_ident(cfg)
    fs = sql.Identifier(cfg.target_schema)
    drops = [sql.SQL("DROP FUNCTION IF EXISTS {}.refresh_event_analytics()").format(fs),
             sql.SQL("DROP MATERIALIZED VIEW IF EXISTS {}").format(sql.Identifier(cfg.target_schema, ACTOR_VIEW)),
             sql.SQL("DROP MATERIALIZED VIEW IF EXISTS {}").format(sql.Identifier(cfg.target_schema, DAILY_VIEW))]
    for name, args in HELPER_SIGNATURES.items():
        if name != "refresh_event_analytics":
            drops.append(sql.SQL("DROP FUNCTION IF EXISTS {}.{}(" + args + ")").format(fs, sql.Identifier(name)))
    drops += [sql.SQL("DROP FUNCTION IF EXISTS {}.{}(" + PUBLISH_ARGS + ")").format(fs, sql.Identifier(API_PUBLISH)),
              sql.SQL("DROP FUNCTION IF EXISTS {}.{}(text)").format(fs, sql.Identifier(privileges.PUBLISHER_FUNCTION)),
              sql.SQL("DROP FUNCTION IF EXISTS {}.{}(" + PUBLISH_ARGS + ")").format(state, sql.Identifier(INTERNAL_PUBLISH)),
              sql.SQL("DROP FUNCTION IF EXISTS {}.customer_allowed(uuid, uuid)").format(state),
              sql.SQL("DROP FUNCTION IF EXISTS {}.is_service_caller(name)").format(state),
              sql.SQL("DROP TABLE IF EXISTS {}").format(ev)]

    def archive_and_drop(conn: psycopg.Connection) -> int:
        # The lock comes first: a writer that committed while the copy ran, and before the DROP
        # got its lock, would otherwise be in neither the archive nor events. ACCESS EXCLUSIVE
        # waits for every writer in flight; the copy then sees all they committed.
        archived = 0
        if events_exist:
            conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(ev))
            conn.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {}.events_rollback_archive (LIKE {}, archived_at "
                                 "timestamptz NOT NULL DEFAULT now())").format(state, ev))
            with conn.cursor() as cur:
                cur.execute(sql.SQL("INSERT INTO {}.events_rollback_archive SELECT e.*, now() FROM {} e")
                            .format(state, ev))
                archived = cur.rowcount
            privileges.lock_down_state_schema(conn, cfg)
        for stmt in drops:
            conn.execute(stmt)
        return archived

    try:
        # validation runs made views on events and an index on the source: they go first
        validation_objects = drop_validation_objects(dsn, cfg)
        archived = run_locked(dsn, archive_and_drop, lock_timeout_ms=cfg.safety.lock_timeout_ms,
                              attempts=cfg.safety.ddl_attempts)
    except BaseException as exc:
        with connection(dsn) as conn:
            ledger.finish(conn, lid, "failed", {"error": str(exc)[:2000]}, cfg=cfg)
        raise
    details = {"archived_events": archived, "archive": f"{cfg.state_schema}.events_rollback_archive"
               if events_exist else None, "drop_state": drop_state, "validation_objects_dropped": validation_objects}
    with connection(dsn) as conn:
        ledger.finish(conn, lid, "succeeded", details, cfg=cfg)
        if drop_state:
            run_ddl_with_retry(dsn, [sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(state)],
                               lock_timeout_ms=cfg.safety.lock_timeout_ms, attempts=cfg.safety.ddl_attempts)
    return details
