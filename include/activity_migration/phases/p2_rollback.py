"""The rollback of phase 2: every function phase 2 replaced back from its backup, byte for byte,
in the order that never lets a rewritten trigger reach the events-only writer; events kept."""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from psycopg import sql

from .. import ledger
from ..config import MigrationConfig, load_config
from ..db import connection, run_locked, scalar
from ..errors import MigrationError
from ..ledger import RunContext
from ._common import (
    function_def,
    publish_identity,
    wait_for_older_transactions,
)
from .p2_plan import (
    PHASE,
    _backups,
)

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------- rollback
def rollback(dsn: str, cfg: MigrationConfig | None = None, ctx: RunContext | None = None) -> dict[str, Any]:
    """Restore every function phase 2 replaced from its backup; dual write off; events kept.

    Two transactions under lock_timeout (retried) with a drain between them (see
    :func:`_rollback`: the legacy functions, then publish_activity once no transaction that
    could still run a rewritten body is left). Afterwards each function's
    ``pg_get_functiondef`` equals its backup, or the rollback fails loudly.
    """
    cfg = cfg or load_config()
    ctx = ctx or RunContext()
    with connection(dsn) as conn:
        ledger.ensure_state_schema(conn, cfg)
        lid = ledger.record(conn, PHASE, "rollback", "started", ctx, finished=False, cfg=cfg)
    try:
        details = _rollback(dsn, cfg, ctx)
    except BaseException as exc:
        with connection(dsn) as conn:
            ledger.finish(conn, lid, "failed", {"error": f"{type(exc).__name__}: {exc}"[:2000]}, cfg=cfg)
        raise
    with connection(dsn) as conn:
        ledger.finish(conn, lid, "succeeded", details, cfg=cfg)
    return details


def _restore_backups(dsn: str, cfg: MigrationConfig, ctx: RunContext, *, publish: bool) -> list[str]:
    """One transaction under lock_timeout (retried): restore the unrestored backups of the legacy
    functions (``publish=False``) or of publish_activity with the dual-write settings off
    (``publish=True``); the catalog must then print each backup byte for byte."""
    state = sql.Identifier(cfg.state_schema)
    pub = publish_identity(cfg)

    def body(conn: psycopg.Connection) -> list[str]:
        backups = [
            b
            for b in _backups(conn, cfg).values()
            if b["restored_at"] is None and (b["identity"] == pub) == publish
        ]
        restored = []
        for b in sorted(backups, key=lambda b: b["id"]):
            if scalar(conn, "SELECT to_regprocedure(%s) IS NULL", (b["identity"],)) and b["identity"] != pub:
                log.warning("%s no longer exists; recreating it from the backup", b["identity"])
            conn.execute(b["definition"])
            conn.execute(
                sql.SQL("UPDATE {}.ddl_backups SET restored_at = clock_timestamp() WHERE id = %s").format(
                    state
                ),
                (b["id"],),
            )
            restored.append(b["identity"])
        if publish:
            now = scalar(conn, "SELECT clock_timestamp()")
            by = ctx.actor or ctx.dag_run_id or "rollback"
            ledger.set_setting(
                conn, "dual_write", {"enabled": False, "disabled_at": now.isoformat()}, by=by, cfg=cfg
            )
            cutoff = ledger.get_setting(conn, "cutoff", cfg=cfg)
            if cutoff:
                ledger.set_setting(
                    conn, "cutoff", dict(cutoff, rolled_back_at=now.isoformat()), by=by, cfg=cfg
                )
        mismatched = [b["identity"] for b in backups if function_def(conn, b["identity"]) != b["definition"]]
        if mismatched:
            conn.rollback()
            raise MigrationError(f"after restoring, the catalog does not print the backup for {mismatched}")
        return restored

    return run_locked(dsn, body, **cfg.safety.ddl_retry, what="the phase 2 rollback")


def _rollback(
    dsn: str, cfg: MigrationConfig, ctx: RunContext, *, drain_timeout_s: float = 60.0
) -> dict[str, Any]:
    """Legacy functions first, drain, then publish_activity: never "rewritten trigger + phase-1 publish".

    A writer inside a rewritten trigger body calls publish_activity later in the same statement,
    and PostgreSQL does not pin function definitions for a statement: if both were swapped in
    one transaction, a trigger that started with the rewritten body (``PERFORM
    publish_activity``) could, after any lock it takes next (a lookup in another table), call
    the phase-1 publish_activity, which writes the event only: its legacy row would be lost.
    So: (1) the original legacy bodies (they INSERT into the legacy table themselves) while
    publish_activity still dual-writes, which is right for both the old and the new trigger
    bodies; (2) wait until every transaction open at that commit has ended (a later one sees
    only the original bodies); (3) publish_activity back to its phase-1 body, dual write off.
    Killed or timed out between the steps, a re-run resumes: restored backups are skipped,
    the drain is repeated (cheap) before step 3.
    """
    functions = _restore_backups(dsn, cfg, ctx, publish=False)
    if not wait_for_older_transactions(dsn, drain_timeout_s):
        raise MigrationError(
            f"phase 2 rollback: the legacy trigger functions are restored, but a transaction that was open "
            "then "
            f"is still running after {drain_timeout_s:.0f} s; publish_activity keeps writing both systems "
            f"until it ends. Re-run the rollback (it resumes with the publish_activity step)."
        )
    publish = _restore_backups(dsn, cfg, ctx, publish=True)
    return {
        "restored": functions + publish,
        "events_kept": True,
        "order": "legacy functions, drain of older transactions, publish_activity",
    }
