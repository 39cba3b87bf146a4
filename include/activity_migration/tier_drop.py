"""Trigger tiers of phase 5, the drop: one transaction removing a tier's logging triggers.

Dropping a tier is one transaction under ``lock_timeout`` with retries
(``db.run_ddl_with_retry``); a trigger function is dropped only when no remaining trigger
uses it and nothing else depends on it.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg
from psycopg import sql

from . import ledger
from .config import MigrationConfig
from .db import connection, fetch_all, load_sql, run_ddl_with_retry, scalar
from .errors import PreflightError
from .tier_backup import backups, live_facts
from .tier_plan import DONE_STATUSES, TierPlan, plan_tier, set_tier_state


def _droppable_functions(conn: psycopg.Connection, facts: dict[str, Any]) -> tuple[list[dict], list[dict]]:
    """Split the tier's functions into (drop, keep): keep those other triggers or objects still use."""
    dropping = {t["trigger_oid"] for t in facts["triggers"]}
    drop: list[dict] = []
    keep: list[dict] = []
    for f in facts["functions"]:
        users = fetch_all(
            conn, load_sql("p5_trigger_removal/18_select_function_users.sql"), {"f": f["function_oid"]}
        )
        others = [u["what"] for u in users if u["oid"] not in dropping]
        (keep if others else drop).append({**f, "kept_for": others})
    return drop, keep


def _check_backups_current(conn: psycopg.Connection, cfg: MigrationConfig, facts: dict[str, Any]) -> None:
    """Refuse to drop anything whose backup is missing or differs from what is live."""
    want = {("trigger", t["identity"]): t["qualified"] for t in facts["triggers"]}
    want.update({("function", f["qualified_identity"]): f["qualified"] for f in facts["functions"]})
    have = {}
    for kind in ("trigger", "function"):
        for b in backups(conn, cfg, kind, identities=[i for k, i in want if k == kind]):
            have[(kind, b["identity"])] = (b["details"] or {}).get("qualified")
    bad = [f"{k} {i}" for (k, i), d in want.items() if have.get((k, i)) != d]
    if bad:
        raise PreflightError(
            f"no current backup for {', '.join(sorted(bad))}: run the tier's backup step first "
            "(a definition changed since the backup, or it was never taken)"
        )


def can_shorten_deadlock_timeout(conn: psycopg.Connection) -> bool:
    try:
        with conn.transaction():
            return bool(scalar(conn, "SELECT has_parameter_privilege('deadlock_timeout', 'SET')"))
    except psycopg.Error:  # before PostgreSQL 15: superusers only
        return bool(scalar(conn, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"))


def _nothing_to_drop(
    conn: psycopg.Connection, cfg: MigrationConfig, tier: int, plan: TierPlan
) -> dict[str, Any]:
    """No live trigger left: record the tier as dropped (unless it is already done)."""
    if plan.status not in DONE_STATUSES:
        set_tier_state(conn, cfg, tier, "dropped")
        conn.commit()
    return {
        "tier": tier,
        "dropped_triggers": [],
        "dropped_functions": [],
        "kept_functions": [],
        "note": f"nothing to drop (tier status {plan.status})",
    }


def _drop_statements(
    facts: dict[str, Any], drop_fns: list[dict], short_deadlock: bool
) -> list[sql.Composable]:
    """Lock the tier's tables, drop its triggers and the functions nothing else uses."""
    statements: list[sql.Composable] = []
    if short_deadlock:
        statements.append(sql.SQL("SET LOCAL deadlock_timeout = '100ms'"))
    tables = sorted({(t["schema_name"], t["table_name"]) for t in facts["triggers"]})
    statements.append(
        sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(
            sql.SQL(", ").join(sql.Identifier(s, t) for s, t in tables)
        )
    )
    for t in facts["triggers"]:
        statements.append(
            sql.SQL("DROP TRIGGER IF EXISTS {} ON {}").format(
                sql.Identifier(t["trigger_name"]), sql.Identifier(t["schema_name"], t["table_name"])
            )
        )
    for f in drop_fns:
        statements.append(
            sql.SQL("DROP FUNCTION IF EXISTS {}({})").format(
                sql.Identifier(f["schema_name"], f["function_name"]), sql.SQL(f["identity_args"])
            )
        )
    return statements


def _record_dropped(
    cfg: MigrationConfig, tier: int, drop_fns: list[dict], keep_fns: list[dict]
) -> sql.Composable:
    # Recorded in the same transaction as the drop. run_ddl_with_retry runs plain statements,
    # so the values are composed as literals (they are ours: an int and JSON we built).
    return load_sql(
        "p5_trigger_removal/19_record_tier_dropped.sql",
        state=cfg.state_schema,
        tier=sql.Literal(tier),
        details=sql.Literal(
            ledger.dumps(
                {
                    "dropped_functions": [f["qualified_identity"] for f in drop_fns],
                    "kept_functions": [f["qualified_identity"] for f in keep_fns],
                }
            )
        ),
    )


def drop_tier(dsn: str, cfg: MigrationConfig, tier: int) -> dict[str, Any]:
    """In one transaction, drop every logging trigger of the tier; record the tier as 'dropped'.

    Needs a current backup of each trigger and function (else PreflightError). Functions no
    remaining trigger (or other object) uses are dropped too; the others are kept and named
    in the result. Our session shortens its own ``deadlock_timeout`` when allowed, so that in
    a lock cycle with an application transaction it is the DDL that gives way and retries,
    never the application's write.
    """
    with connection(dsn) as conn:
        plan = plan_tier(conn, cfg, tier)
        facts = live_facts(conn, plan)
        if not facts["triggers"]:
            return _nothing_to_drop(conn, cfg, tier, plan)
        _check_backups_current(conn, cfg, facts)
        drop_fns, keep_fns = _droppable_functions(conn, facts)
        short_deadlock = can_shorten_deadlock_timeout(conn)
        conn.rollback()
    statements = _drop_statements(facts, drop_fns, short_deadlock)
    statements.append(_record_dropped(cfg, tier, drop_fns, keep_fns))
    started = time.monotonic()
    run_ddl_with_retry(dsn, statements, **cfg.safety.ddl_retry)
    return {
        "tier": tier,
        "dropped_triggers": [t["identity"] for t in facts["triggers"]],
        "dropped_functions": [f["qualified_identity"] for f in drop_fns],
        "kept_functions": [{"function": f["qualified_identity"], "used_by": f["kept_for"]} for f in keep_fns],
        "seconds": round(time.monotonic() - started, 3),
    }
