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
import time
from typing import Any

import psycopg
from psycopg import sql

from .. import catalog, ledger, privileges
from ..catalog import source_columns
from ..config import MigrationConfig, load_config
from ..db import connect, connection, fetch_all, fetch_one, load_sql, run_locked, scalar
from ..errors import MigrationError, PreflightError
from ..ledger import RunContext
from ..mapping import converts_from_text
from ._common import (
    DUAL_WRITE_MARKER,
    api_publish_identity,
    dual_write_enabled,
    events_ident,
    function_def,
    ledgered,
    publish_identity,
    publish_parameters,
    wait_for_older_transactions,
)
from .p1_infrastructure import check as p1_check
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

log = logging.getLogger(__name__)

SWITCH_DRAIN_TIMEOUT_S = 60.0
_INTEGER_KEYS = {"smallint", "integer", "bigint"}


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


# ---------------------------------------------------------------------------- evidence / switch
def write_rate(conn: psycopg.Connection, cfg: MigrationConfig, seconds: float = 3.0) -> float:
    """Rows per second inserted into the source table, from two pg_stat samples."""
    q = "SELECT n_tup_ins FROM pg_stat_user_tables WHERE schemaname = %s AND relname = %s"
    conn.execute("SELECT pg_stat_clear_snapshot()")
    a = scalar(conn, q, (cfg.source.schema, cfg.source.table)) or 0
    conn.commit()
    time.sleep(seconds)
    conn.execute("SELECT pg_stat_clear_snapshot()")
    b = scalar(conn, q, (cfg.source.schema, cfg.source.table)) or 0
    conn.commit()
    return round((b - a) / seconds, 1)


@ledgered(PHASE, "switch_evidence")
def switch_evidence(dsn: str, cfg: MigrationConfig, ctx: RunContext) -> dict[str, Any]:
    """Markdown for the approver: what the switch rewrites, the backups, the current write rate."""
    with connection(dsn) as conn:
        plans = plan(conn, cfg)
        backups = _backups(conn, cfg)
        triggers = catalog.logging_triggers(conn, cfg)
        rate = write_rate(conn, cfg)
        rows = int(
            scalar(
                conn,
                sql.SQL("SELECT count(*) FROM {}").format(
                    sql.Identifier(cfg.source.schema, cfg.source.table)
                ),
            )
        )
    per_table: dict[str, list[str]] = {}
    for t in triggers:
        per_table.setdefault(t.table, []).append(t.trigger_name)
    statements = f"{sum(len(p.statements) for p in plans)} INSERT statements"
    lines = [
        f"## Phase 2 switch: dual write ({ctx.environment})",
        "",
        f"- **{len(plans)}** legacy logging functions will be rewritten to call `publish_activity` "
        f"({statements}), used by **{len(triggers)}** triggers "
        f"on **{len(per_table)}** tables.",
        "- `publish_activity` switches to dual write (legacy row + linked event).",
        f"- Current write rate into `{cfg.source_table}`: **{rate} rows/s**; {rows} rows before the switch "
        f"(the backfill's job).",
        f"- The switch holds `LOCK {cfg.source_table} IN SHARE MODE` for its own transaction only "
        f"(lock_timeout {cfg.safety.lock_timeout_ms} ms, {cfg.safety.ddl_attempts} attempts).",
        "",
        "| table | logging triggers |",
        "|---|---|",
    ]
    lines += [f"| {t} | {', '.join(sorted(n))} |" for t, n in sorted(per_table.items())]
    lines += ["", "| function | backup id |", "|---|---|"]
    lines += [f"| `{p.identity}` | {backups.get(p.identity, {}).get('id', 'MISSING')} |" for p in plans]
    pub = backups.get(publish_identity(cfg))
    lines += [
        f"| `{publish_identity(cfg)}` (phase-1 body) | {pub['id'] if pub else 'MISSING'} |",
        "",
        "Rollback: `migration_rollback` (phase p2_dual_write) restores every backed-up definition byte for "
        "byte.",
    ]
    missing = [p.identity for p in plans if p.identity not in backups]
    if missing or not pub:
        raise MigrationError(f"backups missing for {missing or [publish_identity(cfg)]}: run the backup step")
    return {"markdown": "\n".join(lines), "functions": len(plans), "triggers": len(triggers), "rate": rate}


def _dual_write_ddl(conn: psycopg.Connection, cfg: MigrationConfig) -> sql.Composable:
    cols = source_columns(conn, cfg)
    params = {
        "actor_id": "p_actor_id",
        "customer_id": "p_customer_id",
        "action": "v_action",
        "entity_type": "p_entity_type",
        "entity_id": "p_entity_id",
        "description": "p_description",
        "metadata": "p_payload",
        "ip_address": "p_ip_address",
        "user_agent": "p_user_agent",
        "occurred_at": "p_occurred_at",
    }
    names, values = [], []
    for event_field, col in cfg.source.columns.items():
        names.append(sql.Identifier(col))
        value = sql.SQL(params[event_field])
        if converts_from_text(event_field, cols, col):
            # the type's own output ('10.0.0.1'), not its cast to text ('10.0.0.1/32'): the
            # legacy row keeps what the trigger wrote before
            value = sql.SQL("nullif(format('%s', {}), '')").format(value)
        values.append(sql.SQL("{}::{}").format(value, sql.SQL(cols[col]["type"])))
    return load_sql(
        "p2_dual_write/01_create_publish_activity_internal_dual_write.sql",
        state=cfg.state_schema,
        parameters=publish_parameters(),
        events=events_ident(cfg),
        source=sql.Identifier(cfg.source.schema, cfg.source.table),
        key=cfg.source.key,
        key_type=sql.SQL(cols[cfg.source.key]["type"]),
        legacy_columns=sql.SQL(", ").join(names),
        legacy_values=sql.SQL(", ").join(values),
    )


@ledgered(PHASE, "switch")
def switch(dsn: str, cfg: MigrationConfig, ctx: RunContext) -> dict[str, Any]:
    """Swap in dual write atomically and record the cutoff. Re-running after success changes nothing."""
    return run_locked(
        dsn,
        lambda conn: _switch_once(conn, dsn, cfg, ctx),
        lock_timeout_ms=cfg.safety.lock_timeout_ms,
        attempts=cfg.safety.ddl_attempts,
        what=f"the switch (LOCK {cfg.source_table} IN SHARE MODE; a long application transaction "
        "is writing it?)",
    )


def _switch_once(conn: psycopg.Connection, dsn: str, cfg: MigrationConfig, ctx: RunContext) -> dict[str, Any]:
    plans = plan(conn, cfg)
    _require_backups(conn, cfg, plans)
    # Switched = the dual_write setting with a cutoff (both written by the locked switch). Not
    # publish_activity's body: it is dual-write already after the first step of an interrupted run.
    already = (
        bool((ledger.get_setting(conn, "dual_write", {}, cfg=cfg) or {}).get("enabled"))
        and ledger.get_setting(conn, "cutoff", cfg=cfg) is not None
    )
    pending = [p for p in plans if function_def(conn, p.identity) != p.new_def]
    publish_ddl = _dual_write_ddl(conn, cfg)
    conn.rollback()
    if already and not pending:
        return {
            "already_switched": True,
            "functions": len(plans),
            "cutoff": ledger.get_setting(conn, "cutoff", cfg=cfg),
        }
    key_type = source_columns(conn, cfg)[cfg.source.key]["type"]
    publish_is_dual = DUAL_WRITE_MARKER in (function_def(conn, publish_identity(cfg)) or "")
    conn.rollback()
    if not publish_is_dual:
        _install_publish_and_drain(conn, dsn, publish_ddl)
    side: psycopg.Connection | None = None
    cutoff: dict[str, Any] | None = None
    if not already:
        side, cutoff = _lock_source_and_take_cutoff(conn, dsn, cfg, ctx, key_type)
    conn.execute(publish_ddl)
    _grant_write_path(conn, cfg, pending)
    for p in pending:
        conn.execute(p.new_def)
    if cutoff is not None:
        ledger.set_setting(conn, "cutoff", cutoff, by=ctx.actor or ctx.dag_run_id or "p2_dual_write", cfg=cfg)
        ledger.set_setting(
            conn,
            "dual_write",
            {"enabled": True, "since": cutoff["cutoff_at"]},
            by=ctx.actor or ctx.dag_run_id or "p2_dual_write",
            cfg=cfg,
        )
    conn.commit()
    if side is not None and cutoff is not None:
        _record_switched_at(conn, side, cfg, ctx, cutoff)
    return {
        "functions_rewritten": [p.identity for p in pending],
        "cutoff": cutoff,
        "already_switched": already,
    }


def _require_backups(conn: psycopg.Connection, cfg: MigrationConfig, plans: list[Any]) -> None:
    """MigrationError unless every function to rewrite and publish_activity have a backup."""
    backups = _backups(conn, cfg)
    missing = [p.identity for p in plans if p.identity not in backups]
    if missing or publish_identity(cfg) not in backups:
        raise MigrationError(f"no backup for {missing or [publish_identity(cfg)]}: run the backup step first")


def _install_publish_and_drain(conn: psycopg.Connection, dsn: str, publish_ddl: sql.Composable) -> None:
    """publish_activity's dual-write body first, on its own (committed), then a drain.

    From then on a session that can see a rewritten trigger body (installed later) has processed
    this change too, so no trigger ever reaches the events-only body (its legacy row would be
    lost). Until the triggers are rewritten, only the application calls publish_activity; its
    rows get linked events, which the backfill skips.
    """
    conn.execute(publish_ddl)
    conn.commit()
    if not wait_for_older_transactions(dsn, SWITCH_DRAIN_TIMEOUT_S):
        raise MigrationError(
            f"switch: publish_activity writes both systems now, but a transaction open at that moment is "
            "still "
            f"running after {SWITCH_DRAIN_TIMEOUT_S:.0f} s; the triggers were not rewritten. Re-run the "
            "switch."
        )


def _lock_source_and_take_cutoff(
    conn: psycopg.Connection, dsn: str, cfg: MigrationConfig, ctx: RunContext, key_type: str
) -> tuple[psycopg.Connection, dict[str, Any]]:
    """Take the SHARE lock on the source table, read the cutoff, open a side connection on its snapshot.

    SHARE conflicts with the writers' ROW EXCLUSIVE: every in-flight write of the source table
    finishes before, every new one waits until the switch commits. Rows committed before have no
    event (backfill), rows after are written by the new functions.
    """
    source = sql.Identifier(cfg.source.schema, cfg.source.table)
    conn.execute(sql.SQL("LOCK TABLE {} IN SHARE MODE").format(source))
    max_key = (
        sql.SQL("(SELECT max({}) FROM {})").format(sql.Identifier(cfg.source.key), source)
        if key_type in _INTEGER_KEYS
        else sql.SQL("NULL")
    )
    row = fetch_one(conn, load_sql("p2_dual_write/04_select_switch_cutoff.sql", max_key=max_key))
    side = connect(dsn)
    side.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    side.execute("SET TRANSACTION SNAPSHOT %s" % sql.Literal(row["snap"]).as_string(side))
    cutoff = {
        "cutoff_at": row["cutoff_at"].isoformat(),
        "locked_at": row["cutoff_at"].isoformat(),
        "switched_at": None,
        "max_key": row["max_key"],
        "rows_before": None,
        "key_type": key_type,
        "dag_run_id": ctx.dag_run_id,
    }
    return side, cutoff


def _grant_write_path(conn: psycopg.Connection, cfg: MigrationConfig, pending: list[Any]) -> None:
    """The rewritten bodies run as their owners: those that cannot reach the internal writer yet
    get exactly that (never an API role: write_path_roles refuses them), recorded so the
    privilege audit expects it."""
    roles = write_path_roles(conn, cfg, pending)
    for stmt in privileges.write_path_grants(cfg, roles):
        conn.execute(stmt)
    if roles:
        known = ledger.get_setting(conn, privileges.WRITE_PATH_ROLES_SETTING, [], cfg=cfg) or []
        ledger.set_setting(
            conn, privileges.WRITE_PATH_ROLES_SETTING, sorted(set(known) | set(roles)), by=PHASE, cfg=cfg
        )


def _record_switched_at(
    conn: psycopg.Connection,
    side: psycopg.Connection,
    cfg: MigrationConfig,
    ctx: RunContext,
    cutoff: dict[str, Any],
) -> None:
    """The cutoff moves to the switch's commit; rows_before counted on the side connection's snapshot.

    A writer already inside an old trigger body when the switch committed finishes with it (its
    row has no event); its transaction started before this instant, so every such row has
    created_at (= now() of its transaction) before cutoff_at.
    """
    switched = scalar(conn, "SELECT clock_timestamp()")
    conn.rollback()
    cutoff["cutoff_at"] = cutoff["switched_at"] = switched.isoformat()
    try:
        source = sql.Identifier(cfg.source.schema, cfg.source.table)
        cutoff["rows_before"] = int(scalar(side, sql.SQL("SELECT count(*) FROM {}").format(source)))
        side.rollback()
    finally:
        side.close()
    ledger.set_setting(conn, "cutoff", cutoff, by=ctx.actor or ctx.dag_run_id or "p2_dual_write", cfg=cfg)
    conn.commit()


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
        kind = "update"
    elif "DELETE" in kinds:
        stmt = sql.SQL("DELETE FROM {t} WHERE ctid = (SELECT ctid FROM {t} LIMIT 1)").format(t=tbl)
        kind = "delete"
    else:
        return {"table": table, "probe": "none (INSERT-only triggers: exercised by the application's writes)"}
    source = sql.Identifier(cfg.source.schema, cfg.source.table)
    key = sql.Identifier(cfg.source.key)
    try:
        conn.execute("SET LOCAL lock_timeout = '2s'")
        cur = conn.execute(stmt)
        affected = cur.rowcount
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
            sql.SQL("SELECT count(*) FROM {} WHERE xmin = pg_current_xact_id()::xid").format(
                events_ident(cfg)
            ),
        )
        return {
            "table": table,
            "probe": kind,
            "rows": affected,
            "legacy_rows": len(legacy),
            "linked_events": linked,
            "quarantined": quarantined,
            "new_events": events_new,
        }
    except psycopg.Error as exc:
        return {"table": table, "probe": kind, "error": f"{type(exc).__name__}: {str(exc).splitlines()[0]}"}
    finally:
        conn.rollback()


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
