"""Trigger tiers of phase 5, the restore: a tier's backed-up triggers and functions recreated.

Restoring replays the backups in one transaction and puts ``tgenabled``, owner, privileges
and comments back.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

import psycopg
from psycopg import sql

from . import catalog, ledger
from .config import MigrationConfig
from .db import connection, fetch_all, load_sql, run_locked, scalar
from .errors import MigrationError
from .ledger import state_table
from .tier_backup import backups
from .tier_drop import can_shorten_deadlock_timeout
from .tier_plan import DONE_STATUSES, PHASE, set_tier_state, split_table, tier_states

_ENABLE_CLAUSE = {"D": "DISABLE TRIGGER", "R": "ENABLE REPLICA TRIGGER", "A": "ENABLE ALWAYS TRIGGER"}
T = TypeVar("T")


def _with_lock_retry(dsn: str, cfg: MigrationConfig, body: Callable[[psycopg.Connection], T]) -> T:
    """``db.run_locked`` with this session's ``deadlock_timeout`` short where allowed: in a lock
    cycle with an application transaction the DDL gives way and retries, never the write."""

    def shortened(conn: psycopg.Connection) -> T:
        if can_shorten_deadlock_timeout(conn):
            conn.execute("SET LOCAL deadlock_timeout = '100ms'")
        return body(conn)

    return run_locked(dsn, shortened, **cfg.safety.ddl_retry, what="the tier's DDL")


def _privileges(conn: psycopg.Connection, identity: str) -> list[dict]:
    row = fetch_all(
        conn,
        load_sql("p5_trigger_removal/02_select_function_facts.sql"),
        {"oids": [scalar(conn, "SELECT to_regprocedure(%s)::oid", (identity,))]},
    )
    return row[0]["privileges"] if row else []


def _role(name: str) -> sql.Composable:
    return sql.SQL("PUBLIC") if name == "PUBLIC" else sql.Identifier(name)


def _restore_function(conn: psycopg.Connection, b: dict[str, Any]) -> None:
    d = b["details"] or {}
    conn.execute(d["qualified"])
    fn = sql.SQL("{}({})").format(
        sql.Identifier(b["schema_name"], b["object_name"]), sql.SQL(d.get("identity_args", ""))
    )
    owner = d.get("owner")
    if owner and scalar(conn, "SELECT 1 FROM pg_roles WHERE rolname = %s", (owner,)):
        conn.execute(sql.SQL("ALTER FUNCTION {} OWNER TO {}").format(fn, sql.Identifier(owner)))
    now = _privileges(conn, b["identity"])
    want = d.get("privileges") or []
    key = lambda p: (p["grantee"], p["privilege"], bool(p["grantable"]))  # noqa: E731
    if sorted(map(key, now)) != sorted(map(key, want)):
        for grantee in sorted({p["grantee"] for p in now}):
            conn.execute(sql.SQL("REVOKE ALL ON FUNCTION {} FROM {}").format(fn, _role(grantee)))
        for p in want:
            conn.execute(
                sql.SQL("GRANT {} ON FUNCTION {} TO {}{}").format(
                    sql.SQL(p["privilege"]),
                    fn,
                    _role(p["grantee"]),
                    sql.SQL(" WITH GRANT OPTION" if p["grantable"] else ""),
                )
            )
    conn.execute(sql.SQL("COMMENT ON FUNCTION {} IS {}").format(fn, sql.Literal(d.get("comment"))))


def _restore_trigger(conn: psycopg.Connection, b: dict[str, Any]) -> None:
    d = b["details"] or {}
    conn.execute(d["qualified"])
    schema, table = split_table(b["table_name"])
    clause = _ENABLE_CLAUSE.get(str(b["enabled"] or "O"))
    if clause:
        conn.execute(
            sql.SQL("ALTER TABLE {} {} {}").format(
                sql.Identifier(schema, table), sql.SQL(clause), sql.Identifier(b["object_name"])
            )
        )
    if d.get("comment") is not None:
        conn.execute(
            sql.SQL("COMMENT ON TRIGGER {} ON {} IS {}").format(
                sql.Identifier(b["object_name"]), sql.Identifier(schema, table), sql.Literal(d["comment"])
            )
        )


def _missing_triggers(conn: psycopg.Connection, trig_backups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The backed-up triggers that are not live now."""
    live = {
        t["schema_name"] + "." + t["table_name"] + "." + t["trigger_name"] for t in catalog.all_triggers(conn)
    }
    return [b for b in trig_backups if b["identity"] not in live]


def _restore_missing_functions(
    conn: psycopg.Connection, cfg: MigrationConfig, tier: int, missing: list[dict[str, Any]]
) -> list[Any]:
    """Recreate the functions the missing triggers execute that are gone; their identities."""
    fn_ids = sorted({fn for b in missing if (fn := (b["details"] or {}).get("function")) is not None})
    fn_backups = (
        {b["identity"]: b for b in backups(conn, cfg, "function", identities=fn_ids)} if fn_ids else {}
    )
    restored_fns = []
    for ident in fn_ids:
        if scalar(conn, "SELECT to_regprocedure(%s) IS NOT NULL", (ident,)):
            continue
        if ident not in fn_backups:
            raise MigrationError(f"cannot restore tier {tier}: function {ident} is gone and has no backup")
        _restore_function(conn, fn_backups[ident])
        restored_fns.append(ident)
    return restored_fns


def _restore_missing(
    conn: psycopg.Connection,
    cfg: MigrationConfig,
    tier: int,
    trig_backups: list[dict[str, Any]],
    status: str | None,
) -> dict[str, Any]:
    """The restore's one transaction: functions, then the missing triggers (tables locked), then marks."""
    missing = _missing_triggers(conn, trig_backups)
    restored_fns = _restore_missing_functions(conn, cfg, tier, missing)
    if missing:
        tables = sorted({split_table(b["table_name"]) for b in missing})
        conn.execute(
            sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(
                sql.SQL(", ").join(sql.Identifier(s, t) for s, t in tables)
            )
        )
    for b in missing:
        _restore_trigger(conn, b)
    ids = [b["identity"] for b in missing] + restored_fns
    if ids:
        conn.execute(
            sql.SQL(
                "UPDATE {} SET restored_at = clock_timestamp() WHERE phase = %s AND identity = ANY(%s)"
            ).format(state_table(cfg, "ddl_backups")),
            (PHASE, ids),
        )
    if missing or status in DONE_STATUSES or status == "backed_up":
        set_tier_state(conn, cfg, tier, "restored")
    return {
        "tier": tier,
        "restored_triggers": [b["identity"] for b in missing],
        "restored_functions": restored_fns,
        "previous_status": status,
    }


def restore_tier(dsn: str, cfg: MigrationConfig, tier: int) -> dict[str, Any]:
    """Recreate the tier's backed-up triggers (and any missing function they execute) in one transaction.

    Triggers still present are left alone; the tier is marked 'restored'. A tier never
    backed up has nothing to restore (no-op).
    """
    cfg.tier(tier)
    with connection(dsn) as conn:
        if not ledger.state_schema_exists(conn, cfg):
            return {
                "tier": tier,
                "restored_triggers": [],
                "note": "no state schema: nothing was ever dropped",
            }
        trig_backups = backups(conn, cfg, "trigger", tier=tier)
        status = (tier_states(conn, cfg).get(tier) or {}).get("status")
    if not trig_backups:
        return {
            "tier": tier,
            "restored_triggers": [],
            "restored_functions": [],
            "note": "no backup for this tier",
        }
    return _with_lock_retry(dsn, cfg, lambda conn: _restore_missing(conn, cfg, tier, trig_backups, status))


def restore_all(dsn: str, cfg: MigrationConfig) -> list[dict[str, Any]]:
    """Restore every tier, newest first (each tier its own transaction)."""
    return [restore_tier(dsn, cfg, t.tier) for t in sorted(cfg.tiers, key=lambda t: -t.tier)]
