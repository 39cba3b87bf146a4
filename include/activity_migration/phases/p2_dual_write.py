"""Phase 2: dual write. publish_activity writes both systems; legacy logging functions call it.

Steps (ledger phase ``p2_dual_write``):

1. ``preflight``: phase 1 is in place, the legacy key has a default, every logging function
   can be rewritten (an unrewritable one stops the phase here, before anything changes).
2. ``backup``: ``pg_get_functiondef`` of every function to rewrite and of phase 1's
   publish_activity into ``{state}.ddl_backups`` (never overwritten by a rewritten body).
3. ``switch_evidence`` → approval → ``switch``: publish_activity's dual-write body on its own
   (short transaction), a wait until every transaction open then has ended, then in ONE
   transaction under lock_timeout (with retries): ``LOCK activity_logs IN SHARE MODE`` (waits
   for in-flight writers, holds new ones for the few milliseconds of the switch), every
   rewritten function, the ``cutoff`` and ``dual_write`` settings. The rule, both ways: while
   any session may run a rewritten trigger body, publish_activity is the dual-write body.
4. ``verify``: the catalog holds the rewritten bodies; probes (rolled back) show every
   legacy row written through a trigger has exactly one linked event.

``rollback`` restores the backed-up definitions byte for byte and keeps the events written
meanwhile: first the legacy functions (publish_activity still dual-writes), then, once every
transaction open at that moment has ended, publish_activity's phase-1 body (a trigger caught
between the two must never reach the events-only publish_activity with a rewritten body).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import psycopg
from psycopg import sql

from .. import catalog, ledger, privileges
from ..catalog import source_columns
from ..config import MigrationConfig, load_config
from ..db import connection, fetch_all, load_sql, scalar
from ..errors import MigrationError, PreflightError
from ..ledger import RunContext
from ._common import (
    DUAL_WRITE_MARKER,
    api_publish_identity,
    dual_write_enabled,
    events_ident,
    function_def,
    ledgered,
    publish_identity,
)
from .p1_verify import check as p1_check
from .p2_plan import (
    PHASE,
    _backups,
    _candidate_functions,
    body_of,
    plan,
    write_path_roles,
)
from .p2_rewrite import REWRITE_MARKER, Rewriter
from .p2_rollback import rollback  # noqa: F401 - the phase's rollback (rollback.py calls it here)
from .p2_switch import switch, switch_evidence

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------- preflight / backup
def preflight(dsn: str, cfg: MigrationConfig | None = None, ctx: RunContext | None = None) -> dict[str, Any]:
    """Check that phase 2 may start and that every logging function can be rewritten. Changes nothing."""
    cfg = cfg or load_config()
    p1 = p1_check(dsn, cfg)
    if not p1["ok"]:
        raise PreflightError(
            f"phase 1 is not complete: {p1['problems']}; run migration_p1_infrastructure first"
        )
    with connection(dsn) as conn:
        cols = source_columns(conn, cfg)
        key = cols.get(cfg.source.key)
        if key is None or not key["has_default"]:
            raise PreflightError(
                f"{cfg.source_table}.{cfg.source.key} has no default or identity: publish_activity "
                f"cannot create legacy rows without giving the key"
            )
        triggers = catalog.logging_triggers(conn, cfg)
        plans = plan(conn, cfg)
        covered = {t for p in plans for t in p.triggers}
        indirect = [t.identity for t in triggers if t.identity not in covered]
        not_execute = [
            r
            for r in ("authenticated", "service_role")
            if not scalar(
                conn,
                "SELECT has_function_privilege(%s, to_regprocedure(%s), 'EXECUTE')",
                (r, api_publish_identity(cfg)),
            )
        ]
        if not_execute:
            raise PreflightError(f"roles {not_execute} cannot EXECUTE publish_activity (re-run phase 1)")
        write_path = write_path_roles(conn, cfg, plans)
    return {
        "functions": [p.identity for p in plans],
        "logging_triggers": len(triggers),
        "write_path_roles_to_grant": write_path,
        "triggers_via_rewritten_functions": len(covered),
        "triggers_calling_rewritten_helpers": indirect,
        "tables": sorted({t.table for t in triggers}),
        "dual_write_enabled": dual_write_enabled_dsn(dsn, cfg),
    }


def dual_write_enabled_dsn(dsn: str, cfg: MigrationConfig) -> bool:
    with connection(dsn) as conn:
        return dual_write_enabled(conn, cfg)


def _upsert_backup(conn: psycopg.Connection, cfg: MigrationConfig, identity: str, definition: str) -> int:
    m = re.match(r"^(?:(\"?[^\".]+\"?)\.)?(\"?[^\"(]+\"?)\(", identity)
    schema = (m.group(1) or "public").strip('"') if m else "public"
    name = m.group(2).strip('"') if m else identity
    q = load_sql("p2_dual_write/03_upsert_ddl_backup.sql", state=cfg.state_schema)
    return int(scalar(conn, q, (PHASE, schema, name, identity, definition)))


@ledgered(PHASE, "preflight")
def run_preflight(dsn: str, cfg: MigrationConfig, ctx: RunContext) -> dict[str, Any]:
    return preflight(dsn, cfg, ctx)


@ledgered(PHASE, "backup")
def backup(dsn: str, cfg: MigrationConfig, ctx: RunContext) -> dict[str, Any]:
    """Store the original definitions. A catalog body that is already rewritten is never stored."""
    ids: dict[str, int] = {}
    kept: list[str] = []
    with connection(dsn) as conn:
        backups = _backups(conn, cfg)
        for p in plan(conn, cfg):
            current = function_def(conn, p.identity)
            if current is not None and REWRITE_MARKER not in current:
                ids[p.identity] = _upsert_backup(conn, cfg, p.identity, current)
            else:
                ids[p.identity] = int(backups[p.identity]["id"])
                kept.append(p.identity)
        pub = function_def(conn, publish_identity(cfg))
        if pub is None:
            raise PreflightError(f"{publish_identity(cfg)} is missing: run phase 1")
        if DUAL_WRITE_MARKER not in pub:
            ids[publish_identity(cfg)] = _upsert_backup(conn, cfg, publish_identity(cfg), pub)
        elif publish_identity(cfg) in backups:
            ids[publish_identity(cfg)] = int(backups[publish_identity(cfg)]["id"])
            kept.append(publish_identity(cfg))
        else:
            raise PreflightError("publish_activity is in dual-write form but its phase-1 body has no backup")
        conn.commit()
    return {"backup_ids": ids, "kept_existing": kept}


# ---------------------------------------------------------------------------- verify
def _trigger_events(conn: psycopg.Connection, schema: str, table: str) -> set[str]:
    rows = fetch_all(conn, load_sql("p2_dual_write/05_select_trigger_types.sql"), (schema, table))
    bits = ((4, "INSERT"), (8, "DELETE"), (16, "UPDATE"))
    return {kind for r in rows for bit, kind in bits if r["tgtype"] & bit}


def probe_table(conn: psycopg.Connection, cfg: MigrationConfig, table: str) -> dict[str, Any]:
    """Fire the table's logging triggers on one existing row in a transaction that is rolled back.

    Prefers a no-op UPDATE (fires UPDATE triggers without changing data), else a DELETE.
    Returns how many legacy rows the probe wrote and how many of them have exactly one event.
    """
    schema, name = table.split(".", 1)
    probe = _probe_statement(conn, schema, name)
    if probe is None:
        return {"table": table, "probe": "none (INSERT-only triggers: exercised by the application's writes)"}
    stmt, kind = probe
    try:
        conn.execute("SET LOCAL lock_timeout = '2s'")
        cur = conn.execute(stmt)
        affected = cur.rowcount
        return {"table": table, "probe": kind, "rows": affected, **_probe_counts(conn, cfg)}
    except psycopg.Error as exc:
        return {"table": table, "probe": kind, "error": f"{type(exc).__name__}: {str(exc).splitlines()[0]}"}
    finally:
        conn.rollback()


def _probe_statement(conn: psycopg.Connection, schema: str, name: str) -> tuple[sql.Composed, str] | None:
    """A no-op UPDATE of one row when UPDATE triggers exist (and a column to set), else a DELETE of
    one row when DELETE triggers do, else None."""
    kinds = _trigger_events(conn, schema, name)
    tbl = sql.Identifier(schema, name)
    cols = [
        r["attname"]
        for r in fetch_all(
            conn,
            load_sql("p2_dual_write/06_select_first_plain_column.sql"),
            (sql.Identifier(schema, name).as_string(conn),),
        )
    ]
    if "UPDATE" in kinds and cols:
        stmt = sql.SQL("UPDATE {t} SET {c} = {c} WHERE ctid = (SELECT ctid FROM {t} LIMIT 1)").format(
            t=tbl, c=sql.Identifier(cols[0])
        )
        return stmt, "update"
    if "DELETE" in kinds:
        stmt = sql.SQL("DELETE FROM {t} WHERE ctid = (SELECT ctid FROM {t} LIMIT 1)").format(t=tbl)
        return stmt, "delete"
    return None


def _probe_counts(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, Any]:
    """What the probe's (still open) transaction wrote: legacy rows, their linked events and
    quarantine rows, and all new events."""
    source = sql.Identifier(cfg.source.schema, cfg.source.table)
    key = sql.Identifier(cfg.source.key)
    legacy = [
        r[0]
        for r in conn.execute(
            sql.SQL("SELECT {} FROM {} WHERE xmin = pg_current_xact_id()::xid").format(key, source)
        ).fetchall()
    ]
    linked = (
        scalar(
            conn,
            sql.SQL("SELECT count(*) FROM {} WHERE legacy_activity_log_id = ANY(%s)").format(
                events_ident(cfg)
            ),
            (legacy,),
        )
        if legacy
        else 0
    )
    quarantined = (
        scalar(
            conn,
            sql.SQL("SELECT count(*) FROM {}.quarantine WHERE legacy_id = ANY(%s)").format(
                sql.Identifier(cfg.state_schema)
            ),
            ([str(x) for x in legacy],),
        )
        if legacy
        else 0
    )
    events_new = scalar(
        conn,
        sql.SQL("SELECT count(*) FROM {} WHERE xmin = pg_current_xact_id()::xid").format(events_ident(cfg)),
    )
    return {
        "legacy_rows": len(legacy),
        "linked_events": linked,
        "quarantined": quarantined,
        "new_events": events_new,
    }


@ledgered(PHASE, "verify")
def verify(dsn: str, cfg: MigrationConfig, ctx: RunContext) -> dict[str, Any]:
    """The catalog holds what the switch installed, and probes show exactly-once linking."""
    problems: list[str] = []
    probes = []
    with connection(dsn) as conn:
        pub = function_def(conn, publish_identity(cfg))
        if not pub or DUAL_WRITE_MARKER not in pub:
            problems.append("publish_activity is not in dual-write form")
        if not (ledger.get_setting(conn, "dual_write", {}, cfg=cfg) or {}).get("enabled"):
            problems.append("setting dual_write.enabled is not true")
        if not ledger.get_setting(conn, "cutoff", cfg=cfg):
            problems.append("no cutoff recorded")
        plans = plan(conn, cfg)
        for p in plans:
            if function_def(conn, p.identity) != p.new_def:
                problems.append(f"{p.identity} does not hold its rewritten body")
        remaining = _candidate_functions(conn, cfg)
        writers = [
            i
            for i in remaining
            if Rewriter(cfg).rewrite(i, body_of(function_def(conn, i) or "AS $$ $$"), "plpgsql").changed
        ]
        if writers:
            problems.append(f"functions still INSERT INTO {cfg.source_table} directly: {writers}")
        conn.rollback()
        for table in sorted({t for p in plans for t in p.tables}):
            r = probe_table(conn, cfg, table)
            probes.append(r)
            if "error" in r:
                log.warning("probe on %s could not run: %s", table, r["error"])
            elif r.get("legacy_rows") and r["linked_events"] + r["quarantined"] != r["legacy_rows"]:
                problems.append(
                    f"probe on {table}: {r['legacy_rows']} legacy rows but {r['linked_events']} linked "
                    f"events and {r['quarantined']} quarantined"
                )
    if problems:
        raise MigrationError(f"phase 2 verification failed: {problems}")
    return {"functions": len(plans), "probes": probes}


privilege_audit = ledgered(PHASE, "privilege_audit")(privileges.audit_step)

STEPS = (run_preflight, backup, switch_evidence, switch, verify, privilege_audit)


def apply(dsn: str, cfg: MigrationConfig | None = None, ctx: RunContext | None = None) -> dict[str, Any]:
    """Every phase-2 step in order, without the approval (the DAG puts the gate before ``switch``)."""
    cfg = cfg or load_config()
    ctx = ctx or RunContext()
    return {fn.step: fn(dsn, cfg, ctx) for fn in STEPS}


# ---------------------------------------------------------------------------- status
def dual_write_section(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, Any]:
    """Dual-write state and cutoff, for ``activity-migration status`` and the status page."""
    if not ledger.state_schema_exists(conn, cfg):
        return {"dual_write": "not set up (phase 1 has not run)"}
    dw = ledger.get_setting(conn, "dual_write", {}, cfg=cfg) or {}
    cutoff = ledger.get_setting(conn, "cutoff", cfg=cfg)
    rewritten = [
        b["identity"]
        for b in _backups(conn, cfg).values()
        if b["restored_at"] is None and b["identity"] != publish_identity(cfg)
    ]
    return {
        "dual_write_enabled": bool(dw.get("enabled")),
        "since": dw.get("since"),
        "disabled_at": dw.get("disabled_at"),
        "cutoff": cutoff,
        "rewritten_functions": len(rewritten),
    }
