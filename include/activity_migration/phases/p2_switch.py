"""Phase 2's switch: the approver's evidence, then dual write swapped in under the source table's lock.

``switch_evidence`` writes what the approval shows; ``switch`` installs publish_activity's
dual-write body on its own, drains, then rewrites every logging function and records the
cutoff in ONE transaction under ``LOCK … IN SHARE MODE`` (see p2_dual_write's docstring).
"""

from __future__ import annotations

import time
from typing import Any

import psycopg
from psycopg import sql

from .. import catalog, ledger, privileges
from ..approval_text import summary_block
from ..catalog import source_columns
from ..config import MigrationConfig
from ..db import connect, connection, fetch_row, load_sql, run_locked, scalar
from ..errors import MigrationError
from ..ledger import RunContext
from ..mapping import converts_from_text
from ._common import (
    DUAL_WRITE_MARKER,
    INTERNAL_PUBLISH,
    events_ident,
    function_def,
    ledgered,
    publish_body_parts,
    publish_header,
    publish_identity,
    wait_for_older_transactions,
)
from .p2_plan import PHASE, _backups, plan, write_path_roles

SWITCH_DRAIN_TIMEOUT_S = 60.0
_INTEGER_KEYS = {"smallint", "integer", "bigint"}


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
    pub = backups.get(publish_identity(cfg))
    ids = sorted(int(b["id"]) for b in backups.values() if str(b.get("id", "")).isdigit())
    lines = [
        f"## Phase 2 switch: dual write ({ctx.environment})",
        "",
        *summary_block(
            change=f"{len(plans)} logging functions ({len(triggers)} triggers on {len(per_table)} tables) "
            "and `publish_activity` write each activity twice: the legacy row and a linked event.",
            risk=f"a short `SHARE` lock on `{cfg.source_table}` "
            f"(lock_timeout {cfg.safety.lock_timeout_ms} ms, "
            f"{cfg.safety.ddl_attempts} attempts) at {rate} writes/s; a rewritten function that fails "
            "would fail the application's write.",
            undo="`migration_rollback` (phase p2_dual_write) restores every backed-up definition "
            "byte for byte.",
            environment=ctx.environment,
        ),
        f"- **{len(plans)}** legacy logging functions will be rewritten to call `publish_activity` "
        f"({statements}), used by **{len(triggers)}** triggers on **{len(per_table)}** tables.",
        f"- Current write rate into `{cfg.source_table}`: **{rate} rows/s**; {rows} rows before the switch "
        f"(the backfill's job).",
        f"- Backups: {len(backups)} definitions (ids {ids[0] if ids else '?'}–{ids[-1] if ids else '?'}), "
        f"`publish_activity`'s phase-1 body: {pub['id'] if pub else 'MISSING'}.",
        # one line, not a table of every table: the decision buttons stay near the first screen
        "- Tables (logging triggers each): "
        + ", ".join(f"`{t}` ({len(n)})" for t, n in sorted(per_table.items()))
        + ".",
    ]
    missing = [p.identity for p in plans if p.identity not in backups]
    if missing or not pub:
        raise MigrationError(f"backups missing for {missing or [publish_identity(cfg)]}: run the backup step")
    return {"markdown": "\n".join(lines), "functions": len(plans), "triggers": len(triggers), "rate": rate}


def _dual_write_ddl(conn: psycopg.Connection, cfg: MigrationConfig) -> sql.Composed:
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
        value: sql.Composable = sql.SQL(params[event_field])
        if converts_from_text(event_field, cols, col):
            # the type's own output ('10.0.0.1'), not its cast to text ('10.0.0.1/32'): the
            # legacy row keeps what the trigger wrote before
            value = sql.SQL("nullif(format('%s', {}), '')").format(value)
        values.append(sql.SQL("{}::{}").format(value, sql.SQL(cols[col]["type"])))
    return load_sql(
        "p2_dual_write/01_create_publish_activity_internal_dual_write.sql",
        state=cfg.state_schema,
        publish_header=publish_header(sql.Identifier(cfg.state_schema, INTERNAL_PUBLISH)),
        **publish_body_parts(cfg.state_schema),
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
        **cfg.safety.ddl_retry,
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


def _install_publish_and_drain(conn: psycopg.Connection, dsn: str, publish_ddl: sql.Composed) -> None:
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
    row = fetch_row(conn, load_sql("p2_dual_write/04_select_switch_cutoff.sql", max_key=max_key))
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
