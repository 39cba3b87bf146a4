"""Phase 6: cleanup. Archive the legacy table, stop writing it, drop the old trigger functions.

Gates (each refuses with a message naming what is missing): all tiers done, the validation
suites passed recently, no unacknowledged quarantine rows, a staging rehearsal (production),
a person's approval (the Airflow DAG adds the last two).

Steps (each a ledger row under phase ``p6_cleanup``):

1. ``backup``: publish_activity's current (dual-write) definition and every legacy trigger
   function into ``ddl_backups`` (phase ``p6_cleanup``);
2. ``archive``: publish_activity back to its events-only form (one short transaction), a
   wait until every transaction older than that switch has ended (a writer inside the old
   body must not find the table gone), then ONE transaction under lock_timeout:
   ``public.activity_logs`` moved to ``{state}.activity_logs_archive_<YYYYMMDD>``
   (metadata only, instant, reversible) and, when ``keep_compat_view``, a view named
   ``public.activity_logs`` in the old shape over events, so readers of the old name keep
   working;
3. ``checksum``: row count and checksum of the archive in ``{state}.archives``;
4. ``drop_legacy_functions``: the backed-up legacy functions dropped.

``delete_archive`` (separately approved, after the retention) drops the archive for good;
from then on :func:`rollback` refuses.
"""
from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from .. import db, ledger, privileges
from ..catalog import logging_function_oids, logging_triggers
from ..config import MigrationConfig, load_config
from ..db import connection, fetch_all, fetch_one, load_sql, run_sql_file, scalar
from ..errors import GateClosed, MigrationError, PreflightError
from ..ledger import RunContext, state_table
from ._common import publish_identity, publish_parameters, wait_for_older_transactions
from ..validation.parity import VALIDATION_VIEWS
from .p3_read_path import _EVENT_EXPR, create_compat_view, relation_kind, table_columns

log = logging.getLogger(__name__)

PHASE = "p6_cleanup"
VALIDATION_SUITES = ("parity", "events_integrity")
ARCHIVE_PREFIX = "activity_logs_archive_"
DUAL_WRITE_SETTING = "dual_write"
P6_SETTING = "p6_cleanup"       # {"archive": name, "dual_write_before": ..., "compat_view": bool}


def run_locked(dsn: str, cfg: MigrationConfig, body: Callable[[psycopg.Connection], Any], *,
               attempts: int | None = None) -> Any:
    """Run ``body(conn)`` in one transaction under the config's lock_timeout, retried (db.run_locked)."""
    return db.run_locked(dsn, body, lock_timeout_ms=cfg.safety.lock_timeout_ms,
                         attempts=attempts or cfg.safety.ddl_attempts)


# --------------------------------------------------------------------------- gates
def gate_tiers_done(conn: psycopg.Connection, cfg: MigrationConfig | None = None) -> dict[str, Any]:
    """Every configured tier 'verified' in tier_state, and no logging trigger left in the catalog."""
    cfg = cfg or load_config()
    rows = {r["tier"]: r["status"] for r in fetch_all(
        conn, sql.SQL("SELECT tier, status FROM {}").format(state_table(cfg, "tier_state")))} \
        if ledger.state_schema_exists(conn, cfg) else {}
    not_done = {t.tier: rows.get(t.tier, "not started") for t in cfg.tiers if rows.get(t.tier) != "verified"}
    left = [t.identity for t in logging_triggers(conn, cfg)]
    facts = {"tiers": {str(t.tier): rows.get(t.tier, "not started") for t in cfg.tiers},
             "logging_triggers_left": len(left)}
    problems = []
    if not_done:
        problems.append("tiers not verified: " + ", ".join(f"tier {k} is {v}" for k, v in not_done.items()))
    if left:
        problems.append(f"{len(left)} logging triggers still exist: {left[:10]}")
    if problems:
        raise GateClosed("cleanup refused (all trigger tiers must be done): " + "; ".join(problems))
    return facts


def gate_validation(conn: psycopg.Connection, cfg: MigrationConfig | None = None, *, max_age_hours: float = 24,
                    environment: str | None = None, suites: tuple[str, ...] = VALIDATION_SUITES) -> dict[str, Any]:
    """Each suite's newest full run passed within ``max_age_hours`` (validation.require_recent_pass)."""
    cfg = cfg or load_config()
    if not 0 < float(max_age_hours) <= 24 * 30:
        raise MigrationError(f"validation_max_age_hours must be in (0, 720], got {max_age_hours!r}")
    from ..validation.gate import require_recent_pass
    out = {}
    for suite in suites:
        row = require_recent_pass(conn, suite, float(max_age_hours), environment or "production", cfg=cfg)
        age = row.get("age")
        out[suite] = {"suite": suite, "run_at": str(row.get("run_at")), "result_id": row.get("id"),
                      "age_hours": round(age.total_seconds() / 3600, 2) if age is not None else None}
    return out


def quarantine_open(conn: psycopg.Connection, cfg: MigrationConfig) -> list[dict[str, Any]]:
    if not ledger.state_schema_exists(conn, cfg):
        return []
    return fetch_all(conn, sql.SQL("SELECT reason, count(*) AS n FROM {} WHERE resolved_at IS NULL AND "
                                   "acknowledged_at IS NULL GROUP BY reason ORDER BY n DESC").format(
        state_table(cfg, "quarantine")))


def gate_quarantine(conn: psycopg.Connection, cfg: MigrationConfig | None = None) -> dict[str, Any]:
    """No quarantined row is left unresolved and unacknowledged."""
    cfg = cfg or load_config()
    open_rows = quarantine_open(conn, cfg)
    if open_rows:
        total = sum(r["n"] for r in open_rows)
        by_reason = ", ".join(f"{r['reason']}: {r['n']}" for r in open_rows)
        raise GateClosed(f"cleanup refused: {total} quarantined rows are neither resolved nor acknowledged "
                         f"({by_reason}); fix them, or acknowledge with "
                         f"`activity-migration quarantine --ack --by NAME --all` (or --reason R)")
    total = scalar(conn, sql.SQL("SELECT count(*) FROM {}").format(state_table(cfg, "quarantine"))) \
        if ledger.state_schema_exists(conn, cfg) else 0
    return {"quarantined": int(total or 0), "open": 0}


def acknowledge_quarantine(conn: psycopg.Connection, by: str, *, reason: str | None = None, all_rows: bool = False,
                           cfg: MigrationConfig | None = None) -> int:
    """Mark open quarantine rows as acknowledged by ``by`` (all, or those with ``reason``); returns the count."""
    cfg = cfg or load_config()
    if not by or not by.strip():
        raise MigrationError("acknowledging quarantine rows needs a name (--by)")
    if not all_rows and not reason:
        raise MigrationError("say which rows to acknowledge: --all or --reason R")
    q = sql.SQL("UPDATE {} SET acknowledged_by = %s, acknowledged_at = clock_timestamp() "
                "WHERE resolved_at IS NULL AND acknowledged_at IS NULL").format(state_table(cfg, "quarantine"))
    params: list[Any] = [by.strip()]
    if reason:
        q += sql.SQL(" AND reason = %s")
        params.append(reason)
    with conn.cursor() as cur:
        cur.execute(q, params)
        n = cur.rowcount
    conn.commit()
    return n


def evidence_markdown(facts: dict[str, Any]) -> str:
    """The approval body: what the gates found and what cleanup will do."""
    lines = ["### Cleanup of the legacy activity log", ""]
    tiers = facts.get("tiers", {})
    if tiers:
        lines.append("**Trigger tiers**: " + ", ".join(f"{k}: {v}" for k, v in tiers.get("tiers", {}).items())
                     + f"; logging triggers left: {tiers.get('logging_triggers_left')}")
    for suite, v in (facts.get("validation") or {}).items():
        lines.append(f"**Validation `{suite}`**: passed {v.get('run_at', '')} ({v.get('age_hours', '?')} h ago)")
    q = facts.get("quarantine") or {}
    lines.append(f"**Quarantine**: {q.get('quarantined', 0)} rows, {q.get('open', 0)} open")
    if facts.get("source_rows") is not None:
        lines.append(f"**{facts.get('source_table')}**: {facts['source_rows']} rows (estimate) will be archived as "
                     f"`{facts.get('archive')}`, kept {facts.get('retention_days')} days")
    lines += ["", "Will: stop publish_activity writing the old table, move it into the migration schema, drop "
              f"{facts.get('legacy_functions', '?')} legacy trigger functions (backed up), "
              + ("create the compatibility view `public.activity_logs`." if facts.get("keep_compat_view")
                 else "leave no object under the old name.")]
    return "\n\n".join(lines)


# --------------------------------------------------------------------------- what to drop
def legacy_functions(conn: psycopg.Connection, cfg: MigrationConfig) -> list[str]:
    """regprocedure of every legacy trigger function left: logging functions returning trigger that
    no trigger uses, plus the ones phases 2/5 backed up that still exist."""
    writers = logging_function_oids(conn, cfg)
    rows = fetch_all(conn, """
        SELECT p.oid, p.oid::regprocedure::text AS ident
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE p.prorettype = 'trigger'::regtype AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgfoid = p.oid)""")
    found = {r["ident"] for r in rows if r["oid"] in writers and not r["ident"].startswith(cfg.state_schema + ".")}
    if ledger.state_schema_exists(conn, cfg):
        for r in fetch_all(conn, sql.SQL(
                "SELECT DISTINCT identity FROM {} WHERE phase IN ('p2_dual_write', 'p5_trigger_removal') "
                "AND object_type = 'function'").format(state_table(cfg, "ddl_backups"))):
            fn = scalar(conn, "SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.oid = to_regprocedure(%s) "
                              "AND p.prorettype = 'trigger'::regtype AND NOT EXISTS "
                              "(SELECT 1 FROM pg_trigger t WHERE t.tgfoid = p.oid)", (r["identity"],))
            if fn:
                found.add(fn)
    return sorted(found)


def _backup(conn: psycopg.Connection, cfg: MigrationConfig, identity: str) -> None:
    schema, name = scalar(conn, "SELECT n.nspname || '|' || p.proname FROM pg_proc p JOIN pg_namespace n "
                                "ON n.oid = p.pronamespace WHERE p.oid = to_regprocedure(%s)", (identity,)).split("|", 1)
    conn.execute(sql.SQL(
        "INSERT INTO {} (phase, object_type, schema_name, object_name, identity, definition) "
        "VALUES (%s, 'function', %s, %s, %s, pg_get_functiondef(to_regprocedure(%s))) "
        "ON CONFLICT (phase, object_type, identity) DO UPDATE SET definition = EXCLUDED.definition, "
        "taken_at = clock_timestamp(), restored_at = NULL").format(state_table(cfg, "ddl_backups")),
        (PHASE, schema, name, identity, identity))


def _grantee(name: str) -> sql.Composable:
    return sql.SQL("PUBLIC") if name == "PUBLIC" else sql.Identifier(name)


_OWNED_SEQUENCES = """
SELECT s.relname AS name FROM pg_depend d JOIN pg_class s ON s.oid = d.objid
WHERE d.refobjid = to_regclass(%s) AND d.classid = 'pg_class'::regclass AND s.relkind = 'S' AND d.deptype IN ('a', 'i')
ORDER BY 1
"""


def _relation_grants(conn: psycopg.Connection, relation: sql.Identifier) -> list[dict[str, Any]]:
    rows = fetch_all(conn, load_sql("p6_cleanup/05_select_table_grants.sql"), {"table": relation.as_string(conn)})
    return [{k: g[k] for k in ("grantee", "privilege", "grantable", "column_name")} for g in rows]


def take_access(conn: psycopg.Connection, schema: str, name: str) -> dict[str, Any]:
    """Revoke every privilege others hold on the table (columns and its key sequence too); return
    them to give back. The archive is a copy of personal data: nobody but its owner reads it
    (docs/security.md)."""
    table = sql.Identifier(schema, name)
    sequences = {r["name"]: _relation_grants(conn, sql.Identifier(schema, r["name"]))
                 for r in fetch_all(conn, _OWNED_SEQUENCES, (table.as_string(conn),))}
    access = {"grants": _relation_grants(conn, table), "sequences": sequences,
              "row_security": bool(scalar(conn, "SELECT relrowsecurity FROM pg_class WHERE oid = to_regclass(%s)",
                                          (table.as_string(conn),)))}
    for relation, kind, grants in [(table, "TABLE", access["grants"])] + [
            (sql.Identifier(schema, name), "SEQUENCE", g) for name, g in sequences.items()]:
        for grantee in dict.fromkeys(g["grantee"] for g in grants):
            conn.execute(sql.SQL("REVOKE ALL ON {} {} FROM {}").format(sql.SQL(kind), relation, _grantee(grantee)))
    return access


def _grant_back(conn: psycopg.Connection, relation: sql.Identifier, kind: str, grants: list[dict[str, Any]]) -> None:
    order: dict[tuple[str | None, str], list[dict[str, Any]]] = {}
    for g in grants:
        order.setdefault((g["column_name"], g["grantee"]), []).append(g)
    for (column, grantee), rows in order.items():
        cols = sql.SQL(" ({})").format(sql.Identifier(column)) if column else sql.SQL("")
        for grantable in (False, True):
            privs = [r["privilege"] for r in rows if bool(r["grantable"]) == grantable]
            if privs:
                conn.execute(sql.SQL("GRANT {}{} ON {} {} TO {}{}").format(
                    sql.SQL(", ").join(sql.SQL(p) for p in privs), cols, sql.SQL(kind), relation, _grantee(grantee),
                    sql.SQL(" WITH GRANT OPTION") if grantable else sql.SQL("")))


def give_access_back(conn: psycopg.Connection, schema: str, name: str, access: dict[str, Any] | None) -> None:
    """Grant what :func:`take_access` revoked, in the ACL's order (so the catalog prints it as before)."""
    if not access:
        return
    table = sql.Identifier(schema, name)
    _grant_back(conn, table, "TABLE", access.get("grants") or [])
    for seq, grants in (access.get("sequences") or {}).items():
        _grant_back(conn, sql.Identifier(schema, seq), "SEQUENCE", grants)
    if not access.get("row_security"):
        conn.execute(sql.SQL("ALTER TABLE {} DISABLE ROW LEVEL SECURITY").format(table))


def archive_name(now: datetime | None = None) -> str:
    return ARCHIVE_PREFIX + (now or datetime.now(timezone.utc)).strftime("%Y%m%d")


def current_archive(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, Any] | None:
    """The newest archive not restored (live or deleted), or None."""
    if not ledger.state_schema_exists(conn, cfg):
        return None
    return fetch_one(conn, sql.SQL("SELECT * FROM {} WHERE restored_at IS NULL ORDER BY created_at DESC LIMIT 1")
                     .format(state_table(cfg, "archives")))


def is_applied(conn: psycopg.Connection, cfg: MigrationConfig | None = None) -> bool:
    cfg = cfg or load_config()
    return current_archive(conn, cfg) is not None


# --------------------------------------------------------------------------- apply
def plan(conn: psycopg.Connection, cfg: MigrationConfig, *, keep_compat_view: bool = True,
         retention_days: int = 30) -> dict[str, Any]:
    kind = relation_kind(conn, cfg.source.schema, cfg.source.table)
    arch = current_archive(conn, cfg)
    return {"source_table": cfg.source_table, "source_kind": kind,
            "source_rows": scalar(conn, "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)",
                                  (cfg.source_table,)) if kind == "r" else None,
            "archive": arch["name"] if arch else archive_name(), "already_archived": arch is not None,
            "legacy_functions": len(legacy_functions(conn, cfg)), "keep_compat_view": keep_compat_view,
            "retention_days": retention_days}


def gather_facts(dsn: str, cfg: MigrationConfig | None = None, *, max_age_hours: float = 24,
                 environment: str | None = None, keep_compat_view: bool = True,
                 retention_days: int = 30) -> dict[str, Any]:
    """Run all three gates and return their facts (raises GateClosed at the first that refuses)."""
    cfg = cfg or load_config()
    with connection(dsn) as conn:
        facts = {"tiers": gate_tiers_done(conn, cfg),
                 "validation": gate_validation(conn, cfg, max_age_hours=max_age_hours, environment=environment),
                 "quarantine": gate_quarantine(conn, cfg)}
        facts.update(plan(conn, cfg, keep_compat_view=keep_compat_view, retention_days=retention_days))
    facts["markdown"] = evidence_markdown(facts)
    return facts


def backup(dsn: str, cfg: MigrationConfig | None = None, ctx: RunContext | None = None) -> dict[str, Any]:
    """Back up publish_activity (dual-write form) and every legacy trigger function (ddl_backups, p6_cleanup)."""
    cfg = cfg or load_config()
    with ledger.step(dsn, PHASE, "backup", ctx, cfg) as out:
        with connection(dsn) as conn:
            if current_archive(conn, cfg):
                out["skipped"] = "already archived: the backup of the pre-cleanup state is kept as it is"
                return out
            pub = publish_identity(cfg)
            if not scalar(conn, "SELECT to_regprocedure(%s) IS NOT NULL", (pub,)):
                raise PreflightError(f"{pub} does not exist: phases 1 and 2 must be applied before cleanup")
            funcs = legacy_functions(conn, cfg)
            for ident in [pub] + funcs:
                _backup(conn, cfg, ident)
            ledger.set_setting(conn, "p6_backup_functions", funcs, by=PHASE, cfg=cfg)
            conn.commit()
        out.update({"publish_activity": pub, "legacy_functions": funcs})
    return out


def archive(dsn: str, cfg: MigrationConfig | None = None, ctx: RunContext | None = None, *,
            keep_compat_view: bool = True, retention_days: int = 30) -> dict[str, Any]:
    """Atomically: publish_activity events-only, legacy table into the archive, compat view. Idempotent."""
    cfg = cfg or load_config()
    if not 0 <= int(retention_days) <= 3650:
        raise MigrationError(f"retention_days must be 0..3650, got {retention_days!r}")
    with ledger.step(dsn, PHASE, "archive", ctx, cfg) as out:
        with connection(dsn) as conn:
            existing = current_archive(conn, cfg)
            if existing:
                out.update({"archive": existing["name"], "skipped": "already archived"})
                return out
            if relation_kind(conn, cfg.source.schema, cfg.source.table) != "r":
                raise PreflightError(f"{cfg.source_table} is not a table: nothing to archive")
            backed_up = scalar(conn, sql.SQL("SELECT count(*) FROM {} WHERE phase = %s AND identity = %s").format(
                state_table(cfg, "ddl_backups")), (PHASE, publish_identity(cfg)))
            if not backed_up:
                raise PreflightError("run the p6_cleanup backup step first (publish_activity is not backed up)")
            columns = table_columns(conn, cfg.source.schema, cfg.source.table)
            dual_before = ledger.get_setting(conn, DUAL_WRITE_SETTING, None, cfg=cfg)
        name = archive_name()
        events = sql.Identifier(cfg.target_schema, cfg.target_table)

        def stop_writing(conn: psycopg.Connection) -> Any:
            # 1. publish_activity writes events only (phase 1's form): nothing writes the old table after this.
            run_sql_file(conn, "p1_infrastructure/04_create_publish_activity_internal.sql", state=cfg.state_schema,
                         events=events, parameters=publish_parameters())
            ledger.set_setting(conn, DUAL_WRITE_SETTING, {"enabled": False, "disabled_by": PHASE}, by=PHASE, cfg=cfg)
            # Events without a legacy id written from here on were born after cleanup; transactions
            # already open may still write one with an older created_at: the horizon covers them.
            return scalar(conn, "SELECT least(now(), (SELECT min(xact_start) FROM pg_stat_activity "
                                "WHERE xact_start IS NOT NULL AND datname = current_database()))")

        def move(conn: psycopg.Connection) -> dict[str, Any]:
            # 2. the table into the archive (metadata only).
            run_sql_file(conn, "p6_cleanup/01_archive_source_table.sql",
                         source=sql.Identifier(cfg.source.schema, cfg.source.table), state=cfg.state_schema,
                         source_name=cfg.source.table, archive_name=name)
            # Nobody but the owner reads the archive: its grants are kept for the rollback.
            access = take_access(conn, cfg.state_schema, name)
            privileges.lock_down_state_schema(conn, cfg)
            # 3. readers of the old name keep working.
            view = create_compat_view(conn, cfg, cfg.source.schema, cfg.source.table, columns,
                                      grants_key="legacy_name_view") if keep_compat_view else None
            conn.execute(sql.SQL(
                "INSERT INTO {} (name, source_table, unlinked_since, retention_days, access) VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT (name) DO UPDATE SET source_table = EXCLUDED.source_table, rows = NULL, checksum = NULL, "
                "unlinked_since = EXCLUDED.unlinked_since, created_at = clock_timestamp(), "
                "retention_days = EXCLUDED.retention_days, restored_at = NULL, deleted_at = NULL, deleted_by = NULL, "
                "access = EXCLUDED.access"
            ).format(state_table(cfg, "archives")), (name, cfg.source_table, since, int(retention_days), Jsonb(access)))
            ledger.set_setting(conn, P6_SETTING, {"archive": name, "dual_write_before": dual_before,
                                                  "compat_view": bool(keep_compat_view)}, by=PHASE, cfg=cfg)
            return {"view": view, "since": since}

        since = run_locked(dsn, cfg, stop_writing)
        # A writer that entered the old (dual-write) publish_activity before the switch may still be
        # about to insert into the old table: renaming it now would fail that application
        # transaction. Wait until every transaction older than the switch has ended.
        out["writers_drained"] = wait_for_older_transactions(dsn)
        if not out["writers_drained"]:
            raise MigrationError("a transaction older than the publish_activity switch is still open after 30 s; "
                                 "the table was not moved (re-run the task: the switch is idempotent)")
        res = run_locked(dsn, cfg, move)
        out.update({"archive": f"{cfg.state_schema}.{name}", "compat_view": res["view"],
                    "unlinked_since": res["since"], "publish_activity": "events only"})
    return out


def checksum(dsn: str, cfg: MigrationConfig | None = None, ctx: RunContext | None = None) -> dict[str, Any]:
    """Record row count and checksum of the current archive (once; re-runs compare instead)."""
    cfg = cfg or load_config()
    with ledger.step(dsn, PHASE, "checksum", ctx, cfg) as out:
        with connection(dsn) as conn:
            arch = current_archive(conn, cfg)
            if not arch or arch["deleted_at"]:
                raise MigrationError("no live archive to checksum")
            row = fetch_one(conn, load_sql("p6_cleanup/02_checksum_archive.sql", archive=state_table(cfg, arch["name"])))
            if arch["checksum"] and arch["checksum"] != row["checksum"]:
                raise MigrationError(f"archive {arch['name']} changed: checksum {row['checksum']} != recorded "
                                     f"{arch['checksum']}")
            conn.execute(sql.SQL("UPDATE {} SET rows = %s, checksum = %s WHERE name = %s").format(
                state_table(cfg, "archives")), (row["rows"], row["checksum"], arch["name"]))
            conn.commit()
        out.update({"archive": arch["name"], "rows": row["rows"], "checksum": row["checksum"]})
    return out


def drop_legacy_functions(dsn: str, cfg: MigrationConfig | None = None, ctx: RunContext | None = None
                          ) -> dict[str, Any]:
    """Drop the legacy trigger functions backed up in the ``backup`` step. Idempotent."""
    cfg = cfg or load_config()
    with ledger.step(dsn, PHASE, "drop_legacy_functions", ctx, cfg) as out:
        with connection(dsn) as conn:
            idents = [r["identity"] for r in fetch_all(conn, sql.SQL(
                "SELECT identity FROM {} WHERE phase = %s AND object_type = 'function' AND identity <> %s "
                "AND to_regprocedure(identity) IS NOT NULL").format(state_table(cfg, "ddl_backups")),
                (PHASE, publish_identity(cfg)))]
            used = [i for i in idents if scalar(conn, "SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgfoid = "
                                                     "to_regprocedure(%s))", (i,))]
        if used:
            raise MigrationError(f"legacy functions still used by triggers, not dropped: {used}")

        def body(conn: psycopg.Connection) -> None:
            for ident in idents:
                conn.execute(sql.SQL("DROP FUNCTION IF EXISTS {}").format(sql.SQL(
                    scalar(conn, "SELECT to_regprocedure(%s)::text", (ident,)) or "pg_catalog.none()")))

        if idents:
            run_locked(dsn, cfg, body)
        out["dropped"] = idents
    return out


def verify(dsn: str, cfg: MigrationConfig | None = None) -> dict[str, Any]:
    cfg = cfg or load_config()
    with connection(dsn) as conn:
        arch = current_archive(conn, cfg)
        problems = []
        if not arch:
            problems.append("no archive recorded")
        elif not arch["deleted_at"] and relation_kind(conn, cfg.state_schema, arch["name"]) != "r":
            problems.append(f"archive table {cfg.state_schema}.{arch['name']} missing")
        kind = relation_kind(conn, cfg.source.schema, cfg.source.table)
        if kind == "r":
            problems.append(f"{cfg.source_table} is still a table")
        d = scalar(conn, "SELECT pg_get_functiondef(to_regprocedure(%s))", (publish_identity(cfg),)) or ""
        if "activity_logs" in d.replace("activity_migration", ""):
            problems.append("publish_activity still mentions the legacy table")
    if problems:
        raise MigrationError("phase 6 verify failed: " + "; ".join(problems))
    return {"archive": arch["name"], "rows": arch["rows"], "checksum": arch["checksum"],
            "old_name_is": {"v": "compatibility view", None: "absent"}.get(kind, kind)}


# --------------------------------------------------------------------------- archive removal
def check_archive_deletion(conn: psycopg.Connection, cfg: MigrationConfig | None = None, *,
                           force: bool = False) -> dict[str, Any]:
    """What deleting the archive would remove; GateClosed before its retention has passed unless ``force``."""
    cfg = cfg or load_config()
    arch = current_archive(conn, cfg)
    if not arch:
        raise GateClosed("no archive to delete (phase 6 not applied, or rolled back)")
    age_days = float(scalar(conn, "SELECT extract(epoch FROM clock_timestamp() - %s) / 86400", (arch["created_at"],)))
    due = arch["created_at"] + timedelta(days=arch["retention_days"])
    if arch["deleted_at"] is None and age_days < arch["retention_days"] and not force:
        raise GateClosed(f"archive {arch['name']} is {age_days:.1f} days old; its retention is {arch['retention_days']} "
                         f"days: it may be deleted from {due:%Y-%m-%d %H:%M} UTC on (or with force)")
    facts = {"archive": f"{cfg.state_schema}.{arch['name']}", "rows": arch["rows"], "checksum": arch["checksum"],
             "created_at": arch["created_at"].isoformat(), "age_days": round(age_days, 2),
             "retention_days": arch["retention_days"], "forced": bool(force and age_days < arch["retention_days"]),
             "already_deleted": arch["deleted_at"] is not None}
    facts["markdown"] = "\n\n".join([
        f"### Delete the archive `{facts['archive']}` for good",
        f"**Rows**: {arch['rows']} &nbsp; **checksum**: `{arch['checksum']}`",
        f"**Archived** {arch['created_at']:%Y-%m-%d %H:%M} UTC, {age_days:.1f} days ago; retention "
        f"{arch['retention_days']} days" + (" — **FORCED before the retention**" if facts["forced"] else ""),
        "**After this, rolling back to before phase 6 is impossible**: the legacy rows exist only in events "
        "(and in database backups)."])
    return facts


def archive_config(cfg: MigrationConfig, archive: str) -> MigrationConfig:
    """The config with the archive as the source table: the parity machinery compares it with events."""
    return dataclasses.replace(cfg, source=dataclasses.replace(cfg.source, schema=cfg.state_schema, table=archive))


def archive_parity(dsn: str, cfg: MigrationConfig, archive: str) -> dict[str, Any]:
    """Full parity of the archive against events (every row, every mapped field, the counts).

    Returns the failing checks (empty when the archive and events agree).
    """
    from ..validation.parity import Scope, collect, ensure_validation_objects
    acfg = archive_config(cfg, archive)
    with connection(dsn, autocommit=True) as conn:
        ensure_validation_objects(conn, acfg, indexes=False)
        result = collect(conn, acfg, Scope(name="full", reason="archive deletion: the archive against events"))
    failing = [f for f in result.findings if f["checked"] and f["failures"]]
    return {"failing": [{"check": f["check_name"], "field": f["field"], "failures": f["failures"],
                         "examples": f["examples"][:5]} for f in failing],
            "totals": result.statistics.get("totals"), "seconds": result.statistics.get("collect_seconds")}


def verify_archive(dsn: str, cfg: MigrationConfig, arch: dict[str, Any]) -> dict[str, Any]:
    """Before an archive is dropped for good: its checksum still holds, and every archived row is
    in events exactly as it was (or quarantined); GateClosed naming what differs otherwise."""
    with connection(dsn) as conn:
        now = fetch_one(conn, load_sql("p6_cleanup/02_checksum_archive.sql", archive=state_table(cfg, arch["name"])))
    if arch["checksum"] and now["checksum"] != arch["checksum"]:
        raise GateClosed(f"archive {arch['name']} changed since phase 6 recorded it: checksum {now['checksum']} "
                         f"({now['rows']} rows) != {arch['checksum']} ({arch['rows']} rows); refusing to delete it")
    parity = archive_parity(dsn, cfg, arch["name"])
    if parity["failing"]:
        shown = "; ".join(f"{f['check']}{'.' + f['field'] if f['field'] else ''}: {f['failures']} "
                          f"(e.g. {', '.join(map(str, f['examples'][:3]))})" for f in parity["failing"])
        raise GateClosed(f"archive {arch['name']} and events differ, so some legacy rows exist only in the archive: "
                         f"{shown}. Refusing to delete it; fix events (or roll phase 6 back) first")
    return {"checksum_now": now["checksum"], "rows_now": now["rows"], "parity": parity}


def delete_archive(dsn: str, cfg: MigrationConfig | None = None, ctx: RunContext | None = None, *,
                   force: bool = False, by: str | None = None) -> dict[str, Any]:
    """Drop the archive for good (after its retention, unless ``force``). Makes phase 6 irreversible.

    Checked in the same run, just before: the archive's checksum is unchanged and a full parity
    of the archive against events finds no difference (:func:`verify_archive`).
    """
    cfg = cfg or load_config()
    with ledger.step(dsn, PHASE, "delete_archive", ctx, cfg) as out:
        with connection(dsn) as conn:
            facts = check_archive_deletion(conn, cfg, force=force)
            arch = current_archive(conn, cfg)
        if facts["already_deleted"]:
            out.update({"archive": arch["name"], "skipped": f"already deleted at {arch['deleted_at']}"})
            return out
        out["verified"] = verify_archive(dsn, cfg, arch)
        who = by or (ctx.actor if ctx else None) or (ctx.dag_run_id if ctx else None) or "unknown"

        def body(conn: psycopg.Connection) -> None:
            # The parity views read the archive (verify_archive): the next validation run recreates them.
            conn.execute(sql.SQL("DROP VIEW IF EXISTS {} CASCADE").format(
                sql.SQL(", ").join(state_table(cfg, v) for v in VALIDATION_VIEWS)))
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(state_table(cfg, arch["name"])))
            conn.execute(sql.SQL("UPDATE {} SET deleted_at = clock_timestamp(), deleted_by = %s WHERE name = %s")
                         .format(state_table(cfg, "archives")), (who, arch["name"]))

        run_locked(dsn, cfg, body)
        facts.pop("markdown", None)
        out.update(facts)
        out["consequence"] = "rollback to before p6_cleanup is no longer possible"
    return out


# The phase's last step: every privilege on the migration's objects as privileges.py lists it.
privilege_audit = ledger.ledgered(PHASE, "privilege_audit")(privileges.audit_step)


# --------------------------------------------------------------------------- rollback
def _reverse_copy(conn: psycopg.Connection, cfg: MigrationConfig, since: Any) -> int:
    """Give every event born after cleanup its legacy row back (04_copy_unlinked_events_back.sql)."""
    c = cfg.source.columns
    key_type = dict(table_columns(conn, cfg.source.schema, cfg.source.table)).get(cfg.source.key)
    cols, vals = [], []
    for fieldname, col in c.items():
        cols.append(sql.Identifier(col))
        vals.append(sql.SQL(_EVENT_EXPR[fieldname]))
    if key_type == "uuid":
        new_key = sql.SQL("e.id")
    else:
        seq = scalar(conn, "SELECT pg_get_serial_sequence(%s, %s)", (cfg.source_table, cfg.source.key))
        if not seq:
            raise MigrationError(f"{cfg.source_table}.{cfg.source.key} is {key_type} without a sequence: cannot give "
                                 "post-cleanup events a legacy key")
        new_key = sql.SQL("nextval({})").format(sql.Literal(seq))
    stmt = load_sql("p6_cleanup/04_copy_unlinked_events_back.sql",
        events=sql.Identifier(cfg.target_schema, cfg.target_table),
        source=sql.Identifier(cfg.source.schema, cfg.source.table), key=sql.Identifier(cfg.source.key),
        new_key=new_key, columns=sql.SQL(", ").join(cols), values=sql.SQL(", ").join(vals))
    with conn.cursor() as cur:
        cur.execute(stmt, {"since": since})
        return cur.rowcount


def rollback(dsn: str, cfg: MigrationConfig | None = None, ctx: RunContext | None = None, *,
             drain_timeout_s: float = 60.0) -> dict[str, Any]:
    """Undo phase 6: the archive back to ``public.activity_logs`` (compat view dropped first),
    publish_activity dual-write again, events born after cleanup copied back, legacy functions
    recreated from the p6 backup. Refuses when the archive was deleted. Idempotent and resumable.

    The archive is recorded as restored only after the drain: every transaction open when the
    table came back (it may still call the events-only publish_activity and commit an unlinked
    event after the first copy) has ended and the copy ran again. When the drain times out,
    the copy runs anyway, the step fails, and a re-run resumes after the restore (drain, copy,
    record) instead of finding "archive missing".
    """
    cfg = cfg or load_config()
    with ledger.step(dsn, PHASE, "rollback", ctx, cfg) as out:
        with connection(dsn) as conn:
            arch = current_archive(conn, cfg)
            if arch is None:
                out["skipped"] = "phase 6 is not applied (no archive outstanding)"
                return out
            if arch["deleted_at"]:
                raise GateClosed(f"cannot roll back phase 6: the archive {arch['name']} of {arch['source_table']} was "
                                 f"deleted at {arch['deleted_at']:%Y-%m-%d %H:%M} UTC by {arch['deleted_by']}; the "
                                 "legacy rows are gone (restore it from a database backup)")
            p6 = ledger.get_setting(conn, P6_SETTING, {}, cfg=cfg) or {}
            resumed = (p6.get("restored_table_from") == arch["name"]
                       and relation_kind(conn, cfg.state_schema, arch["name"]) is None
                       and relation_kind(conn, cfg.source.schema, cfg.source.table) == "r")
            if not resumed and relation_kind(conn, cfg.state_schema, arch["name"]) != "r":
                raise MigrationError(f"archive table {cfg.state_schema}.{arch['name']} is missing although not "
                                     "recorded as deleted: inspect the database before rolling back")
            pub_backup = fetch_one(conn, sql.SQL("SELECT definition FROM {} WHERE phase = %s AND object_type = "
                                                 "'function' AND identity = %s").format(state_table(cfg, "ddl_backups")),
                                   (PHASE, publish_identity(cfg)))
            funcs = fetch_all(conn, sql.SQL("SELECT identity, definition FROM {} WHERE phase = %s AND object_type = "
                                            "'function' AND identity <> %s ORDER BY id").format(state_table(cfg, "ddl_backups")),
                              (PHASE, publish_identity(cfg)))
            if arch["checksum"] and not resumed:
                now = fetch_one(conn, load_sql("p6_cleanup/02_checksum_archive.sql", archive=state_table(cfg, arch["name"])))
                if now["checksum"] != arch["checksum"]:
                    raise MigrationError(f"archive {arch['name']} checksum {now['checksum']} differs from the recorded "
                                         f"{arch['checksum']}: it was changed; refusing to restore it blindly")
        since = arch["unlinked_since"] or arch["created_at"]

        def body(conn: psycopg.Connection) -> dict[str, Any]:
            kind = relation_kind(conn, cfg.source.schema, cfg.source.table)
            if kind == "v":
                conn.execute(sql.SQL("DROP VIEW {}").format(sql.Identifier(cfg.source.schema, cfg.source.table)))
            elif kind is not None:
                raise MigrationError(f"{cfg.source_table} exists as relkind {kind!r}: refusing to overwrite it")
            run_sql_file(conn, "p6_cleanup/03_restore_archived_table.sql", state=cfg.state_schema,
                         archive_name=arch["name"], source_name=cfg.source.table, source_schema=cfg.source.schema)
            give_access_back(conn, cfg.source.schema, cfg.source.table, arch.get("access"))
            if pub_backup:
                conn.execute(pub_backup["definition"])
            for f in funcs:
                conn.execute(f["definition"])
            copied = _reverse_copy(conn, cfg, since)
            conn.execute(sql.SQL("UPDATE {} SET restored_at = clock_timestamp() WHERE phase = %s").format(
                state_table(cfg, "ddl_backups")), (PHASE,))
            if p6.get("dual_write_before") is not None:
                ledger.set_setting(conn, DUAL_WRITE_SETTING, p6["dual_write_before"], by="rollback", cfg=cfg)
            else:
                conn.execute(sql.SQL("DELETE FROM {} WHERE key = %s").format(state_table(cfg, "settings")),
                             (DUAL_WRITE_SETTING,))
            # Not finished until the drain: a re-run resumes from here (see the docstring).
            ledger.set_setting(conn, P6_SETTING, dict(p6, restored_table_from=arch["name"]), by="rollback", cfg=cfg)
            return {"copied_back": copied}

        def finish(conn: psycopg.Connection) -> int:
            again = _reverse_copy(conn, cfg, since)
            conn.execute(sql.SQL("UPDATE {} SET restored_at = clock_timestamp() WHERE name = %s").format(
                state_table(cfg, "archives")), (arch["name"],))
            conn.execute(sql.SQL("DELETE FROM {} WHERE key = %s").format(state_table(cfg, "settings")), (P6_SETTING,))
            return again

        res = {"copied_back": 0} if resumed else run_locked(dsn, cfg, body)
        # A transaction that called the events-only publish_activity just before the swap may
        # commit after it: wait for every transaction open now, then copy again and record.
        if not wait_for_older_transactions(dsn, drain_timeout_s):
            late = run_locked(dsn, cfg, lambda c: _reverse_copy(c, cfg, since))
            raise MigrationError(
                f"phase 6 rollback: {cfg.source_table} is restored and publish_activity writes both systems, but a "
                f"transaction open at the restore is still running after {drain_timeout_s:.0f} s (it may still "
                f"commit an event without a legacy row; {res['copied_back'] + late} copied back so far). Re-run "
                "the rollback: it resumes with the wait and the copy.")
        again = run_locked(dsn, cfg, finish)
        out.update({"restored": cfg.source_table, "from_archive": arch["name"], "publish_activity": "dual write",
                    "legacy_functions_recreated": [f["identity"] for f in funcs], "resumed": resumed,
                    "events_copied_back": res["copied_back"] + again})
    return out


def cleanup_section(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, Any]:
    """Status section: the archive (if any), open quarantine rows, whether phase 6 can be undone."""
    arch = current_archive(conn, cfg)
    open_rows = sum(r["n"] for r in quarantine_open(conn, cfg))
    if not arch:
        return {"archive": None, "open_quarantine": open_rows}
    return {"archive": f"{cfg.state_schema}.{arch['name']}", "rows": arch["rows"], "checksum": arch["checksum"],
            "created_at": arch["created_at"].isoformat(), "retention_days": arch["retention_days"],
            "deleted_at": arch["deleted_at"].isoformat() if arch["deleted_at"] else None,
            "reversible": arch["deleted_at"] is None, "open_quarantine": open_rows}
