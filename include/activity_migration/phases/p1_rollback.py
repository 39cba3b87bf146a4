"""Phase 1's rollback: everything phase 1 created in application schemas dropped, the events
written so far archived in the state schema first; refused while phase 2 is on."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from .. import catalog, ledger, privileges
from ..config import MigrationConfig, load_config
from ..db import connection, load_sql, run_ddl_with_retry, run_locked
from ..errors import PreflightError
from ..ledger import RunContext
from ..validation.parity import drop_validation_objects
from ._common import (
    ACTOR_VIEW,
    API_PUBLISH,
    DAILY_VIEW,
    HELPER_SIGNATURES,
    INTERNAL_PUBLISH,
    PUBLISH_ARGS,
    dual_write_enabled,
    events_ident,
    function_def,
    table_exists,
)
from .p1_preflight import PHASE


# ---------------------------------------------------------------------------- rollback
def rollback(
    dsn: str, cfg: MigrationConfig | None = None, ctx: RunContext | None = None, *, drop_state: bool = False
) -> dict[str, Any]:
    """Remove everything phase 1 created in application schemas; keep the state schema.

    Refuses while dual write is on (roll phase 2 back first). Events already written are
    copied to ``{state}.events_rollback_archive`` (created even when there are none) before the
    table is dropped, in one transaction that first locks the table (nothing is lost, also not
    what a writer commits while the rollback waits for its lock). ``drop_state=True`` also drops
    the state schema, ledger included.
    """
    cfg = cfg or load_config()
    ctx = ctx or RunContext()
    with connection(dsn) as conn:
        _refuse_while_dual_write(conn, cfg)
        ledger.ensure_state_schema(conn, cfg)
        lid = ledger.record(
            conn, PHASE, "rollback", "started", ctx, {"drop_state": drop_state}, finished=False, cfg=cfg
        )
        events_exist = table_exists(conn, cfg.target_schema, cfg.target_table)
    drops = _rollback_drops(cfg)
    try:
        # validation runs made views on events and an index on the source: they go first
        validation_objects = drop_validation_objects(dsn, cfg)
        archived = run_locked(
            dsn,
            lambda conn: _archive_and_drop(conn, cfg, events_exist, drops),
            **cfg.safety.ddl_retry,
        )
    except BaseException as exc:
        with connection(dsn) as conn:
            ledger.finish(conn, lid, "failed", {"error": str(exc)[:2000]}, cfg=cfg)
        raise
    details = {
        "archived_events": archived,
        "archive": f"{cfg.state_schema}.events_rollback_archive" if events_exist else None,
        "drop_state": drop_state,
        "validation_objects_dropped": validation_objects,
    }
    with connection(dsn) as conn:
        ledger.finish(conn, lid, "succeeded", details, cfg=cfg)
        if drop_state:
            drop = sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(cfg.state_schema))
            run_ddl_with_retry(dsn, [drop], **cfg.safety.ddl_retry)
    return details


def _refuse_while_dual_write(conn: psycopg.Connection, cfg: MigrationConfig) -> None:
    """PreflightError while phase 2 is on or a logging function still calls publish_activity."""
    if dual_write_enabled(conn, cfg):
        raise PreflightError(
            "phase 2 (dual write) is active: roll back p2_dual_write first; dropping "
            "publish_activity now would break every logging trigger"
        )
    callers = [
        t.function_identity
        for t in catalog.logging_triggers(conn, cfg)
        if "publish_activity" in (function_def(conn, t.function_identity) or "")
    ]
    if callers:
        raise PreflightError(
            f"logging functions still call publish_activity ({sorted(set(callers))[:5]}): "
            f"roll back p2_dual_write first"
        )


def _rollback_drops(cfg: MigrationConfig) -> list[sql.Composed]:
    """The DROPs of everything phase 1 created in application schemas, dependents first, events last."""
    state = sql.Identifier(cfg.state_schema)
    fs = sql.Identifier(cfg.target_schema)
    drops = [
        sql.SQL("DROP FUNCTION IF EXISTS {}.refresh_event_analytics()").format(fs),
        sql.SQL("DROP MATERIALIZED VIEW IF EXISTS {}").format(sql.Identifier(cfg.target_schema, ACTOR_VIEW)),
        sql.SQL("DROP MATERIALIZED VIEW IF EXISTS {}").format(sql.Identifier(cfg.target_schema, DAILY_VIEW)),
    ]
    for name, args in HELPER_SIGNATURES.items():
        if name != "refresh_event_analytics":
            drops.append(
                sql.SQL("DROP FUNCTION IF EXISTS {}.{}(" + args + ")").format(fs, sql.Identifier(name))
            )
    drops += [
        sql.SQL("DROP FUNCTION IF EXISTS {}.{}(" + PUBLISH_ARGS + ")").format(
            fs, sql.Identifier(API_PUBLISH)
        ),
        sql.SQL("DROP FUNCTION IF EXISTS {}.{}(text)").format(
            fs, sql.Identifier(privileges.PUBLISHER_FUNCTION)
        ),
        sql.SQL("DROP FUNCTION IF EXISTS {}.{}(" + PUBLISH_ARGS + ")").format(
            state, sql.Identifier(INTERNAL_PUBLISH)
        ),
        sql.SQL("DROP FUNCTION IF EXISTS {}.customer_allowed(uuid, uuid)").format(state),
        sql.SQL("DROP FUNCTION IF EXISTS {}.is_service_caller(name)").format(state),
        sql.SQL("DROP TABLE IF EXISTS {}").format(events_ident(cfg)),
    ]
    return drops


def _archive_and_drop(
    conn: psycopg.Connection, cfg: MigrationConfig, events_exist: bool, drops: list[sql.Composed]
) -> int:
    """Archive the events in the rollback archive (under ACCESS EXCLUSIVE), then run ``drops``;
    returns the rows copied."""
    # The lock comes first: a writer that committed while the copy ran, and before the DROP
    # got its lock, would otherwise be in neither the archive nor events. ACCESS EXCLUSIVE
    # waits for every writer in flight; the copy then sees all they committed.
    state = sql.Identifier(cfg.state_schema)
    ev = events_ident(cfg)
    archived = 0
    if events_exist:
        conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(ev))
        conn.execute(
            load_sql("p1_infrastructure/17_create_events_rollback_archive.sql", state=state, events=ev)
        )
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("INSERT INTO {}.events_rollback_archive SELECT e.*, now() FROM {} e").format(
                    state, ev
                )
            )
            archived = cur.rowcount
        privileges.lock_down_state_schema(conn, cfg)
    for stmt in drops:
        conn.execute(stmt)
    return archived
