"""The rollback of phase 6: the archive back under the legacy name, dual write again, events
born after cleanup copied back, legacy functions recreated."""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from psycopg import sql

from .. import ledger
from ..catalog import table_columns
from ..config import MigrationConfig, load_config
from ..db import connection, fetch_all, fetch_one, load_sql, run_sql_file, scalar
from ..errors import GateClosed, MigrationError
from ..ledger import RunContext, state_table
from ._common import publish_identity, wait_for_older_transactions
from .p3_read_path import _EVENT_EXPR, relation_kind
from .p6_archive import (
    DUAL_WRITE_SETTING,
    P6_SETTING,
    PHASE,
    archive_checksum,
    current_archive,
    give_access_back,
    run_locked,
)

log = logging.getLogger(__name__)


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
        new_key: sql.Composable = sql.SQL("e.id")
    else:
        seq = scalar(conn, "SELECT pg_get_serial_sequence(%s, %s)", (cfg.source_table, cfg.source.key))
        if not seq:
            raise MigrationError(
                f"{cfg.source_table}.{cfg.source.key} is {key_type} without a sequence: cannot give "
                "post-cleanup events a legacy key"
            )
        new_key = sql.SQL("nextval({})").format(sql.Literal(seq))
    stmt = load_sql(
        "p6_cleanup/04_copy_unlinked_events_back.sql",
        events=sql.Identifier(cfg.target_schema, cfg.target_table),
        source=sql.Identifier(cfg.source.schema, cfg.source.table),
        key=sql.Identifier(cfg.source.key),
        new_key=new_key,
        columns=sql.SQL(", ").join(cols),
        values=sql.SQL(", ").join(vals),
    )
    with conn.cursor() as cur:
        cur.execute(stmt, {"since": since})
        return cur.rowcount


def _rollback_facts(conn: psycopg.Connection, cfg: MigrationConfig, arch: dict[str, Any]) -> dict[str, Any]:
    """What the rollback restores, checked first: refuses when the archive was deleted, is missing
    or changed. ``resumed``: an earlier run already put the table back (it resumes after the restore)."""
    if arch["deleted_at"]:
        raise GateClosed(
            f"cannot roll back phase 6: the archive {arch['name']} of {arch['source_table']} was "
            f"deleted at {arch['deleted_at']:%Y-%m-%d %H:%M} UTC by {arch['deleted_by']}; the "
            "legacy rows are gone (restore it from a database backup)"
        )
    p6 = ledger.get_setting(conn, P6_SETTING, {}, cfg=cfg) or {}
    resumed = (
        p6.get("restored_table_from") == arch["name"]
        and relation_kind(conn, cfg.state_schema, arch["name"]) is None
        and relation_kind(conn, cfg.source.schema, cfg.source.table) == "r"
    )
    if not resumed and relation_kind(conn, cfg.state_schema, arch["name"]) != "r":
        raise MigrationError(
            f"archive table {cfg.state_schema}.{arch['name']} is missing although not "
            "recorded as deleted: inspect the database before rolling back"
        )
    backups = {"phase": PHASE, "publish": publish_identity(cfg)}
    pub_backup = fetch_one(
        conn, load_sql("p6_cleanup/15_select_publish_backup.sql", state=cfg.state_schema), backups
    )
    funcs = fetch_all(
        conn, load_sql("p6_cleanup/16_select_function_backups.sql", state=cfg.state_schema), backups
    )
    if arch["checksum"] and not resumed:
        now = archive_checksum(conn, cfg, arch)
        if now["checksum"] != arch["checksum"]:
            raise MigrationError(
                f"archive {arch['name']} checksum {now['checksum']} differs from the recorded "
                f"{arch['checksum']}: it was changed; refusing to restore it blindly"
            )
    return {"p6": p6, "resumed": resumed, "pub_backup": pub_backup, "funcs": funcs}


def _restore_table(
    conn: psycopg.Connection, cfg: MigrationConfig, arch: dict[str, Any], facts: dict[str, Any], since: Any
) -> dict[str, Any]:
    """One transaction: compat view dropped, the archive back under the legacy name with its access,
    publish_activity and the legacy functions recreated, events born after cleanup copied back."""
    p6 = facts["p6"]
    kind = relation_kind(conn, cfg.source.schema, cfg.source.table)
    if kind == "v":
        conn.execute(sql.SQL("DROP VIEW {}").format(sql.Identifier(cfg.source.schema, cfg.source.table)))
    elif kind is not None:
        raise MigrationError(f"{cfg.source_table} exists as relkind {kind!r}: refusing to overwrite it")
    run_sql_file(
        conn,
        "p6_cleanup/03_restore_archived_table.sql",
        state=cfg.state_schema,
        archive_name=arch["name"],
        source_name=cfg.source.table,
        source_schema=cfg.source.schema,
    )
    give_access_back(conn, cfg.source.schema, cfg.source.table, arch.get("access"))
    if facts["pub_backup"]:
        conn.execute(facts["pub_backup"]["definition"])
    for f in facts["funcs"]:
        conn.execute(f["definition"])
    copied = _reverse_copy(conn, cfg, since)
    conn.execute(
        sql.SQL("UPDATE {} SET restored_at = clock_timestamp() WHERE phase = %s").format(
            state_table(cfg, "ddl_backups")
        ),
        (PHASE,),
    )
    if p6.get("dual_write_before") is not None:
        ledger.set_setting(conn, DUAL_WRITE_SETTING, p6["dual_write_before"], by="rollback", cfg=cfg)
    else:
        conn.execute(
            sql.SQL("DELETE FROM {} WHERE key = %s").format(state_table(cfg, "settings")),
            (DUAL_WRITE_SETTING,),
        )
    # Not finished until the drain: a re-run resumes from here (see rollback's docstring).
    ledger.set_setting(conn, P6_SETTING, dict(p6, restored_table_from=arch["name"]), by="rollback", cfg=cfg)
    return {"copied_back": copied}


def _record_restored(conn: psycopg.Connection, cfg: MigrationConfig, arch: dict[str, Any], since: Any) -> int:
    """After the drain: copy again, record the archive as restored, forget the phase-6 setting."""
    again = _reverse_copy(conn, cfg, since)
    conn.execute(
        sql.SQL("UPDATE {} SET restored_at = clock_timestamp() WHERE name = %s").format(
            state_table(cfg, "archives")
        ),
        (arch["name"],),
    )
    conn.execute(sql.SQL("DELETE FROM {} WHERE key = %s").format(state_table(cfg, "settings")), (P6_SETTING,))
    return again


def rollback(
    dsn: str,
    cfg: MigrationConfig | None = None,
    ctx: RunContext | None = None,
    *,
    drain_timeout_s: float = 60.0,
) -> dict[str, Any]:
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
            facts = _rollback_facts(conn, cfg, arch)
        since = arch["unlinked_since"] or arch["created_at"]
        res = (
            {"copied_back": 0}
            if facts["resumed"]
            else run_locked(dsn, cfg, lambda conn: _restore_table(conn, cfg, arch, facts, since))
        )
        # A transaction that called the events-only publish_activity just before the swap may
        # commit after it: wait for every transaction open now, then copy again and record.
        if not wait_for_older_transactions(dsn, drain_timeout_s):
            late = run_locked(dsn, cfg, lambda c: _reverse_copy(c, cfg, since))
            raise MigrationError(
                f"phase 6 rollback: {cfg.source_table} is restored and publish_activity writes both systems, "
                "but a "
                f"transaction open at the restore is still running after {drain_timeout_s:.0f} s (it may "
                "still "
                f"commit an event without a legacy row; {res['copied_back'] + late} copied back so far). "
                "Re-run "
                "the rollback: it resumes with the wait and the copy."
            )
        again = run_locked(dsn, cfg, lambda conn: _record_restored(conn, cfg, arch, since))
        out.update(
            {
                "restored": cfg.source_table,
                "from_archive": arch["name"],
                "publish_activity": "dual write",
                "legacy_functions_recreated": [f["identity"] for f in facts["funcs"]],
                "resumed": facts["resumed"],
                "events_copied_back": res["copied_back"] + again,
            }
        )
    return out
