"""Phase 1's check and ``verify`` step: every object is in place, and probes (rolled back) show
publish_activity writes, rejects a bad event type and refuses a user publishing as another."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from .. import access_rules
from ..catalog import row_security_enabled
from ..config import MigrationConfig, load_config
from ..db import connection, fetch_all, load_sql, scalar
from ..errors import MigrationError
from ..ledger import RunContext
from ._common import (
    ACTOR_VIEW,
    API_PUBLISH,
    DAILY_VIEW,
    HELPER_SIGNATURES,
    api_publish_identity,
    events_ident,
    function_def,
    ledgered,
    publish_identity,
    relation_kind,
    table_exists,
)
from .p1_preflight import PHASE, invalid_indexes

# The indexes build_indexes creates (07_create_event_indexes.sql), which check() expects.
INDEX_NAMES = (
    "events_actor_occurred_idx",
    "events_customer_occurred_idx",
    "events_entity_idx",
    "events_occurred_brin",
    "events_search_idx",
)


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
